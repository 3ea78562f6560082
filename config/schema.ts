import { z } from "zod";
import { GPU_CLASSES } from "../catalog/types";
import { isS3BucketName, KMS_KEY_ARN_PATTERN } from "../runspec/awsPatterns";
import { KEY_PREFIX_RULE, keyPrefixProblem } from "../runspec/bucketLayout";
import {
  EPOCHS,
  EPOCHS_RULE,
  IDLE_GPU_PERCENT,
  IDLE_GPU_PERCENT_RULE,
  IDLE_MINUTES,
  IDLE_MINUTES_RULE,
  IMGSZ,
  IMGSZ_RULE,
  MAX_RUNTIME_HOURS,
  MAX_RUNTIME_HOURS_RULE,
} from "../runspec/limits";
import { CAPACITIES, DEFAULT_PROMOTION_METRIC, DETECTION_METRICS, GPU_COUNTS, OTA_CHANNELS } from "./choices";
import { booleanLike, numberLike } from "./coercion";
import { BUILTIN_DATASETS, PRETRAINED_MODELS, parseDataSource, parseModelSource } from "./sources";
import { closestMatch, listWithOr } from "./suggest";
import { DATASET_MOUNTS, STAGES } from "./types";

/**
 * The shape of every stack config key, as zod schemas, with the words our messages use:
 * what is allowed and how to fix it. Zod finds the problems (and coerces "100" to 100);
 * these rules say them. Cross-key rules live in parseExperimentConfig.ts.
 */

/** How to say one rule: what is allowed, and a fix (possibly computed from the value given). */
export interface Wording {
  readonly allowed: string;
  readonly fix: string | ((value: unknown) => string);
  /** Show number-like strings as numbers in messages ("`imgsz` is 650", not "\"650\""). */
  readonly numeric?: boolean;
  /** Valid values, for a "did you mean" fix when the value is a near miss. */
  readonly choices?: readonly string[];
}

export interface KeyRule extends Wording {
  readonly schema: z.ZodType;
}

export { CAPACITIES, DEFAULT_PROMOTION_METRIC, DETECTION_METRICS, GPU_COUNTS, OTA_CHANNELS };

