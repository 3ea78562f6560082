import { InvalidInputError, type Problem } from "../runspec/problems";
import { ConfigProblems, ConfigValues, type CheckContext } from "./checks/context";
import { checkCompute } from "./checks/compute";
import { checkGuardrails } from "./checks/guardrails";
import { checkImage } from "./checks/image";
import { checkNetwork } from "./checks/network";
import { checkOta } from "./checks/ota";
import { checkShapes, checkUnknownKeys } from "./checks/shapes";
import { checkSources } from "./checks/sources";
import { checkTracking } from "./checks/tracking";
import { checkHyperparametersKey, checkTraining } from "./checks/training";
import { separateUnknownInputs } from "./checks/unknownValues";
import { DEFAULTS } from "./defaults";
import { KNOWN_KEYS } from "./keys";
import { STAGE_PRESETS } from "./presets";
import type {
  DeferredExperimentInputs,
  ExperimentConfig,
  ExperimentConfigInput,
  ParsedExperimentInput,
  RawStackConfig,
  Stage,
  StackContext,
} from "./types";

/*
 * The stack config checker. Each concern is a check of its own under config/checks/ (compute and
 * capacity, model and data, training arguments and progressive phases, guardrails, OTA, network,
 * tracking, image); this module only orchestrates them: read the keys, run every check, collect
 * every problem at once, then build the frozen ExperimentConfig.
 */

export { DEFAULTS } from "./defaults";
export { defaultModelName } from "./checks/ota";
export {
  checkDeferredAlertEmail,
  checkDeferredImage,
  checkDeferredNetwork,
  checkDeferredOtaShared,
} from "./checks/deferred";

/** The subject of config errors: "Stack config yolo-train/dev". */
export function configSubject(context: { readonly project: string; readonly stack: string }): string {
  return `Stack config ${context.project}/${context.stack}`;
}

/**
 * Validates a stack config and fills in every default: the one typed object `index.ts`
 * composes. Pure: no Pulumi, no I/O (the price catalog is bundled data).
 * Throws {@link InvalidInputError} naming `Stack config <project>/<stack>` with every problem
 * at once: shape errors, unknown keys and cross-key rules together.
 *
 * Every value must be plain: a Pulumi Output or a Promise is a problem naming its key, even where
 * {@link ExperimentConfigInput} allows one (`image`, `network.vpcId`, …): the ExperimentConfig
 * returned has no room for it. Use {@link parseExperimentInput} for those.
 */
export function parseExperimentConfig(raw: ExperimentConfigInput | RawStackConfig, context: StackContext): ExperimentConfig {
  const { config, problems } = checkExperimentConfig(raw, context);
  if (config === undefined) throw new InvalidInputError(configSubject(context), problems);
  return config;
}

/**
 * Like {@link parseExperimentConfig}, for a config written in code whose `image`, `alertEmail`,
 * `network.vpcId`, `network.subnetIds`, `ota.bucket` or `ota.signingKeyArn` come from another
 * resource or stack as Pulumi Outputs (or Promises). Every plain key is checked at once, as by
 * parseExperimentConfig, and is in `config` as ever; each of those six that is an Output is left out
 * of `config` and returned, unchecked, in `deferred` (network and the shared OTA bucket as a whole,
 * their plain field checked now). An Output anywhere else is refused with a problem naming the key
 * (`epochs is a pulumi Output`): the training spec and the run id must be known at preview.
 *
 * Check each deferred value once known, inside `apply`, with `checkDeferredNetwork`,
 * `checkDeferredOtaShared`, `checkDeferredImage` or `checkDeferredAlertEmail` (pure; `[]` when
 * good), and refuse what they return.
 *
 * Throws {@link InvalidInputError} (a `pulumi.InputPropertiesError` by `isInstance`) with every problem at once.
 */
export function parseExperimentInput(input: ExperimentConfigInput, context: StackContext): ParsedExperimentInput {
  const { config, deferred, problems } = runChecks(input as RawStackConfig, context, true);
  if (config === undefined) throw new InvalidInputError(configSubject(context), problems);
  return Object.freeze({ config, deferred });
}

/** What {@link checkExperimentConfig} found: the config when there is no problem, else the problems. */
export interface ConfigCheck {
  readonly config?: ExperimentConfig;
  readonly problems: readonly Problem[];
}

/**
 * Like {@link parseExperimentConfig}, but returns the problems instead of throwing, so a caller
 * can add its own (a missing `aws:region`) and report them all together. Without `region`,
 * region rules are skipped and no config is returned.
 */
