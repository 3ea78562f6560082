import { estimateCostUsd } from "./cost";
import type { EpochProgress } from "./progress";
import type { CheckpointFailure, CheckpointRef, EndPhase, HistoryEntry, ModelArtifacts, ReleaseRef, RungOutcome, RunPhase, RunRecord, SweepStop } from "../runspec/runRecord";

/**
 * The run record (`runs/<runId>/run.json`, docs/node-runtime.md; its types and parser are
 * runspec/runRecord.ts) as a pure reducer: the agent turns what happens into events,
 * {@link applyEvent} turns events into the next record, and the store writes whatever record is
 * current. Nothing here reads a clock or touches S3.
 */

/** The record plus the clocks it is computed from. */
export interface RecordState {
  readonly record: RunRecord;
  readonly agentStartedAtMs: number;
  /** Billed seconds of earlier nodes. */
  readonly billedBeforeSeconds: number;
  /** Trainer seconds of earlier nodes and of this agent's finished trainer runs. */
  readonly trainingBeforeSeconds: number;
  /** When the running trainer started; null when none runs. */
  readonly trainerStartedAtMs: number | null;
  readonly usdPerHour: number;
}

export type RunEvent =
  | { readonly type: "trainer-started"; readonly atMs: number; readonly note?: string }
  | { readonly type: "trainer-exited"; readonly atMs: number }
  | { readonly type: "epoch"; readonly atMs: number; readonly progress: EpochProgress }
  /** A GPU utilisation sample (percent per GPU); rides along with the next record write. */
  | { readonly type: "gpu-sampled"; readonly atMs: number; readonly utilisation: readonly number[] }
  | { readonly type: "checkpoint-uploaded"; readonly atMs: number; readonly checkpoint: CheckpointRef }
  /** A new version of `best.pt` is complete in S3. */
  | { readonly type: "best-uploaded"; readonly atMs: number; readonly checkpoint: CheckpointRef }
  /**
   * The named checkpoint could not be restored (`reason`): the run goes on from the previous one
   * (`previous-checkpoint`, which the record then names), starts afresh (`fresh-start`, only when the
   * spec allows it: the record names no checkpoint), or fails (`failed`: the record keeps naming it).
   */
  | { readonly type: "checkpoint-unusable"; readonly atMs: number; readonly reason: string; readonly outcome: CheckpointFailure["outcome"] }
  | { readonly type: "uploading"; readonly atMs: number }
  /** The model was published over the air (before `ended` with `completed`). */
  | { readonly type: "release-published"; readonly atMs: number; readonly release: ReleaseRef }
  /** The model is not released: its ONNX export failed the check against PyTorch, or was not checked (before `ended`). */
  | { readonly type: "release-blocked"; readonly atMs: number; readonly reason: string }
  /**
   * A sweep trial decided at a rung (issue 12): kept in `sweep.rungs`, once per rung (a resumed trial
   * that decides again at a rung it had decided replaces the entry; the stored decision is the same).
   */
  | { readonly type: "rung-decided"; readonly atMs: number; readonly outcome: RungOutcome }
  | {
      readonly type: "ended";
      readonly atMs: number;
      readonly phase: EndPhase;
      /** Why (stops and failures); becomes `error` unless the phase is `completed`. */
      readonly note?: string;
      readonly metrics?: Readonly<Record<string, number>>;
      readonly artifacts?: ModelArtifacts;
      /** With `stopped-early`: the rung decision that stopped the trial (`sweep.stoppedAt`). */
      readonly stoppedAt?: SweepStop;
    }
  /** Refreshes the clocks (billed time, cost) without other change. */
  | { readonly type: "tick"; readonly atMs: number };

