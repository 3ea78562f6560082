// The stack program: one training experiment per stack, or a sweep of its variants when the stack
// declares `yolo-train:sweep` (docs/sweeps.md). `pulumi up` runs this file.
import * as pulumi from "@pulumi/pulumi";
import { TrainingRun } from "./components/run/trainingRun";
import type { OtaBucket } from "./components/ota/otaBucket";
import type { OtaDestination } from "./components/ota/otaDestination";
import { Sweep } from "./components/sweep/sweep";
import { CONFIG_NAMESPACE, InvalidInputError, loadExperimentConfig, parseSweepConfig, type LoadedExperimentConfig } from "./config";
import { earlyStoppingWarnings } from "./config/sweep/earlyStoppingAdvice";

type ExperimentConfig = LoadedExperimentConfig["config"];

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

/** The `yolo-train:sweep` key as the stack holds it (an object as JSON; text that is not JSON is passed on for the checker to name); undefined when not set. */
function declaredSweep(): unknown {
  const text = new pulumi.Config(CONFIG_NAMESPACE).get("sweep");
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** What both stacks deploy of OTA and buckets: a TrainingRun's or a Sweep's. */
interface DeployedParts {
  readonly ota: OtaDestination;
  readonly otaPrefix: pulumi.Output<string>;
  /** The stack's own OTA bucket; undefined for a shared one. */
  readonly otaBucket: OtaBucket | undefined;
  readonly artifactBucket: { readonly bucketName: pulumi.Output<string> };
  readonly ownDatasetBucket: { readonly bucketName: pulumi.Output<string> } | undefined;
}

/** The OTA outputs both stacks export (what edge boxes pin), and the buckets the stack owns. */
function otaAndOwnedBucketOutputs(parts: DeployedParts) {
  const own = parts.otaBucket;
  return {
    otaBucketName: parts.ota.bucketName,
    otaPrefix: parts.otaPrefix,
    otaPublicKeyPem: parts.ota.publicKeyPem,
    /** The edge devices' read-only policy; a shared OTA bucket's comes from the stack that owns it. */
    edgeReadPolicyArn: own?.edgeReadPolicyArn ?? null,
    // The OTA root of trust and timestamps (docs/ota.md). Null for a shared OTA bucket: the outputs of
    // the stack that owns it apply.
    /** The root key, for `yolo-train ota root sign` on an administrator's workstation; no role of this stack may use it. */
    otaRootKeyArn: own?.rootKeyArn ?? null,
    /** The root key's public half (PEM): what boxes pin as their root of trust. */
    otaRootPublicKeyPem: own?.rootPublicKeyPem ?? null,
    /** The timestamp key's public half (PEM), named as the timestamp key in root documents. */
    otaTimestampPublicKeyPem: own?.timestampPublicKeyPem ?? null,
    /** The Lambda function that re-signs each model's timestamp.json on a schedule. */
    otaTimestampFunctionName: own?.timestampFunctionName ?? null,
    /** The buckets `pulumi destroy` deletes with this stack (`yolo-train down --all` checks them first). */
    ownedBucketNames: pulumi.all([parts.artifactBucket.bucketName, parts.ownDatasetBucket?.bucketName ?? null, own?.bucketName ?? null]).apply((names) =>
      names.filter((n): n is string => n !== null),
    ),
  };
}

/** Where and how releases go (`npm run plan` shows it). `sharedBucket`: whether the stack does not own the OTA bucket. */
function deliveryOutput(config: ExperimentConfig, parts: DeployedParts, sharedBucket: boolean) {
  const own = parts.otaBucket;
  return {
    modelName: config.ota.modelName,
    bucketName: parts.ota.bucketName,
    prefix: parts.otaPrefix,
    sharedBucket,
    signingKeyArn: parts.ota.signingKeyArn,
    channel: config.ota.channel,
    promote: config.ota.promote ?? null,
    /** How often this stack's function re-signs the timestamps; null for a shared bucket (its owner's function does). */
    timestamp: own
      ? { functionName: own.timestampFunctionName, refreshHours: own.timestampFunction.refreshHours, expiresHours: own.timestampFunction.expiresHours }
      : null,
  };
}

/** The guardrails bounding the stack (`npm run plan` shows them); `backstopAt` for an experiment (a sweep's trials each have their own). */
function guardrailsOutput(config: ExperimentConfig, backstopAt?: pulumi.Output<string>) {
  return {
    idleMinutes: config.idleMinutes,
    idleGpuPercent: config.idleGpuPercent,
    maxRuntimeHours: config.maxRuntimeHours,
    restartIfCheckpointLost: config.restartIfCheckpointLost,
    ...(backstopAt !== undefined ? { backstopAt } : {}),
    budgetUsd: config.budgetUsd ?? null,
    alertEmail: config.alertEmail ? pulumi.secret(config.alertEmail) : null,
  };
}

/** One experiment: the outputs `yolo-train status|logs|down|cost` and `npm run plan` read. */
function experimentStack({ config, secrets }: LoadedExperimentConfig) {
  const run = refusingInvalidInput(
    () =>
      new TrainingRun(`${config.project}-${config.stack}`, {
        config,
        ...(secrets.wandbApiKey ? { wandbApiKey: secrets.wandbApiKey } : {}),
      }),
  );
  const dashboard = run.dashboard!;
  return {
    runId: run.runId,
    region: config.region,
    imageUri: run.image.imageUri,
    autoScalingGroupName: run.nodeGroup.groupName,
    datasetBucketName: run.datasetBucket.bucketName,
    artifactBucketName: run.artifactBucket.bucketName,
    artifactPrefix: run.artifactPrefix,
    ...otaAndOwnedBucketOutputs(run),
    logGroupName: run.nodeGroup.logGroupName,
    dashboardUrl: dashboard.dashboardUrl,
    logsUrl: dashboard.logsUrl,
    alertTopicArn: run.guardrails.alertTopicArn,

    /** What the run is expected to cost, and the guardrails bounding it: shown by `npm run plan`. */
    estimate: {
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
    },

    /** Where and how releases go: shown by `npm run plan`, so a pull request shows it too. */
    delivery: deliveryOutput(config, run, run.ota.shared),

    guardrails: guardrailsOutput(config, run.guardrails.backstopAt),
  };
}

/**
 * A sweep of the stack's experiment (issue 12): its trials on shared parts, the keeper that starts
 * them, the dashboard. The outputs `yolo-train sweep status|leaderboard` read (`sweepId`,
 * `artifactBucketName`, `region`), what edge boxes pin (the OTA outputs), and what `npm run plan`
 * shows (`sweep`, `sweepEstimate`, `delivery`, `guardrails`).
 */
function sweepStack({ config, secrets }: LoadedExperimentConfig, raw: unknown) {
  const plan = refusingInvalidInput(() => parseSweepConfig(raw, config, { project: config.project, stack: config.stack, region: config.region }));
  const sweep = refusingInvalidInput(
    () =>
      new Sweep(`${config.project}-${config.stack}`, {
        plan,
        ...(secrets.wandbApiKey ? { wandbApiKey: secrets.wandbApiKey } : {}),
      }),
  );
  return {
    sweepId: sweep.sweepId,
    region: config.region,
    artifactBucketName: sweep.artifactBucketName,
    /** `sweeps/<sweepId>/sweep.json` in the artifact bucket: the trials as deployed. */
    manifestKey: sweep.manifestKey,
    /** `{ trialId, runId, groupName }` of every trial, in the order they start. */
    trials: sweep.trialOutputs,
    keeperFunctionName: sweep.keeperFunctionName,
    keeperLogGroupName: sweep.keeper.logGroupName,
    dashboardUrl: sweep.dashboardUrl,
    alertTopicArn: sweep.alertTopicArn,
    imageUri: pulumi.output(sweep.parts.image.imageUri),
    datasetBucketName: pulumi.output(sweep.parts.datasetBucket.bucketName),
    ...otaAndOwnedBucketOutputs(sweep),

    /** The sweep as deployed: shown by `npm run plan`. */
    sweep: {
      method: plan.method,
      trialCount: plan.trials.length,
      dimensions: plan.space.map((d) => d.key),
      metric: plan.metric,
      direction: plan.direction,
      maxParallel: plan.maxParallel,
      asha: plan.asha ? { minEpochs: plan.asha.minEpochs, reductionFactor: plan.asha.reductionFactor, maxEpochs: plan.asha.maxEpochs, rungs: [...plan.asha.rungs] } : null,
      budgetUsd: plan.budgetUsd ?? null,
      keeperSchedule: sweep.keeper.scheduleExpression,
      /** Where ASHA's ranks may mislead (config/sweep/earlyStoppingAdvice.ts); the plan prints them. */
      earlyStoppingWarnings: earlyStoppingWarnings(plan),
    },
    /** The plan's numbers (catalog/sweepEstimate.ts): per trial $/h and cap, the most it can cost, expected costs, vCPU quotas. */
    sweepEstimate: {
      trials: plan.trials.map((trial, i) => ({ trialId: trial.id, runId: trial.runId, params: { ...trial.params }, ...sweep.estimate.trials[i]! })),
      most: sweep.estimate.most,
      expected: sweep.estimate.expected ?? null,
      quotas: sweep.estimate.quotas,
      assumptions: sweep.estimate.assumptions,
    },
    // The trials take every part from the sweep, so theirs reads "shared": the bucket is the stack's own when the sweep made it.
    delivery: deliveryOutput(config, sweep, sweep.otaBucket === undefined),
    guardrails: guardrailsOutput(config),
  };
}

// Validate every key first: an invalid config throws here, listing all problems, and nothing is
// created. A declared sweep is checked against the valid base (every trial as a config of its own).
const loaded = refusingInvalidInput(() => loadExperimentConfig());
const raw = declaredSweep();

export = raw === undefined ? experimentStack(loaded) : sweepStack(loaded, raw);
