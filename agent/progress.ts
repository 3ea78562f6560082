import { finiteMetrics } from "../runspec/metrics";

/**
 * The trainer's `progress.jsonl` (docs/node-runtime.md): one JSON object per line, appended after
 * every epoch. Pure parsing; the agent tails the file by byte offset with {@link takeCompleteLines}.
 */

/** One epoch line, checked and normalised. */
export interface EpochProgress {
  readonly type: "epoch";
  /** Progressive phase, 0-based. */
  readonly phase: number;
  readonly phases: number;
  /** 1-based within the phase. */
  readonly epoch: number;
  readonly epochs: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly losses: Readonly<Record<string, number>>;
  readonly imagesPerSecond: number | null;
  readonly time: string | null;
}

export type ProgressLine =
  | { readonly kind: "epoch"; readonly progress: EpochProgress }
  /** A well-formed line of a type this agent does not know (a newer trainer); ignored. */
  | { readonly kind: "other"; readonly type: string }
  | { readonly kind: "invalid"; readonly reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number): v is number => typeof v === "number" && Number.isInteger(v) && v >= min;

export function parseProgressLine(line: string): ProgressLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: "invalid", reason: "not JSON" };
  }
  if (!isObject(value)) return { kind: "invalid", reason: "not a JSON object" };
  if (value.type !== "epoch") return typeof value.type === "string" ? { kind: "other", type: value.type } : { kind: "invalid", reason: "no \"type\"" };
  const problems: string[] = [];
  if (!isInt(value.phase, 0)) problems.push("phase must be an integer >= 0");
  if (!isInt(value.phases, 1)) problems.push("phases must be an integer >= 1");
  if (!isInt(value.epoch, 1)) problems.push("epoch must be an integer >= 1");
  if (!isInt(value.epochs, 1)) problems.push("epochs must be an integer >= 1");
  if (problems.length > 0) return { kind: "invalid", reason: problems.join("; ") };
  const ips = value.imagesPerSecond;
  return {
    kind: "epoch",
    progress: {
      type: "epoch",
      phase: value.phase as number,
      phases: value.phases as number,
      epoch: value.epoch as number,
      epochs: value.epochs as number,
      metrics: finiteMetrics(value.metrics),
      losses: finiteMetrics(value.losses),
      imagesPerSecond: typeof ips === "number" && Number.isFinite(ips) ? ips : null,
      time: typeof value.time === "string" ? value.time : null,
    },
  };
}

/**
 * Splits the bytes read after the last consumed offset into complete lines. A line without its
 * newline yet (the trainer is mid-write) is left for the next read: `consumed` counts only the
 * bytes of complete lines, so the caller advances its offset by exactly that.
 */
export function takeCompleteLines(bytes: Uint8Array): { readonly lines: string[]; readonly consumed: number } {
  const lastNewline = bytes.lastIndexOf(10);
  if (lastNewline < 0) return { lines: [], consumed: 0 };
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, lastNewline).toString("utf8");
  const lines = text.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l.trim() !== "");
  return { lines, consumed: lastNewline + 1 };
}

/**
 * Epoch of the last complete line of `bytes` for `phase`; 0 when none. The last line, not the
 * highest epoch: after a resume from an older checkpoint an epoch appears again, and the later line wins.
 */
export function newestEpochIn(bytes: Uint8Array, phase: number): number {
  let newest = 0;
  for (const line of takeCompleteLines(bytes).lines) {
    const parsed = parseProgressLine(line);
    if (parsed.kind === "epoch" && parsed.progress.phase === phase) newest = parsed.progress.epoch;
  }
  return newest;
}

export interface CheckpointEpochInput {
  /** `progress.jsonl` as it was when `progressMtimeMs` was read (same open file). */
  readonly progress: Uint8Array;
  readonly progressMtimeMs: number;
  readonly checkpointMtimeMs: number;
  readonly phase: number;
  /** Epochs of that phase in the spec. */
  readonly phaseEpochs: number;
}

/**
 * Which epoch a `last.pt` holds, from the order of writes: ultralytics saves `last.pt` and only
 * then runs the epoch-end callback that appends the progress line. So if `progress.jsonl` changed
 * at or after the checkpoint, the newest line is the checkpoint's own epoch; if it has not changed
 * since, the checkpoint is one epoch past the newest line (capped at the phase's epochs: the final
 * rewrite of `last.pt` without optimizer state comes after the last line). Both times are the file
 * system's, so they compare. Null when nothing is known (no line yet and no later write).
 */
export function checkpointEpoch(input: CheckpointEpochInput): number | null {
  const newest = newestEpochIn(input.progress, input.phase);
  if (input.progressMtimeMs >= input.checkpointMtimeMs) return newest > 0 ? newest : null;
  return Math.min(newest + 1, input.phaseEpochs);
}

/**
 * Which epoch a `best.pt` holds. Unlike `last.pt` it is rewritten only when fitness improved, so
 * the newest line says nothing about it: it belongs to the first line written after it, the one
 * that follows the last line written before it (by the lines' `time`, which the trainer writes to
 * the second: a line less than a second older than the file may be its own). Written after every
 * line (`progress.jsonl` older than the file): one past the newest, as for `last.pt`. Null when the
 * lines carry no usable times.
 */
export function bestCheckpointEpoch(input: CheckpointEpochInput): number | null {
  if (input.progressMtimeMs < input.checkpointMtimeMs) return checkpointEpoch(input);
  const lines: { epoch: number; atMs: number }[] = [];
  for (const line of takeCompleteLines(input.progress).lines) {
    const parsed = parseProgressLine(line);
    if (parsed.kind !== "epoch" || parsed.progress.phase !== input.phase) continue;
    const atMs = parsed.progress.time === null ? Number.NaN : Date.parse(parsed.progress.time);
    if (!Number.isFinite(atMs)) return null;
    lines.push({ epoch: parsed.progress.epoch, atMs });
  }
  let firstAfter = 0;
  lines.forEach((line, i) => {
    if (line.atMs + TRAINER_TIME_RESOLUTION_MS <= input.checkpointMtimeMs) firstAfter = i + 1;
  });
  return lines[firstAfter]?.epoch ?? null;
}

/** progress.jsonl's `time` is written to the second (docker/trainer/records.py). */
const TRAINER_TIME_RESOLUTION_MS = 1000;
