import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { autoScalingCalls, expectCleanRun, expectDurableCheckpoint, expectExit, runKeys, storedRecord, teardownOf } from "../fakes/runExpectations";
import { standInMetrics } from "../fakes/standInCheckpoint";

let world: NodeWorld;
beforeAll(async () => {
  world = await NodeWorld.start({ spec: { train: { epochs: 6, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } } });
}, 120_000);
afterAll(async () => world?.close());

describe("S3 in trouble for a while", () => {
  it("still completes, and no record ever names an object S3 does not hold whole", async () => {
    // From the agent's first request: S3 down for longer than the SDK's own retries last (all
    // 500s), then flaky and slow, then SlowDown and slow, then healthy. Counted in requests, so
    // the same requests fail however fast the machine is.
    world.proxy.injectFaults([
      { requests: 8, failEvery: 1, status: 500 },
      { requests: 30, failEvery: 2, status: 500, delayMs: 300 },
      { requests: 30, failEvery: 3, status: 503, delayMs: 150 },
    ]);
    const agent = world.runAgent({ env: { STANDIN_EPOCH_MS: "300" } });
    await expectExit(agent, EXIT.done);

    // The faults did hit the agent's requests, reads and writes alike.
    expect(world.proxy.requests.slice(0, 8).map((r) => r.status)).toEqual(Array(8).fill(500));
    expect(world.proxy.failures.length).toBeGreaterThanOrEqual(8 + 15);
    expect(world.proxy.failures.some((r) => r.method === "GET")).toBe(true);
    expect(world.proxy.failures.some((r) => r.method === "PUT")).toBe(true);
    expect(world.proxy.requests.some((r) => r.fault === "delayed")).toBe(true);

    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", attempts: 1, epoch: 6, metrics: standInMetrics(6), error: null });
    await expectDurableCheckpoint(world, record, { phase: 0 });
    expect(await runKeys(world)).toEqual(["checkpoints/phase-0/best.pt", "checkpoints/phase-0/last.pt", "lease.json", "model/best.onnx", "model/best.pt", "model/result.json", "progress.jsonl", "run.json"]);
    // Every version of the record was checked against S3 as it was written (see RunRecordAuditor).
    expect(world.auditor.versions.length).toBeGreaterThan(3);
    await expectCleanRun(world);
  }, 60_000);
});
