import { writeFileSync } from "fs";
import { join } from "path";
import { applyEvent, startRecord, type RunEvent } from "../../../agent/runRecord";
import { runObjectKeys, runPrefix, sweepManifestKey, sweepStateKey, sweepTrialStartKey, sweepWinnerKey } from "../../../runspec/bucketLayout";
import type { RunRecord } from "../../../runspec/runRecord";
import {
  deriveSweepId,
  parseSweepManifest,
  parseSweepState,
  parseSweepTrialStart,
  parseSweepWinner,
  SWEEP_MANIFEST_SCHEMA_VERSION,
  SWEEP_START_SCHEMA_VERSION,
  SWEEP_STATE_SCHEMA_VERSION,
  SWEEP_WINNER_SCHEMA_VERSION,
  type SweepManifest,
  type SweepState,
  type SweepWinner,
} from "../../../runspec/sweep/sweepManifest";
import { REDACTED } from "../../../config/checks/context";
import { ARTIFACTS, type OperateWorld } from "../commands/operateHarness";

/**
 * A deployed sweep as its objects lie in S3 (runspec/sweep/sweepManifest.ts), built with the
 * contract's types and parse-checked before they are written: four trials of a grid over model and
 * imgsz, two at once, ASHA rungs at epochs 3 and 9 of 27.
 */
export const METRIC = "metrics/mAP50-95(B)";
const T0 = Date.parse("2026-03-01T10:00:00.000Z");
const iso = (ms: number): string => new Date(ms).toISOString();

export const PARAMS = [
  { model: "yolov8n.pt", imgsz: 416 },
  { model: "yolov8n.pt", imgsz: 640 },
  { model: "yolov8s.pt", imgsz: 416 },
  { model: "yolov8s.pt", imgsz: 640 },
] as const;

export interface DeployedSweep {
  readonly manifest: SweepManifest;
  readonly sweepId: string;
  readonly outputsFile: string;
  runIdOf(trialId: string): string;
}

/** Writes the manifest (and an outputs file naming it) for a sweep whose run ids carry `tag`. */
export async function deploySweep(world: OperateWorld, tag: string, options: { budgetUsd?: number | null; wandb?: boolean } = {}): Promise<DeployedSweep> {
  const trials = PARAMS.map((params, i) => {
    const trialId = `t0${i + 1}`;
    const runId = `${params.model.replace(".pt", "")}-coco-${tag}${i + 1}`;
    return {
      trialId,
      runId,
      params,
      groupName: `yolo-train-${tag}-${trialId}`,
      backstopScheduleName: `yolo-train-${tag}-${trialId}-backstop`,
      usdPerHour: 0.4,
      maxRuntimeHours: 4,
      estimatedUsd: 1 + i,
      stackConfig: {
        stage: "dev",
        capacity: "spot",
        model: params.model,
        data: "coco128.yaml",
        epochs: 27,
        imgsz: params.imgsz,
        batch: 16,
        hyperparameters: { optimizer: "SGD", lr0: 0.01 },
        ota: { modelName: "widgets", channel: "candidate" },
        ...(options.wandb ? { tracking: { wandbProject: "widgets", wandbApiKey: REDACTED } } : {}),
      },
    };
  });
  const sweepId = deriveSweepId({ runIds: trials.map((t) => t.runId), metric: METRIC, direction: "maximize", rungs: [3, 9], reductionFactor: 3 });
  const manifest = parseSweepManifest({
    schemaVersion: SWEEP_MANIFEST_SCHEMA_VERSION,
    sweepId,
    artifactBucket: ARTIFACTS,
    metric: METRIC,
    direction: "maximize",
    maxParallel: 2,
    budgetUsd: options.budgetUsd === undefined ? 20 : options.budgetUsd,
    asha: { minEpochs: 3, reductionFactor: 3, maxEpochs: 27, rungs: [3, 9] },
    ota: { bucket: "yolo-ota-test", prefix: "models/widgets/", modelName: "widgets", channel: "candidate", signingKeyId: "alias/yolo-train-ota" },
    trials,
  } satisfies SweepManifest);
  await world.s3.putObject(ARTIFACTS, sweepManifestKey(sweepId), JSON.stringify(manifest));
  const outputsFile = join(world.dir, `outputs-${tag}.json`);
  writeFileSync(outputsFile, JSON.stringify({ sweepId, artifactBucketName: ARTIFACTS, region: "us-east-1" }));
  return { manifest, sweepId, outputsFile, runIdOf: (trialId) => trials.find((t) => t.trialId === trialId)!.runId };
}

export interface TrialCurve {
  /** The metric after each epoch trained. */
  readonly values: readonly number[];
  readonly end?: "completed" | "stopped-early" | "failed";
  readonly interruptions?: number;
}

