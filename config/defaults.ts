import { EPOCHS, IDLE_GPU_PERCENT, IDLE_MINUTES, IMGSZ, RESTART_IF_CHECKPOINT_LOST_DEFAULT } from "../runspec/limits";
import type { DatasetMount, Stage } from "./types";

/**
 * Defaults of keys that no stage preset sets (design.md §3), each written once: the limits'
 * defaults come from runspec/limits.ts, which the node checks the run spec against; the rest are
 * written here. parseExperimentConfig.ts, the checks and the key docs (config/keys.ts) read them.
 */
export const DEFAULTS = Object.freeze({
  stage: "debug" as Stage,
  model: "yolov8n.pt",
  data: "coco8.yaml",
  epochs: EPOCHS.default,
  imgsz: IMGSZ.default,
  batch: 16,
  datasetMount: "mountpoint" as DatasetMount,
  idleMinutes: IDLE_MINUTES.default,
  idleGpuPercent: IDLE_GPU_PERCENT.default,
  restartIfCheckpointLost: RESTART_IF_CHECKPOINT_LOST_DEFAULT as boolean,
  otaChannel: "candidate" as const,
});
