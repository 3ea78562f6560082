import type { Direction } from "../../runspec/sweep/asha";
import type { ExperimentConfig } from "../types";
import type { SweepMethod, SweepMetric, SweepValue } from "./input";

/*
 * The types of a sweep (issue 12): the `sweep` stack config key as a user writes it, and the
 * checked sweep with its trials. Types only, zod-free: they are part of the public declarations
 * of `yolo-train/config` (test/publicApi/declarations.test.ts).
 */

export type { Direction } from "../../runspec/sweep/asha";
export * from "./input";

/** A dimension of the checked search space: a list of values, or a numeric range (random only). */
export type SweepDimension =
  | {
      /** `model`, `imgsz`, `batch`, `epochs` or a train argument name (`lr0`). */
      readonly key: string;
      readonly kind: "values";
      /** As the trial configs hold them ("640" given → 640). */
      readonly values: readonly SweepValue[];
    }
  | {
      readonly key: string;
      readonly kind: "range";
      readonly min: number;
      readonly max: number;
      readonly log: boolean;
      /** Draws are `min + k·step`; undefined for a continuous range. */
      readonly step?: number;
    };

/** ASHA as checked: every field filled in, with the rung epochs it gives. */
export interface AshaSettings {
  readonly minEpochs: number;
  readonly reductionFactor: number;
  readonly maxEpochs: number;
  /** minEpochs·η^k below maxEpochs (runspec/sweep/asha.ts `rungEpochs`). */
  readonly rungs: readonly number[];
}

/** The `sweep` key checked, every default filled in; frozen. */
export interface SweepConfig {
  readonly method: SweepMethod;
  /** How many trials: the grid's size, or the number of random draws. */
  readonly trialCount: number;
  /** Random only. */
  readonly seed?: number;
  /** In the order written: the grid varies the last dimension fastest; a draw samples them in this order. */
  readonly space: readonly SweepDimension[];
  readonly metric: SweepMetric;
  readonly direction: Direction;
  readonly maxParallel: number;
  /** Undefined when ASHA is off: every trial runs to its end. */
  readonly asha?: AshaSettings;
  readonly budgetUsd?: number;
}

/** The parameter values of one trial, keyed by dimension (`{ imgsz: 640, lr0: 0.0032 }`). */
export type TrialParameters = Readonly<Record<string, SweepValue>>;

/** One trial: the base config with its parameter values, checked like any experiment config. */
export interface SweepTrial {
  /** `t01` … `tNN` (3 digits from 100 trials on), in the order the trials were drawn. */
  readonly id: string;
  readonly params: TrialParameters;
  /** The trial's own experiment config (base + params), as parseExperimentConfig returns it. */
  readonly config: ExperimentConfig;
  /** The run the trial is (runspec/runId.ts `deriveRunId` of its config): its record, checkpoints and model live under it. */
  readonly runId: string;
}

/** What `parseSweepConfig` returns: the sweep, its base and its trials, what the plan shows and `estimateSweep` prices. */
export interface SweepPlanInput extends SweepConfig {
  readonly base: ExperimentConfig;
  readonly trials: readonly SweepTrial[];
}
