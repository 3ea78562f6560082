/**
 * The experiment behind `npm run bench:sweep`: for each curve family, rung setting and seed, one
 * sweep of trials run under ASHA, under "run everything to the end" and under random stopping
 * calibrated on that ASHA run; then the figures per policy over seeds and the comparison against
 * issue 12's target. Pure (no printing, no clock); sweepBench.ts prints.
 */
import type { GpuClass } from "../../catalog/types";
import { rungEpochs } from "../../runspec/sweep/asha";
import { generateSweep, rankDisagreement, type CurveFamily } from "./learningCurves";
import { calibrateRandomStopping, simulateSweep, type PolicyName, type SweepOutcome, type SweepSettings } from "./sweepSimulation";

/** Issue 12: "ASHA should cost ≤ 1/3 of running everything with the same winner in most seeds". */
export const TARGET_COST_RATIO = 1 / 3;
/** The regret (mAP50-95) under which a different winner still counts as as good, in the lenient reading. */
export const REGRET_TOLERANCE = 0.005;
export const POLICIES: readonly PolicyName[] = ["full", "asha", "random"];

export interface ExperimentOptions {
  readonly seeds: number;
  readonly families: readonly CurveFamily[];
  readonly minEpochsList: readonly number[];
  readonly trials: number;
  /** Training images per epoch. */
  readonly images: number;
  readonly gpu: GpuClass;
  /** Everything but the per-seed and per-block parts. */
  readonly sweep: Omit<SweepSettings, "seed" | "minEpochs">;
}

/** One policy's figures in one seed. */
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
  readonly runs: Readonly<Record<PolicyName, PolicyRun>>;
  /** Random stopping's continue probability per rung, from this seed's ASHA run. */
  readonly randomContinueProbability: readonly number[];
  /** Share of trial pairs ranked differently (true metric) at each rung than at the end. */
  readonly rankDisagreement: readonly number[];
}

export interface Quantiles {
  readonly p10: number;
  readonly median: number;
  readonly p90: number;
  readonly n: number;
}

export interface PolicySummary {
  readonly policy: PolicyName;
  readonly gpuHours: Quantiles;
  readonly trainingGpuHours: Quantiles;
  readonly usd: Quantiles;
  readonly wallHours: Quantiles;
  readonly interruptions: Quantiles;
  readonly completed: Quantiles;
  readonly winnerFinal: Quantiles;
  readonly regret: Quantiles;
  readonly seedsWithoutWinner: number;
  readonly sameWinnerAsFull: number;
}

export interface BlockSummary {
  readonly family: CurveFamily;
  readonly minEpochs: number;
  readonly rungEpochs: readonly number[];
  readonly maxEpochs: number;
  readonly seeds: readonly SeedRun[];
  readonly policies: readonly PolicySummary[];
  /** Per-seed ratios, summarized. */
  readonly ratios: {
    readonly ashaVsFullGpuHours: Quantiles;
    readonly ashaVsFullUsd: Quantiles;
    readonly ashaVsFullTrainingGpuHours: Quantiles;
    readonly randomVsFullGpuHours: Quantiles;
  };
  readonly ashaSameWinner: number;
  readonly ashaRegretWithinTolerance: number;
  /** Seeds where ASHA's regret is lower than random stopping's (a random run with no winner counts as worse), and equal. */
  readonly ashaVsRandom: { readonly better: number; readonly equal: number };
  /** Seeds where ASHA cost ≤ 1/3 of full and picked full's winner. */
  readonly seedsMeetingTarget: number;
  /** Seeds where ASHA cost ≤ 1/3 of full and picked full's winner or one within the regret tolerance. */
  readonly seedsMeetingTargetLenient: number;
  readonly seedsCheapEnough: number;
  readonly meetsTarget: boolean;
  readonly rankDisagreement: readonly Quantiles[];
}

