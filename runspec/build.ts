import { RUNS_PREFIX } from "./bucketLayout";
import { RUN_SPEC_SCHEMA_VERSION, parseRunSpec, type RunSpec, type RunSpecData, type RunSpecInput, type RunSpecSweep, type RunSpecTracking } from "./schema";
import type { DataSource, TrackingSettings } from "./sources";

/**
 * What {@link buildRunSpec} reads of an experiment: the stack config's `ExperimentConfig` is one
 * (declared here so the run spec depends on no config code).
 */
export interface RunSpecExperiment {
  readonly project: string;
  readonly stack: string;
  readonly region: string;
  /** The `model` key as written: an ultralytics weights name or an S3 URI. */
  readonly model: string;
  readonly dataSource: DataSource;
  readonly epochs: number;
  readonly imgsz: number;
  readonly batch: number;
  readonly gpusPerNode: number;
  readonly hyperparameters: Readonly<Record<string, string | number | boolean>>;
  readonly progressive?: readonly { readonly imgsz: number; readonly epochs: number }[];
  readonly ota: {
    readonly modelName: string;
    readonly channel: "candidate" | "stable";
    readonly promote?: { readonly metric: string; readonly min: number; readonly requireImprovement: boolean };
  };
  readonly maxRuntimeHours: number;
  readonly idleMinutes: number;
  readonly idleGpuPercent: number;
  readonly restartIfCheckpointLost: boolean;
  readonly tracking: TrackingSettings;
  readonly capacity: "spot" | "on-demand";
  /** A sweep trial's early-stopping settings (issue 12), passed through as the spec's `sweep`. */
  readonly sweep?: RunSpecSweep;
}

/** Where the stack put things: names only known once the stack's resources are named. */
export interface RunSpecPlaces {
  /** From {@link deriveRunId}. */
  readonly runId: string;
  /** The node group's physical name (the agent terminates itself in it). */
  readonly autoScalingGroupName: string;
  readonly artifactBucket: string;
  readonly otaBucket: string;
  /** Key prefix of this model's releases in the OTA bucket, e.g. `models/widgets/`. */
  readonly otaPrefix: string;
  /** The KMS signing key: ARN, key id or alias. */
  readonly signingKeyId: string;
  /** Name of the SSM SecureString parameter with the W&B API key; required when tracking is W&B. */
  readonly wandbApiKeyParameter?: string;
  /** What one node costs per hour at the chosen capacity, for the agent's cost estimate. */
  readonly usdPerHour: number;
}

/** Where the container finds the dataset mount: the node mounts the dataset prefix here, read-only. */
export const CONTAINER_DATA_DIR = "/data";

/**
 * The run spec for one experiment. Pure; the result has passed {@link parseRunSpec}, so an
 * invalid combination (say W&B tracking without `wandbApiKeyParameter`) throws here, at
 * `pulumi up`, not on the node.
 */
export function buildRunSpec(config: RunSpecExperiment, places: RunSpecPlaces): RunSpec {
  const spec: RunSpecInput = {
    schemaVersion: RUN_SPEC_SCHEMA_VERSION,
    runId: places.runId,
    project: config.project,
    stack: config.stack,
    region: config.region,
    autoScalingGroupName: places.autoScalingGroupName,
    model: config.model,
    data: dataSpecOf(config.dataSource),
    train: {
      epochs: config.epochs,
      imgsz: config.imgsz,
      batch: config.batch,
      gpus: config.gpusPerNode,
      hyperparameters: { ...config.hyperparameters },
      ...(config.progressive ? { progressive: config.progressive.map((p) => ({ imgsz: p.imgsz, epochs: p.epochs })) } : {}),
    },
    // `runPrefix(runId)` without its throw: a bad run id is reported by the schema with the rest.
    artifacts: { bucket: places.artifactBucket, prefix: `${RUNS_PREFIX}${places.runId}/` },
    ota: {
      bucket: places.otaBucket,
      prefix: places.otaPrefix,
      modelName: config.ota.modelName,
      channel: config.ota.channel,
      signingKeyId: places.signingKeyId,
      ...(config.ota.promote ? { promote: { ...config.ota.promote } } : {}),
    },
    limits: {
      maxRuntimeHours: config.maxRuntimeHours,
      idleMinutes: config.idleMinutes,
      idleGpuPercent: config.idleGpuPercent,
      restartIfCheckpointLost: config.restartIfCheckpointLost,
    },
    tracking: trackingSpecOf(config.tracking, places.wandbApiKeyParameter),
    pricing: { capacity: config.capacity, usdPerHour: places.usdPerHour },
    ...(config.sweep ? { sweep: { ...config.sweep, rungs: [...config.sweep.rungs] } } : {}),
  };
  return parseRunSpec(spec);
}

/**
 * Built-in datasets are downloaded by ultralytics on the node; S3 datasets are mounted with the
 * dataset prefix at `/data`, so the yaml is `/data/<its file name>`.
 */
export function dataSpecOf(source: DataSource): RunSpecData {
  switch (source.kind) {
    case "builtin":
      return { kind: "builtin", yaml: source.yaml };
    case "s3":
      return { kind: "mounted", yamlPath: `${CONTAINER_DATA_DIR}/${fileName(source.yamlKey)}` };
    case "dataset-bucket":
      // `datasets/<name>/data.yaml`, with `datasets/<name>/` mounted at /data.
      return { kind: "mounted", yamlPath: `${CONTAINER_DATA_DIR}/data.yaml` };
  }
}

function trackingSpecOf(tracking: TrackingSettings, wandbApiKeyParameter: string | undefined): RunSpecTracking {
  switch (tracking.kind) {
    case "off":
      return { kind: "off" };
    case "mlflow":
      return { kind: "mlflow", uri: tracking.mlflowUri };
    case "wandb":
      // Left undefined when missing, so the schema reports `tracking.apiKeyParameter` by path.
      return { kind: "wandb", project: tracking.wandbProject, apiKeyParameter: wandbApiKeyParameter as string };
  }
}

function fileName(key: string): string {
  const parts = key.split("/").filter((p) => p !== "");
  return parts[parts.length - 1] ?? key;
}
