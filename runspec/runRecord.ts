import type { RunObjectKeys } from "./bucketLayout";
import { finiteMetrics } from "./metrics";

/**
 * The run record (`runs/<runId>/run.json`, docs/node-runtime.md): what a run's agent writes and
 * everyone else reads (the next node's agent, `yolo-train status` and `cost`). Its types and its
 * lenient parser live here, with the run spec; the agent's reducer that produces records is
 * agent/runRecord.ts. Pure: no clock, no S3.
 */

export const RUN_PHASES = ["starting", "training", "uploading", "completed", "stopped-early", "interrupted", "hung", "timed-out", "failed"] as const;
export type RunPhase = (typeof RUN_PHASES)[number];
/**
 * Phases in which an agent stops. `completed` and `stopped-early` (a sweep trial that ASHA stopped
 * at a rung, issue 12) are final: a relaunch finding them tears down; the others are resumed.
 */
export type EndPhase = "completed" | "stopped-early" | "interrupted" | "hung" | "timed-out" | "failed";
/** The phases no relaunch resumes. */
export const FINAL_PHASES: readonly RunPhase[] = ["completed", "stopped-early"];

/** A sweep trial's decision at one rung (issue 12, runspec/sweep/asha.ts), as recorded. */
export interface RungOutcome {
  /** The rung's index k, from 0. */
  readonly rung: number;
  /** The epoch the value was measured after. */
  readonly epoch: number;
  /** The sweep's metric there (as stored in the rung record). */
  readonly value: number;
  /** True: the trial trained on. */
  readonly promote: boolean;
  /** The value it had to match; null when it was first at the rung. */
  readonly cutoff: number | null;
  /** How many entries it was judged against. */
  readonly earlier: number;
}

/** What stopped a sweep trial early: the rung, the value and the cutoff it missed. */
export interface SweepStop {
  readonly rung: number;
  readonly epoch: number;
  readonly value: number;
  readonly cutoff: number | null;
  readonly earlier: number;
}

/** A sweep trial's rungs so far, oldest first, and what stopped it (null while it goes on). */
export interface SweepProgress {
  readonly rungs: readonly RungOutcome[];
  readonly stoppedAt: SweepStop | null;
}

/** A checkpoint that is complete in S3 (the record names it only after the upload was verified). */
export interface CheckpointRef {
  /** Full object key in the artifact bucket. */
  readonly key: string;
  readonly sha256: string;
  readonly bytes: number;
  /** Progressive phase the checkpoint belongs to (0 without `progressive`). */
  readonly phase: number;
  /** Epoch the checkpoint holds, from the order of writes (see `checkpointEpoch`); null if unknown. */
  readonly epoch: number | null;
  /**
   * The S3 version this upload created (the artifact bucket is versioned): downloads ask for exactly
   * it, and an older checkpoint stays reachable after the key was rewritten. Null where S3 keeps no
   * versions (and in records written before versions were recorded).
   */
  readonly versionId: string | null;
}

/** A named checkpoint that could not be restored, kept as evidence (S3 keeps its version). */
export interface CheckpointFailure {
  readonly key: string;
  readonly versionId: string | null;
  readonly sha256: string;
  readonly at: string;
  readonly reason: string;
  /** What the run went on from: the previous good checkpoint, a fresh start (when the spec allows it), or nothing (the run failed). */
  readonly outcome: "previous-checkpoint" | "fresh-start" | "failed";
}

/** Full object keys of a completed run's outputs. */
export interface ModelArtifacts {
  readonly best: string;
  readonly onnx: string;
  readonly result: string;
}

/** What a completed run published over the air (docs/ota.md), and what became of the promotion. */
export interface ReleaseRef {
  readonly modelName: string;
  readonly version: number;
  /** Bucket and full key of the signed manifest. */
  readonly bucket: string;
  readonly manifestKey: string;
  /** Channels that named this version once the agent was done (`candidate`, `stable`). */
  readonly channels: readonly string[];
  /** Whether the release went to `stable`, and why or why not (the gate's verdict). */
  readonly promotion: { readonly promoted: boolean; readonly reason: string };
}

/**
 * Why a completed run's model was not released over the air although it could have been: the
 * trainer's check of the ONNX export against PyTorch failed, or is missing or unreadable. The model
 * files are still in the artifact bucket (`artifacts`).
 */
