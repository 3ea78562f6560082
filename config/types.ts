import type * as pulumi from "@pulumi/pulumi";
import type { Capacity, GpuClass } from "../catalog/types";
import type { DataSource, ModelSource, TrackingSettings } from "../runspec/sources";
import type { DETECTION_METRICS, GPU_COUNTS, OTA_CHANNELS } from "./choices";
import type { BUILTIN_DATASETS } from "./sources";
import type { SweepConfigInput } from "./sweep/input";

// The parsed sources live with the run spec (the run id and spec derive from them); re-exported
// here, so `yolo-train/config` keeps exporting them.
export type { DataSource, ModelSource, TrackingSettings } from "../runspec/sources";

export const STAGES = ["debug", "train", "finetune"] as const;
export type Stage = (typeof STAGES)[number];

export const DATASET_MOUNTS = ["mountpoint", "fsx-lustre", "copy"] as const;
export type DatasetMount = (typeof DATASET_MOUNTS)[number];

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

// ---- The config as a library user writes it in code (parseExperimentInput, parseExperimentConfig) ----
// Types only; zod-free, so consumers' type checks never see the schemas.

type ModelSize = "n" | "s" | "m" | "l" | "x";

/** An ultralytics release name (`yolov8n.pt`, `yolo11s.pt`, `yolov5mu.pt`), or weights in S3 (`s3://bucket/key.pt`). */
export type ModelName = `yolov8${ModelSize}.pt` | `yolo11${ModelSize}.pt` | `yolov5${ModelSize}u.pt` | `s3://${string}.pt`;

/**
 * A detection dataset yaml ultralytics ships (`coco8.yaml`, …), `s3://bucket/prefix/data.yaml`, or a
 * dataset name (lower-case letters, digits, `-`, `_`) meaning `datasets/<name>/data.yaml` in the
 * stack's dataset bucket. (Any name is a string, so the list only helps completion.)
 */
export type DatasetName = (typeof BUILTIN_DATASETS)[number] | `s3://${string}.yaml` | `s3://${string}.yml` | (string & {});

/** One phase of progressive training. */
export interface ProgressivePhaseInput {
  /** Image size of the phase: a multiple of 32 from 32 to 2048, never below the phase before. */
  readonly imgsz: number;
  /** Epochs of the phase, a whole number from 1 to 10000. */
  readonly epochs: number;
}

/** Promotion of a release to the `stable` channel, gated on a detection metric. */
export interface PromotionGateInput {
  /**
   * The metric as ultralytics reports it.
   * @default "metrics/mAP50-95(B)"
   */
  readonly metric?: (typeof DETECTION_METRICS)[number];
  /** Promotion needs at least this value, from 0 to 1. */
  readonly min: number;
  /**
   * Promotion also needs a better value than the current stable release.
   * @default true
   */
  readonly requireImprovement?: boolean;
}

/** Over-the-air delivery of the trained model (`ota`). */
export interface OtaInput {
  /**
   * The model's name on the devices: 1 to 63 lower-case letters, digits and hyphens.
   * @default the stack name, lower-cased, other characters as `-`
   */
  readonly modelName?: string;
  /**
   * The channel a finished run publishes to.
   * @default "candidate"
   */
  readonly channel?: (typeof OTA_CHANNELS)[number];
  /**
   * Gate promotion to `stable` on a detection metric.
   * @default no promotion gate
   */
  readonly promote?: PromotionGateInput;
  /**
   * An existing fleet OTA bucket to publish into instead of the stack's own (with `signingKeyArn`):
   * e.g. `OtaBucket.bucketName` of a platform stack, or a `StackReference` output. May be an
   * Output: then `parseExperimentInput` returns it in `deferred.otaShared`.
   * @default the stack's own OTA bucket
   */
  readonly bucket?: pulumi.Input<string>;
  /**
   * The KMS key ARN (not an alias) releases in `bucket` are signed with, in the stack's region.
   * Set together with `bucket`. May be an Output (see `bucket`).
   * @default the stack's own signing key
   */
  readonly signingKeyArn?: pulumi.Input<string>;
  /**
   * Where models live in `bucket`: folders ending with `/`. Only with `bucket`.
   * @default "models/"
   */
  readonly modelsPrefix?: string;
}

/** An existing network (`network`): both fields may be Outputs of an `awsx.ec2.Vpc` or another stack. */
export interface NetworkInput {
  /** The VPC id, `vpc-` and 8 or 17 hex digits. */
  readonly vpcId: pulumi.Input<string>;
  /** One or more distinct subnet ids of that VPC, `subnet-…`. */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
}

