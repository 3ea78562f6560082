import { isS3BucketName } from "../runspec/awsPatterns";
import type { DataSource, ModelSource } from "../runspec/sources";

/**
 * Detection dataset yamls that ultralytics ships in `ultralytics/cfg/datasets/` and downloads
 * by itself on first use. Detection only: segment, pose, OBB and classification sets need
 * another task head. Names are case-sensitive, as ultralytics resolves them as file names.
 * @see https://docs.ultralytics.com/datasets/detect/
 */
export const BUILTIN_DATASETS = [
  "coco8.yaml",
  "coco128.yaml",
  "coco.yaml",
  "coco8-grayscale.yaml",
  "coco8-multispectral.yaml",
  "VOC.yaml",
  "VisDrone.yaml",
  "GlobalWheat2020.yaml",
  "Objects365.yaml",
  "open-images-v7.yaml",
  "lvis.yaml",
  "SKU-110K.yaml",
  "Argoverse.yaml",
  "xView.yaml",
  "african-wildlife.yaml",
  "brain-tumor.yaml",
  "signature.yaml",
  "medical-pills.yaml",
  "construction-ppe.yaml",
  "HomeObjects-3K.yaml",
  "kitti.yaml",
] as const;

const MODEL_SIZES = ["n", "s", "m", "l", "x"] as const;

/**
 * Pretrained detection weights by ultralytics release name. YOLOv5 needs the `u` (anchor-free,
 * ultralytics-package) variants; the original YOLOv5 weights do not load in the package.
 * @see https://docs.ultralytics.com/models/
 */
export const PRETRAINED_MODELS: readonly string[] = Object.freeze([
  ...MODEL_SIZES.map((s) => `yolov8${s}.pt`),
  ...MODEL_SIZES.map((s) => `yolo11${s}.pt`),
  ...MODEL_SIZES.map((s) => `yolov5${s}u.pt`),
]);

const S3_URI = /^s3:\/\/([^/]+)\/(.+)$/;
/** A dataset in the stack's dataset bucket, stored under `datasets/<name>/data.yaml`. */
export const DATASET_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

function parseS3Uri(text: string): { bucket: string; key: string } | undefined {
  const match = S3_URI.exec(text);
  if (!match) return undefined;
  const [, bucket, key] = match as unknown as [string, string, string];
  if (!isS3BucketName(bucket)) return undefined;
  if (key.startsWith("/") || key.includes("//")) return undefined;
  return { bucket, key };
}

/** The `model` key as a {@link ModelSource}; undefined when it is neither a release name nor an S3 `.pt` URI. */
export function parseModelSource(model: string): ModelSource | undefined {
  const pretrained = /^(yolov8|yolo11)([nsmlx])\.pt$/.exec(model) ?? /^(yolov5)([nsmlx])u\.pt$/.exec(model);
  if (pretrained) {
    const family = pretrained[1] === "yolov5" ? "yolov5u" : (pretrained[1] as "yolov8" | "yolo11");
    return { kind: "pretrained", name: model, family, size: pretrained[2] as (typeof MODEL_SIZES)[number] };
  }
  const s3 = parseS3Uri(model);
  if (s3 && s3.key.endsWith(".pt")) return { kind: "s3", bucket: s3.bucket, key: s3.key };
  return undefined;
}

/** The `data` key as a {@link DataSource}; undefined when it matches none of the three forms. */
export function parseDataSource(data: string): DataSource | undefined {
  if ((BUILTIN_DATASETS as readonly string[]).includes(data)) return { kind: "builtin", yaml: data };
  if (data.startsWith("s3://")) {
    const s3 = parseS3Uri(data);
    if (!s3 || !/\.ya?ml$/.test(s3.key)) return undefined;
    const slash = s3.key.lastIndexOf("/");
    return { kind: "s3", bucket: s3.bucket, prefix: slash < 0 ? "" : s3.key.slice(0, slash), yamlKey: s3.key };
  }
  if (DATASET_NAME.test(data)) return { kind: "dataset-bucket", name: data };
  return undefined;
}
