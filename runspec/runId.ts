import { createHash } from "crypto";
import type { DataSource, ModelSource } from "./sources";

/** The fields that decide what gets trained; any change to one of them is a new run. */
export interface TrainingIdentity {
  readonly model: string;
  readonly data: string;
  readonly epochs: number;
  readonly imgsz: number;
  readonly batch: number;
  readonly hyperparameters: Readonly<Record<string, string | number | boolean>>;
  readonly progressive: readonly { readonly imgsz: number; readonly epochs: number }[] | null;
  /** DDP over more GPUs changes the effective batch, so the result. */
  readonly gpusPerNode: number;
}

/**
 * What {@link deriveRunId} reads of an experiment: the training spec, and the parsed sources for
 * readable stems. The stack config's `ExperimentConfig` is one.
 */
export interface RunIdInput {
  /** The `model` key as written. */
  readonly model: string;
  /** The parsed `model`; without it, the stem comes from `model` as written. */
  readonly modelSource?: ModelSource;
  /** The `data` key as written. */
  readonly data: string;
  /** The parsed `data`; without it, the stem comes from `data` as written. */
  readonly dataSource?: DataSource;
  readonly epochs: number;
  readonly imgsz: number;
  readonly batch: number;
  readonly hyperparameters: Readonly<Record<string, string | number | boolean>>;
  readonly progressive?: readonly { readonly imgsz: number; readonly epochs: number }[];
  readonly gpusPerNode: number;
}

export const RUN_ID_MAX_LENGTH = 48;
const HASH_HEX_CHARS = 10;
const MODEL_STEM_MAX = 16;

/**
 * The run id of an experiment: `<modelstem>-<datastem>-<10 hex of sha256>` over the training
 * spec only, e.g. `yolov8n-coco8-3f2a9c0d1e`. The same spec gives the same id, so a second
 * `pulumi up` finds the finished run instead of retraining; a changed model, dataset reference,
 * epochs, imgsz, batch, hyperparameters (in any key order), progressive phases or GPUs per node
 * gives a new id. Capacity, prices, limits and alerts do not change what is trained, so they
 * keep the id.
 *
 * The dataset is identified by its reference (`data` as written), not its content: new images
 * under the same S3 prefix keep the id. Use a new prefix (e.g. `widgets-v2/`) for a new dataset.
 */
export function deriveRunId(config: RunIdInput): string {
  const identity: TrainingIdentity = {
    model: config.model,
    data: config.data,
    epochs: config.epochs,
    imgsz: config.imgsz,
    batch: config.batch,
    hyperparameters: config.hyperparameters,
    progressive: config.progressive ? config.progressive.map((p) => ({ imgsz: p.imgsz, epochs: p.epochs })) : null,
    gpusPerNode: config.gpusPerNode,
  };
  const hash = createHash("sha256").update(canonicalJson(identity)).digest("hex").slice(0, HASH_HEX_CHARS);
  const model = slug(modelStem(config.modelSource, config.model)).slice(0, MODEL_STEM_MAX).replace(/-+$/, "") || "model";
  const dataRoom = RUN_ID_MAX_LENGTH - HASH_HEX_CHARS - 2 - model.length;
  const data = slug(dataStem(config.dataSource, config.data)).slice(0, dataRoom).replace(/-+$/, "") || "data";
  return `${model}-${data}-${hash}`;
}

/**
 * JSON with object keys sorted at every level (arrays keep their order), so two objects with
 * the same content always serialize the same way.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value;
}

function modelStem(source: ModelSource | undefined, written: string): string {
  const name = source?.kind === "pretrained" ? source.name : source?.kind === "s3" ? lastSegment(source.key) : lastSegment(written);
  return name.replace(/\.(pt|ya?ml)$/i, "");
}

/** `coco8.yaml` → `coco8`; `s3://b/datasets/widgets/data.yaml` → `widgets`; dataset `widgets` → `widgets`. */
function dataStem(source: DataSource | undefined, written: string): string {
  switch (source?.kind) {
    case "builtin":
      return source.yaml.replace(/\.ya?ml$/i, "");
    case "dataset-bucket":
      return source.name;
    case "s3": {
      const segments = `${source.prefix}/${source.yamlKey}`.split("/").filter((s) => s !== "");
      // The folder that holds the yaml names the dataset better than `data.yaml` does.
      const folder = segments.length >= 2 ? segments[segments.length - 2] : undefined;
      return folder ?? source.bucket;
    }
    default:
      return lastSegment(written).replace(/\.ya?ml$/i, "");
  }
}

function lastSegment(path: string): string {
  const parts = path.split("/").filter((p) => p !== "");
  return parts[parts.length - 1] ?? path;
}

/** Lowercase a-z, 0-9 and single dashes, no dash at either end. */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}