export const MODEL_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const VPC_ID = /^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const SUBNET_ID = /^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
// W&B project names: no `/ \ # ? % :`; at most 128 characters.
const WANDB_PROJECT = /^[^/\\#?%:\s]{1,128}$/;
// A simplified distribution/reference grammar: [host[:port]/]path[:tag][@sha256:digest].
const HOST = String.raw`[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?`;
const COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
export const IMAGE_REFERENCE = new RegExp(
  String.raw`^(?:${HOST}/)?${COMPONENT}(?:/${COMPONENT})*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
);

/** An image reference with a `/` before any digest: registry/repository, not a bare `python:3.11`. */
export function isImageReference(text: string): boolean {
  return IMAGE_REFERENCE.test(text) && (text.split("@")[0] ?? "").includes("/");
}

const wholeNumber = (min: number, max: number) => numberLike(z.number().int().min(min).max(max));
const imgszSchema = numberLike(z.number().int().min(IMGSZ.min).max(IMGSZ.max).multipleOf(IMGSZ.multipleOf));
const epochsSchema = wholeNumber(EPOCHS.min, EPOCHS.max);

/** The allowed size nearest to a given size (a multiple of 32 in 32..2048): 650 → 640. */
export function nearestImgsz(value: unknown): number {
  const n = Number(value);
  if (!Number.isFinite(n)) return IMGSZ.default;
  return Math.min(IMGSZ.max, Math.max(IMGSZ.min, Math.round(n / IMGSZ.multipleOf) * IMGSZ.multipleOf));
}

const IMGSZ_WORDING: Wording = { allowed: IMGSZ_RULE, fix: (v) => `e.g. ${nearestImgsz(v)}`, numeric: true };
const EPOCHS_WORDING: Wording = { allowed: EPOCHS_RULE, fix: `e.g. ${EPOCHS.default}`, numeric: true };

/** A comma-separated string ("g5.xlarge,g5.2xlarge", as `pulumi config set` stores one value) as a list. */
function listFromText(value: unknown): unknown {
  return typeof value === "string" ? value.split(",").map((s) => s.trim()).filter((s) => s !== "") : value;
}

export const KEY_RULES: Readonly<Record<string, KeyRule>> = {
  stage: {
    schema: z.enum(STAGES),
    allowed: `one of ${listWithOr(STAGES)}`,
    fix: "e.g. pulumi config set yolo-train:stage train",
    choices: STAGES,
  },
  gpu: {
    schema: z.enum(GPU_CLASSES),
    allowed: `one of ${listWithOr(GPU_CLASSES)}`,
    fix: "e.g. pulumi config set yolo-train:gpu l4",
    choices: GPU_CLASSES,
  },
  gpusPerNode: {
    // Membership in 1/4/8 and in what the GPU class offers is a cross-key rule: one message says both.
    schema: numberLike(z.number().int().positive()),
    allowed: "1, 4 or 8",
    fix: "e.g. 1",
    numeric: true,
  },
  instanceTypes: {
    schema: z.preprocess(listFromText, z.array(z.string().min(1)).min(1)),
    allowed: "a non-empty list of EC2 instance type names from the catalog, e.g. [\"g5.xlarge\", \"g5.2xlarge\"]",
    fix: "pulumi config set --path 'yolo-train:instanceTypes[0]' g5.xlarge, or remove it to derive the list from `gpu`",
  },
  capacity: {
    schema: z.enum(CAPACITIES),
    allowed: `one of ${listWithOr(CAPACITIES)}`,
    fix: "e.g. pulumi config set yolo-train:capacity spot",
    choices: CAPACITIES,
  },
  maxSpotPrice: {
    schema: numberLike(z.number().positive()),
    allowed: "a price in USD per instance-hour above 0",
    fix: "e.g. 0.35, or remove it to pay the spot price (never above on-demand)",
    numeric: true,
  },
  model: {
    schema: z.string().refine((m) => parseModelSource(m) !== undefined),
    allowed: "yolov8{n,s,m,l,x}.pt, yolo11{n,s,m,l,x}.pt, yolov5{n,s,m,l,x}u.pt or s3://bucket/key.pt",
    fix: (v) => {
      const guess = typeof v === "string" ? closestMatch(v, PRETRAINED_MODELS) : undefined;
      return guess ? `did you mean \`${guess}\`?` : "e.g. yolov8n.pt";
    },
  },
  data: {
    schema: z.string().refine((d) => parseDataSource(d) !== undefined),
    allowed:
      "a detection dataset yaml ultralytics ships (coco8.yaml, coco128.yaml, coco.yaml, VOC.yaml, …), " +
      "s3://bucket/prefix/data.yaml (ending .yaml or .yml), or a dataset name of lower-case letters, digits, - and _ " +
      "(datasets/<name>/data.yaml in the stack's dataset bucket)",
    fix: (v) => {
      const guess = typeof v === "string" && /\.ya?ml$/i.test(v) && !v.includes("/") ? closestMatch(v, BUILTIN_DATASETS) : undefined;
      return guess ? `did you mean \`${guess}\`?` : "e.g. coco8.yaml";
    },
  },
  epochs: { schema: epochsSchema, ...EPOCHS_WORDING },
  imgsz: { schema: imgszSchema, ...IMGSZ_WORDING },
  batch: {
    schema: numberLike(z.number().refine((b) => b === -1 || (Number.isInteger(b) && b >= 1) || (b > 0 && b < 1))),
    allowed: "a whole number ≥ 1, -1 for AutoBatch, or a fraction between 0 and 1 (AutoBatch at that share of GPU memory)",
    fix: "e.g. 16",
    numeric: true,
  },
  datasetMount: {
    schema: z.enum(DATASET_MOUNTS),
    allowed: `one of ${listWithOr(DATASET_MOUNTS)}`,
    fix: "e.g. pulumi config set yolo-train:datasetMount mountpoint",
    choices: DATASET_MOUNTS,
  },
  maxRuntimeHours: {
    schema: numberLike(z.number().gt(MAX_RUNTIME_HOURS.above).max(MAX_RUNTIME_HOURS.max)),
    allowed: MAX_RUNTIME_HOURS_RULE,
    fix: "e.g. 24",
    numeric: true,
  },
  datasetImages: {
    schema: wholeNumber(1, 100_000_000),
    allowed: "the number of training images per epoch, a whole number of at least 1",
    fix: "count the files under the dataset's train images folder, e.g. 5000",
    numeric: true,
  },
  idleMinutes: { schema: wholeNumber(IDLE_MINUTES.min, IDLE_MINUTES.max), allowed: IDLE_MINUTES_RULE, fix: `e.g. ${IDLE_MINUTES.default}`, numeric: true },
  idleGpuPercent: {
    schema: numberLike(z.number().gt(IDLE_GPU_PERCENT.above).lt(IDLE_GPU_PERCENT.below)),
    allowed: IDLE_GPU_PERCENT_RULE,
    fix: `e.g. ${IDLE_GPU_PERCENT.default}`,
    numeric: true,
  },
  restartIfCheckpointLost: {
    schema: booleanLike(z.boolean()),
    allowed: "true or false",
    fix: "e.g. pulumi config set yolo-train:restartIfCheckpointLost true, or remove it to fail the run when its checkpoint is lost",
  },
  budgetUsd: { schema: numberLike(z.number().positive()), allowed: "an amount in USD above 0", fix: "e.g. 100", numeric: true },
  alertEmail: { schema: z.email(), allowed: "an e-mail address", fix: "e.g. ml-team@example.com" },
  ota: {
    schema: z.strictObject({
      modelName: z.string().regex(MODEL_NAME).optional(),
      channel: z.enum(OTA_CHANNELS).optional(),
      promote: z
        .strictObject({
          metric: z.enum(DETECTION_METRICS).optional(),
          min: numberLike(z.number().min(0).max(1)),
          requireImprovement: booleanLike(z.boolean()).optional(),
        })
        .optional(),
      bucket: z.string().refine(isS3BucketName).optional(),
      // A key ARN, not an alias: IAM grants kms:Sign on key ARNs.
      signingKeyArn: z.string().regex(KMS_KEY_ARN_PATTERN).optional(),
      // The one key-prefix rule (runspec/bucketLayout.ts), not empty: `models/`, `fleet/models/`.
      modelsPrefix: z.string().refine((p) => keyPrefixProblem(p, { allowEmpty: false }) === undefined).optional(),
    }),
    allowed: "an object { modelName?, channel?, promote?: { metric?, min, requireImprovement? }, bucket?, signingKeyArn?, modelsPrefix? }",
    fix: "pulumi config set --path 'yolo-train:ota.channel' candidate",
  },
  network: {
    schema: z.strictObject({
      vpcId: z.string().regex(VPC_ID),
      subnetIds: z
        .array(z.string().regex(SUBNET_ID))
        .min(1)
        .refine((ids) => new Set(ids).size === ids.length, { path: [] }),
    }),
    allowed: "an object { vpcId: \"vpc-…\", subnetIds: [\"subnet-…\", …] }",
    fix: "pulumi config set --path 'yolo-train:network.vpcId' vpc-0123456789abcdef0, and subnetIds likewise; or remove it for a new VPC",
  },
  image: {
    schema: z.string().refine(isImageReference),
    allowed: "an image reference registry/repository[:tag][@sha256:<64 hex digits>]",
    fix: "e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train:1.0, or remove it to build docker/",
  },
  progressive: {
    schema: z.array(z.strictObject({ imgsz: imgszSchema, epochs: epochsSchema })).min(1),
    allowed: "a non-empty list of phases [{ imgsz, epochs }, …]",
    fix: "e.g. [{\"imgsz\": 320, \"epochs\": 30}, {\"imgsz\": 640, \"epochs\": 70}], or remove it",
  },
  tracking: {
    schema: z.strictObject({
      mlflowUri: z
        .url({ protocol: /^https?$/ })
        .refine((u) => !/^https?:\/\/[^/]*@/.test(u))
        .optional(),
      wandbProject: z.string().regex(WANDB_PROJECT).optional(),
      wandbApiKey: z.string().min(1).optional(),
    }),
    allowed: "an object { mlflowUri } or { wandbProject, wandbApiKey }",
    fix: "pulumi config set --path 'yolo-train:tracking.mlflowUri' https://mlflow.example.com, or remove it",
  },
  // Only its shape here: parseSweepConfig (config/sweep/) checks a sweep against the checked base config.
  sweep: {
    schema: z.record(z.string(), z.unknown()),
    allowed: "an object { method, space, trials?, seed?, metric?, direction?, maxParallel?, asha?, budgetUsd? } (docs/sweeps.md)",
    fix: "pulumi config set yolo-train:sweep '{\"method\": \"grid\", \"space\": {\"imgsz\": [416, 640]}}'",
  },
};