export interface StartInput {
  readonly runId: string;
  /** The record an earlier node left, already checked with `parseStoredRecord` (runspec/runRecord.ts); null on a first start. */
  readonly previous: RunRecord | null;
  readonly atMs: number;
  readonly trainingPhases: number;
  /** Epochs of the first phase, for "epoch 0 of N" before any progress. */
  readonly firstPhaseEpochs: number;
  readonly usdPerHour: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The `starting` record of an agent that just came up, continuing `previous` if there is one. */
export function startRecord(input: StartInput): RecordState {
  const p = input.previous;
  const at = iso(input.atMs);
  const interruptions = (p?.interruptions ?? 0) + (p?.phase === "interrupted" ? 1 : 0);
  const attempts = p?.attempts ?? 0;
  const note = p === null ? undefined : `resuming after "${p.phase}"${p.checkpoint ? ` from ${p.checkpoint.key}` : " without a checkpoint"}`;
  const record: RunRecord = {
    runId: input.runId,
    phase: "starting",
    epoch: p?.epoch ?? 0,
    epochs: p?.epochs ?? input.firstPhaseEpochs,
    trainingPhase: p?.trainingPhase ?? 0,
    trainingPhases: p?.trainingPhases ?? input.trainingPhases,
    metrics: p?.metrics ?? {},
    imagesPerSecond: p?.imagesPerSecond ?? null,
    // Another node's GPUs say nothing about this one's.
    gpuUtilisation: null,
    attempts,
    interruptions,
    startedAt: p?.startedAt ?? at,
    updatedAt: at,
    checkpoint: p?.checkpoint ?? null,
    previousCheckpoint: p?.previousCheckpoint ?? null,
    bestCheckpoint: p?.bestCheckpoint ?? null,
    checkpointFailures: p?.checkpointFailures ?? [],
    billedSeconds: p?.billedSeconds ?? 0,
    trainingSeconds: p?.trainingSeconds ?? 0,
    estimatedCostUsd: 0,
    artifacts: null,
    release: null,
    releaseBlocked: null,
    error: null,
    history: [...(p?.history ?? []), { phase: "starting", at, attempt: attempts, ...(note ? { note } : {}) }],
    // Rung decisions survive relaunches; a resumed trial that was not stopped has no stop.
    sweep: p?.sweep ? { rungs: p.sweep.rungs, stoppedAt: null } : null,
  };
  return withClocks(
    {
      record,
      agentStartedAtMs: input.atMs,
      billedBeforeSeconds: p?.billedSeconds ?? 0,
      trainingBeforeSeconds: p?.trainingSeconds ?? 0,
      trainerStartedAtMs: null,
      usdPerHour: input.usdPerHour,
    },
    input.atMs,
  );
}

function withClocks(state: RecordState, atMs: number): RecordState {
  const billedSeconds = round3(state.billedBeforeSeconds + Math.max(0, atMs - state.agentStartedAtMs) / 1000);
  const running = state.trainerStartedAtMs === null ? 0 : Math.max(0, atMs - state.trainerStartedAtMs) / 1000;
  const trainingSeconds = round3(state.trainingBeforeSeconds + running);
  return {
    ...state,
    record: {
      ...state.record,
      updatedAt: iso(atMs),
      billedSeconds,
      trainingSeconds,
      estimatedCostUsd: estimateCostUsd(billedSeconds, state.usdPerHour),
    },
  };
}

/**
 * `before`, when S3 still holds it after `after` was uploaded: it lies at another key (an earlier
 * phase's), or its version is recorded (the versioned bucket keeps it); null otherwise.
 */
function stillHeld(before: CheckpointRef | null, after: CheckpointRef): CheckpointRef | null {
  if (before === null || (before.key === after.key && before.versionId === after.versionId && before.sha256 === after.sha256)) return null;
  return before.key !== after.key || before.versionId !== null ? before : null;
}

function enter(record: RunRecord, phase: RunPhase, atMs: number, note?: string): RunRecord {
  const entry: HistoryEntry = { phase, at: iso(atMs), attempt: record.attempts, ...(note ? { note } : {}) };
  return { ...record, phase, history: [...record.history, entry] };
}

function stopTrainerClock(state: RecordState, atMs: number): RecordState {
  if (state.trainerStartedAtMs === null) return state;
  return {
    ...state,
    trainingBeforeSeconds: state.trainingBeforeSeconds + Math.max(0, atMs - state.trainerStartedAtMs) / 1000,
    trainerStartedAtMs: null,
  };
}

export function applyEvent(state: RecordState, event: RunEvent): RecordState {
  const r = state.record;
  switch (event.type) {
    case "trainer-started": {
      const record = enter({ ...r, attempts: r.attempts + 1, error: null }, "training", event.atMs, event.note);
      return withClocks({ ...stopTrainerClock(state, event.atMs), record, trainerStartedAtMs: event.atMs }, event.atMs);
    }
    case "trainer-exited":
      return withClocks(stopTrainerClock(state, event.atMs), event.atMs);
    case "epoch": {
      const p = event.progress;
      return withClocks(
        {
          ...state,
          record: {
            ...r,
            epoch: p.epoch,
            epochs: p.epochs,
            trainingPhase: p.phase,
            trainingPhases: p.phases,
            metrics: { ...p.metrics },
            imagesPerSecond: p.imagesPerSecond,
          },
        },
        event.atMs,
      );
    }
    case "checkpoint-uploaded":
      return withClocks({ ...state, record: { ...r, checkpoint: event.checkpoint, previousCheckpoint: stillHeld(r.checkpoint, event.checkpoint) ?? r.previousCheckpoint } }, event.atMs);
    case "best-uploaded":
      return withClocks({ ...state, record: { ...r, bestCheckpoint: event.checkpoint } }, event.atMs);
    case "checkpoint-unusable": {
      const failed = r.checkpoint;
      if (failed === null) return state;
      const failure: CheckpointFailure = { key: failed.key, versionId: failed.versionId, sha256: failed.sha256, at: iso(event.atMs), reason: event.reason, outcome: event.outcome };
      const checkpointFailures = [...r.checkpointFailures, failure];
      const next: RunRecord =
        event.outcome === "previous-checkpoint"
          ? { ...r, checkpoint: r.previousCheckpoint, previousCheckpoint: null, checkpointFailures }
          : event.outcome === "fresh-start"
            ? { ...r, checkpoint: null, previousCheckpoint: null, bestCheckpoint: null, checkpointFailures }
            : { ...r, checkpointFailures };
      return withClocks({ ...state, record: next }, event.atMs);
    }
    case "uploading":
      return withClocks({ ...state, record: enter(r, "uploading", event.atMs) }, event.atMs);
    case "release-published":
      return withClocks({ ...state, record: { ...r, release: event.release, releaseBlocked: null } }, event.atMs);
    case "release-blocked":
      return withClocks({ ...state, record: { ...r, release: null, releaseBlocked: { reason: event.reason } } }, event.atMs);
    case "rung-decided": {
      const rungs = [...(r.sweep?.rungs ?? []).filter((o) => o.rung !== event.outcome.rung), event.outcome].sort((a, b) => a.rung - b.rung);
      return withClocks({ ...state, record: { ...r, sweep: { rungs, stoppedAt: r.sweep?.stoppedAt ?? null } } }, event.atMs);
    }
    case "ended": {
      const stopped = stopTrainerClock(state, event.atMs);
      const sweep = event.stoppedAt !== undefined ? { rungs: r.sweep?.rungs ?? [], stoppedAt: event.stoppedAt } : r.sweep;
      const record = enter(
        {
          ...r,
          sweep,
          metrics: event.metrics ? { ...event.metrics } : r.metrics,
          artifacts: event.artifacts ?? r.artifacts,
          // A trial the sweep stopped did what it should: its note is in the history, not an error.
          error: event.phase === "completed" || event.phase === "stopped-early" ? null : (event.note ?? null),
        },
        event.phase,
        event.atMs,
        event.note,
      );
      return withClocks({ ...stopped, record }, event.atMs);
    }
    case "gpu-sampled":
      return { ...state, record: { ...state.record, gpuUtilisation: [...event.utilisation] } };
    case "tick":
      return withClocks(state, event.atMs);
  }
}

export function reduceEvents(state: RecordState, events: readonly RunEvent[]): RecordState {
  return events.reduce(applyEvent, state);
}
