/**
 * One round of the sweep keeper (issue 12), decided: from what S3 and Auto Scaling say about a
 * sweep's trials, which trials get capacity now, which started trials need it set again, the
 * sweep's `state.json`, and its winner. Pure: no clock, no I/O (keeper/sweepKeeper.ts reads and
 * writes). The hand-off itself is runspec's `scheduleTrials`, so every decider reaches the same answer.
 *
 * ## A trial's status (the exact rule)
 *
 * Read the groups before the run records: an agent writes its final record before it terminates its
 * node, so a group found empty has a record that already says how the trial ended.
 *
 * 1. A record in `completed` or `stopped-early` → **finished** (those phases are final: a relaunch
 *    tears down at once), whether or not there is a start.
 * 2. No start → **pending**.
 * 3. Started, its group "empty" (desired capacity 0 and no instance listed, a `Terminating` one
 *    included: it still runs or bills) →
 *    - with a record (`failed`, `hung`, `timed-out`, or any phase a node was cut off in) →
 *      **finished**: nothing but a keeper gives an empty group capacity, so the trial cannot go on.
 *      A guardrail (the idle alarm's ExactCapacity 0, the max-runtime backstop) ends a trial this
 *      way. Its outcome is the record's phase when that is an end phase, else `failed`;
 *    - without a record, less than {@link START_GRACE_MS} after `startedAt` → **active**, and its
 *      capacity is set again (with its backstop): the keeper writes the start before it sets the
 *      capacity, so a round that died between the two is repaired by the next;
 *    - without a record, later than that → **finished** (`failed`): capacity was set and no node
 *      ever reported.
 * 4. Started, its group not empty → **active** (booting, training, uploading, or interrupted and
 *    waiting for the group's spot replacement).
 *
 * Spent: the record's `estimatedCostUsd` (0 without a record). Remaining worst case: `usdPerHour`
 * × what is left of `maxRuntimeHours` since `startedAt` (a pending trial: the whole cap; a finished
 * one: 0).
 *
 * ## The winner
 *
 * The completed trial with the best final `metrics[manifest.metric]` in `manifest.direction`;
 * equal values → the earlier trial in the sweep's order. A trial stopped early never wins (its
 * model is of an earlier epoch, and ASHA judged it worse), nor does a completed one without the
 * metric. Decided only once the sweep is done.
 */
import type { RunPhase, RunRecord } from "../runspec/runRecord";
import { FINAL_PHASES } from "../runspec/runRecord";
import {
  SWEEP_START_SCHEMA_VERSION,
  SWEEP_STATE_SCHEMA_VERSION,
  type SweepManifest,
  type SweepManifestTrial,
  type SweepState,
  type SweepTrialStart,
} from "../runspec/sweep/sweepManifest";
import { scheduleTrials, type SweepTrialState, type TrialStatus } from "../runspec/sweep/trialScheduler";

/** How long after `startedAt` a started trial whose group is empty and which has no record yet still counts as starting. */
export const START_GRACE_MS = 30 * 60_000;

/** Who writes the starts of this keeper (`SweepTrialStart.by`). */
export const KEEPER_NAME = "keeper";

/** What Auto Scaling says about a trial's group; undefined when it does not know the group. */
export interface GroupState {
  readonly desiredCapacity: number;
  /** Instances listed in the group, in any lifecycle state but `Terminated`. */
  readonly instances: number;
}

export interface KeeperRoundInput {
  readonly manifest: SweepManifest;
  /** The starts found, by trial id. */
  readonly starts: ReadonlyMap<string, SweepTrialStart>;
  /** The trials' run records (parsed), by trial id; missing or null: none yet. */
  readonly records: ReadonlyMap<string, RunRecord | null>;
  /** By group name; a group missing here counts as empty. */
  readonly groups: ReadonlyMap<string, GroupState>;
  readonly now: Date;
}

/** One trial as the round sees it. */
export interface TrialView {
  readonly trialId: string;
  readonly runId: string;
  readonly status: TrialStatus;
  readonly remainingMaxUsd: number;
  /** Why this status, in words (for the log). */
  readonly why: string;
  /** The record's phase, null without a record. */
  readonly phase: RunPhase | null;
}

/** A trial to give capacity: its start (to write with If-None-Match), its group and backstop. */
export interface TrialStartPlan {
  readonly trial: SweepManifestTrial;
  readonly start: SweepTrialStart;
}

