import { rungEpochs } from "../runspec/sweep/asha";
import { estimateExperiment, type ExperimentEstimateInput } from "./experimentEstimate";
import { findInstanceType } from "./instanceTypes";
import type { Capacity } from "./types";

/*
 * The plan's numbers for a sweep (issue 12): per trial its rate and cap, the most the sweep can
 * cost, what it is expected to cost with and without ASHA early stopping, and the EC2 vCPU quota
 * it needs at `maxParallel`. Pure; plain structural inputs (a parsed sweep plan is one), so the
 * catalog depends on no config code.
 */

/** One trial as {@link estimateSweep} reads it: an id and its experiment (an `ExperimentConfig` is one). */
export interface SweepEstimateTrialInput {
  readonly id: string;
  readonly config: ExperimentEstimateInput;
}

/** What {@link estimateSweep} reads of a sweep: `parseSweepConfig`'s result is one. */
export interface SweepEstimateInput {
  readonly trials: readonly SweepEstimateTrialInput[];
  /** Trials (nodes) running at once. */
  readonly maxParallel: number;
  /** The sweep's budget in USD; none when undefined. */
  readonly budgetUsd?: number;
  /** ASHA early stopping; undefined when off (every trial runs to its end). */
  readonly asha?: { readonly minEpochs: number; readonly reductionFactor: number; readonly maxEpochs: number };
}

/** One trial's numbers. */
export interface TrialEstimate {
  readonly id: string;
  /** The instance type the estimate prices (the cheapest of the trial's types at its capacity). */
  readonly instanceType: string;
  readonly usdPerHour: number;
  readonly capacity: Capacity;
  /** The most the trial can cost: its max runtime at `usdPerHour`. */
  readonly capUsd: number;
  /** Estimated hours to the end; undefined when the dataset's image count is unknown. */
  readonly hours?: number;
  /** Estimated cost to the end (at most `capUsd`); undefined with `hours`. */
  readonly estimatedUsd?: number;
}

/** The most the sweep can cost, and what bounds it. */
export interface SweepCostBound {
  readonly usd: number;
  /**
   * `max-runtime`: every trial running to its max runtime costs less than the budget (or there is
   * none), so the trials' caps bound the sweep. `budget`: the budget is below that, so it binds.
   */
  readonly binds: "max-runtime" | "budget";
  /** Every trial run to its max runtime, one after another or side by side: the same sum. */
  readonly allTrialsToCapUsd: number;
  readonly budgetUsd?: number;
}

/** Trials expected to reach an ASHA rung: about n/η^k of n, and never fewer than 1 (the first trials at a rung go on). */
export interface AshaRungEstimate {
  readonly epochs: number;
  readonly trials: number;
}

/** Expected costs, when every trial's time can be estimated. */
export interface SweepExpectedCost {
  /** Every trial run to its end. */
  readonly withoutAshaUsd: number;
  /** With ASHA: trials stopped at the rungs in the expected proportions; undefined when ASHA is off. */
  readonly withAshaUsd?: number;
  /** The rungs and how many trials are expected at each, then the end (`maxEpochs`); empty when ASHA is off. */
  readonly rungs: readonly AshaRungEstimate[];
}

/** An EC2 vCPU quota the sweep needs at `maxParallel`, as Service Quotas names it. */
export interface VcpuQuotaNeed {
  /** The Service Quotas quota code (service `ec2`), e.g. `L-3819A6DF`. */
  readonly quotaCode: string;
  readonly quotaName: string;
  readonly capacity: Capacity;
  /** The largest of the sweep's instance types under this quota: the one a node may be. */
  readonly instanceType: string;
  readonly vcpusPerNode: number;
  /** Nodes at once: `maxParallel`, or the number of trials when there are fewer. */
  readonly nodes: number;
  /** vcpusPerNode × nodes: what the quota must allow, beside anything else running in the account and region. */
  readonly vcpus: number;
}

export interface SweepEstimate {
  readonly trials: readonly TrialEstimate[];
  readonly most: SweepCostBound;
  /** Undefined when some trial's time cannot be estimated (unknown dataset size): then only `most` bounds the cost. */
  readonly expected?: SweepExpectedCost;
  readonly quotas: readonly VcpuQuotaNeed[];
  /** What the estimate assumed, one line each, for people to judge it. */
  readonly assumptions: readonly string[];
}

