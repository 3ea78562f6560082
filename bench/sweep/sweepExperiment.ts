/**
 * The experiment behind `npm run bench:sweep`: for each family of learning curves (synthetic ones
 * and recorded real ones), rung setting and seed, one sweep of trials run under ASHA, under "run
 * everything to the end" and under random stopping calibrated on that ASHA run, plus a second
 * run-everything on the same curves with fresh noise: the noise floor, how often two complete runs
 * of the same sweep agree on a winner at all. Then the figures per policy over seeds and the
 * comparison against issue 12's target. Pure (no printing, no clock); sweepBench.ts prints.
 */
import type { GpuClass } from "../../catalog/types";
import { rungEpochs } from "../../runspec/sweep/asha";
import { generateSweep, rankDisagreement, trueMetric, type CurveFamily, type SimTrial } from "./learningCurves";
import { recordedSweep, type CurveFile } from "./recordedCurves";
import type { RungValueRule } from "./rungValue";
import { calibrateRandomStopping, simulateSweep, type SweepOutcome, type SweepSettings } from "./sweepSimulation";

/** Issue 12: "ASHA should cost ≤ 1/3 of running everything with the same winner in most seeds". */
export const TARGET_COST_RATIO = 1 / 3;

/** The rows of a block: the three policies, and full run again with fresh noise (the noise floor). */
export type RowName = "full" | "asha" | "random" | "fullRerun";
export const ROWS: readonly RowName[] = ["asha", "full", "random", "fullRerun"];

/** Where a block's sweeps come from: a synthetic family or recorded curves, with their horizon and noise. */
export interface SweepFamily {
  readonly name: string;
  readonly kind: "synthetic" | "recorded";
  /** One line for the printout: what the curves are. */
  readonly description: string;
  readonly maxEpochs: number;
  readonly trials: number;
  /**
   * The sd of one observation's noise (mAP50-95): a winner whose true final metric is within this
   * of run-everything's winner's counts as "the same within the noise".
   */
  readonly noise: number;
  /** The trials of the sweep of `seed`; replica k ≥ 1: the same curves with other noise. */
  sweep(seed: number, replica: number): SimTrial[];
}

export function syntheticFamily(family: CurveFamily, shape: { trials: number; maxEpochs: number; images: number; gpu: GpuClass }): SweepFamily {
  return {
    name: family.name,
    kind: "synthetic",
    description: `synthetic: slow-starter correlation ${family.slowStarterCorrelation}, noise sd ${family.noise}, ${shape.trials} trials`,
    maxEpochs: shape.maxEpochs,
    trials: shape.trials,
    noise: family.noise,
    sweep: (seed, replica) => generateSweep({ ...shape, seed, family, replica }),
  };
}

export function recordedFamily(
  file: CurveFile,
  options: { noise: number | readonly number[]; noiseSource: string; images: number; gpu: GpuClass; noiseCorrelation?: number },
): SweepFamily {
  const trials = recordedSweep(file, { seed: 0, replica: 0, ...options }).length;
  const { noise } = options;
  // The tolerance is the noise of the observation the winner is picked on: the last epoch's.
  const finalNoise = typeof noise === "number" ? noise : noise[file.epochs - 1]!;
  const noiseText = typeof noise === "number" ? noise.toFixed(4) : `${Math.min(...noise).toFixed(4)}–${Math.max(...noise).toFixed(4)} by epoch, ${finalNoise.toFixed(4)} at the last`;
  return {
    name: `recorded:${file.name}`,
    kind: "recorded",
    description:
      `recorded: ${trials} real ultralytics ${file.ultralytics} CPU runs (torch ${file.torch}), ${file.epochs} epochs each, replayed with ` +
      `per-epoch noise sd ${noiseText} (${options.noiseSource})` +
      `${(options.noiseCorrelation ?? 0) === 0 ? "" : `, correlated ${options.noiseCorrelation} from one epoch to the next (AR(1))`}`,
    maxEpochs: file.epochs,
    trials,
    noise: finalNoise,
    sweep: (seed, replica) => recordedSweep(file, { seed, replica, ...options }),
  };
}

export interface ExperimentOptions {
  readonly seeds: number;
  readonly families: readonly SweepFamily[];
  readonly minEpochsList: readonly number[];
  /** Everything but the per-seed, per-family and per-block parts. */
  readonly sweep: Omit<SweepSettings, "seed" | "minEpochs" | "maxEpochs">;
}

/** One row's figures in one seed. */
export interface PolicyRun {
  readonly gpuHours: number;
  readonly trainingGpuHours: number;
  readonly usd: number;
  readonly wallHours: number;
  readonly interruptions: number;
  readonly completed: number;
  readonly epochsTrained: number;
  readonly winner: string | null;
  /** The winner's true (noiseless) final metric. */
  readonly winnerFinal: number | null;
  readonly regret: number | null;
}

