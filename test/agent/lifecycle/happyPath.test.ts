import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { autoScalingCalls, expectCleanRun, expectDurableCheckpoint, expectExit, historyPhases, progressLines, runKeys, storedRecord, teardownOf } from "../fakes/runExpectations";
import { checkpointHeader, standInMetrics } from "../fakes/standInCheckpoint";

let world: NodeWorld;
beforeAll(async () => {
  world = await NodeWorld.start();
}, 120_000);
afterAll(async () => world?.close());

describe("a run without trouble", () => {
  it("trains, ships the model, records completed and terminates its own instance once", async () => {
    // Epochs long enough that a loaded machine still writes a training record for each (records of
    // epochs in between may be coalesced when S3 is slow: docs/node-runtime.md).
    const agent = world.runAgent({ env: { STANDIN_EPOCH_MS: "600" } });
    await expectExit(agent, EXIT.done);

    // The trainer ran once, from scratch, to the end.
    const events = world.standInEvents();
    expect(events.filter((e) => e.event === "start")).toEqual([expect.objectContaining({ attempt: 1, resume: null, resumedFrom: null })]);
    expect(events.filter((e) => e.event === "checkpoint").map((e) => e.epoch)).toEqual([1, 2, 3, 4]);
    expect(events.filter((e) => e.event === "exit")).toEqual([expect.objectContaining({ code: 0, reason: "completed" })]);

    // Teardown: exactly one call, for this instance, decrementing desired capacity.
    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
    expect(world.asg.calls[0]).toMatchObject({ version: "2011-01-01", signed: true, status: 200 });
    expect(world.asg.desiredCapacity(world.groupName)).toBe(0);

    // S3: the artifact layout of docs/node-runtime.md, nothing else, nothing outside the run's prefix.
    expect(await runKeys(world)).toEqual(["checkpoints/phase-0/best.pt", "checkpoints/phase-0/last.pt", "lease.json", "model/best.onnx", "model/best.pt", "model/result.json", "progress.jsonl", "run.json"]);
    expect(checkpointHeader((await world.object("model/best.pt"))!)).toEqual({ kind: "best", runId: world.spec.runId, phase: 0, epoch: 4 });
    expect((await world.object("model/best.onnx"))!.toString("utf8", 0, 60)).toContain(`ONNX stand-in for ${world.spec.runId} phase 0 epoch 4`);
    expect(JSON.parse((await world.object("model/result.json"))!.toString())).toMatchObject({ status: "completed", metrics: standInMetrics(4) });
    expect(progressLines(await world.object("progress.jsonl")).map((l) => [l.phase, l.epoch, l.epochs])).toEqual([
      [0, 1, 4],
      [0, 2, 4],
      [0, 3, 4],
      [0, 4, 4],
    ]);

    // The run record.
    const record = await storedRecord(world);
    // The checkpoint the watcher shipped last (on success the model is uploaded, not the final last.pt).
    const checkpoint = await expectDurableCheckpoint(world, record, { phase: 0 });
    expect(checkpoint.epoch).toBeGreaterThanOrEqual(1);
    expect(record).toMatchObject({
      runId: world.spec.runId,
      phase: "completed",
      epoch: 4,
      epochs: 4,
      trainingPhase: 0,
      trainingPhases: 1,
      metrics: standInMetrics(4),
      imagesPerSecond: 104,
      attempts: 1,
      interruptions: 0,
      artifacts: { best: `${world.prefix}model/best.pt`, onnx: `${world.prefix}model/best.onnx`, result: `${world.prefix}model/result.json` },
      error: null,
    });
    expect(record.checkpoint).toMatchObject({ phase: 0, bytes: 300_000 });
    // The GPU sampled while training (97 %) or as the trainer wound down (0 %), one value per GPU.
    expect([[97], [0]]).toContainEqual(record.gpuUtilisation);
    expect(Date.parse(record.startedAt)).toBeLessThanOrEqual(Date.parse(record.updatedAt));
    expect(record.billedSeconds).toBeGreaterThan(0);
    expect(record.trainingSeconds).toBeGreaterThan(0);
    expect(record.trainingSeconds!).toBeLessThanOrEqual(record.billedSeconds!);
    // billed time × the spec's hourly price, rounded to 1/100 of a cent
    expect(record.estimatedCostUsd).toBeCloseTo((record.billedSeconds! / 3600) * world.spec.pricing.usdPerHour, 4);
    expect(historyPhases(record)).toEqual(["starting", "training", "uploading", "completed"]);

    // The record was rewritten as training went: the epochs showed up in training records, in order.
    const trainingEpochs = world.auditor.versions.filter((v) => v.record.phase === "training").map((v) => v.record.epoch);
    expect([...new Set(trainingEpochs)]).toEqual(expect.arrayContaining([1, 2, 3]));
    expect(trainingEpochs).toEqual([...trainingEpochs].sort((a, b) => (a ?? 0) - (b ?? 0)));
    // Writes are coalesced (a short "uploading" may be overtaken by "completed"), but never out of order.
    const written = world.auditor.phases;
    expect(written).toEqual(["starting", "training", "uploading", "completed"].filter((p) => written.includes(p)));
    expect(written).toEqual(expect.arrayContaining(["starting", "training", "completed"]));
    await expectCleanRun(world);
  }, 60_000);
});
