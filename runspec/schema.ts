import { z } from "zod";
import { AWS_REGION_PATTERN, KMS_KEY_REFERENCE_ANY_ID_PATTERN, S3_BUCKET_NAME_PATTERN, S3_BUCKET_NAME_SOURCE } from "./awsPatterns";
import { KEY_PREFIX_PATTERN, KEY_PREFIX_RULE, RUNS_PREFIX, keyPrefixProblem } from "./bucketLayout";
import { EPOCHS, IDLE_GPU_PERCENT, IDLE_MINUTES, IMGSZ, MAX_ATTEMPTS, MAX_RUNTIME_HOURS, RESTART_IF_CHECKPOINT_LOST_DEFAULT } from "./limits";
import { METRIC_NAME_PATTERN, METRIC_NAME_RULE } from "./metrics";

/**
 * The run spec: the one JSON document a GPU node receives (at `/etc/yolo-train/run-spec.json`,
 * named by `YOLO_TRAIN_RUN_SPEC`). The stack renders it with {@link buildRunSpec} and checks it
 * with this schema; the run agent on the node checks it with the same schema before it acts.
 *
 * This module is plain TypeScript + zod (no Pulumi, no I/O) so the agent can import it as is.
 * A change that an older agent could not read must bump {@link RUN_SPEC_SCHEMA_VERSION}.
 */
export const RUN_SPEC_SCHEMA_VERSION = 1;

/** `<modelstem>-<datastem>-<10 hex>`: lowercase letters, digits and dashes, at most 48 characters. */
export const RUN_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/;

/**
 * Auto Scaling group names this package creates and accepts: they appear in IAM ARNs, CloudWatch
 * dimensions and log group names, so they are kept to characters that are safe in all three.
 */
export const AUTO_SCALING_GROUP_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Ultralytics train arguments the agent sets itself; `hyperparameters` may not override them. */
export const RESERVED_TRAIN_ARGS: readonly string[] = ["model", "data", "epochs", "imgsz", "batch", "device", "resume", "project", "name"];

const bucketName = z.string().regex(S3_BUCKET_NAME_PATTERN, {
  error: "must be an S3 bucket name: 3-63 characters of a-z, 0-9, '.' and '-'",
});

/** "" (the whole bucket) or `a/b/`: the one key-prefix rule (bucketLayout.ts). */
const keyPrefix = z.string().regex(KEY_PREFIX_PATTERN, {
  error: (issue) => `must be "" or ${KEY_PREFIX_RULE}, e.g. "models/widgets/"; this one ${keyPrefixProblem(String(issue.input)) ?? "does not"}`,
});

const imgsz = z
  .int({ error: "must be an integer" })
  .min(IMGSZ.min, { error: `must be at least ${IMGSZ.min}` })
  .max(IMGSZ.max, { error: `must be at most ${IMGSZ.max}` })
  .multipleOf(IMGSZ.multipleOf, { error: `must be a multiple of ${IMGSZ.multipleOf}, e.g. ${IMGSZ.default}` });

const epochs = z
  .int({ error: "must be an integer" })
  .min(EPOCHS.min, { error: `must be at least ${EPOCHS.min}` })
  .max(EPOCHS.max, { error: `must be at most ${EPOCHS.max}` });

const modelRef = z
  .string()
  .regex(new RegExp(String.raw`^(?:[A-Za-z0-9][A-Za-z0-9._-]*\.pt|s3://${S3_BUCKET_NAME_SOURCE}/\S+\.pt)$`), {
    error: "must be an ultralytics weights name like \"yolov8n.pt\" or an S3 URI like \"s3://bucket/weights/best.pt\"",
  });

