/**
 * The fixed choices of some config keys, in a module of their own: the public entry point
 * (config/index.ts) exports them without loading the zod schemas of schema.ts, so consumers'
 * type checks never see zod.
 */
export const CAPACITIES = ["spot", "on-demand"] as const;
export const OTA_CHANNELS = ["candidate", "stable"] as const;
/** Detection metrics ultralytics reports per epoch (results.csv, trainer.metrics). */
export const DETECTION_METRICS = ["metrics/mAP50-95(B)", "metrics/mAP50(B)", "metrics/precision(B)", "metrics/recall(B)"] as const;
export const DEFAULT_PROMOTION_METRIC = "metrics/mAP50-95(B)";

/** Instance types of one node may have 1, 4 or 8 GPUs (AWS has no 2-GPU node we run on). */
export const GPU_COUNTS = [1, 4, 8] as const;