/**
 * The EC2 vCPU quotas of our GPU instance families, per capacity, as the Service Quotas console and
 * `aws service-quotas list-service-quotas --service-code ec2` name them. Spot quotas are counted in the
 * vCPUs of running and requested Spot Instances, per account and region, and default to 0 for GPU families.
 * P spot is split: p4d/p4de count against "All P4, P3 and P2 Spot Instance Requests" (L-7212CCBC, formerly
 * "All P Spot Instance Requests"), p5 against "All P5 Spot Instance Requests" (L-C4BD4855). On demand,
 * one quota covers each of G/VT and P.
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html (spot quota names and defaults)
 */
export const GPU_VCPU_QUOTAS = Object.freeze({
  g: Object.freeze({
    spot: Object.freeze({ code: "L-3819A6DF", name: "All G and VT Spot Instance Requests" }),
    "on-demand": Object.freeze({ code: "L-DB2E81BA", name: "Running On-Demand G and VT instances" }),
  }),
  p4: Object.freeze({
    spot: Object.freeze({ code: "L-7212CCBC", name: "All P4, P3 and P2 Spot Instance Requests" }),
    "on-demand": Object.freeze({ code: "L-417A185B", name: "Running On-Demand P instances" }),
  }),
  p5: Object.freeze({
    spot: Object.freeze({ code: "L-C4BD4855", name: "All P5 Spot Instance Requests" }),
    "on-demand": Object.freeze({ code: "L-417A185B", name: "Running On-Demand P instances" }),
  }),
});

/** The vCPU quota an instance type counts against at a capacity; undefined for a type of no GPU family we know. */
export function vcpuQuotaOf(instanceType: string, capacity: Capacity): { readonly code: string; readonly name: string } | undefined {
  const family = /^([a-z]+\d+)/.exec(instanceType)?.[1] ?? "";
  const group = family.startsWith("p5") ? "p5" : family.startsWith("p") ? "p4" : family.startsWith("g") || family.startsWith("vt") ? "g" : undefined;
  return group === undefined ? undefined : GPU_VCPU_QUOTAS[group][capacity];
}

/**
 * The plan's numbers for a sweep. Pure.
 *
 * - Per trial: the rate of the instance type its cost is estimated on, its cap (max runtime × rate),
 *   and, when the dataset's size is known, its estimated hours and cost to the end (catalog
 *   `estimateExperiment`).
 * - The most: every trial running to its max runtime, bounded by the budget; `binds` says which.
 * - Expected, with ASHA: of n trials about n/η^k reach rung k (epochs minEpochs·η^k below maxEpochs),
 *   at least one; the rest stop at the rung before. Each trial is priced as if stopped at each rung with
 *   that chance (a trial whose own epochs end before a rung simply ends). Without ASHA: every trial to its end.
 * - The vCPU quota: per quota (family and capacity), the largest vCPUs of any instance type a trial's
 *   node may be, × maxParallel (× the number of trials, when there are fewer).
 */
export function estimateSweep(input: SweepEstimateInput): SweepEstimate {
  if (!Number.isInteger(input.maxParallel) || input.maxParallel < 1) {
    throw new RangeError(`estimateSweep: maxParallel must be a whole number ≥ 1, got ${input.maxParallel}`);
  }
  const assumptions: string[] = [];
  const perTrial = input.trials.map((trial) => ({ trial, estimate: estimateExperiment(trial.config) }));
  const trials: TrialEstimate[] = perTrial.map(({ trial, estimate }) => ({
    id: trial.id,
    instanceType: estimate.capacityRates.chosen.instanceType,
    usdPerHour: estimate.capacityRates.chosen.usdPerHour,
    capacity: trial.config.capacity,
    capUsd: estimate.capUsd,
    ...(estimate.hours !== undefined ? { hours: estimate.hours } : {}),
    ...(estimate.cost !== undefined ? { estimatedUsd: estimate.cost.estimatedUsd } : {}),
  }));
  for (const { estimate } of perTrial) for (const line of estimate.assumptions) if (!assumptions.includes(line)) assumptions.push(line);

  const allTrialsToCapUsd = sum(trials.map((t) => t.capUsd));
  const budgetBinds = input.budgetUsd !== undefined && input.budgetUsd < allTrialsToCapUsd;
  const most: SweepCostBound = {
    usd: budgetBinds ? input.budgetUsd! : allTrialsToCapUsd,
    binds: budgetBinds ? "budget" : "max-runtime",
    allTrialsToCapUsd,
    ...(input.budgetUsd !== undefined ? { budgetUsd: input.budgetUsd } : {}),
  };

  const expected = expectedCost(input, perTrial.map((p) => p.trial), trials, assumptions);
  return { trials, most, ...(expected !== undefined ? { expected } : {}), quotas: quotasOf(input), assumptions };
}