/**
 * Experiment tracking (`tracking`): MLflow, or Weights & Biases. For W&B, Pulumi must hold the
 * key as a secret: name `tracking` in the context's `secretKeys`, and give the key itself to
 * `TrainingRun` as `wandbApiKey` (a secret Output); the config records only that it is set.
 */
export type TrackingInput =
  | {
      /** An http or https URL without credentials. */
      readonly mlflowUri: string;
    }
  | {
      /** The W&B project name (no `/ \ # ? % :` or spaces, at most 128 characters). */
      readonly wandbProject: string;
      /** The W&B API key: a plain string here, as the stack config holds it (a secret there). */
      readonly wandbApiKey: string;
    };

/**
 * One experiment's stack config as a library user writes it in code: the keys of the
 * `yolo-train` config namespace (docs/config.md, `CONFIG_KEYS`), each optional with its default.
 *
 * Every value must be known at preview, because the training spec and the run id derive from it:
 * a Pulumi Output or a Promise is refused with a problem naming the key, except in the few fields
 * typed `pulumi.Input` (`image`, `alertEmail`, `network.vpcId`, `network.subnetIds`, `ota.bucket`,
 * `ota.signingKeyArn`), which naturally come from another resource or stack:
 * {@link parseExperimentInput} checks the plain keys at once and returns those Outputs in
 * `deferred`, to be checked with `checkDeferred…` once they are known.
 *
 * @example
 * const { config, deferred } = parseExperimentInput(
 *   { stage: "train", epochs: 300, network: { vpcId: vpc.vpcId, subnetIds: vpc.privateSubnetIds } },
 *   { project: pulumi.getProject(), stack: pulumi.getStack(), region: "us-east-1" },
 * );
 */
export interface ExperimentConfigInput {
  /**
   * A preset of GPU class, GPUs per node, capacity and max runtime (`STAGE_PRESETS`); keys set
   * here win over it.
   * @default "debug"
   */
  readonly stage?: Stage;
  /**
   * The GPU class.
   * @default from `stage`
   */
  readonly gpu?: GpuClass;
  /**
   * GPUs per node, a count AWS offers for the GPU class (t4: 1 or 4; a100: 8). More than 1 trains with DDP.
   * @default from `stage` (the preset's count if the GPU offers it, else the largest offered below it, else the smallest)
   */
  readonly gpusPerNode?: (typeof GPU_COUNTS)[number];
  /**
   * Explicit EC2 instance types from the catalog, one GPU class and count, offered in the region;
   * override `gpu` and `gpusPerNode`.
   * @default every catalog type of `gpu` × `gpusPerNode` offered in the region, cheapest first
   */
  readonly instanceTypes?: readonly string[];
  /**
   * Spot or on-demand capacity.
   * @default from `stage` (spot for every stage)
   */
  readonly capacity?: Capacity;
  /**
   * Cap in USD per instance-hour for spot capacity, not below the cheapest spot price in the region.
   * @default none (the spot price, capped by AWS at on-demand)
   */
  readonly maxSpotPrice?: number;
  /**
   * The starting weights.
   * @default "yolov8n.pt"
   */
  readonly model?: ModelName;
  /**
   * The dataset.
   * @default "coco8.yaml"
   */
  readonly data?: DatasetName;
  /**
   * Training images per epoch, for the time and cost estimate only.
   * @default known for built-in datasets, else unknown
   */
  readonly datasetImages?: number;
  /**
   * Training epochs, a whole number from 1 to 10000; with `progressive`, the phases' sum.
   * @default 100 (with `progressive`: the sum of its epochs)
   */
  readonly epochs?: number;
  /**
   * Training image size in pixels, a multiple of 32 from 32 to 2048; with `progressive`, the last phase's.
   * @default 640 (with `progressive`: its last phase's imgsz)
   */
  readonly imgsz?: number;
  /**
   * Images per batch over the node's GPUs: a whole number ≥ 1, -1 for AutoBatch, or a fraction
   * between 0 and 1 (AutoBatch at that share of GPU memory); with several GPUs, a multiple of `gpusPerNode`.
   * @default 16
   */
  readonly batch?: number;
  /**
   * Further ultralytics train arguments (`lr0`, `optimizer`, `cos_lr`, `mosaic`, …), checked against
   * the known list (`TRAIN_ARGS`) and their types.
   * @default {} (ultralytics defaults)
   */
  readonly hyperparameters?: Readonly<Record<string, string | number | boolean>>;
  /**
   * Phases trained in order, small images first: imgsz never decreases, the last phase's is the
   * run's `imgsz`, and the epochs add up to `epochs`.
   * @default none (one phase)
   */
  readonly progressive?: readonly ProgressivePhaseInput[];
  /**
   * How the node reads an S3 dataset (ignored for built-in datasets).
   * @default "mountpoint"
   */
  readonly datasetMount?: DatasetMount;
  /**
   * Hard cap on the run in hours, above 0 and at most 720, enforced on and off the node.
   * @default from `stage` (debug 2, train 72, finetune 12)
   */
  readonly maxRuntimeHours?: number;
  /**
   * Minutes of GPU utilisation below `idleGpuPercent` during training that mean the run is hung: 5 to 240.
   * @default 15
   */
  readonly idleMinutes?: number;
  /**
   * The idle threshold, percent GPU utilisation, above 0 and below 100.
   * @default 5
   */
  readonly idleGpuPercent?: number;
  /**
   * Train again from the starting weights when no checkpoint of the run can be restored, instead of failing the run.
   * @default false
   */
  readonly restartIfCheckpointLost?: boolean;
  /**
   * Cost limit in USD for the stack, above 0; set `alertEmail` with it.
   * @default none (no budget)
   */
  readonly budgetUsd?: number;
  /**
   * Who receives budget, hung-run and starving-GPU alerts. May be an Output (e.g. another stack's):
   * then `parseExperimentInput` returns it in `deferred.alertEmail`.
   * @default none (alarms still act, nobody is mailed)
   */
  readonly alertEmail?: pulumi.Input<string>;
  /**
   * Over-the-air delivery.
   * @default model name from the stack, channel "candidate", no gate, the stack's own bucket and key
   */
  readonly ota?: OtaInput;
  /**
   * An existing network instead of a new VPC. Its fields may be Outputs: then `parseExperimentInput`
   * returns both in `deferred.network`.
   * @default a new VPC
   */
  readonly network?: NetworkInput;
  /**
   * An existing training image, `registry/repository[:tag][@sha256:digest]`, instead of building
   * `docker/`. May be an Output (e.g. an image built by another resource): then
   * `parseExperimentInput` returns it in `deferred.image`.
   * @default build `docker/` and push it to a new ECR repository
   */
  readonly image?: pulumi.Input<string>;
  /**
   * Experiment tracking.
   * @default off
   */
  readonly tracking?: TrackingInput;
  /**
   * A sweep over this config: checked by `parseSweepConfig` against the checked config (docs/sweeps.md);
   * `parseExperimentConfig` checks only that it is an object.
   * @default none (one run)
   */
  readonly sweep?: SweepConfigInput;
}