const dataSpec = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({
      /** A dataset yaml that ultralytics ships and downloads itself, e.g. `coco8.yaml`. */
      kind: z.literal("builtin"),
      yaml: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$/, { error: "must be a yaml file name like \"coco8.yaml\"" }),
    }),
    z.strictObject({
      /** A data.yaml on the node's dataset mount, which the container sees read-only at `/data`. */
      kind: z.literal("mounted"),
      yamlPath: z
        .string()
        .regex(/^\/data\/(?:[^/\s]+\/)*[^/\s]+\.ya?ml$/, { error: "must be a yaml path under /data, e.g. \"/data/data.yaml\"" })
        .refine((p) => !p.split("/").includes(".."), { error: "must not contain '..'" }),
    }),
  ],
  { error: "must be {kind: \"builtin\", yaml} or {kind: \"mounted\", yamlPath}" },
);

const hyperparameterValue = z.union([z.string(), z.number(), z.boolean()], {
  error: "must be a string, a number or a boolean",
});

const trainSpec = z.strictObject({
  epochs,
  imgsz,
  /** Per-run batch; -1 lets ultralytics pick (AutoBatch). */
  batch: z
    .int({ error: "must be an integer" })
    .max(4096, { error: "must be at most 4096" })
    .refine((b) => b === -1 || b >= 1, { error: "must be -1 (AutoBatch) or at least 1" }),
  /** GPUs on the node; more than one means ultralytics DDP on that node. */
  gpus: z.int({ error: "must be an integer" }).min(1, { error: "must be at least 1" }).max(16, { error: "must be at most 16" }),
  /** Further ultralytics train arguments; never the ones the run spec sets itself. */
  hyperparameters: z.record(
    z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/)
      .refine((key) => !RESERVED_TRAIN_ARGS.includes(key)),
    hyperparameterValue,
    {
      error: (issue) => {
        if (issue.code !== "invalid_key") return undefined;
        const key = String(issue.input);
        return RESERVED_TRAIN_ARGS.includes(key)
          ? `is set by the run spec itself; use train.${key} or remove it`
          : "must be an ultralytics argument name like \"lr0\"";
      },
    },
  ),
  /** Optional phases: train at a small size first, then at full size. */
  progressive: z
    .array(z.strictObject({ imgsz, epochs }))
    .min(1, { error: "must have at least one phase when present" })
    .max(10, { error: "must have at most 10 phases" })
    .optional(),
});

const otaSpec = z.strictObject({
  bucket: bucketName,
  prefix: keyPrefix,
  modelName: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: "must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'" }),
  channel: z.enum(["candidate", "stable"], { error: "must be \"candidate\" or \"stable\"" }),
  /** The KMS key that signs manifests: a key ARN (the stack's, so any key id: runspec/awsPatterns.ts), alias ARN, alias or key id. */
  signingKeyId: z
    .string()
    .regex(KMS_KEY_REFERENCE_ANY_ID_PATTERN, {
      error: "must be a KMS key ARN, key id or alias",
    }),
  promote: z
    .strictObject({
      /** Metric name as ultralytics reports it, e.g. `metrics/mAP50-95(B)`. */
      metric: z.string().regex(METRIC_NAME_PATTERN, { error: METRIC_NAME_RULE }),
      min: z.number({ error: "must be a number" }),
      requireImprovement: z.boolean({ error: "must be true or false" }),
    })
    .optional(),
});

const limitsSpec = z.strictObject({
  maxRuntimeHours: z
    .number({ error: "must be a number" })
    .gt(MAX_RUNTIME_HOURS.above, { error: `must be more than ${MAX_RUNTIME_HOURS.above}` })
    .max(MAX_RUNTIME_HOURS.max, { error: `must be at most ${MAX_RUNTIME_HOURS.max} (${MAX_RUNTIME_HOURS.max / 24} days)` }),
  idleMinutes: z
    .int({ error: "must be an integer" })
    .min(IDLE_MINUTES.min, { error: `must be at least ${IDLE_MINUTES.min}` })
    .max(IDLE_MINUTES.max, { error: `must be at most ${IDLE_MINUTES.max}` }),
  idleGpuPercent: z
    .number({ error: "must be a number" })
    .gt(IDLE_GPU_PERCENT.above, { error: `must be more than ${IDLE_GPU_PERCENT.above}` })
    .lt(IDLE_GPU_PERCENT.below, { error: `must be less than ${IDLE_GPU_PERCENT.below}` }),
  /** Launches of this run (first start plus resumes after interruptions) before the agent gives up. */
  maxAttempts: z
    .int({ error: "must be an integer" })
    .min(MAX_ATTEMPTS.min, { error: `must be at least ${MAX_ATTEMPTS.min}` })
    .max(MAX_ATTEMPTS.max, { error: `must be at most ${MAX_ATTEMPTS.max}` })
    .default(MAX_ATTEMPTS.default),
  /**
   * When no checkpoint the record names can be restored (corrupt, missing, and no good previous
   * version): train again from the starting weights instead of failing the run. Off by default, so
   * days of epochs are never thrown away without a person deciding it.
   */
  restartIfCheckpointLost: z.boolean({ error: "must be true or false" }).default(RESTART_IF_CHECKPOINT_LOST_DEFAULT),
});

