import fc from "fast-check";
import type { EpochProgress } from "../../../agent/progress";
import { applyEvent, reduceEvents, startRecord, type RunEvent } from "../../../agent/runRecord";
import { parseStoredRecord, type RunRecord } from "../../../runspec/runRecord";

const T0 = Date.parse("2026-03-01T10:00:00.000Z");
const KEY = (phase: number) => `runs/r1/checkpoints/phase-${phase}/last.pt`;
const KEYS = { checkpointKey: KEY, bestCheckpointKey: (phase: number) => `runs/r1/checkpoints/phase-${phase}/best.pt` };
const SHA = "a".repeat(64);

const fresh = () => startRecord({ runId: "r1", previous: null, atMs: T0, trainingPhases: 1, firstPhaseEpochs: 10, usdPerHour: 3.6 });

const epoch = (e: number, phase = 0, metrics: Record<string, number> = { "metrics/mAP50-95(B)": e / 100 }): EpochProgress => ({
  type: "epoch",
  phase,
  phases: 2,
  epoch: e,
  epochs: 10,
  metrics,
  losses: {},
  imagesPerSecond: 100 + e,
  time: null,
});

describe("startRecord", () => {
  it("starts a first run at epoch 0 of the first phase's epochs, with no attempts yet", () => {
    const { record } = fresh();
    expect(record).toMatchObject({
      runId: "r1",
      phase: "starting",
      epoch: 0,
      epochs: 10,
      trainingPhase: 0,
      trainingPhases: 1,
      metrics: {},
      imagesPerSecond: null,
      attempts: 0,
      interruptions: 0,
      startedAt: "2026-03-01T10:00:00.000Z",
      checkpoint: null,
      billedSeconds: 0,
      trainingSeconds: 0,
      estimatedCostUsd: 0,
      artifacts: null,
      error: null,
    });
    expect(record.history).toEqual([{ phase: "starting", at: "2026-03-01T10:00:00.000Z", attempt: 0 }]);
  });

  it("counts an interruption when the previous node was interrupted, and carries progress, clocks and history", () => {
    let state = fresh();
    state = reduceEvents(state, [
      { type: "trainer-started", atMs: T0 + 1_000 },
      { type: "epoch", atMs: T0 + 60_000, progress: epoch(3) },
      { type: "checkpoint-uploaded", atMs: T0 + 61_000, checkpoint: { key: KEY(0), sha256: SHA, bytes: 10, phase: 0, epoch: 3, versionId: null } },
      { type: "ended", atMs: T0 + 100_000, phase: "interrupted", note: "spot" },
    ]);
    const previous = state.record;
    const next = startRecord({ runId: "r1", previous, atMs: T0 + 500_000, trainingPhases: 1, firstPhaseEpochs: 10, usdPerHour: 3.6 });
    expect(next.record).toMatchObject({
      phase: "starting",
      attempts: 1,
      interruptions: 1,
      epoch: 3,
      checkpoint: { key: KEY(0), epoch: 3 },
      startedAt: previous.startedAt,
      billedSeconds: 100,
      trainingSeconds: 99,
      error: null,
    });
    expect(next.record.history.map((h) => h.phase)).toEqual(["starting", "training", "interrupted", "starting"]);
    expect(next.record.history[3]?.note).toMatch(/resuming after "interrupted" from runs\/r1\/checkpoints\/phase-0\/last.pt/);
  });

  it.each(["failed", "hung", "timed-out", "training"] as const)("does not count an interruption after a record in phase %s", (phase) => {
    const previous: RunRecord = { ...fresh().record, phase, attempts: 2, interruptions: 1 };
    const next = startRecord({ runId: "r1", previous, atMs: T0, trainingPhases: 1, firstPhaseEpochs: 10, usdPerHour: 1 });
    expect(next.record.interruptions).toBe(1);
    expect(next.record.attempts).toBe(2);
  });
});