/**
 * The values of an {@link ExperimentConfigInput} that were Pulumi Outputs (or Promises), carried
 * on unchecked by `parseExperimentInput`: exactly those. A plain value is checked at once and is
 * in the `ExperimentConfig` as ever (`config.image`, `config.network`, `config.ota.shared`,
 * `config.alertEmail`); a deferred one is not there, but here. Check each once known, inside
 * `apply`, with its `checkDeferred…` function (the same rules and messages as the plain key).
 */
export interface DeferredExperimentInputs {
  /**
   * `network`, when `vpcId` or `subnetIds` is an Output: both fields (a plain one already checked).
   * Check with `checkDeferredNetwork`.
   */
  readonly network?: { readonly vpcId: pulumi.Input<string>; readonly subnetIds: pulumi.Input<pulumi.Input<string>[]> };
  /**
   * `ota.bucket` and `ota.signingKeyArn`, when either is an Output (a plain one already checked),
   * with the models prefix (`ota.modelsPrefix`, default `models/`). Check with `checkDeferredOtaShared`.
   */
  readonly otaShared?: { readonly bucket: pulumi.Input<string>; readonly signingKeyArn: pulumi.Input<string>; readonly modelsPrefix: string };
  /** `image`, when an Output. Check with `checkDeferredImage`. */
  readonly image?: pulumi.Input<string>;
  /** `alertEmail`, when an Output. Check with `checkDeferredAlertEmail`. */
  readonly alertEmail?: pulumi.Input<string>;
}

/** What `parseExperimentInput` returns: the checked config, and the Outputs it carried on. */
export interface ParsedExperimentInput {
  /** Every plain key checked, every default filled in; frozen. */
  readonly config: ExperimentConfig;
  /** The values that were Outputs, to check once known; `{}` when none were. */
  readonly deferred: DeferredExperimentInputs;
}
