/**
 * Which trials of a sweep get GPU capacity next (issue 12): at most `maxParallel` at once, in the
 * sweep's order, and none whose worst case would take spent + committed cost over the budget.
 * Pure, so the finishing agent and a scheduled keeper can both run it on what S3 says and reach
 * the same answer; nothing depends on a laptop staying on.
 */

/** What became of a trial, as its run record and group say. */
export type TrialStatus =
  /** Never given capacity. */
  | { readonly kind: "pending" }
  /** Has (or is getting) capacity: starting, training, uploading, or interrupted and awaiting a spot replacement. */
  | { readonly kind: "active"; readonly spentUsd: number }
  /** Over for good: its capacity is gone and it will not come back. */
  | { readonly kind: "finished"; readonly spentUsd: number; readonly outcome: "completed" | "stopped-early" | "failed" | "hung" | "timed-out" };

export interface SweepTrialState {
  readonly trialId: string;
  readonly status: TrialStatus;
  /**
   * The most the trial may still cost before it ends: its hourly price times what is left of its
   * runtime cap (a pending trial: the whole cap). What a start commits the budget to.
   */
  readonly remainingMaxUsd: number;
}

export interface TrialSchedulerInput {
  /** Every trial, in the sweep's order (the order pending trials start in). */
  readonly trials: readonly SweepTrialState[];
  /** Trials with capacity at once, 1 or more. */
  readonly maxParallel: number;
  /** The sweep's budget in US dollars. @default no budget */
  readonly budgetUsd?: number;
}

export type WaitReason = "max-parallel" | "budget";

export interface TrialSchedule {
  /** Trials to give capacity now, in order. */
  readonly start: readonly string[];
  /** Pending trials left waiting, each with why. */
  readonly waiting: readonly { readonly trialId: string; readonly reason: WaitReason }[];
  readonly spentUsd: number;
  /** The most the active trials (those started now included) may still cost. */
  readonly committedUsd: number;
  /** Budget minus spent and committed; undefined without a budget. */
  readonly budgetLeftUsd: number | undefined;
  /** No trial is active or pending: the sweep is over. */
  readonly done: boolean;
  /** One line for the CLI: why nothing (more) starts, or that trials start. */
  readonly summary: string;
}

/**
 * The trials to start now. Pending trials are taken in order; once one would take spent +
 * committed over the budget, it and every later pending trial wait for budget (a cheaper later
 * trial does not jump the queue: the order of the sweep is the order of its results). Starting
 * is bounded by `maxParallel` minus the active trials.
 */
export function scheduleTrials(input: TrialSchedulerInput): TrialSchedule {
  const problems = schedulerInputProblems(input);
  if (problems.length > 0) throw new RangeError(`scheduleTrials: ${problems.join("; ")}`);
  const { trials, maxParallel, budgetUsd } = input;
  const spentUsd = sum(trials.map((t) => (t.status.kind === "pending" ? 0 : t.status.spentUsd)));
  const active = trials.filter((t) => t.status.kind === "active");
  let committedUsd = sum(active.map((t) => t.remainingMaxUsd));
  let slots = maxParallel - active.length;
  let outOfBudget = false;
  const start: string[] = [];
  const waiting: { trialId: string; reason: WaitReason }[] = [];
  for (const trial of trials.filter((t) => t.status.kind === "pending")) {
    outOfBudget ||= budgetUsd !== undefined && spentUsd + committedUsd + trial.remainingMaxUsd > budgetUsd;
    if (outOfBudget) waiting.push({ trialId: trial.trialId, reason: "budget" });
    else if (slots <= 0) waiting.push({ trialId: trial.trialId, reason: "max-parallel" });
    else {
      start.push(trial.trialId);
      committedUsd += trial.remainingMaxUsd;
      slots -= 1;
    }
  }
  const budgetLeftUsd = budgetUsd === undefined ? undefined : budgetUsd - spentUsd - committedUsd;
  const done = active.length === 0 && start.length === 0 && waiting.every((w) => w.reason === "budget");
  return { start, waiting, spentUsd, committedUsd, budgetLeftUsd, done, summary: summaryOf(start, waiting, active.length, maxParallel, spentUsd, committedUsd, budgetUsd) };
}

function schedulerInputProblems(input: TrialSchedulerInput): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(input.maxParallel) || input.maxParallel < 1) problems.push(`maxParallel ${input.maxParallel} must be an integer from 1`);
  if (input.budgetUsd !== undefined && !(input.budgetUsd > 0)) problems.push(`budgetUsd ${input.budgetUsd} must be more than 0`);
  const ids = input.trials.map((t) => t.trialId);
  const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (repeated.length > 0) problems.push(`trial ids repeat: ${[...new Set(repeated)].join(", ")}`);
  for (const t of input.trials) {
    const spent = t.status.kind === "pending" ? 0 : t.status.spentUsd;
    if (!(t.remainingMaxUsd >= 0) || !(spent >= 0)) problems.push(`trial ${t.trialId} has a cost that is negative or not a number`);
  }
  return problems;
}

function summaryOf(
  start: readonly string[],
  waiting: readonly { trialId: string; reason: WaitReason }[],
  activeCount: number,
  maxParallel: number,
  spentUsd: number,
  committedUsd: number,
  budgetUsd: number | undefined,
): string {
  const money = (usd: number): string => `$${usd.toFixed(2)}`;
  const forBudget = waiting.filter((w) => w.reason === "budget");
  const parts: string[] = [];
  if (start.length > 0) parts.push(`starting ${start.join(", ")}`);
  if (forBudget.length > 0) {
    parts.push(
      `${forBudget.length} trial(s) not started: spent ${money(spentUsd)} + committed ${money(committedUsd)} + the next trial's worst case would exceed the budget of ${money(budgetUsd!)}`,
    );
  }
  const forSlots = waiting.length - forBudget.length;
  if (forSlots > 0) parts.push(`${forSlots} trial(s) waiting for one of ${maxParallel} parallel slots`);
  if (parts.length === 0) parts.push(activeCount > 0 ? `${activeCount} trial(s) running; none pending` : "every trial has ended");
  return parts.join("; ");
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