/** A started trial whose capacity (and backstop) is set again: a round died between writing its start and setting its capacity. */
export interface CapacityRepair {
  readonly trial: SweepManifestTrial;
  readonly start: SweepTrialStart;
}

export type WinnerDecision =
  | { readonly kind: "winner"; readonly trialId: string; readonly runId: string; readonly value: number; readonly why: string }
  | { readonly kind: "none"; readonly why: string };

export interface KeeperRound {
  readonly trials: readonly TrialView[];
  readonly start: readonly TrialStartPlan[];
  readonly repair: readonly CapacityRepair[];
  /** `state.json` as decided; the keeper replaces `started` with the starts it actually claimed. */
  readonly state: SweepState;
  readonly done: boolean;
  /** The best completed trial so far (the winner once `done`). */
  readonly winner: WinnerDecision;
}

const HOUR_MS = 3_600_000;
const END_PHASES: readonly RunPhase[] = ["completed", "stopped-early", "failed", "hung", "timed-out"];

/** `startedAt` + the cap, rounded up to the whole second (an `at()` expression has no fractions): never earlier than the cap. */
export function backstopAt(startedAt: Date, maxRuntimeHours: number): Date {
  return new Date(Math.ceil((startedAt.getTime() + maxRuntimeHours * HOUR_MS) / 1000) * 1000);
}

/** EventBridge Scheduler's one-time expression for an instant, written in UTC: `at(yyyy-mm-ddThh:mm:ss)`. */
export function utcAtExpression(when: Date): string {
  return `at(${when.toISOString().slice(0, 19)})`;
}

/** The start a keeper writes for a trial at `now`. */
export function startFor(manifest: SweepManifest, trial: SweepManifestTrial, now: Date): SweepTrialStart {
  return {
    schemaVersion: SWEEP_START_SCHEMA_VERSION,
    sweepId: manifest.sweepId,
    trialId: trial.trialId,
    runId: trial.runId,
    startedAt: now.toISOString(),
    by: KEEPER_NAME,
    backstopAt: backstopAt(now, trial.maxRuntimeHours).toISOString(),
  };
}

function remainingUsd(trial: SweepManifestTrial, startedAt: Date, now: Date): number {
  const leftHours = Math.max(0, trial.maxRuntimeHours - Math.max(0, now.getTime() - startedAt.getTime()) / HOUR_MS);
  return trial.usdPerHour * leftHours;
}

const emptyGroup = (group: GroupState | undefined): boolean => group === undefined || (group.desiredCapacity === 0 && group.instances === 0);

interface Classified {
  readonly view: TrialView;
  readonly repair: boolean;
}

function classify(trial: SweepManifestTrial, input: KeeperRoundInput): Classified {
  const { now } = input;
  const record = input.records.get(trial.trialId) ?? null;
  const start = input.starts.get(trial.trialId);
  const group = input.groups.get(trial.groupName);
  const spentUsd = record?.estimatedCostUsd ?? 0;
  const phase = record?.phase ?? null;
  const view = (status: TrialStatus, remainingMaxUsd: number, why: string): TrialView => ({ trialId: trial.trialId, runId: trial.runId, status, remainingMaxUsd, why, phase });
  const finished = (outcome: Extract<TrialStatus, { kind: "finished" }>["outcome"], why: string): Classified => ({ view: view({ kind: "finished", spentUsd, outcome }, 0, why), repair: false });

  if (record !== null && FINAL_PHASES.includes(record.phase)) return finished(record.phase as "completed" | "stopped-early", `its record says ${record.phase}`);
  if (start === undefined) return { view: view({ kind: "pending" }, trial.usdPerHour * trial.maxRuntimeHours, "not started"), repair: false };
  const startedAt = new Date(start.startedAt);
  const describeGroup = group === undefined ? `its group ${trial.groupName} is not found` : `its group ${trial.groupName} is at 0 with no instance`;
  if (emptyGroup(group)) {
    if (record !== null) {
      const outcome = END_PHASES.includes(record.phase) ? (record.phase as "failed" | "hung" | "timed-out") : "failed";
      return finished(outcome, `${describeGroup} and its record says ${record.phase}: nothing gives it capacity again`);
    }
    const sinceMs = now.getTime() - startedAt.getTime();
    if (sinceMs < START_GRACE_MS) {
      return {
        view: view({ kind: "active", spentUsd }, remainingUsd(trial, startedAt, now), `started at ${start.startedAt}, ${describeGroup} and no record yet: setting its capacity again`),
        repair: true,
      };
    }
    return finished("failed", `started at ${start.startedAt}, ${describeGroup} and no record after ${START_GRACE_MS / 60_000} minutes: no node ever reported`);
  }
  return {
    view: view({ kind: "active", spentUsd }, remainingUsd(trial, startedAt, now), `started at ${start.startedAt}; its group has capacity ${group!.desiredCapacity} and ${group!.instances} instance(s)${record === null ? "" : `; its record says ${record.phase}`}`),
    repair: false,
  };
}