export interface ReleaseBlocked {
  readonly reason: string;
}

export interface HistoryEntry {
  readonly phase: RunPhase;
  readonly at: string;
  readonly attempt: number;
  readonly note?: string;
}

export interface RunRecord {
  readonly runId: string;
  readonly phase: RunPhase;
  readonly epoch: number;
  readonly epochs: number;
  readonly trainingPhase: number;
  readonly trainingPhases: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly imagesPerSecond: number | null;
  /** The latest GPU utilisation sample of this node, percent per GPU; null before training. */
  readonly gpuUtilisation: readonly number[] | null;
  readonly attempts: number;
  readonly interruptions: number;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly checkpoint: CheckpointRef | null;
  /**
   * The checkpoint the record named before `checkpoint`, when S3 still holds it (its own version, or
   * another phase's key): where a resume falls back to when `checkpoint` is corrupt.
   */
  readonly previousCheckpoint: CheckpointRef | null;
  /** The trainer's `best.pt` as last uploaded (`checkpoints/phase-<k>/best.pt`): restored with `checkpoint` on resume. */
  readonly bestCheckpoint: CheckpointRef | null;
  /** Named checkpoints that could not be restored, oldest first. */
  readonly checkpointFailures: readonly CheckpointFailure[];
  readonly billedSeconds: number;
  readonly trainingSeconds: number;
  readonly estimatedCostUsd: number;
  readonly artifacts: ModelArtifacts | null;
  /** The OTA release of the model; null until one is published. */
  readonly release: ReleaseRef | null;
  /** Set instead of `release` when the model was not released because its ONNX export is unverified; null otherwise. */
  readonly releaseBlocked: ReleaseBlocked | null;
  readonly error: string | null;
  readonly history: readonly HistoryEntry[];
  /** A sweep trial's rung decisions (issue 12); null for a run that is not a sweep trial (and in older records). */
  readonly sweep: SweepProgress | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown, fallback: number): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : fallback);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

function checkpointFrom(v: unknown): CheckpointRef | null {
  if (!isObject(v)) return null;
  const key = str(v.key);
  const sha256 = str(v.sha256);
  if (key === null || sha256 === null || !/^[0-9a-f]{64}$/.test(sha256)) return null;
  if (typeof v.phase !== "number" || !Number.isInteger(v.phase) || v.phase < 0) return null;
  const versionId = str(v.versionId);
  return { key, sha256, bytes: num(v.bytes, 0), phase: v.phase, epoch: typeof v.epoch === "number" ? v.epoch : null, versionId: versionId !== null && versionId !== "" ? versionId : null };
}

const FAILURE_OUTCOMES: readonly CheckpointFailure["outcome"][] = ["previous-checkpoint", "fresh-start", "failed"];

function checkpointFailuresFrom(v: unknown): CheckpointFailure[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((f): CheckpointFailure[] => {
    if (!isObject(f)) return [];
    const key = str(f.key);
    const sha256 = str(f.sha256);
    const at = str(f.at);
    const reason = str(f.reason);
    const outcome = FAILURE_OUTCOMES.find((o) => o === f.outcome);
    if (key === null || sha256 === null || at === null || reason === null || outcome === undefined) return [];
    return [{ key, versionId: str(f.versionId), sha256, at, reason, outcome }];
  });
}

/**
 * Reads a record an earlier node wrote, leniently: unknown fields are dropped, missing numbers
 * become 0. Returns null when it is not a record of this run (then the agent starts afresh).
 * With `keys`, a checkpoint whose key is not the run's own key for its phase is dropped: the agent
 * downloads only from where it uploads.
 */
