// The stack program: one training experiment per stack. `pulumi up` runs this file.
import * as pulumi from "@pulumi/pulumi";
import { TrainingRun } from "./components/run/trainingRun";
import { CONFIG_NAMESPACE, InvalidInputError, loadExperimentConfig } from "./config";

/**
 * Runs `declare`; refused input (every problem at once) stops the program as a `RunError`,
 * which Pulumi prints once, as its message alone: no stack trace, no "unhandled exception".
 */
function refusingInvalidInput<T>(declare: () => T): T {
  try {
    return declare();
  } catch (error) {
    const refusal = refusalMessage(error);
    if (refusal === undefined) throw error;
    throw Object.assign(new pulumi.RunError(refusal), { problems: (error as { problems?: unknown }).problems });
  }
}

/** The message of an error that refuses input (ours, or Pulumi's InputPropertiesError); undefined for any other. */
function refusalMessage(error: unknown): string | undefined {
  if (error instanceof InvalidInputError || (error instanceof Error && error.name === "InvalidInputError")) return error.message;
  if (pulumi.InputPropertiesError.isInstance(error)) {
    const message = error.message;
    const unsaid = error.errors.filter((e) => !message.includes(e.reason));
    return [message, ...unsaid.map((e) => `  - ${e.propertyPath}: ${e.reason}`)].join("\n");
  }
  return undefined;
}

// Validate every key first: an invalid config throws here, listing all problems, and
// nothing is created.
const { config, secrets } = refusingInvalidInput(() => {
  const loaded = loadExperimentConfig();
  // A declared sweep is checked and planned (`yolo-train sweep plan`); deploying it is not built
  // yet, and deploying the base experiment alone would not be what the stack file says.
  if (new pulumi.Config(CONFIG_NAMESPACE).get("sweep") !== undefined) {
    throw new InvalidInputError(`Stack ${pulumi.getStack()}`, [
      {
        key: "sweep",
        value: "(declared)",
        allowed: "no sweep in a stack that `pulumi up` deploys: running sweeps on AWS is being built (issue 12)",
        fix: `see its trials, cost and vCPU quota with \`yolo-train sweep plan --stack ${pulumi.getStack()}\`; remove yolo-train:sweep to train the base experiment`,
      },
    ]);
  }
  return loaded;
});

const run = refusingInvalidInput(
  () =>
    new TrainingRun(`${config.project}-${config.stack}`, {
      config,
      ...(secrets.wandbApiKey ? { wandbApiKey: secrets.wandbApiKey } : {}),
    }),
);

export const runId = run.runId;
export const region = config.region;
export const imageUri = run.image.imageUri;
export const autoScalingGroupName = run.nodeGroup.groupName;
export const datasetBucketName = run.datasetBucket.bucketName;
export const artifactBucketName = run.artifactBucket.bucketName;
export const artifactPrefix = run.artifactPrefix;
export const otaBucketName = run.ota.bucketName;
export const otaPrefix = run.otaPrefix;
export const otaPublicKeyPem = run.ota.publicKeyPem;
/** The edge devices' read-only policy; a shared OTA bucket's comes from the stack that owns it. */
export const edgeReadPolicyArn = run.otaBucket?.edgeReadPolicyArn ?? null;
// The OTA root of trust and timestamps (docs/ota.md). Null for a shared OTA bucket: the outputs of
// the stack that owns it apply.
/** The root key, for `yolo-train ota root sign` on an administrator's workstation; no role of this stack may use it. */
export const otaRootKeyArn = run.otaBucket?.rootKeyArn ?? null;
/** The root key's public half (PEM): what boxes pin as their root of trust. */
export const otaRootPublicKeyPem = run.otaBucket?.rootPublicKeyPem ?? null;
/** The timestamp key's public half (PEM), named as the timestamp key in root documents. */
export const otaTimestampPublicKeyPem = run.otaBucket?.timestampPublicKeyPem ?? null;
/** The Lambda function that re-signs each model's timestamp.json on a schedule. */
export const otaTimestampFunctionName = run.otaBucket?.timestampFunctionName ?? null;
/** The buckets `pulumi destroy` deletes with this stack (`yolo-train down --all` checks them first). */
export const ownedBucketNames = pulumi.all([run.artifactBucket.bucketName, run.ownDatasetBucket?.bucketName ?? null, run.otaBucket?.bucketName ?? null]).apply((names) =>
  names.filter((n): n is string => n !== null),
);
export const logGroupName = run.nodeGroup.logGroupName;
export const dashboardUrl = run.dashboard.dashboardUrl;
export const logsUrl = run.dashboard.logsUrl;
export const alertTopicArn = run.guardrails.alertTopicArn;

/** What the run is expected to cost, and the guardrails bounding it: shown by `npm run plan`. */
export const estimate = {
  gpu: config.gpu,
  gpusPerNode: config.gpusPerNode,
  capacity: config.capacity,
  maxSpotPrice: config.maxSpotPrice ?? null,
  instanceTypes: run.estimate.capacityRates.perInstance,
  chosenInstanceType: run.estimate.capacityRates.chosen,
  hours: run.estimate.hours ?? null,
  imagesPerSecond: run.estimate.imagesPerSecond ?? null,
  estimatedUsd: run.estimate.cost?.estimatedUsd ?? null,
  onDemandUsd: run.estimate.cost?.onDemandUsd ?? null,
  savingUsd: run.estimate.cost?.savingUsd ?? null,
  savingPercent: run.estimate.cost?.savingPercent ?? null,
  capUsd: run.estimate.capUsd,
  assumptions: run.estimate.assumptions,
};

/** Where and how releases go: shown by `npm run plan`, so a pull request shows it too. */
export const delivery = {
  modelName: config.ota.modelName,
  bucketName: run.ota.bucketName,
  prefix: run.otaPrefix,
  sharedBucket: run.ota.shared,
  signingKeyArn: run.ota.signingKeyArn,
  channel: config.ota.channel,
  promote: config.ota.promote ?? null,
  /** How often this stack's function re-signs the timestamps; null for a shared bucket (its owner's function does). */
  timestamp: run.otaBucket
    ? {
        functionName: run.otaBucket.timestampFunctionName,
        refreshHours: run.otaBucket.timestampFunction.refreshHours,
        expiresHours: run.otaBucket.timestampFunction.expiresHours,
      }
    : null,
};

export const guardrails = {
  idleMinutes: config.idleMinutes,
  idleGpuPercent: config.idleGpuPercent,
  maxRuntimeHours: config.maxRuntimeHours,
  restartIfCheckpointLost: config.restartIfCheckpointLost,
  backstopAt: run.guardrails.backstopAt,
  budgetUsd: config.budgetUsd ?? null,
  alertEmail: config.alertEmail ? pulumi.secret(config.alertEmail) : null,
};