/** The best completed trial by the sweep's metric; ties go to the earlier trial. */
export function decideWinner(manifest: SweepManifest, trials: readonly TrialView[], records: ReadonlyMap<string, RunRecord | null>): WinnerDecision {
  let best: { trialId: string; runId: string; value: number } | undefined;
  const withoutMetric: string[] = [];
  let completed = 0;
  let stoppedEarly = 0;
  for (const trial of trials) {
    if (trial.status.kind !== "finished") continue;
    if (trial.status.outcome === "stopped-early") stoppedEarly += 1;
    if (trial.status.outcome !== "completed") continue;
    completed += 1;
    const value = records.get(trial.trialId)?.metrics[manifest.metric];
    if (value === undefined || !Number.isFinite(value)) {
      withoutMetric.push(trial.trialId);
      continue;
    }
    const better = best === undefined || (manifest.direction === "maximize" ? value > best.value : value < best.value);
    if (better) best = { trialId: trial.trialId, runId: trial.runId, value };
  }
  const missing = withoutMetric.length > 0 ? `; ${withoutMetric.join(", ")} completed without ${manifest.metric}` : "";
  if (best === undefined) {
    const why =
      completed === 0
        ? `no trial completed (${stoppedEarly} stopped early, ${trials.filter((t) => t.status.kind === "finished").length - stoppedEarly} ended otherwise, ${trials.filter((t) => t.status.kind !== "finished").length} not ended): there is no winner`
        : `no completed trial has ${manifest.metric}${missing}: there is no winner`;
    return { kind: "none", why };
  }
  return { kind: "winner", ...best, why: `the best ${manifest.metric} (${manifest.direction}) of ${completed} completed trial(s): ${best.value}${missing}` };
}

/** Decides one round; see the module comment for the rules. */
export function decideKeeperRound(input: KeeperRoundInput): KeeperRound {
  const { manifest, now } = input;
  const classified = manifest.trials.map((trial) => ({ trial, ...classify(trial, input) }));
  const trials = classified.map((c) => c.view);
  const schedulerTrials: SweepTrialState[] = trials.map((t) => ({ trialId: t.trialId, status: t.status, remainingMaxUsd: t.remainingMaxUsd }));
  const schedule = scheduleTrials({ trials: schedulerTrials, maxParallel: manifest.maxParallel, ...(manifest.budgetUsd !== null ? { budgetUsd: manifest.budgetUsd } : {}) });
  const byId = new Map(manifest.trials.map((t) => [t.trialId, t]));
  const start = schedule.start.map((trialId) => {
    const trial = byId.get(trialId)!;
    return { trial, start: startFor(manifest, trial, now) };
  });
  const repair = classified.filter((c) => c.repair).map((c) => ({ trial: c.trial, start: input.starts.get(c.trial.trialId)! }));
  const winner = decideWinner(manifest, trials, input.records);
  const summary = schedule.done ? `${schedule.summary}; the sweep has ended: ${winner.kind === "winner" ? `the winner is ${winner.trialId} (${manifest.metric} ${winner.value})` : winner.why}` : schedule.summary;
  const state: SweepState = {
    schemaVersion: SWEEP_STATE_SCHEMA_VERSION,
    sweepId: manifest.sweepId,
    at: now.toISOString(),
    started: schedule.start,
    waiting: schedule.waiting,
    spentUsd: schedule.spentUsd,
    committedUsd: schedule.committedUsd,
    budgetLeftUsd: schedule.budgetLeftUsd ?? null,
    done: schedule.done,
    summary,
  };
  return { trials, start, repair, state, done: schedule.done, winner };
}