/** Words for nested fields, by path pattern: `ota.promote.min`, `progressive[].imgsz`. */
export const NESTED_WORDING: Readonly<Record<string, Wording>> = {
  "ota.modelName": {
    allowed: "1 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or digit",
    fix: "e.g. pallet-detector",
  },
  "ota.channel": { allowed: `one of ${listWithOr(OTA_CHANNELS)}`, fix: "e.g. candidate", choices: OTA_CHANNELS },
  "ota.promote": {
    allowed: "an object { metric?, min, requireImprovement? }",
    fix: "pulumi config set --path 'yolo-train:ota.promote.min' 0.5",
  },
  "ota.promote.metric": {
    allowed: `a detection metric ultralytics reports: ${listWithOr(DETECTION_METRICS)}`,
    fix: `e.g. ${DEFAULT_PROMOTION_METRIC}`,
    choices: DETECTION_METRICS,
  },
  "ota.promote.min": { allowed: "a number from 0 to 1", fix: "e.g. 0.5", numeric: true },
  "ota.promote.requireImprovement": { allowed: "true or false", fix: "e.g. true" },
  "ota.bucket": {
    allowed: "the name of an existing S3 bucket: 3-63 lower-case letters, digits, '.' and '-'",
    fix: "e.g. the otaBucketName output of the platform stack (docs/shared-resources.md)",
  },
  "ota.signingKeyArn": {
    allowed: "a KMS key ARN arn:aws:kms:<region>:<account>:key/<key id> (an alias is not enough: IAM grants kms:Sign on the key)",
    fix: "e.g. the signingKeyArn output of the platform stack (docs/shared-resources.md)",
  },
  "ota.modelsPrefix": {
    allowed: KEY_PREFIX_RULE,
    fix: "e.g. models/ (the OtaBucket default), or remove it",
  },
  "network.vpcId": { allowed: "a VPC id: vpc- and 8 or 17 hex digits", fix: "e.g. vpc-0123456789abcdef0" },
  "network.subnetIds": {
    allowed: "a non-empty list of distinct subnet ids",
    fix: "e.g. [\"subnet-0123456789abcdef0\", \"subnet-0fedcba9876543210\"]",
  },
  "network.subnetIds[]": { allowed: "a subnet id: subnet- and 8 or 17 hex digits", fix: "e.g. subnet-0123456789abcdef0" },
  "instanceTypes[]": { allowed: "an EC2 instance type name", fix: "e.g. g5.xlarge" },
  "progressive[]": { allowed: "an object { imgsz, epochs }", fix: "e.g. {\"imgsz\": 320, \"epochs\": 30}" },
  "progressive[].imgsz": IMGSZ_WORDING,
  "progressive[].epochs": EPOCHS_WORDING,
  "tracking.mlflowUri": {
    allowed: "an http or https URL without credentials in it",
    fix: "e.g. https://mlflow.example.com (give MLflow credentials to the image, not the URI)",
  },
  "tracking.wandbProject": { allowed: "a W&B project name (no / \\ # ? % : or spaces, at most 128 characters)", fix: "e.g. pallet-detector" },
  "tracking.wandbApiKey": {
    allowed: "a W&B API key, set as a Pulumi secret",
    fix: "pulumi config set --secret --path 'yolo-train:tracking.wandbApiKey' <key>",
  },
};

/** Known fields of each object key, for "did you mean" on unknown ones. */
export const OBJECT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  ota: ["modelName", "channel", "promote", "bucket", "signingKeyArn", "modelsPrefix"],
  "ota.promote": ["metric", "min", "requireImprovement"],
  network: ["vpcId", "subnetIds"],
  "progressive[]": ["imgsz", "epochs"],
  tracking: ["mlflowUri", "wandbProject", "wandbApiKey"],
};
