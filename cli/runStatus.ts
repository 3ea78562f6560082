import type { RunPhase, RunRecord } from "../runspec/runRecord";
import type { EstimateOutput } from "./stackOutputs";

/**
 * What `yolo-train status` shows and returns, computed from the run record and the stack's
 * estimate. Pure: no clock (the caller passes `nowMs`), no I/O.
 */

/** Exit codes of `status`: scripts branch on the phase without parsing output. */
export const STATUS_EXIT_CODES = {
  completed: 0,
  running: 10,
  stoppedEarly: 12,
  interrupted: 11,
  failed: 20,
  hung: 21,
  timedOut: 22,
  noRecord: 4,
} as const;

export const STATUS_EXIT_HELP = `
Exit codes:
  ${STATUS_EXIT_CODES.completed}   completed
  ${STATUS_EXIT_CODES.running}  running: starting, training or uploading
  ${STATUS_EXIT_CODES.interrupted}  interrupted by a spot reclaim; the group relaunches a node that resumes from the checkpoint
  ${STATUS_EXIT_CODES.stoppedEarly}  stopped-early: a sweep trial that the sweep's early stopping (ASHA) stopped at a rung
  ${STATUS_EXIT_CODES.failed}  failed
  ${STATUS_EXIT_CODES.hung}  hung: no progress for too long; the agent stopped the trainer
  ${STATUS_EXIT_CODES.timedOut}  timed-out: the run exceeded its time limit
  ${STATUS_EXIT_CODES.noRecord}   no run record yet (the node has not started) 
  1   unexpected error; 2 usage error (wrong option, unreadable outputs)`;

export function exitCodeOfPhase(phase: RunPhase | null): number {
  switch (phase) {
    case null:
      return STATUS_EXIT_CODES.noRecord;
    case "completed":
      return STATUS_EXIT_CODES.completed;
    case "starting":
    case "training":
    case "uploading":
      return STATUS_EXIT_CODES.running;
    case "interrupted":
      return STATUS_EXIT_CODES.interrupted;
    case "stopped-early":
      return STATUS_EXIT_CODES.stoppedEarly;
    case "failed":
      return STATUS_EXIT_CODES.failed;
    case "hung":
      return STATUS_EXIT_CODES.hung;
    case "timed-out":
      return STATUS_EXIT_CODES.timedOut;
  }
}

/** Phases after which `--watch` stops: the agent is not running (interrupted resumes on a new node, but later). */
export function isEndPhase(phase: RunPhase | null): boolean {
  return phase !== null && !["starting", "training", "uploading"].includes(phase);
}

/** The record fields `status` shows as they are. */
type RecordFacts = Pick<
  RunRecord,
  | "runId"
  | "phase"
  | "epoch"
  | "epochs"
  | "trainingPhase"
  | "trainingPhases"
  | "metrics"
  | "imagesPerSecond"
  | "gpuUtilisation"
  | "attempts"
  | "interruptions"
  | "startedAt"
  | "updatedAt"
  | "artifacts"
  | "release"
  | "releaseBlocked"
  | "checkpoint"
  | "bestCheckpoint"
  | "checkpointFailures"
  | "sweep"
>;

