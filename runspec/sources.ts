/**
 * Where a run's data and starting weights come from, and where it reports: the parsed forms of
 * the stack config's `data`, `model` and `tracking` keys (config/sources.ts parses them). They
 * live here, with the run spec, because the run id and the run spec are derived from them.
 * Types only.
 */

/** Where the training data comes from, parsed from the `data` key. */
export type DataSource =
  /** A dataset yaml that ultralytics ships (e.g. `coco8.yaml`); downloaded by ultralytics on the node. */
  | { readonly kind: "builtin"; readonly yaml: string }
  /**
   * A data.yaml in any S3 bucket: `s3://bucket/prefix/data.yaml`. `prefix` is the yaml's folder
   * (no trailing slash; "" at the bucket root), `yamlKey` its full object key.
   */
  | { readonly kind: "s3"; readonly bucket: string; readonly prefix: string; readonly yamlKey: string }
  /** A dataset by name in this stack's dataset bucket, under `datasets/<name>/data.yaml`. */
  | { readonly kind: "dataset-bucket"; readonly name: string };

/** Where the starting weights come from, parsed from the `model` key. */
export type ModelSource =
  /** An ultralytics release name, e.g. `yolov8n.pt`, `yolo11s.pt`. */
  | { readonly kind: "pretrained"; readonly name: string; readonly family: "yolov5u" | "yolov8" | "yolo11"; readonly size: "n" | "s" | "m" | "l" | "x" }
  /** Weights in S3: `s3://bucket/key.pt`. */
  | { readonly kind: "s3"; readonly bucket: string; readonly key: string };

/** Experiment tracking, parsed from the `tracking` key. */
export type TrackingSettings =
  | { readonly kind: "off" }
  | { readonly kind: "mlflow"; readonly mlflowUri: string }
  /** The API key is a Pulumi secret; it never appears in user data or logs. */
  | { readonly kind: "wandb"; readonly wandbProject: string; readonly wandbApiKeyIsSet: true };
