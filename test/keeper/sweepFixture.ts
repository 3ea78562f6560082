import { parseStoredRecord, type RunPhase, type RunRecord } from "../../runspec/runRecord";
import { parseSweepManifest, type SweepManifest } from "../../runspec/sweep/sweepManifest";

export const SWEEP_ID = "sweep-0123456789ab";
export const METRIC = "metrics/mAP50-95(B)";
export const ARTIFACTS = "yolo-train-dev-artifacts";
export const OTA_BUCKET = "yolo-train-dev-ota";
export const SIGNING_KEY = "alias/yolo-train-dev-ota";

export interface FixtureOptions {
  readonly trials?: number;
  readonly maxParallel?: number;
  readonly budgetUsd?: number | null;
  readonly direction?: "maximize" | "minimize";
  /** $/hour of every trial. */
  readonly usdPerHour?: number;
  readonly maxRuntimeHours?: number;
  readonly promote?: { metric: string; min: number; requireImprovement: boolean };
}

export const trialId = (i: number): string => `t0${i}`;
export const runIdOf = (i: number): string => `yolov8n-widgets-${String(i).padStart(10, "0")}`;
export const groupOf = (i: number): string => `yolo-train-dev-${trialId(i)}-gpu`;
export const backstopOf = (i: number): string => `yolo-train-dev-${trialId(i)}-backstop`;

/** A manifest as the Sweep component writes it, checked by the contract's own parser. */
export function sweepManifest(options: FixtureOptions = {}): SweepManifest {
  const count = options.trials ?? 4;
  return parseSweepManifest({
    schemaVersion: 1,
    sweepId: SWEEP_ID,
    artifactBucket: ARTIFACTS,
    metric: METRIC,
    direction: options.direction ?? "maximize",
    maxParallel: options.maxParallel ?? 2,
    budgetUsd: options.budgetUsd ?? null,
    asha: { minEpochs: 1, reductionFactor: 2, maxEpochs: 4, rungs: [1, 2] },
    ota: {
      bucket: OTA_BUCKET,
      prefix: "models/widgets/",
      modelName: "widgets",
      channel: "candidate",
      signingKeyId: SIGNING_KEY,
      ...(options.promote ? { promote: options.promote } : {}),
    },
    trials: Array.from({ length: count }, (_, k) => {
      const i = k + 1;
      return {
        trialId: trialId(i),
        runId: runIdOf(i),
        params: { lr0: 0.001 * i },
        groupName: groupOf(i),
        backstopScheduleName: backstopOf(i),
        usdPerHour: options.usdPerHour ?? 0.5,
        maxRuntimeHours: options.maxRuntimeHours ?? 2,
        estimatedUsd: 0.4,
        stackConfig: { model: "yolov8n.pt", hyperparameters: { optimizer: "SGD", lr0: 0.001 * i } },
      };
    }),
  });
}

/** A run record as an agent leaves it, read back with the contract's parser. */
export function runRecord(i: number, phase: RunPhase, fields: { metrics?: Record<string, number>; estimatedCostUsd?: number; startedAt?: string } = {}): RunRecord {
  const record = parseStoredRecord(
    {
      runId: runIdOf(i),
      phase,
      epoch: 4,
      epochs: 4,
      metrics: fields.metrics ?? {},
      estimatedCostUsd: fields.estimatedCostUsd ?? 0,
      startedAt: fields.startedAt ?? "2026-12-05T10:00:00.000Z",
      updatedAt: fields.startedAt ?? "2026-12-05T10:00:00.000Z",
      history: [],
    },
    runIdOf(i),
  );
  if (record === null) throw new Error("fixture record did not parse");
  return record;
}