function expectedCost(
  input: SweepEstimateInput,
  trialInputs: readonly SweepEstimateTrialInput[],
  trials: readonly TrialEstimate[],
  assumptions: string[],
): SweepExpectedCost | undefined {
  if (trials.some((t) => t.estimatedUsd === undefined)) {
    assumptions.push("expected sweep cost unknown: some trial's training time cannot be estimated (set `yolo-train:datasetImages`)");
    return undefined;
  }
  const withoutAshaUsd = sum(trials.map((t) => t.estimatedUsd!));
  if (input.asha === undefined) return { withoutAshaUsd, rungs: [] };

  const { minEpochs, reductionFactor: eta, maxEpochs } = input.asha;
  const rungs = rungEpochs(minEpochs, eta, maxEpochs);
  const n = trials.length;
  // The share of trials expected to reach rung k (k = rungs.length: the end), never below one trial.
  const reach = (k: number): number => (n === 0 ? 0 : Math.max(1, n / eta ** k) / n);
  let withAshaUsd = 0;
  trialInputs.forEach((trial, i) => {
    const full = trials[i]!.estimatedUsd!;
    let cost = 0;
    rungs.forEach((epochs, k) => {
      const stopsHere = reach(k) - reach(k + 1);
      cost += stopsHere * (epochs < trial.config.epochs ? costToEpoch(trial.config, epochs) : full);
    });
    cost += reach(rungs.length) * full;
    withAshaUsd += cost;
  });
  assumptions.push(
    `ASHA: of ${n} trials about n/${eta}^k reach rung k (epochs ${rungs.join(", ")}), at least one; ` +
      "a trial stopped at a rung pays its startup and the epochs up to it. Which trials stop depends on their metrics: this is the expectation.",
  );
  const expectedRungs: AshaRungEstimate[] = [
    ...rungs.map((epochs, k) => ({ epochs, trials: round1(n * reach(k)) })),
    { epochs: maxEpochs, trials: round1(n * reach(rungs.length)) },
  ];
  return { withoutAshaUsd, withAshaUsd, rungs: expectedRungs };
}

/** What a trial costs when it stops after `epochs` epochs (progressive phases cut there). */
function costToEpoch(config: ExperimentEstimateInput, epochs: number): number {
  let progressive: { imgsz: number; epochs: number }[] | undefined;
  if (config.progressive !== undefined) {
    progressive = [];
    let left = epochs;
    for (const phase of config.progressive) {
      if (left <= 0) break;
      progressive.push({ imgsz: phase.imgsz, epochs: Math.min(phase.epochs, left) });
      left -= phase.epochs;
    }
  }
  const cut: ExperimentEstimateInput = { ...config, epochs, ...(progressive !== undefined ? { progressive } : {}) };
  return estimateExperiment(cut).cost?.estimatedUsd ?? 0;
}

function quotasOf(input: SweepEstimateInput): VcpuQuotaNeed[] {
  const largest = new Map<string, { quota: { code: string; name: string }; capacity: Capacity; instanceType: string; vcpus: number }>();
  for (const trial of input.trials) {
    for (const instanceType of trial.config.instanceTypes) {
      const quota = vcpuQuotaOf(instanceType, trial.config.capacity);
      const vcpus = findInstanceType(instanceType)?.vcpus;
      if (quota === undefined || vcpus === undefined) continue;
      const seen = largest.get(quota.code);
      if (seen === undefined || vcpus > seen.vcpus) largest.set(quota.code, { quota, capacity: trial.config.capacity, instanceType, vcpus });
    }
  }
  const nodes = Math.min(input.maxParallel, input.trials.length);
  return [...largest.values()].map(({ quota, capacity, instanceType, vcpus }) => ({
    quotaCode: quota.code,
    quotaName: quota.name,
    capacity,
    instanceType,
    vcpusPerNode: vcpus,
    nodes,
    vcpus: vcpus * nodes,
  }));
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