describe("applyEvent", () => {
  it("counts an attempt per trainer launch and enters training with a history note", () => {
    const state = reduceEvents(fresh(), [
      { type: "trainer-started", atMs: T0 + 10, note: "fresh start" },
      { type: "trainer-exited", atMs: T0 + 20 },
      { type: "trainer-started", atMs: T0 + 30, note: "retry: trainer exit code 1" },
    ]);
    expect(state.record.attempts).toBe(2);
    expect(state.record.phase).toBe("training");
    expect(state.record.history.slice(1)).toEqual([
      { phase: "training", at: new Date(T0 + 10).toISOString(), attempt: 1, note: "fresh start" },
      { phase: "training", at: new Date(T0 + 30).toISOString(), attempt: 2, note: "retry: trainer exit code 1" },
    ]);
  });

  it("takes epoch, phase, metrics and images/s from the newest progress line", () => {
    const state = reduceEvents(fresh(), [
      { type: "trainer-started", atMs: T0 },
      { type: "epoch", atMs: T0 + 1, progress: epoch(1, 0, { a: 1 }) },
      { type: "epoch", atMs: T0 + 2, progress: epoch(2, 1, { b: 2 }) },
    ]);
    expect(state.record).toMatchObject({ epoch: 2, epochs: 10, trainingPhase: 1, trainingPhases: 2, metrics: { b: 2 }, imagesPerSecond: 102 });
  });

  it("bills time since the agent started plus earlier nodes, and trains only while the trainer runs", () => {
    const previous: RunRecord = { ...fresh().record, phase: "interrupted", billedSeconds: 1_000, trainingSeconds: 900 };
    const start = startRecord({ runId: "r1", previous, atMs: T0, trainingPhases: 1, firstPhaseEpochs: 10, usdPerHour: 3.6 });
    const state = reduceEvents(start, [
      { type: "trainer-started", atMs: T0 + 10_000 },
      { type: "trainer-exited", atMs: T0 + 70_000 },
      { type: "trainer-started", atMs: T0 + 80_000 },
      { type: "tick", atMs: T0 + 100_000 },
    ]);
    expect(state.record.billedSeconds).toBe(1_100);
    expect(state.record.trainingSeconds).toBe(900 + 60 + 20);
    // 1100 s at $3.60/h.
    expect(state.record.estimatedCostUsd).toBe(1.1);
    expect(state.record.updatedAt).toBe(new Date(T0 + 100_000).toISOString());
  });

  it("records a completed run with the trainer's metrics and artifact keys, and no error", () => {
    const artifacts = { best: "runs/r1/model/best.pt", onnx: "runs/r1/model/best.onnx", result: "runs/r1/model/result.json" };
    const state = reduceEvents(fresh(), [
      { type: "trainer-started", atMs: T0 },
      { type: "epoch", atMs: T0 + 1, progress: epoch(10) },
      { type: "trainer-exited", atMs: T0 + 2 },
      { type: "uploading", atMs: T0 + 3 },
      { type: "ended", atMs: T0 + 4, phase: "completed", metrics: { final: 0.7 }, artifacts },
    ]);
    expect(state.record).toMatchObject({ phase: "completed", metrics: { final: 0.7 }, artifacts, error: null });
    expect(state.record.history.map((h) => h.phase)).toEqual(["starting", "training", "uploading", "completed"]);
  });

  it("records what was published over the air and why it was not promoted, and keeps it when the run completes", () => {
    const release = {
      modelName: "widgets",
      version: 3,
      bucket: "ota",
      manifestKey: "models/widgets/versions/0000000003/manifest.json",
      channels: ["candidate"],
      promotion: { promoted: false, reason: "metrics/mAP50-95(B) 0.41 is below the minimum 0.5 (ota.promote.min)" },
    };
    expect(fresh().record.release).toBeNull();
    const state = reduceEvents(fresh(), [
      { type: "trainer-started", atMs: T0 },
      { type: "uploading", atMs: T0 + 3 },
      { type: "release-published", atMs: T0 + 4, release },
      { type: "ended", atMs: T0 + 5, phase: "completed" },
    ]);
    expect(state.record).toMatchObject({ phase: "completed", release, error: null });
    // Not a phase of its own: the history goes from uploading to completed.
    expect(state.record.history.map((h) => h.phase)).toEqual(["starting", "training", "uploading", "completed"]);
    expect(parseStoredRecord(JSON.parse(JSON.stringify(state.record)), "r1", KEYS)).toEqual(state.record);
    expect(parseStoredRecord({ ...JSON.parse(JSON.stringify(state.record)), release: { ...release, version: "3" } }, "r1", KEYS)?.release).toBeNull();
  });

  it("records why the model was not released, keeps it when the run completes, and reads it back", () => {
    const reason = "the ONNX export failed its check against PyTorch (onnxruntime 1.20.1, opset 17, 4 images): ONNX output differs from PyTorch";
    expect(fresh().record.releaseBlocked).toBeNull();
    const state = reduceEvents(fresh(), [
      { type: "trainer-started", atMs: T0 },
      { type: "uploading", atMs: T0 + 3 },
      { type: "release-blocked", atMs: T0 + 4, reason },
      { type: "ended", atMs: T0 + 5, phase: "completed", artifacts: { best: "b", onnx: "o", result: "r" } },
    ]);
    // Completed, not failed: the model is in the artifact bucket; only the release is withheld.
    expect(state.record).toMatchObject({ phase: "completed", error: null, release: null, releaseBlocked: { reason }, artifacts: { onnx: "o" } });
    expect(state.record.history.map((h) => h.phase)).toEqual(["starting", "training", "uploading", "completed"]);
    const stored = JSON.parse(JSON.stringify(state.record)) as Record<string, unknown>;
    expect(stored.releaseBlocked).toEqual({ reason });
    expect(parseStoredRecord(stored, "r1", KEYS)).toEqual(state.record);
  });

  it("reads records written before releaseBlocked existed as not blocked, and drops a malformed one", () => {
    const record = JSON.parse(JSON.stringify(reduceEvents(fresh(), [{ type: "ended", atMs: T0 + 5, phase: "completed" }]).record)) as Record<string, unknown>;
    delete record.releaseBlocked;
    expect(parseStoredRecord(record, "r1", KEYS)?.releaseBlocked).toBeNull();
    expect(parseStoredRecord({ ...record, releaseBlocked: { reason: 7 } }, "r1", KEYS)?.releaseBlocked).toBeNull();
    expect(parseStoredRecord({ ...record, releaseBlocked: "yes" }, "r1", KEYS)?.releaseBlocked).toBeNull();
  });

  it.each(["failed", "hung", "timed-out", "interrupted"] as const)("keeps the reason of a %s stop as the error and in the history", (phase) => {
    const state = reduceEvents(fresh(), [
      { type: "trainer-started", atMs: T0 },
      { type: "ended", atMs: T0 + 5_000, phase, note: `why ${phase}` },
    ]);
    expect(state.record.phase).toBe(phase);
    expect(state.record.error).toBe(`why ${phase}`);
    expect(state.record.history.at(-1)).toMatchObject({ phase, note: `why ${phase}`, attempt: 1 });
    // The trainer clock stops at the end even without a trainer-exited event.
    expect(state.record.trainingSeconds).toBe(5);
  });

  describe("a checkpoint that could not be restored", () => {
    const v1 = { key: KEY(0), sha256: SHA, bytes: 1, phase: 0, epoch: 3, versionId: "v1" };
    const v2 = { key: KEY(0), sha256: "c".repeat(64), bytes: 1, phase: 0, epoch: 4, versionId: "v2" };
    const uploaded = (): ReturnType<typeof fresh> =>
      reduceEvents(fresh(), [
        { type: "checkpoint-uploaded", atMs: T0, checkpoint: v1 },
        { type: "checkpoint-uploaded", atMs: T0 + 1, checkpoint: v2 },
      ]);

    it("keeps the checkpoint named before as the previous one while S3 holds its version", () => {
      expect(uploaded().record).toMatchObject({ checkpoint: v2, previousCheckpoint: v1 });
      // Without versions the key holds only the newest: nothing to fall back to.
      const unversioned = reduceEvents(fresh(), [
        { type: "checkpoint-uploaded", atMs: T0, checkpoint: { ...v1, versionId: null } },
        { type: "checkpoint-uploaded", atMs: T0 + 1, checkpoint: { ...v2, versionId: null } },
      ]);
      expect(unversioned.record.previousCheckpoint).toBeNull();
      // Another phase's key is not overwritten by this phase's uploads.
      const nextPhase = reduceEvents(fresh(), [
        { type: "checkpoint-uploaded", atMs: T0, checkpoint: { ...v1, versionId: null } },
        { type: "checkpoint-uploaded", atMs: T0 + 1, checkpoint: { ...v2, key: KEY(1), phase: 1, versionId: null } },
      ]);
      expect(nextPhase.record.previousCheckpoint).toEqual({ ...v1, versionId: null });
    });

    it("falls back to the previous checkpoint and keeps the failure as evidence", () => {
      const state = reduceEvents(uploaded(), [{ type: "checkpoint-unusable", atMs: T0 + 2, reason: "sha256 mismatch", outcome: "previous-checkpoint" }]);
      expect(state.record).toMatchObject({ checkpoint: v1, previousCheckpoint: null });
      expect(state.record.checkpointFailures).toEqual([
        { key: KEY(0), versionId: "v2", sha256: v2.sha256, at: new Date(T0 + 2).toISOString(), reason: "sha256 mismatch", outcome: "previous-checkpoint" },
      ]);
      expect(parseStoredRecord(JSON.parse(JSON.stringify(state.record)), "r1", KEYS)).toEqual(state.record);
    });

    it("stops naming any checkpoint on a fresh start, and keeps naming it when the run fails", () => {
      const fresh = reduceEvents(uploaded(), [{ type: "checkpoint-unusable", atMs: T0 + 2, reason: "gone", outcome: "fresh-start" }]);
      expect(fresh.record).toMatchObject({ checkpoint: null, previousCheckpoint: null, bestCheckpoint: null });
      const failed = reduceEvents(uploaded(), [{ type: "checkpoint-unusable", atMs: T0 + 2, reason: "gone", outcome: "failed" }]);
      expect(failed.record).toMatchObject({ checkpoint: v2, previousCheckpoint: v1 });
      expect(failed.record.checkpointFailures.map((f) => f.outcome)).toEqual(["failed"]);
    });

    it("records the best.pt uploads beside the checkpoint", () => {
      const best = { key: "runs/r1/checkpoints/phase-0/best.pt", sha256: SHA, bytes: 1, phase: 0, epoch: 2, versionId: "b1" };
      const state = reduceEvents(uploaded(), [{ type: "best-uploaded", atMs: T0 + 2, checkpoint: best }]);
      expect(state.record).toMatchObject({ bestCheckpoint: best, checkpoint: v2 });
      expect(parseStoredRecord(JSON.parse(JSON.stringify(state.record)), "r1", KEYS)?.bestCheckpoint).toEqual(best);
      expect(parseStoredRecord(JSON.parse(JSON.stringify({ ...state.record, bestCheckpoint: { ...best, key: "elsewhere/best.pt" } })), "r1", KEYS)?.bestCheckpoint).toBeNull();
    });
  });

  it("names a checkpoint only through a checkpoint-uploaded event", () => {
    const events = fc.array(
      fc.oneof(
        fc.record({ type: fc.constant("epoch" as const), progress: fc.integer({ min: 1, max: 10 }).map((e) => epoch(e)) }),
        fc.record({ type: fc.constant("tick" as const) }),
        fc.record({ type: fc.constant("trainer-started" as const) }),
        fc.record({ type: fc.constant("trainer-exited" as const) }),
        fc.record({ type: fc.constant("uploading" as const) }),
      ),
      { maxLength: 30 },
    );
    fc.assert(
      fc.property(events, (list) => {
        let at = T0;
        const state = list.reduce((s, e) => applyEvent(s, { ...e, atMs: (at += 1_000) } as RunEvent), fresh());
        return state.record.checkpoint === null;
      }),
    );
  });

  it("keeps clocks monotonic and cost consistent with billed time for any event sequence", () => {
    const kinds = fc.constantFrom("trainer-started", "trainer-exited", "tick", "uploading") as fc.Arbitrary<"trainer-started" | "trainer-exited" | "tick" | "uploading">;
    fc.assert(
      fc.property(fc.array(fc.tuple(kinds, fc.integer({ min: 0, max: 100_000 })), { maxLength: 40 }), (steps) => {
        let state = fresh();
        let at = T0;
        for (const [type, gap] of steps) {
          at += gap;
          const before = state.record;
          state = applyEvent(state, { type, atMs: at });
          const r = state.record;
          if (r.billedSeconds < before.billedSeconds || r.trainingSeconds < before.trainingSeconds) return false;
          if (r.trainingSeconds > r.billedSeconds + 1e-9) return false;
          if (Math.abs(r.estimatedCostUsd - (r.billedSeconds / 3600) * 3.6) > 0.0001) return false;
        }
        return true;
      }),
    );
  });
});