/** p10, median and p90 with linear interpolation between ranks; NaN for no values. */
export function quantiles(values: readonly number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => {
    if (sorted.length === 0) return NaN;
    const rank = (sorted.length - 1) * q;
    const low = Math.floor(rank);
    const upper = sorted[Math.min(low + 1, sorted.length - 1)]!;
    return sorted[low]! + (rank - low) * (upper - sorted[low]!);
  };
  return { p10: at(0.1), median: at(0.5), p90: at(0.9), n: sorted.length };
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

/** One seed of one block: the same trials and interruption streams under the three policies. */
export function runSeed(options: ExperimentOptions, family: CurveFamily, minEpochs: number, seed: number): SeedRun {
  const trials = generateSweep({ seed, family, trials: options.trials, maxEpochs: options.sweep.maxEpochs, images: options.images, gpu: options.gpu });
  const settings: SweepSettings = { ...options.sweep, minEpochs, seed };
  const asha = simulateSweep(trials, settings, { kind: "asha" });
  const full = simulateSweep(trials, settings, { kind: "full" });
  const continueProbability = calibrateRandomStopping(asha, trials.length);
  const random = simulateSweep(trials, settings, { kind: "random", continueProbability, seed });
  return {
    seed,
    bestPossible: full.bestPossible,
    runs: { full: policyRun(full), asha: policyRun(asha), random: policyRun(random) },
    randomContinueProbability: continueProbability,
    rankDisagreement: asha.rungs.map((r) => rankDisagreement(trials, r.epoch, options.sweep.maxEpochs)),
  };
}

export function summarizeBlock(family: CurveFamily, minEpochs: number, rungs: readonly number[], maxEpochs: number, seeds: readonly SeedRun[]): BlockSummary {
  const numbers = (xs: ReadonlyArray<number | null>): number[] => xs.filter((x): x is number => x !== null);
  const policies = POLICIES.map((policy): PolicySummary => {
    const runs = seeds.map((s) => s.runs[policy]);
    return {
      policy,
      gpuHours: quantiles(runs.map((r) => r.gpuHours)),
      trainingGpuHours: quantiles(runs.map((r) => r.trainingGpuHours)),
      usd: quantiles(runs.map((r) => r.usd)),
      wallHours: quantiles(runs.map((r) => r.wallHours)),
      interruptions: quantiles(runs.map((r) => r.interruptions)),
      completed: quantiles(runs.map((r) => r.completed)),
      winnerFinal: quantiles(numbers(runs.map((r) => r.winnerFinal))),
      regret: quantiles(numbers(runs.map((r) => r.regret))),
      seedsWithoutWinner: runs.filter((r) => r.winner === null).length,
      sameWinnerAsFull: seeds.filter((s) => s.runs[policy].winner !== null && s.runs[policy].winner === s.runs.full.winner).length,
    };
  });
  const ratio = (policy: PolicyName, key: "gpuHours" | "usd" | "trainingGpuHours"): number[] => seeds.map((s) => s.runs[policy][key] / s.runs.full[key]);
  const cheap = seeds.map((s) => s.runs.asha.usd / s.runs.full.usd <= TARGET_COST_RATIO);
  const same = seeds.map((s) => s.runs.asha.winner !== null && s.runs.asha.winner === s.runs.full.winner);
  const close = seeds.map((s) => s.runs.asha.regret !== null && s.runs.asha.regret <= REGRET_TOLERANCE);
  const count = (flags: readonly boolean[]): number => flags.filter(Boolean).length;
  const seedsMeetingTarget = count(seeds.map((_, i) => cheap[i]! && same[i]!));
  const regretOrWorst = (r: PolicyRun): number => r.regret ?? Infinity;
  const ashaVsRandom = {
    better: count(seeds.map((s) => regretOrWorst(s.runs.asha) < regretOrWorst(s.runs.random))),
    equal: count(seeds.map((s) => regretOrWorst(s.runs.asha) === regretOrWorst(s.runs.random))),
  };
  return {
    family,
    minEpochs,
    rungEpochs: rungs,
    maxEpochs,
    seeds,
    policies,
    ratios: {
      ashaVsFullGpuHours: quantiles(ratio("asha", "gpuHours")),
      ashaVsFullUsd: quantiles(ratio("asha", "usd")),
      ashaVsFullTrainingGpuHours: quantiles(ratio("asha", "trainingGpuHours")),
      randomVsFullGpuHours: quantiles(ratio("random", "gpuHours")),
    },
    ashaSameWinner: count(same),
    ashaRegretWithinTolerance: count(close),
    ashaVsRandom,
    seedsMeetingTarget,
    seedsMeetingTargetLenient: count(seeds.map((_, i) => cheap[i]! && (same[i]! || close[i]!))),
    seedsCheapEnough: count(cheap),
    // "In most seeds": more than half.
    meetsTarget: seedsMeetingTarget * 2 > seeds.length,
    rankDisagreement: rungs.map((_, k) => quantiles(seeds.map((s) => s.rankDisagreement[k]!))),
  };
}

/** Every seed (1 … options.seeds) of one family and rung setting, summarized. */
export function runBlock(options: ExperimentOptions, family: CurveFamily, minEpochs: number): BlockSummary {
  const rungs = rungEpochs(minEpochs, options.sweep.reductionFactor, options.sweep.maxEpochs);
  const seeds = Array.from({ length: options.seeds }, (_, i) => runSeed(options, family, minEpochs, i + 1));
  return summarizeBlock(family, minEpochs, rungs, options.sweep.maxEpochs, seeds);
}
