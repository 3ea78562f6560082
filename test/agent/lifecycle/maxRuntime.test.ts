import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { autoScalingCalls, eventsOfStart, expectCleanRun, expectDurableCheckpoint, expectExit, lastCheckpointWritten, runKeys, storedRecord, teardownOf } from "../fakes/runExpectations";

let world: NodeWorld;
beforeAll(async () => {
  world = await NodeWorld.start({ spec: { train: { epochs: 100, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } } });
}, 120_000);
afterAll(async () => world?.close());

describe("a run that reaches its maximum runtime", () => {
  it("stops the trainer, ships its newest checkpoint, records timed-out and tears down", async () => {
    const agent = world.runAgent({ env: { YOLO_TRAIN_MAX_RUNTIME_MS: "2000", STANDIN_EPOCH_MS: "200" } });
    await expectExit(agent, EXIT.done);

    const events = eventsOfStart(world.standInEvents(), 1);
    expect(events.some((e) => e.event === "signal")).toBe(true);
    const newest = lastCheckpointWritten(events);
    expect(newest.epoch).toBeGreaterThanOrEqual(1);
    expect(newest.epoch).toBeLessThan(100);

    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "timed-out", attempts: 1, artifacts: null });
    expect(record.error).toMatch(/max runtime/);
    await expectDurableCheckpoint(world, record, newest);
    expect(await runKeys(world)).toEqual(["checkpoints/phase-0/best.pt", "checkpoints/phase-0/last.pt", "lease.json", "progress.jsonl", "run.json"]);
    await expectCleanRun(world);
  }, 60_000);
});
