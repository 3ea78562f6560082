import type { Direction } from "../../runspec/sweep/asha";
import type { DETECTION_METRICS } from "../choices";

/*
 * The `sweep` stack config key as a user writes it (docs/sweeps.md). Its own file, so that
 * `ExperimentConfigInput` (config/types.ts) can name it without config/types.ts and
 * config/sweep/types.ts importing each other. Types only, zod-free.
 */

/** How trials are chosen from the search space. */
export const SWEEP_METHODS = ["grid", "random"] as const;
export type SweepMethod = (typeof SWEEP_METHODS)[number];

/** A metric ultralytics reports per epoch, that the sweep ranks trials by. */
export type SweepMetric = (typeof DETECTION_METRICS)[number];

/** One value of a search-space dimension: a model name, an image size, a learning rate, an optimizer, a flag. */
export type SweepValue = string | number | boolean;

/** A numeric range of a search-space dimension, as written in the stack config. */
export interface SweepRangeInput {
  /** The smallest value drawn. */
  readonly min: number;
  /** The largest value drawn; above `min`. */
  readonly max: number;
  /**
   * Draw uniformly on a log scale (for learning rates): `min` must be above 0.
   * @default false
   */
  readonly log?: boolean;
  /**
   * Draw only `min + k·step` (at most `max`).
   * @default 32 for `imgsz`, 1 for other whole-number dimensions, none (continuous) otherwise
   */
  readonly step?: number;
}

/** ASHA early stopping, as written in the stack config (docs/sweeps.md). */
export interface AshaInput {
  /** The first rung: every trial trains at least this many epochs before it can be stopped. A whole number ≥ 1. */
  readonly minEpochs: number;
  /**
   * η: at each rung only the best 1/η of the trials that reached it go on; rungs are at minEpochs·η^k epochs.
   * A whole number ≥ 2.
   * @default 3
   */
  readonly reductionFactor?: number;
  /**
   * The end of the schedule: rungs lie below it.
   * @default the base config's `epochs` (the largest `epochs` of the space when the space sweeps `epochs`)
   */
  readonly maxEpochs?: number;
}

/**
 * The `sweep` stack config key as a library user writes it in code: a search space over a base
 * experiment config, how to draw trials from it, what to rank them by, how many run at once, when
 * to stop the losers and how much it may cost. Checked by `parseSweepConfig` (docs/sweeps.md).
 */
export interface SweepConfigInput {
  /** `grid`: every combination of the lists. `random`: `trials` draws with `seed`. */
  readonly method: SweepMethod;
  /** How many trials to draw: random only, a whole number from 1 to 256. */
  readonly trials?: number;
  /**
   * The seed of the draws: random only, a whole number from 0 to 2^32 − 1. The same seed gives the same trials on every machine.
   * @default 0
   */
  readonly seed?: number;
  /**
   * Dimensions: `model`, `imgsz`, `batch`, `epochs` and any ultralytics train argument of `hyperparameters`
   * (`lr0`, `optimizer`, `mosaic`, …), each a non-empty list of values or (numbers, random only) a range.
   */
  readonly space: Readonly<Record<string, readonly SweepValue[] | SweepRangeInput>>;
  /**
   * The metric trials are ranked by.
   * @default "metrics/mAP50-95(B)"
   */
  readonly metric?: SweepMetric;
  /**
   * Whether a larger or a smaller metric is better.
   * @default "maximize"
   */
  readonly direction?: Direction;
  /**
   * Nodes (trials) at once, 1 to 32.
   * @default 2
   */
  readonly maxParallel?: number;
  /**
   * ASHA early stopping, or `"off"` (or false) to run every trial to the end.
   * @default "off"
   */
  readonly asha?: AshaInput | "off" | false;
  /**
   * The sweep's budget in USD, above 0: no trial starts once spent + committed cost would pass it.
   * @default none (every trial's max runtime bounds the cost)
   */
  readonly budgetUsd?: number;
}
