import { createHash } from "crypto";
import { existsSync, readFileSync } from "fs";
import { join } from "path";
import { zipProblem } from "./zipArchive";

/** Path of the stand-in trainer script; the agent runs it as `node <this>`. */
export const STAND_IN_TRAINER = join(__dirname, "standInTrainer.js");

const MAGIC = "YOLO-TRAIN-STANDIN-CHECKPOINT";

/** What a stand-in checkpoint says about itself (its first line). */
export interface StandInCheckpointHeader {
  readonly kind: "last" | "best";
  readonly runId: string;
  readonly phase: number;
  readonly epoch: number;
}

/**
 * Reads the header of a stand-in `last.pt`/`best.pt`, in either format (STANDIN_CHECKPOINT_FORMAT);
 * throws on anything else (say, a truncated upload). A zip checkpoint must also be a whole archive.
 */
export function checkpointHeader(bytes: Buffer): StandInCheckpointHeader {
  let text: string;
  if (bytes.length >= 4 && bytes.readUInt32LE(0) === 0x04034b50) {
    const problem = zipProblem(bytes);
    if (problem !== undefined) throw new Error(`not a whole stand-in zip checkpoint (${bytes.length} bytes): ${problem}`);
    const data = 30 + bytes.readUInt16LE(26) + bytes.readUInt16LE(28);
    text = bytes.subarray(data, data + bytes.readUInt32LE(18)).toString("utf8");
  } else {
    const newline = bytes.indexOf(10);
    if (newline < 0) throw new Error(`not a stand-in checkpoint (${bytes.length} bytes, no header line)`);
    text = bytes.subarray(0, newline).toString("utf8");
  }
  const header = JSON.parse(text) as StandInCheckpointHeader & { magic?: string };
  if (header.magic !== MAGIC) throw new Error("not a stand-in checkpoint (wrong magic)");
  return { kind: header.kind, runId: header.runId, phase: header.phase, epoch: header.epoch };
}

export function sha256Hex(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** One line of the stand-in's journal (`STANDIN_LOG`). `at` is `Date.now()` when it happened. */
export interface StandInEvent {
  readonly event: "start" | "epoch-start" | "checkpoint" | "hang" | "signal" | "stopped-mid-save" | "starting-over" | "final-save" | "best" | "exit";
  readonly pid: number;
  readonly at: number;
  readonly attempt?: number;
  readonly phase?: number;
  readonly epoch?: number;
  readonly overall?: number;
  readonly code?: number;
  readonly reason?: string;
  readonly signal?: string;
  readonly sha256?: string;
  readonly bytes?: number;
  readonly resume?: string | null;
  readonly resumePhase?: string | null;
  readonly resumedFrom?: (StandInCheckpointHeader & { sha256: string; bytes: number }) | null;
}

/** The stand-in's journal so far; empty when the trainer never started. */
export function readStandInLog(path: string): StandInEvent[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as StandInEvent);
}

/** The metrics the stand-in reports after its `overall`-th epoch (mirrors standInTrainer.js). */
export function standInMetrics(overall: number): Record<string, number> {
  const progress = 1 - 1 / (1 + overall / 4);
  const round = (x: number): number => Math.round(x * 1e5) / 1e5;
  return {
    "metrics/precision(B)": round(0.3 + 0.6 * progress),
    "metrics/recall(B)": round(0.25 + 0.6 * progress),
    "metrics/mAP50(B)": round(0.2 + 0.7 * progress),
    "metrics/mAP50-95(B)": round(0.1 + 0.5 * progress),
  };
}