/**
 * A sweep trial (issue 12): the trial's ids and the sweep's ranking, which tell the agent that the
 * sweep (not the trial) releases a model, and ASHA's early stopping: the agent records `metric` at
 * each rung epoch in the sweep's rung records (`sweeps/<sweepId>/rungs/<k>.json`) and stops the run
 * when ASHA says so (runspec/sweep/asha.ts). Rungs are whole epochs, strictly increasing, each
 * before `train.epochs`; none (and `reductionFactor` null) when the trial is not stopped early
 * (ASHA off, or every rung at or past the trial's epochs).
 */
const sweepSpec = z
  .strictObject({
    sweepId: z.string().regex(RUN_ID_PATTERN, { error: "must be 1-48 characters of a-z, 0-9 and '-', starting and ending with a letter or digit" }),
    trialId: z.string().regex(RUN_ID_PATTERN, { error: "must be 1-48 characters of a-z, 0-9 and '-', starting and ending with a letter or digit" }),
    /** The metric judged at each rung, as ultralytics reports it, e.g. `metrics/mAP50-95(B)`. */
    metric: z.string().regex(METRIC_NAME_PATTERN, { error: METRIC_NAME_RULE }),
    direction: z.enum(["maximize", "minimize"], { error: "must be \"maximize\" or \"minimize\"" }),
    /** η: the best 1/η of the trials at a rung go on; null without rungs. */
    reductionFactor: z.number({ error: "must be a number or null" }).min(2, { error: "must be at least 2" }).nullable(),
    /** The rung epochs (1-based), strictly increasing; empty when the trial is not stopped early. */
    rungs: z
      .array(z.int({ error: "must be an integer" }).min(1, { error: "must be at least 1" }), { error: "must be an array of epochs" })
      .refine((rungs) => rungs.every((epoch, i) => i === 0 || epoch > rungs[i - 1]!), { error: "must be strictly increasing epochs" }),
  })
  .superRefine((sweep, ctx) => {
    // η means something only with rungs, and rungs cannot be judged without it.
    if (sweep.rungs.length > 0 && sweep.reductionFactor === null) {
      ctx.addIssue({ code: "custom", path: ["reductionFactor"], message: "must be a number of at least 2 when there are rungs" });
    }
    if (sweep.rungs.length === 0 && sweep.reductionFactor !== null) {
      ctx.addIssue({ code: "custom", path: ["reductionFactor"], message: "must be null without rungs (the trial is not stopped early)" });
    }
  });

/** W&B API keys are 40 hex characters; one pasted where the parameter name goes must not reach user data. */
const LOOKS_LIKE_WANDB_KEY = /^(?:local-)?[0-9a-f]{40}$/;

