import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { autoScalingCalls, eventsOfStart, expectCleanRun, expectDurableCheckpoint, expectExit, runKeys, storedRecord, teardownOf } from "../fakes/runExpectations";

let world: NodeWorld;
beforeAll(async () => {
  world = await NodeWorld.start({ spec: { train: { epochs: 20, imgsz: 640, batch: 16, gpus: 2, hyperparameters: {} } } });
}, 120_000);
afterAll(async () => world?.close());

describe("a trainer whose GPUs go idle", () => {
  it("is stopped as hung once idle for the limit (not while loading data), its checkpoint kept, and the node torn down", async () => {
    const agent = world.runAgent({
      env: {
        YOLO_TRAIN_IDLE_AFTER_MS: "1200",
        // Data loading idles both GPUs longer than the limit: that must not count.
        STANDIN_STARTUP_MS: "2000",
        STANDIN_EPOCH_MS: "200",
        STANDIN_HANG_AT_EPOCH: "3",
      },
    });
    const hang = await agent.waitForStandIn((e) => e.event === "hang");
    await expectExit(agent, EXIT.done);

    const events = eventsOfStart(world.standInEvents(), 1);
    expect(events.filter((e) => e.event === "checkpoint").map((e) => e.epoch)).toEqual([1, 2]);
    expect(events.some((e) => e.event === "signal")).toBe(true);
    expect(world.standInEvents().filter((e) => e.event === "start")).toHaveLength(1);

    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
    const teardownAt = world.asg.calls[0]!.at;
    expect(teardownAt - hang.at).toBeGreaterThanOrEqual(1200);

    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "hung", attempts: 1, epoch: 2, artifacts: null });
    expect(record.error).toMatch(/GPU/);
    await expectDurableCheckpoint(world, record, { phase: 0, epoch: 2 });
    expect(await runKeys(world)).toEqual(["checkpoints/phase-0/best.pt", "checkpoints/phase-0/last.pt", "lease.json", "progress.jsonl", "run.json"]);
    await expectCleanRun(world);
  }, 60_000);
});
