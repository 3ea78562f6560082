import { REDACTED } from "../checks/context";
import type { ExperimentConfig, RawStackConfig, StackContext } from "../types";

/**
 * A checked experiment config written back as stack config keys, every value pinned (the GPU, its
 * count, the capacity and the max runtime as resolved, not the stage's preset to resolve again):
 * `parseExperimentConfig(experimentInputOf(config), contextOf(config))` gives the same config back.
 * A sweep's trial is this plus the trial's parameter values, checked by the normal checker.
 *
 * Values that were Pulumi Outputs when the base was parsed (`parseExperimentInput`'s `deferred`)
 * are not in the config, so they are not here either: the trial configs build their own image and
 * network where the base deferred them; whoever runs the trials carries the deferred values over.
 *
 * W&B tracking: the config records only that the key is set, so the key is written as a redacted
 * placeholder, and {@link trialCheckContext} marks `tracking` secret for the checker.
 */
export function experimentInputOf(config: ExperimentConfig): RawStackConfig {
  const input: Record<string, unknown> = {
    stage: config.stage,
    capacity: config.capacity,
    model: config.model,
    data: config.data,
    epochs: config.epochs,
    imgsz: config.imgsz,
    batch: config.batch,
    hyperparameters: { ...config.hyperparameters },
    datasetMount: config.datasetMount,
    maxRuntimeHours: config.maxRuntimeHours,
    idleMinutes: config.idleMinutes,
    idleGpuPercent: config.idleGpuPercent,
    restartIfCheckpointLost: config.restartIfCheckpointLost,
    ota: {
      modelName: config.ota.modelName,
      channel: config.ota.channel,
      ...(config.ota.promote !== undefined ? { promote: { ...config.ota.promote } } : {}),
      ...(config.ota.shared !== undefined ? { ...config.ota.shared } : {}),
    },
  };
  // Explicit instance types decide the GPU; derived ones are derived again from the GPU and its count.
  if (config.instanceTypesExplicit) input.instanceTypes = [...config.instanceTypes];
  else Object.assign(input, { gpu: config.gpu, gpusPerNode: config.gpusPerNode });
  if (config.maxSpotPrice !== undefined) input.maxSpotPrice = config.maxSpotPrice;
  if (config.datasetImages !== undefined) input.datasetImages = config.datasetImages;
  if (config.progressive !== undefined) input.progressive = config.progressive.map((p) => ({ imgsz: p.imgsz, epochs: p.epochs }));
  if (config.budgetUsd !== undefined) input.budgetUsd = config.budgetUsd;
  if (config.alertEmail !== undefined) input.alertEmail = config.alertEmail;
  if (config.network !== undefined) input.network = { vpcId: config.network.vpcId, subnetIds: [...config.network.subnetIds] };
  if (config.image !== undefined) input.image = config.image;
  switch (config.tracking.kind) {
    case "off":
      break;
    case "mlflow":
      input.tracking = { mlflowUri: config.tracking.mlflowUri };
      break;
    case "wandb":
      input.tracking = { wandbProject: config.tracking.wandbProject, wandbApiKey: REDACTED };
      break;
  }
  return input;
}

/**
 * The context a trial of this base is checked in: the base's project, stack and region, and
 * `tracking` secret when the base tracks with W&B (its key was a secret when the base was checked).
 */
export function trialCheckContext(config: ExperimentConfig, context: Pick<StackContext, "secretKeys">): StackContext {
  const secretKeys = [...(context.secretKeys ?? [])];
  if (config.tracking.kind === "wandb" && !secretKeys.includes("tracking")) secretKeys.push("tracking");
  return { project: config.project, stack: config.stack, region: config.region, secretKeys };
}