/**
 * A trial's run record made by the agent's own reducer: one epoch a minute on a $0.40/h node,
 * the rung decisions at epochs 3 and 9 (promoted unless it ends stopped-early there), then `end`.
 */
export function trialRecord(runId: string, curve: TrialCurve): RunRecord {
  let state = startRecord({ runId, previous: null, atMs: T0, trainingPhases: 1, firstPhaseEpochs: 27, usdPerHour: 0.4 });
  const events: RunEvent[] = [{ type: "trainer-started", atMs: T0 + 60_000 }];
  const at = (epoch: number): number => T0 + 60_000 + epoch * 60_000;
  curve.values.forEach((value, i) => {
    const epoch = i + 1;
    events.push({ type: "epoch", atMs: at(epoch), progress: { type: "epoch", phase: 0, phases: 1, epoch, epochs: 27, metrics: { [METRIC]: value }, losses: {}, imagesPerSecond: 100, time: null } });
    const rung = [3, 9].indexOf(epoch);
    if (rung >= 0) {
      const stop = curve.end === "stopped-early" && epoch === curve.values.length;
      events.push({ type: "rung-decided", atMs: at(epoch), outcome: { rung, epoch, value, promote: !stop, cutoff: stop ? value + 0.05 : null, earlier: stop ? 2 : 0 } });
    }
  });
  const last = curve.values.length;
  if (curve.end === "completed") {
    const prefix = runPrefix(runId);
    events.push({ type: "ended", atMs: at(last), phase: "completed", artifacts: { best: `${prefix}model/best.pt`, onnx: `${prefix}model/best.onnx`, result: `${prefix}model/result.json` } });
  } else if (curve.end === "stopped-early") {
    const value = curve.values[last - 1]!;
    events.push({ type: "ended", atMs: at(last), phase: "stopped-early", stoppedAt: { rung: [3, 9].indexOf(last), epoch: last, value, cutoff: value + 0.05, earlier: 2 } });
  } else if (curve.end === "failed") {
    events.push({ type: "ended", atMs: at(last), phase: "failed", note: "CUDA out of memory" });
  }
  for (const event of events) state = applyEvent(state, event);
  return { ...state.record, interruptions: curve.interruptions ?? 0 };
}

export async function putRecord(world: OperateWorld, sweep: DeployedSweep, trialId: string, curve: TrialCurve): Promise<RunRecord> {
  const record = trialRecord(sweep.runIdOf(trialId), curve);
  await world.s3.putObject(ARTIFACTS, runObjectKeys(runPrefix(record.runId)).recordKey, JSON.stringify(record));
  return record;
}

export async function putState(world: OperateWorld, sweep: DeployedSweep, state: Omit<SweepState, "schemaVersion" | "sweepId" | "at">): Promise<SweepState> {
  const full = parseSweepState({ schemaVersion: SWEEP_STATE_SCHEMA_VERSION, sweepId: sweep.sweepId, at: iso(T0 + 3_600_000), ...state } satisfies SweepState, sweep.sweepId);
  await world.s3.putObject(ARTIFACTS, sweepStateKey(sweep.sweepId), JSON.stringify(full));
  return full;
}

export async function putStart(world: OperateWorld, sweep: DeployedSweep, trialId: string, startedAtMs: number): Promise<void> {
  const start = parseSweepTrialStart(
    { schemaVersion: SWEEP_START_SCHEMA_VERSION, sweepId: sweep.sweepId, trialId, runId: sweep.runIdOf(trialId), startedAt: iso(startedAtMs), by: "keeper", backstopAt: iso(startedAtMs + 4 * 3_600_000) },
    sweep.sweepId,
  );
  await world.s3.putObject(ARTIFACTS, sweepTrialStartKey(sweep.sweepId, trialId), JSON.stringify(start));
}

export async function putWinner(world: OperateWorld, sweep: DeployedSweep, trialId: string, value: number, release: SweepWinner["release"], releaseNote: string | null = null): Promise<void> {
  const winner = parseSweepWinner(
    { schemaVersion: SWEEP_WINNER_SCHEMA_VERSION, sweepId: sweep.sweepId, trialId, runId: sweep.runIdOf(trialId), metric: METRIC, value, decidedAt: iso(T0 + 7_200_000), release, releaseNote } satisfies SweepWinner,
    sweep.sweepId,
  );
  await world.s3.putObject(ARTIFACTS, sweepWinnerKey(sweep.sweepId), JSON.stringify(winner));
}

/** 27 epochs of a curve rising to `top`. */
export const rising = (top: number, epochs = 27): number[] => Array.from({ length: epochs }, (_, i) => Math.round(top * (1 - Math.exp(-(i + 1) / 6)) * 10_000) / 10_000);