export function parseStoredRecord(
  json: unknown,
  runId: string,
  keys?: Pick<RunObjectKeys, "checkpointKey" | "bestCheckpointKey">,
): RunRecord | null {
  if (!isObject(json) || json.runId !== runId) return null;
  const phase = RUN_PHASES.find((p) => p === json.phase);
  if (phase === undefined) return null;
  const metrics = finiteMetrics(json.metrics);
  const history: HistoryEntry[] = Array.isArray(json.history)
    ? json.history.flatMap((h): HistoryEntry[] => {
        if (!isObject(h)) return [];
        const hp = RUN_PHASES.find((p) => p === h.phase);
        const at = str(h.at);
        if (hp === undefined || at === null) return [];
        const note = str(h.note);
        return [{ phase: hp, at, attempt: num(h.attempt, 0), ...(note !== null ? { note } : {}) }];
      })
    : [];
  const artifacts = isObject(json.artifacts) && str(json.artifacts.best) && str(json.artifacts.onnx) && str(json.artifacts.result)
    ? { best: json.artifacts.best as string, onnx: json.artifacts.onnx as string, result: json.artifacts.result as string }
    : null;
  const startedAt = str(json.startedAt) ?? str(json.updatedAt) ?? new Date(0).toISOString();
  // The agent downloads only from where it uploads.
  const own = (ref: CheckpointRef | null, keyOf: ((phase: number) => string) | undefined): CheckpointRef | null =>
    ref !== null && keyOf !== undefined && ref.key !== keyOf(ref.phase) ? null : ref;
  const checkpoint = own(checkpointFrom(json.checkpoint), keys?.checkpointKey);
  const release = releaseFrom(json.release);
  return {
    runId,
    phase,
    epoch: num(json.epoch, 0),
    epochs: num(json.epochs, 0),
    trainingPhase: num(json.trainingPhase, 0),
    trainingPhases: num(json.trainingPhases, 1),
    metrics,
    imagesPerSecond: typeof json.imagesPerSecond === "number" ? json.imagesPerSecond : null,
    gpuUtilisation:
      Array.isArray(json.gpuUtilisation) && json.gpuUtilisation.every((u) => typeof u === "number" && Number.isFinite(u))
        ? (json.gpuUtilisation as number[])
        : null,
    attempts: num(json.attempts, 0),
    interruptions: num(json.interruptions, 0),
    startedAt,
    updatedAt: str(json.updatedAt) ?? startedAt,
    checkpoint,
    previousCheckpoint: own(checkpointFrom(json.previousCheckpoint), keys?.checkpointKey),
    bestCheckpoint: own(checkpointFrom(json.bestCheckpoint), keys?.bestCheckpointKey),
    checkpointFailures: checkpointFailuresFrom(json.checkpointFailures),
    billedSeconds: num(json.billedSeconds, 0),
    trainingSeconds: num(json.trainingSeconds, 0),
    estimatedCostUsd: num(json.estimatedCostUsd, 0),
    artifacts,
    release,
    // Absent in records written before the ONNX check existed: read as "not blocked".
    releaseBlocked: release === null && isObject(json.releaseBlocked) && typeof json.releaseBlocked.reason === "string" ? { reason: json.releaseBlocked.reason } : null,
    error: str(json.error),
    history,
    sweep: sweepFrom(json.sweep),
  };
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const index = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

function sweepStopFrom(v: unknown): SweepStop | null {
  if (!isObject(v) || !index(v.rung) || !index(v.epoch) || !finite(v.value) || !index(v.earlier)) return null;
  return { rung: v.rung, epoch: v.epoch, value: v.value, cutoff: finite(v.cutoff) ? v.cutoff : null, earlier: v.earlier };
}

function sweepFrom(v: unknown): SweepProgress | null {
  if (!isObject(v)) return null;
  const rungs = Array.isArray(v.rungs)
    ? v.rungs.flatMap((r): RungOutcome[] => {
        const stop = sweepStopFrom(r);
        if (stop === null || !isObject(r) || typeof r.promote !== "boolean") return [];
        return [{ ...stop, promote: r.promote }];
      })
    : [];
  return { rungs, stoppedAt: sweepStopFrom(v.stoppedAt) };
}

function releaseFrom(v: unknown): ReleaseRef | null {
  if (!isObject(v) || !isObject(v.promotion)) return null;
  const modelName = str(v.modelName);
  const bucket = str(v.bucket);
  const manifestKey = str(v.manifestKey);
  const reason = str(v.promotion.reason);
  if (modelName === null || bucket === null || manifestKey === null || reason === null) return null;
  if (typeof v.version !== "number" || !Number.isInteger(v.version) || v.version < 1) return null;
  const channels = Array.isArray(v.channels) ? v.channels.filter((c): c is string => typeof c === "string") : [];
  return { modelName, version: v.version, bucket, manifestKey, channels, promotion: { promoted: v.promotion.promoted === true, reason } };
}