export interface SeedRun {
  readonly seed: number;
  readonly bestPossible: number;
  /** Best minus second-best true final metric of the sweep's trials: how close the race for the winner is. */
  readonly topGap: number;
  readonly runs: Readonly<Record<RowName, PolicyRun>>;
  /** Random stopping's continue probability per rung, from this seed's ASHA run. */
  readonly randomContinueProbability: readonly number[];
  /** Share of trial pairs ranked differently (true metric) at each rung than at the end. */
  readonly rankDisagreement: readonly number[];
  /** Whether the true best trial was still running after each rung under ASHA (it reached the next one). */
  readonly bestSurvivedRung: readonly boolean[];
}

export interface Quantiles {
  readonly p10: number;
  readonly median: number;
  readonly p90: number;
  readonly mean: number;
  readonly max: number;
  readonly n: number;
}

export interface RowSummary {
  readonly row: RowName;
  readonly gpuHours: Quantiles;
  readonly usd: Quantiles;
  readonly wallHours: Quantiles;
  readonly interruptions: Quantiles;
  readonly completed: Quantiles;
  /** This row's cost over run-everything's, per seed. */
  readonly costRatio: Quantiles;
  /** The same for the epochs' GPU-hours alone (no start-ups, no final validation and export). */
  readonly epochCostRatio: Quantiles;
  /** Share of this row's GPU-hours that are not epochs: start-ups (every trial pays one, more after interruptions) and finishes. */
  readonly fixedShare: Quantiles;
  readonly regret: Quantiles;
  readonly seedsWithoutWinner: number;
  /** Seeds where this row's winner is run-everything's winner (the very trial). */
  readonly sameWinner: number;
  /** Seeds where this row's winner's true final metric is within the family's noise sd of run-everything's winner's. */
  readonly sameWithinNoise: number;
  /** Seeds where the row's cost ≤ 1/3 of full's and the winner is the same (exact). */
  readonly meetingTarget: number;
  /** The same, counting a winner within the noise as the same. */
  readonly meetingTargetWithinNoise: number;
}

export interface BlockSummary {
  readonly family: SweepFamily;
  readonly minEpochs: number;
  readonly reductionFactor: number;
  /** What ASHA's trials recorded at a rung (rungValue.ts). */
  readonly rungValue: RungValueRule;
  readonly rungEpochs: readonly number[];
  readonly maxEpochs: number;
  readonly seeds: readonly SeedRun[];
  readonly rows: readonly RowSummary[];
  /** Seeds where ASHA's regret is lower than random stopping's (a random run with no winner counts as worse), and equal. */
  readonly ashaVsRandom: { readonly better: number; readonly equal: number };
  readonly seedsCheapEnough: number;
  /** "In most seeds" (more than half): cost ≤ 1/3 and the exact same winner. */
  readonly meetsTarget: boolean;
  /** The same with "same winner" read as within the noise. */
  readonly meetsTargetWithinNoise: boolean;
  readonly rankDisagreement: readonly Quantiles[];
  readonly topGap: Quantiles;
  /** Seeds where the true best trial was still in the race after each rung (ASHA). */
  readonly bestSurvivedRung: readonly number[];
}

/** p10, median, p90 (linear interpolation between ranks), mean and max; NaN for no values. */
export function quantiles(values: readonly number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => {
    if (sorted.length === 0) return NaN;
    const rank = (sorted.length - 1) * q;
    const low = Math.floor(rank);
    const upper = sorted[Math.min(low + 1, sorted.length - 1)]!;
    return sorted[low]! + (rank - low) * (upper - sorted[low]!);
  };
  const mean = sorted.length === 0 ? NaN : sorted.reduce((s, x) => s + x, 0) / sorted.length;
  return { p10: at(0.1), median: at(0.5), p90: at(0.9), mean, max: sorted.length === 0 ? NaN : sorted.at(-1)!, n: sorted.length };
}

function policyRun(outcome: SweepOutcome): PolicyRun {
  return {
    gpuHours: outcome.gpuHours,
    trainingGpuHours: outcome.trainingGpuHours,
    usd: outcome.usd,
    wallHours: outcome.wallHours,
    interruptions: outcome.interruptions,
    completed: outcome.trials.filter((t) => t.state === "completed").length,
    epochsTrained: outcome.trials.reduce((s, t) => s + t.epochsTrained, 0),
    winner: outcome.winner?.trialId ?? null,
    winnerFinal: outcome.winner?.trueFinal ?? null,
    regret: outcome.regret,
  };
}

