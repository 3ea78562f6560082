/**
 * The stack config of yolo-train: its schema, stage presets, defaults and error messages.
 * `loadExperimentConfig` reads a Pulumi stack's config; everything else is pure.
 */
export * from "./types";
export { type Problem, type InputPropertyErrorDetails, ProblemList, InvalidInputError, formatProblem, problemReason } from "../runspec/problems";
export { STAGE_PRESETS, presetGpuCount, type StagePreset } from "./presets";
export { CONFIG_KEYS, CONFIG_NAMESPACE, KNOWN_KEYS, type ConfigKeyDoc } from "./keys";
export { TRAIN_ARGS, RESERVED_TRAIN_ARGS, AUTO_OPTIMIZER_OVERRIDES, checkHyperparameters, type TrainArg, type TrainArgType } from "./hyperparameters";
export { BUILTIN_DATASETS, PRETRAINED_MODELS, parseDataSource, parseModelSource } from "./sources";
export { DETECTION_METRICS, DEFAULT_PROMOTION_METRIC, CAPACITIES, OTA_CHANNELS, GPU_COUNTS } from "./choices";
export {
  parseExperimentConfig,
  parseExperimentInput,
  checkExperimentConfig,
  checkDeferredNetwork,
  checkDeferredOtaShared,
  checkDeferredImage,
  checkDeferredAlertEmail,
  configSubject,
  defaultModelName,
  DEFAULTS,
  type ConfigCheck,
} from "./parseExperimentConfig";
export { loadExperimentConfig, type LoadedExperimentConfig } from "./loadStackConfig";
export * from "./sweep/types";
export { parseSweepConfig, checkSweepConfig, SWEEP_KEYS, type SweepCheck } from "./sweep/parseSweepConfig";
export { expandTrials, trialParameters, trialId } from "./sweep/trials";
export { experimentInputOf } from "./sweep/baseInput";
export { SWEEP_DEFAULTS, SWEEP_LIMITS } from "./sweep/limits";
export { mulberry32 } from "./sweep/prng";
