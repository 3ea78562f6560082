import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { autoScalingCalls, eventsOfStart, expectCleanRun, expectDurableCheckpoint, expectExit, runKeys, storedRecord, teardownOf } from "../fakes/runExpectations";
import { standInMetrics } from "../fakes/standInCheckpoint";

describe("a trainer that crashes once", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start();
  }, 120_000);
  afterAll(async () => world?.close());

  it("is restarted from the newest checkpoint on the same node and the run completes", async () => {
    const agent = world.runAgent({ env: { STANDIN_CRASH_AT_EPOCH: "3", STANDIN_CRASH_ATTEMPTS: "1" } });
    await expectExit(agent, EXIT.done);

    const first = eventsOfStart(world.standInEvents(), 1);
    expect(first.filter((e) => e.event === "exit")).toEqual([expect.objectContaining({ code: 1, reason: "crash", epoch: 3 })]);
    const second = eventsOfStart(world.standInEvents(), 2);
    // The retry resumes where the crash left off: after epoch 2, not from scratch.
    expect(second[0]).toMatchObject({ attempt: 2, resumePhase: "0", resumedFrom: expect.objectContaining({ kind: "last", phase: 0, epoch: 2 }) });
    expect(second.filter((e) => e.event === "checkpoint").map((e) => e.epoch)).toEqual([3, 4]);
    expect(world.standInEvents().filter((e) => e.event === "start")).toHaveLength(2);

    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", attempts: 2, interruptions: 0, epoch: 4, epochs: 4, metrics: standInMetrics(4), error: null });
    expect((await expectDurableCheckpoint(world, record, { phase: 0 })).epoch).toBeGreaterThanOrEqual(2);
    expect(await runKeys(world)).toEqual(["checkpoints/phase-0/best.pt", "checkpoints/phase-0/last.pt", "lease.json", "model/best.onnx", "model/best.pt", "model/result.json", "progress.jsonl", "run.json"]);
    await expectCleanRun(world);
  }, 60_000);
});

describe("a trainer that keeps crashing", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    // limits.maxAttempts from the spec: 2 launches, not the default 3.
    world = await NodeWorld.start({ spec: { limits: { maxRuntimeHours: 2, idleMinutes: 15, idleGpuPercent: 5, maxAttempts: 2 } } });
  }, 120_000);
  afterAll(async () => world?.close());

  it("is given up after limits.maxAttempts launches: failed, checkpoint kept, teardown", async () => {
    const agent = world.runAgent({ env: { STANDIN_CRASH_AT_EPOCH: "2", STANDIN_CRASH_CODE: "3" } });
    await expectExit(agent, EXIT.done);

    const starts = world.standInEvents().filter((e) => e.event === "start");
    expect(starts.map((e) => e.attempt)).toEqual([1, 2]);
    expect(starts[1]).toMatchObject({ resumedFrom: expect.objectContaining({ phase: 0, epoch: 1 }) });
    expect(world.standInEvents().filter((e) => e.event === "exit").map((e) => e.code)).toEqual([3, 3]);

    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "failed", attempts: 2, interruptions: 0, artifacts: null });
    expect(record.error).toMatch(/exit code 3/);
    expect(record.error).toMatch(/maxAttempts/);
    await expectDurableCheckpoint(world, record, { phase: 0, epoch: 1 });
    expect(await runKeys(world)).toEqual(["checkpoints/phase-0/best.pt", "checkpoints/phase-0/last.pt", "lease.json", "progress.jsonl", "run.json"]);
    await expectCleanRun(world);
  }, 60_000);
});