/** One seed of one block: the same trials and interruption streams under the three policies, and full again on fresh noise. */
export function runSeed(options: ExperimentOptions, family: SweepFamily, minEpochs: number, seed: number): SeedRun {
  const trials = family.sweep(seed, 0);
  const settings: SweepSettings = { ...options.sweep, maxEpochs: family.maxEpochs, minEpochs, seed };
  const asha = simulateSweep(trials, settings, { kind: "asha" });
  const full = simulateSweep(trials, settings, { kind: "full" });
  const continueProbability = calibrateRandomStopping(asha, trials.length);
  const random = simulateSweep(trials, settings, { kind: "random", continueProbability, seed });
  const fullRerun = simulateSweep(family.sweep(seed, 1), settings, { kind: "full" });
  const finals = trials.map((t) => trueMetric(t, family.maxEpochs)).sort((a, b) => b - a);
  const best = trials.reduce((b, t) => (trueMetric(t, family.maxEpochs) > trueMetric(b, family.maxEpochs) ? t : b));
  const bestOutcome = asha.trials[best.index]!;
  return {
    seed,
    bestPossible: full.bestPossible,
    topGap: finals.length > 1 ? finals[0]! - finals[1]! : 0,
    runs: { full: policyRun(full), asha: policyRun(asha), random: policyRun(random), fullRerun: policyRun(fullRerun) },
    randomContinueProbability: continueProbability,
    rankDisagreement: asha.rungs.map((r) => rankDisagreement(trials, r.epoch, family.maxEpochs)),
    bestSurvivedRung: asha.rungs.map((r) => bestOutcome.rungs.some((x) => x.epoch === r.epoch && x.decision.promote)),
  };
}

export function summarizeBlock(
  family: SweepFamily,
  minEpochs: number,
  reductionFactor: number,
  seeds: readonly SeedRun[],
  rungValue: RungValueRule = "epoch",
): BlockSummary {
  const rungs = rungEpochs(minEpochs, reductionFactor, family.maxEpochs);
  const count = (flags: readonly boolean[]): number => flags.filter(Boolean).length;
  const numbers = (xs: ReadonlyArray<number | null>): number[] => xs.filter((x): x is number => x !== null);
  const same = (s: SeedRun, row: RowName): boolean => s.runs[row].winner !== null && s.runs[row].winner === s.runs.full.winner;
  const close = (s: SeedRun, row: RowName): boolean => {
    const mine = s.runs[row].winnerFinal;
    const full = s.runs.full.winnerFinal;
    return mine !== null && full !== null && mine >= full - family.noise;
  };
  const cheap = (s: SeedRun, row: RowName): boolean => s.runs[row].usd / s.runs.full.usd <= TARGET_COST_RATIO;
  const rows = ROWS.map((row): RowSummary => {
    const runs = seeds.map((s) => s.runs[row]);
    return {
      row,
      gpuHours: quantiles(runs.map((r) => r.gpuHours)),
      usd: quantiles(runs.map((r) => r.usd)),
      wallHours: quantiles(runs.map((r) => r.wallHours)),
      interruptions: quantiles(runs.map((r) => r.interruptions)),
      completed: quantiles(runs.map((r) => r.completed)),
      costRatio: quantiles(seeds.map((s) => s.runs[row].usd / s.runs.full.usd)),
      epochCostRatio: quantiles(seeds.map((s) => s.runs[row].trainingGpuHours / s.runs.full.trainingGpuHours)),
      fixedShare: quantiles(runs.map((r) => 1 - r.trainingGpuHours / r.gpuHours)),
      regret: quantiles(numbers(runs.map((r) => r.regret))),
      seedsWithoutWinner: runs.filter((r) => r.winner === null).length,
      sameWinner: count(seeds.map((s) => same(s, row))),
      sameWithinNoise: count(seeds.map((s) => close(s, row))),
      meetingTarget: count(seeds.map((s) => cheap(s, row) && same(s, row))),
      meetingTargetWithinNoise: count(seeds.map((s) => cheap(s, row) && close(s, row))),
    };
  });
  const regretOrWorst = (r: PolicyRun): number => r.regret ?? Infinity;
  const asha = rows.find((r) => r.row === "asha")!;
  return {
    family,
    minEpochs,
    reductionFactor,
    rungValue,
    rungEpochs: rungs,
    maxEpochs: family.maxEpochs,
    seeds,
    rows,
    ashaVsRandom: {
      better: count(seeds.map((s) => regretOrWorst(s.runs.asha) < regretOrWorst(s.runs.random))),
      equal: count(seeds.map((s) => regretOrWorst(s.runs.asha) === regretOrWorst(s.runs.random))),
    },
    seedsCheapEnough: count(seeds.map((s) => cheap(s, "asha"))),
    meetsTarget: asha.meetingTarget * 2 > seeds.length,
    meetsTargetWithinNoise: asha.meetingTargetWithinNoise * 2 > seeds.length,
    rankDisagreement: rungs.map((_, k) => quantiles(seeds.map((s) => s.rankDisagreement[k]!))),
    topGap: quantiles(seeds.map((s) => s.topGap)),
    bestSurvivedRung: rungs.map((_, k) => count(seeds.map((s) => s.bestSurvivedRung[k] === true))),
  };
}

/** Every seed (1 … options.seeds) of one family and rung setting, summarized. */
export function runBlock(options: ExperimentOptions, family: SweepFamily, minEpochs: number): BlockSummary {
  const seeds = Array.from({ length: options.seeds }, (_, i) => runSeed(options, family, minEpochs, i + 1));
  return summarizeBlock(family, minEpochs, options.sweep.reductionFactor, seeds, options.sweep.rungValue ?? "epoch");
}
