import { DEFAULT_PROMOTION_METRIC } from "../choices";
import type { SweepMetric } from "./input";

/** The defaults and bounds of the `sweep` key (docs/sweeps.md), written once for the checks, the docs and the tests. */
export const SWEEP_DEFAULTS = Object.freeze({
  seed: 0,
  metric: DEFAULT_PROMOTION_METRIC as SweepMetric,
  direction: "maximize" as const,
  maxParallel: 2,
  reductionFactor: 3,
});

export const SWEEP_LIMITS = Object.freeze({
  /** Trials of one sweep, grid or random: each is a run with its own node group. */
  maxTrials: 256,
  maxParallel: Object.freeze({ min: 1, max: 32 }),
  /** The seed is a 32-bit unsigned integer (config/sweep/prng.ts). */
  maxSeed: 2 ** 32 - 1,
  /** Significant digits a drawn real number keeps: short, stable run ids, and no last-bit differences between machines. */
  significantDigits: 6,
});