export function checkExperimentConfig(
  raw: ExperimentConfigInput | RawStackConfig,
  context: Omit<StackContext, "region"> & { readonly region?: string },
): ConfigCheck {
  const { config, problems } = runChecks(raw as RawStackConfig, context, false);
  return config !== undefined ? { config, problems } : { problems };
}

/** Every check, in the order messages list their problems; a config only when there is none. */
function runChecks(
  raw: RawStackConfig,
  context: CheckContext,
  allowDeferred: boolean,
): { config?: ExperimentConfig; deferred: DeferredExperimentInputs; problems: readonly Problem[] } {
  const problems = new ConfigProblems(context.secretKeys);

  // Read the keys: Outputs and Promises out first, then every key's own rule.
  const { plain, deferredPaths } = separateUnknownInputs(raw, KNOWN_KEYS, allowDeferred, (p) => problems.add(p));
  checkUnknownKeys(raw, problems);
  const parsed = checkShapes(plain, problems, deferredPaths);
  const values = new ConfigValues(raw, plain, parsed, deferredPaths);

  // Run every check; each adds its problems and returns its part of the config.
  const hyperparameters = checkHyperparametersKey(values, problems);
  const stage = values.resolve<Stage>("stage", DEFAULTS.stage);
  const preset = stage !== undefined ? STAGE_PRESETS[stage] : undefined;
  const compute = checkCompute(values, context, problems, preset);
  const training = checkTraining(values, problems, compute.hardware.gpusPerNode);
  const tracking = checkTracking(values, problems);
  const { ota, otaShared } = checkOta(values, context, problems, hyperparameters);
  const guardrails = checkGuardrails(values, problems, preset);
  const sources = checkSources(values);
  const { network, deferredNetwork } = checkNetwork(values);
  const { image, deferredImage } = checkImage(values);

  const noConfig = { deferred: {}, problems: problems.all };
  if (problems.any) return noConfig;
  const region = context.region;
  if (region === undefined) return noConfig;

  // With no problem left, every part below is set; the checks above guarantee it.
  const { hardware, capacity, maxSpotPrice } = compute;
  const config: ExperimentConfig = {
    project: context.project,
    stack: context.stack,
    region,
    stage: stage!,
    gpu: hardware.gpu!,
    gpusPerNode: hardware.gpusPerNode!,
    instanceTypes: [...hardware.instanceTypes!],
    instanceTypesExplicit: hardware.explicit,
    capacity: capacity!,
    ...(maxSpotPrice !== undefined ? { maxSpotPrice } : {}),
    model: sources.model!,
    modelSource: sources.modelSource!,
    data: sources.data!,
    dataSource: sources.dataSource!,
    ...(sources.datasetImages !== undefined ? { datasetImages: sources.datasetImages } : {}),
    epochs: training.epochs!,
    imgsz: training.imgsz!,
    batch: training.batch!,
    hyperparameters: hyperparameters!,
    ...(training.progressive !== undefined ? { progressive: training.progressive } : {}),
    datasetMount: sources.datasetMount!,
    maxRuntimeHours: guardrails.maxRuntimeHours!,
    idleMinutes: guardrails.idleMinutes!,
    idleGpuPercent: guardrails.idleGpuPercent!,
    restartIfCheckpointLost: guardrails.restartIfCheckpointLost!,
    ...(guardrails.budgetUsd !== undefined ? { budgetUsd: guardrails.budgetUsd } : {}),
    ...(guardrails.alertEmail !== undefined ? { alertEmail: guardrails.alertEmail } : {}),
    ota: ota!,
    ...(network !== undefined ? { network } : {}),
    ...(image !== undefined ? { image } : {}),
    tracking: tracking!,
  };
  // Outputs are not frozen (they are Pulumi's); their containers are.
  const deferred: DeferredExperimentInputs = Object.freeze({
    ...(deferredNetwork !== undefined ? { network: Object.freeze({ ...deferredNetwork }) } : {}),
    ...(otaShared !== undefined ? { otaShared: Object.freeze({ ...otaShared }) } : {}),
    ...(values.deferred("image") ? { image: deferredImage as DeferredExperimentInputs["image"] } : {}),
    ...(values.deferred("alertEmail") ? { alertEmail: raw.alertEmail as DeferredExperimentInputs["alertEmail"] } : {}),
  });
  return { config: deepFreeze(config), deferred, problems: [] };
}

/** Freezes an object and everything reachable from it. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
