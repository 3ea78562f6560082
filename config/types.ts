import type { Capacity, GpuClass } from "../catalog/types";

export const STAGES = ["debug", "train", "finetune"] as const;
export type Stage = (typeof STAGES)[number];

export const DATASET_MOUNTS = ["mountpoint", "fsx-lustre", "copy"] as const;
export type DatasetMount = (typeof DATASET_MOUNTS)[number];

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

export interface ProgressivePhase {
  readonly imgsz: number;
  readonly epochs: number;
}

export interface PromotionGate {
  /** Metric name as ultralytics reports it, e.g. `metrics/mAP50-95(B)`. */
  readonly metric: string;
  /** Promotion to `stable` needs at least this value. */
  readonly min: number;
  /** Promotion also needs a better value than the current stable release. */
  readonly requireImprovement: boolean;
}

export interface OtaSettings {
  readonly modelName: string;
  readonly channel: "candidate" | "stable";
  readonly promote?: PromotionGate;
  /**
   * Publish into an existing OTA bucket (a platform stack's fleet bucket), signed with its key,
   * instead of a bucket and key of this stack's own.
   */
  readonly shared?: SharedOtaBucket;
}

/** An OTA bucket and signing key that another stack owns (see `OtaBucket`). */
export interface SharedOtaBucket {
  readonly bucket: string;
  /** A key ARN in the stack's region. */
  readonly signingKeyArn: string;
  /** Where models live in the bucket, ending with `/`. */
  readonly modelsPrefix: string;
}

export type TrackingSettings =
  | { readonly kind: "off" }
  | { readonly kind: "mlflow"; readonly mlflowUri: string }
  /** The API key is a Pulumi secret; it never appears in user data or logs. */
  | { readonly kind: "wandb"; readonly wandbProject: string; readonly wandbApiKeyIsSet: true };

/**
 * One experiment, validated and with every default filled in: what `index.ts` composes.
 * Produced only by `loadExperimentConfig` / `parseExperimentConfig`; frozen.
 */
export interface ExperimentConfig {
  readonly project: string;
  readonly stack: string;
  readonly region: string;

  readonly stage: Stage;
  readonly gpu: GpuClass;
  readonly gpusPerNode: number;
  /** Instance types the Auto Scaling group may use, cheapest spot first. */
  readonly instanceTypes: readonly string[];
  /** True when `instanceTypes` came from the user rather than from `gpu` + `gpusPerNode`. */
  readonly instanceTypesExplicit: boolean;
  readonly capacity: Capacity;
  readonly maxSpotPrice?: number;

  /** The `model` key as written. */
  readonly model: string;
  readonly modelSource: ModelSource;
  /** The `data` key as written. */
  readonly data: string;
  readonly dataSource: DataSource;
  /** Training images per epoch, for the time and cost estimate; known for built-in datasets. */
  readonly datasetImages?: number;
  readonly epochs: number;
  readonly imgsz: number;
  /** Per-run batch size; -1 lets ultralytics pick (AutoBatch). */
  readonly batch: number;
  readonly hyperparameters: Readonly<Record<string, string | number | boolean>>;
  readonly progressive?: readonly ProgressivePhase[];

  readonly datasetMount: DatasetMount;
  readonly maxRuntimeHours: number;
  readonly idleMinutes: number;
  readonly idleGpuPercent: number;
  /**
   * When no checkpoint the run record names can be restored, train again from the starting
   * weights instead of failing the run (the run spec's `limits.restartIfCheckpointLost`).
   */
  readonly restartIfCheckpointLost: boolean;
  readonly budgetUsd?: number;
  readonly alertEmail?: string;

  readonly ota: OtaSettings;
  readonly network?: { readonly vpcId: string; readonly subnetIds: readonly string[] };
  /** An existing image URI to run instead of building `docker/`. */
  readonly image?: string;
  readonly tracking: TrackingSettings;
}

/**
 * The `yolo-train:*` stack config as plain values, keyed without the namespace (`epochs`, not
 * `yolo-train:epochs`). Objects already JSON-parsed; scalars may be strings as Pulumi stores
 * them ("100", "true"), which the parser coerces.
 */
export type RawStackConfig = Readonly<Record<string, unknown>>;

/** Where a stack config comes from: named in error messages, and the region prices are checked in. */
export interface StackContext {
  readonly project: string;
  readonly stack: string;
  /** The stack's `aws:region`. */
  readonly region: string;
  /**
   * Keys (without namespace, e.g. `tracking`) that Pulumi holds as secrets. `tracking` must be
   * one when it carries `wandbApiKey`. Values of secret keys never appear in messages.
   * @default none
   */
  readonly secretKeys?: readonly string[];
}