export interface RunStatus extends RecordFacts {
  readonly exitCode: number;
  /** Fraction of the current phase's epochs done, 0–1. */
  readonly progress: number;
  /** Seconds since startedAt (at nowMs for a running run, at updatedAt for a stopped one). */
  readonly elapsedSeconds: number;
  /** Seconds of training left, from the epoch rate (training seconds per epoch so far); null when unknown. */
  readonly etaSeconds: number | null;
  readonly costSoFarUsd: number;
  /** Cost so far plus the ETA at the rate paid so far; the stack's estimate before any epoch; null when unknown. */
  readonly estimatedTotalUsd: number | null;
  readonly error: string | null;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

export function runStatus(record: RunRecord, estimate: EstimateOutput | null, nowMs: number): RunStatus {
  const running = !isEndPhase(record.phase);
  const startedMs = Date.parse(record.startedAt);
  const endMs = running ? nowMs : Date.parse(record.updatedAt);
  const elapsedSeconds = Number.isFinite(startedMs) && Number.isFinite(endMs) ? Math.max(0, Math.round((endMs - startedMs) / 1000)) : 0;
  const epochs = Math.max(0, record.epochs);
  const epoch = Math.min(Math.max(0, record.epoch), epochs);
  const remainingEpochs = epochs - epoch;
  let etaSeconds: number | null = null;
  if (record.phase === "completed" || record.phase === "stopped-early") etaSeconds = 0;
  else if (epoch > 0 && record.trainingSeconds > 0 && record.trainingPhases <= 1) etaSeconds = Math.round((record.trainingSeconds / epoch) * remainingEpochs);
  else if (epoch > 0 && record.trainingSeconds > 0) etaSeconds = null; // later phases differ in image size: no honest rate
  else if (estimate?.hours != null) etaSeconds = Math.max(0, Math.round(estimate.hours * 3600 - record.trainingSeconds));
  const rate = usdPerHourPaid(record) ?? estimate?.chosenInstanceType?.usdPerHour ?? null;
  let estimatedTotalUsd: number | null = null;
  if (record.phase === "completed" || record.phase === "stopped-early") estimatedTotalUsd = record.estimatedCostUsd;
  else if (etaSeconds !== null && rate !== null) estimatedTotalUsd = round4(record.estimatedCostUsd + (etaSeconds / 3600) * rate);
  else if (estimate?.estimatedUsd != null) estimatedTotalUsd = Math.max(estimate.estimatedUsd, record.estimatedCostUsd);
  return {
    runId: record.runId,
    phase: record.phase,
    exitCode: exitCodeOfPhase(record.phase),
    epoch,
    epochs,
    trainingPhase: record.trainingPhase,
    trainingPhases: record.trainingPhases,
    progress: epochs === 0 ? 0 : epoch / epochs,
    metrics: record.metrics,
    imagesPerSecond: record.imagesPerSecond,
    gpuUtilisation: record.gpuUtilisation ?? null,
    attempts: record.attempts,
    interruptions: record.interruptions,
    startedAt: record.startedAt,
    updatedAt: record.updatedAt,
    elapsedSeconds,
    etaSeconds,
    costSoFarUsd: record.estimatedCostUsd,
    estimatedTotalUsd,
    error: record.error,
    artifacts: record.artifacts,
    release: record.release,
    releaseBlocked: record.releaseBlocked,
    checkpoint: record.checkpoint,
    bestCheckpoint: record.bestCheckpoint,
    checkpointFailures: record.checkpointFailures,
    sweep: record.sweep ?? null,
  };
}

/** "stopped early by the sweep at rung k (epoch e): value v < cutoff c": what stopped a sweep trial. */
export function describeSweepStop(stop: NonNullable<RunRecord["sweep"]>["stoppedAt"]): string {
  if (stop === null) return "stopped early by the sweep";
  const against = stop.cutoff === null ? "no cutoff" : `cutoff ${round4(stop.cutoff)}`;
  // The comparison's direction is the sweep's (maximize: <, minimize: >); the record keeps the numbers only.
  // The agent judges a trial without the metric at the rung as the worst value there is.
  const value = Math.abs(stop.value) === Number.MAX_VALUE ? "missing (judged worst)" : String(round4(stop.value));
  return `stopped early by the sweep at rung ${stop.rung} (epoch ${stop.epoch}): value ${value} ${stop.cutoff !== null && stop.value > stop.cutoff ? ">" : "<"} ${against}, judged against ${stop.earlier} earlier ${stop.earlier === 1 ? "trial" : "trials"}`;
}

/** `phase 1 epoch 7 (version …)`: a checkpoint as the run record names it. */
function describeCheckpoint(ref: NonNullable<RunRecord["checkpoint"]>): string {
  const epoch = ref.epoch !== null ? ` epoch ${ref.epoch}` : "";
  return `phase ${ref.phase}${epoch}${ref.versionId !== null ? ` (version ${ref.versionId})` : ""}`;
}

const FAILURE_OUTCOMES: Readonly<Record<RunRecord["checkpointFailures"][number]["outcome"], string>> = {
  "previous-checkpoint": "resumed from the previous checkpoint",
  "fresh-start": "trained again from the starting weights (limits.restartIfCheckpointLost)",
  failed: "the run failed",
};

/** $/h actually paid so far: estimated cost over billed hours; null before a billed second. */
export function usdPerHourPaid(record: Pick<RunRecord, "billedSeconds" | "estimatedCostUsd">): number | null {
  return record.billedSeconds > 0 ? round4(record.estimatedCostUsd / (record.billedSeconds / 3600)) : null;
}

/** `[#########-----------]` for a fraction 0–1. */
export function progressBar(fraction: number, width = 30): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(f * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

/** 3725 → "1h 02m"; 65 → "1m 05s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  return `${m}m ${String(s % 60).padStart(2, "0")}s`;
}

/** Dollars: cents from $1 up, four decimals below (a short run costs cents). */
export const usd = (x: number): string => `$${Math.abs(x) < 1 ? x.toFixed(4) : x.toFixed(2)}`;

const PHASE_NOTES: Partial<Record<RunPhase, string>> = {
  interrupted: "spot capacity reclaimed; a new node resumes from the last checkpoint",
  hung: "no progress for too long; a relaunch resumes from the last checkpoint",
  "timed-out": "the run exceeded its time limit",
};

export function renderRunStatus(s: RunStatus): string {
  const phaseLabel = s.trainingPhases > 1 ? ` (training phase ${s.trainingPhase + 1} of ${s.trainingPhases})` : "";
  const rows: Array<[string, string]> = [
    ["run", s.runId],
    ["phase", s.phase === "stopped-early" ? `${s.phase}: ${describeSweepStop(s.sweep?.stoppedAt ?? null)}` : `${s.phase}${PHASE_NOTES[s.phase] ? `: ${PHASE_NOTES[s.phase]}` : ""}`],
    ["epochs", `${progressBar(s.progress)} ${s.epoch}/${s.epochs} ${Math.round(s.progress * 100)}%${phaseLabel}${s.etaSeconds !== null && s.phase !== "completed" && s.phase !== "stopped-early" ? `  ETA ${formatDuration(s.etaSeconds)}` : ""}`],
    ["metrics", Object.entries(s.metrics).map(([k, v]) => `${k} ${round4(v)}`).join(", ") || "none yet"],
    ["speed", s.imagesPerSecond !== null ? `${round2(s.imagesPerSecond)} images/s` : "unknown"],
    ["GPU", s.gpuUtilisation !== null ? s.gpuUtilisation.map((u) => `${Math.round(u)} %`).join(", ") : "no sample yet"],
    ["attempts", `${s.attempts}, spot interruptions ${s.interruptions}`],
    ["elapsed", `${formatDuration(s.elapsedSeconds)} since ${s.startedAt} (record updated ${s.updatedAt})`],
    ["cost", `${usd(s.costSoFarUsd)} so far${s.estimatedTotalUsd !== null ? `, about ${usd(s.estimatedTotalUsd)} in total` : ""}`],
  ];
  const best = s.bestCheckpoint ? `; best.pt ${describeCheckpoint(s.bestCheckpoint)}` : "";
  rows.push(["resume", s.checkpoint ? `${s.checkpoint.key}, ${describeCheckpoint(s.checkpoint)}${best}` : "no checkpoint yet"]);
  // A checkpoint that could not be restored, kept as evidence: which version, why, and what the run did instead.
  for (const f of s.checkpointFailures) {
    rows.push(["lost", `${f.key}${f.versionId !== null ? ` version ${f.versionId}` : ""} at ${f.at}: ${f.reason}; ${FAILURE_OUTCOMES[f.outcome]}`]);
  }
  if (s.error) rows.push(["error", s.error]);
  // What the run produced: the model files in the artifact bucket, and the signed OTA release.
  if (s.artifacts) rows.push(["model", `${s.artifacts.onnx} (ONNX), ${s.artifacts.best} (weights), in the artifact bucket`]);
  if (s.release) {
    const r = s.release;
    rows.push(["release", `${r.modelName} version ${r.version}, s3://${r.bucket}/${r.manifestKey}; channels ${r.channels.join(", ") || "none"}`]);
    rows.push(["stable", `${r.promotion.promoted ? "promoted" : "not promoted"}: ${r.promotion.reason}`]);
  } else if (s.releaseBlocked) {
    rows.push(["release", `blocked, nothing published over the air (the model is in the artifact bucket only): ${s.releaseBlocked.reason}`]);
  }
  return rows.map(([k, v]) => `${k.padEnd(9)} ${v}`).join("\n") + "\n";
}
