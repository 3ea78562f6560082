import { estimateExperiment } from "../../catalog/experimentEstimate";
import type { ExperimentConfig } from "../../config/types";
import { experimentConfigOf } from "../launchConfig";
import type { OfflinePlan } from "./runOfflinePlan";

/**
 * What the plan adds to the resources and outputs the program produced: the estimate of each
 * progressive phase, and warnings about what a first `pulumi up` would do. Pure; they read the
 * stack config the plan ran with, validated as the program validated it.
 */

/** One phase of a progressive run (`yolo-train:progressive`), as the estimate sees it. */
export interface PhaseEstimate {
  /** 1 for the first phase. */
  readonly phase: number;
  readonly imgsz: number;
  readonly epochs: number;
  /** The phase's share of the estimated hours; null when the training images per epoch are unknown. */
  readonly hours: number | null;
  /** What those hours cost at the chosen instance type and capacity; null with `hours`. */
  readonly estimatedUsd: number | null;
  /** The run reaches maxRuntimeHours before this phase ends: the backstop stops it there. */
  readonly pastMaxRuntime: boolean;
}

/** The config the program ran with; undefined when it does not validate (the plan then failed). */
function configOf(plan: OfflinePlan): ExperimentConfig | undefined {
  return experimentConfigOf({ "aws:region": plan.region, ...plan.config }, { project: plan.project, stack: plan.stack, secretKeys: plan.secretKeys }).config;
}

/**
 * The estimate of each progressive phase, in order; empty for a one-phase run. The phases add
 * up to the run's estimate: each is estimated as the run estimates it (time model, images per
 * epoch, chosen instance type).
 */
export function phaseEstimates(plan: OfflinePlan): PhaseEstimate[] {
  const config = configOf(plan);
  const phases = config?.progressive ?? [];
  if (config === undefined || phases.length === 0) return [];
  let elapsed = 0;
  return phases.map((phase, i) => {
    const estimate = estimateExperiment({ ...config, progressive: [phase] });
    const hours = estimate.hours ?? null;
    if (hours !== null) elapsed += hours;
    return {
      phase: i + 1,
      imgsz: phase.imgsz,
      epochs: phase.epochs,
      hours,
      estimatedUsd: hours !== null ? (estimate.cost?.estimatedUsd ?? null) : null,
      pastMaxRuntime: hours !== null && elapsed > config.maxRuntimeHours,
    };
  });
}

/** Names of the S3 buckets the plan creates (the `bucket` input, explicit or autonamed). */
function createdBuckets(plan: OfflinePlan): Set<string> {
  const names = new Set<string>();
  for (const r of plan.resources) {
    if (!r.type.startsWith("aws:s3/bucket")) continue;
    const name = r.inputs.bucket;
    if (typeof name === "string" && name !== "") names.add(name);
  }
  const output = plan.outputs.datasetBucketName;
  if (typeof output === "string" && output !== "") names.add(output);
  return names;
}

/**
 * True when the planned node group launches a node as soon as it is created, or a sweep's keeper
 * (a stack exporting `sweepId`) gives the first trials' groups capacity within its first round.
 */
function startsNodeAtOnce(plan: OfflinePlan): boolean {
  if (typeof plan.outputs.sweepId === "string") return true;
  return plan.resources.some((r) => r.type === "aws:autoscaling/group:Group" && Number(r.inputs.desiredCapacity ?? r.inputs.minSize ?? 0) > 0);
}

/**
 * Warnings about the first `pulumi up` of the stack. The plan is always what a new stack gets:
 * a dataset in a bucket that same `pulumi up` creates is not there when the GPU node, started
 * at once, mounts it (README, "Running a real experiment"). No config key defers the node, so
 * the advice is to put the dataset in place first.
 */
export function firstUpWarnings(plan: OfflinePlan): string[] {
  const config = configOf(plan);
  if (config === undefined || !startsNodeAtOnce(plan)) return [];
  const source = config.dataSource;
  let where: string;
  let folder: string;
  let data: string;
  if (source.kind === "dataset-bucket") {
    where = `datasets/${source.name}/data.yaml in the stack's dataset bucket, which that same \`pulumi up\` creates, empty`;
    folder = source.name;
    data = source.name;
  } else if (source.kind === "s3" && createdBuckets(plan).has(source.bucket)) {
    where = `s3://${source.bucket}/${source.yamlKey}, in a bucket that same \`pulumi up\` creates, empty`;
    folder = source.prefix.split("/").filter(Boolean).pop() ?? "dataset";
    data = `s3://${source.bucket}/${source.yamlKey}`;
  } else {
    return [];
  }
  return [
    `On a first \`pulumi up\` (a stack not deployed yet) the GPU node starts at once and trains on ${where}: ` +
      "it would start training against a dataset that is not there. No config key holds the node back, so put the dataset in place first: " +
      `upload it to a bucket that exists (\`aws s3 sync ./${folder} s3://BUCKET/datasets/${folder}/\`) and set \`yolo-train:data s3://BUCKET/datasets/${folder}/data.yaml\`; ` +
      `or deploy first with a built-in dataset (\`pulumi config set yolo-train:data coco8.yaml\`), then upload ` +
      `(\`aws s3 sync ./${folder} "s3://$(pulumi stack output datasetBucketName)/datasets/${folder}/"\`) and set \`yolo-train:data ${data}\` again. ` +
      "A stack already deployed, with its dataset uploaded, can ignore this.",
  ];
}