const trackingSpec = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({ kind: z.literal("off") }),
    z.strictObject({
      kind: z.literal("mlflow"),
      uri: z.string().regex(/^https?:\/\/\S+$/, { error: "must be an http(s) URL of the MLflow tracking server" }),
    }),
    z.strictObject({
      kind: z.literal("wandb"),
      project: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, { error: "must be a W&B project name" }),
      /** Name of the SSM SecureString parameter holding the API key; the key itself never appears here. */
      apiKeyParameter: z
        .string()
        .regex(/^(?:\/[A-Za-z0-9_.-]+)+$|^[A-Za-z0-9_.-]+$/, { error: "must be an SSM parameter name like \"/yolo-train/dev/wandb-api-key\"" })
        .refine((name) => !LOOKS_LIKE_WANDB_KEY.test(name), {
          error: "looks like a W&B API key; pass the name of the SSM SecureString parameter that holds it instead",
        }),
    }),
  ],
  { error: "must be {kind: \"off\"}, {kind: \"mlflow\", uri} or {kind: \"wandb\", project, apiKeyParameter}" },
);

/** The run spec schema. See the module comment; {@link parseRunSpec} reports every problem at once. */
const RunSpecSchema = z
  .strictObject({
    schemaVersion: z.literal(RUN_SPEC_SCHEMA_VERSION, { error: `must be ${RUN_SPEC_SCHEMA_VERSION}` }),
    runId: z.string().regex(RUN_ID_PATTERN, { error: "must be 1-48 characters of a-z, 0-9 and '-', starting and ending with a letter or digit" }),
    project: z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: "must be a Pulumi project name" }),
    stack: z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: "must be a Pulumi stack name" }),
    region: z.string().regex(AWS_REGION_PATTERN, { error: "must be an AWS region like \"us-east-1\"" }),
    /** The node's own group: the agent terminates itself in it, decrementing desired capacity. */
    autoScalingGroupName: z.string().regex(AUTO_SCALING_GROUP_NAME_PATTERN, {
      error: "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-'",
    }),
    model: modelRef,
    data: dataSpec,
    train: trainSpec,
    artifacts: z.strictObject({
      bucket: bucketName,
      /** Always `runs/<runId>/`: the node's IAM policy allows writes there and nowhere else. */
      prefix: z.string(),
    }),
    ota: otaSpec,
    limits: limitsSpec,
    tracking: trackingSpec,
    /** What the node costs, for the estimate the agent writes into the status record. */
    pricing: z.strictObject({
      capacity: z.enum(["spot", "on-demand"], { error: "must be \"spot\" or \"on-demand\"" }),
      usdPerHour: z.number({ error: "must be a number" }).min(0, { error: "must be at least 0" }),
    }),
    /** Present for a trial of a sweep (issue 12): the agent may stop it early at a rung. */
    sweep: sweepSpec.optional(),
  })
  .refine((spec) => typeof spec?.runId !== "string" || spec?.artifacts?.prefix === `${RUNS_PREFIX}${spec.runId}/`, {
    error: "must be \"runs/<runId>/\"",
    path: ["artifacts", "prefix"],
    // Checked even when other fields are wrong, so one parse reports every problem.
    when: () => true,
  })
  .superRefine((spec, ctx) => {
    const sweep = spec?.sweep;
    if (sweep === undefined || sweep === null) return;
    // Rungs count the epochs of one phase: a trial stopped early trains one phase.
    if (spec?.train?.progressive !== undefined && Array.isArray(sweep.rungs) && sweep.rungs.length > 0) {
      ctx.addIssue({ code: "custom", path: ["sweep"], message: "rungs cannot be combined with train.progressive: a trial stopped early trains one phase; remove one of them" });
    }
    const epochs = spec?.train?.epochs;
    if (typeof epochs === "number" && Array.isArray(sweep.rungs)) {
      sweep.rungs.forEach((epoch, i) => {
        if (typeof epoch === "number" && epoch >= epochs) ctx.addIssue({ code: "custom", path: ["sweep", "rungs", i], message: `must be less than train.epochs (${epochs}): the end of training is not a rung` });
      });
    }
  });

// The types below are written out rather than inferred, so the package's public declarations do
// not import zod; the assertion after them keeps them equal to what the schema parses.