describe("GPU utilisation in the record", () => {
  it("keeps the latest sample per GPU, without touching the clocks", () => {
    const state = applyEvent(fresh(), { type: "gpu-sampled", atMs: T0 + 60_000, utilisation: [97, 88.5] });
    expect(state.record.gpuUtilisation).toEqual([97, 88.5]);
    expect(state.record.updatedAt).toBe(fresh().record.updatedAt);
    const later = applyEvent(state, { type: "gpu-sampled", atMs: T0 + 90_000, utilisation: [3, 2] });
    expect(later.record.gpuUtilisation).toEqual([3, 2]);
  });

  it("starts empty on a new node, whatever the previous node sampled", () => {
    const previous = applyEvent(fresh(), { type: "gpu-sampled", atMs: T0, utilisation: [99] }).record;
    const stored = parseStoredRecord(JSON.parse(JSON.stringify(previous)), "r1");
    expect(stored?.gpuUtilisation).toEqual([99]);
    const next = startRecord({ runId: "r1", previous: stored, atMs: T0 + 1000, trainingPhases: 1, firstPhaseEpochs: 10, usdPerHour: 3.6 });
    expect(next.record.gpuUtilisation).toBeNull();
  });

  it("reads a stored record without the field, or with junk in it, as no sample", () => {
    const stored = JSON.parse(JSON.stringify(fresh().record));
    delete stored.gpuUtilisation;
    expect(parseStoredRecord(stored, "r1")?.gpuUtilisation).toBeNull();
    expect(parseStoredRecord({ ...stored, gpuUtilisation: ["x"] }, "r1")?.gpuUtilisation).toBeNull();
  });
});
