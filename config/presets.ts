import type { Capacity, GpuClass } from "../catalog/types";
import type { Stage } from "./types";

/** What a `stage` fills in when the stack config leaves it out. Explicit keys always win. */
export interface StagePreset {
  readonly gpu: GpuClass;
  readonly gpusPerNode: number;
  readonly capacity: Capacity;
  readonly maxRuntimeHours: number;
  /** One line for docs and the plan. */
  readonly purpose: string;
}

/**
 * Stage presets, after the cost guidance this product grew from: quick debugging on one cheap
 * GPU, the real training on several A100s, small fine-tunes on one T4. All spot: a checkpoint
 * reaches S3 after every epoch, so an interruption costs minutes, not the run.
 */
export const STAGE_PRESETS: Readonly<Record<Stage, StagePreset>> = Object.freeze({
  debug: Object.freeze({
    gpu: "t4",
    gpusPerNode: 1,
    capacity: "spot",
    maxRuntimeHours: 2,
    purpose: "check the pipeline end to end on one cheap GPU (set gpu: a10g for more memory)",
  }),
  train: Object.freeze({
    gpu: "a100",
    gpusPerNode: 8,
    capacity: "spot",
    maxRuntimeHours: 72,
    purpose: "the real training run, DDP over the 8 A100s of a p4d.24xlarge",
  }),
  finetune: Object.freeze({
    gpu: "t4",
    gpusPerNode: 1,
    capacity: "spot",
    maxRuntimeHours: 12,
    purpose: "a small fine-tune of existing weights on one T4",
  }),
});

/**
 * The GPU count to use when the user chose `gpu` but not `gpusPerNode`: the preset's count
 * when that GPU class offers it, else the largest offered count below it, else the smallest
 * offered count (a100 under the debug preset → 8: AWS has no smaller A100 node). Not an
 * error: the user asked for that GPU class. Undefined only when `offered` is empty.
 */
export function presetGpuCount(presetCount: number, offered: readonly number[]): number | undefined {
  if (offered.includes(presetCount)) return presetCount;
  const below = offered.filter((n) => n <= presetCount);
  if (below.length > 0) return Math.max(...below);
  return offered.length > 0 ? Math.min(...offered) : undefined;
}