/** Where the dataset comes from: a yaml ultralytics ships, or a data.yaml on the node's mount at `/data`. */
export type RunSpecData = { kind: "builtin"; yaml: string } | { kind: "mounted"; yamlPath: string };
/** Experiment tracking; a W&B key is named by its SSM parameter, never given. */
export type RunSpecTracking = { kind: "off" } | { kind: "mlflow"; uri: string } | { kind: "wandb"; project: string; apiKeyParameter: string };

/** A valid run spec, defaults filled in (see the schema above for each field's rules). */
export type RunSpec = {
  schemaVersion: typeof RUN_SPEC_SCHEMA_VERSION;
  runId: string;
  project: string;
  stack: string;
  region: string;
  autoScalingGroupName: string;
  model: string;
  data: RunSpecData;
  train: {
    epochs: number;
    imgsz: number;
    batch: number;
    gpus: number;
    hyperparameters: Record<string, string | number | boolean>;
    progressive?: { imgsz: number; epochs: number }[] | undefined;
  };
  artifacts: { bucket: string; prefix: string };
  ota: {
    bucket: string;
    prefix: string;
    modelName: string;
    channel: "candidate" | "stable";
    signingKeyId: string;
    promote?: { metric: string; min: number; requireImprovement: boolean } | undefined;
  };
  limits: { maxRuntimeHours: number; idleMinutes: number; idleGpuPercent: number; maxAttempts: number; restartIfCheckpointLost: boolean };
  tracking: RunSpecTracking;
  pricing: { capacity: "spot" | "on-demand"; usdPerHour: number };
  sweep?: RunSpecSweep | undefined;
};

/** A sweep trial's early-stopping settings (see the schema's `sweepSpec`). */
export type RunSpecSweep = {
  sweepId: string;
  trialId: string;
  metric: string;
  direction: "maximize" | "minimize";
  reductionFactor: number | null;
  rungs: number[];
};

/** A run spec as written: the limits with defaults may be left out. */
export type RunSpecInput = Omit<RunSpec, "limits"> & {
  limits: Omit<RunSpec["limits"], "maxAttempts" | "restartIfCheckpointLost"> & { maxAttempts?: number | undefined; restartIfCheckpointLost?: boolean | undefined };
};

type Assignable<A, B> = [A] extends [B] ? true : false;
/** Compiles only while the written-out types and the schema agree, both ways. */
const typesMatchSchema: [
  Assignable<z.output<typeof RunSpecSchema>, RunSpec>,
  Assignable<RunSpec, z.output<typeof RunSpecSchema>>,
  Assignable<z.input<typeof RunSpecSchema>, RunSpecInput>,
  Assignable<RunSpecInput, z.input<typeof RunSpecSchema>>,
] = [true, true, true, true];
void typesMatchSchema;

/** One thing wrong with a run spec: where (`train.progressive[0].imgsz`) and what. */
export interface RunSpecProblem {
  readonly path: string;
  readonly message: string;
}

/** Thrown by {@link parseRunSpec}: every problem, one per line, each with its path. */
export class InvalidRunSpecError extends Error {
  readonly problems: readonly RunSpecProblem[];

  constructor(problems: readonly RunSpecProblem[]) {
    const plural = problems.length === 1 ? "problem" : "problems";
    super(`The run spec has ${problems.length} ${plural}:\n` + problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n"));
    this.name = "InvalidRunSpecError";
    this.problems = problems;
  }
}

/** `["train", "progressive", 0, "imgsz"]` → `train.progressive[0].imgsz`; the root is `(run spec)`. */
export function formatRunSpecPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out === "" ? "(run spec)" : out;
}

/**
 * Checks a run spec and returns it with defaults filled in, or throws an
 * {@link InvalidRunSpecError} listing every problem with its path. Accepts the parsed JSON value
 * or the JSON text itself (as read from the file on the node).
 */
export function parseRunSpec(json: unknown): RunSpec {
  let value = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (error) {
      throw new InvalidRunSpecError([{ path: "(run spec)", message: `is not valid JSON: ${(error as Error).message}` }]);
    }
  }
  const result = RunSpecSchema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidRunSpecError(result.error.issues.map((issue) => ({ path: formatRunSpecPath(issue.path), message: issue.message })));
}
