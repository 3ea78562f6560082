import { TRAINING_METRIC_DIMENSIONS, TRAINING_METRIC_NAMES, TRAINING_METRIC_NAMESPACE } from "../../../runspec/trainingMetricNames";
import type { ReceivedDatum } from "../fakes/cloudWatchFake";
import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { expectCleanRun, expectExit, historyPhases, storedRecord } from "../fakes/runExpectations";
import { standInMetrics } from "../fakes/standInCheckpoint";

/**
 * The agent's training metrics, as the real agent bundle sends them to a local CloudWatch
 * (AWS JSON 1.0 PutMetricData): what the dashboard graphs must arrive, per epoch, with the run's
 * dimensions; and a CloudWatch that fails must not change the run.
 */

/** One publish: the datums from an `Epoch` datum up to the next (the agent sends `Epoch` first). */
type Snapshot = Record<string, number>;

function snapshots(data: readonly ReceivedDatum[]): Snapshot[] {
  const out: Snapshot[] = [];
  for (const d of data) {
    if (d.metricName === "Epoch") out.push({});
    const current = out[out.length - 1];
    if (current === undefined) throw new Error(`datum ${d.metricName} before any Epoch datum`);
    current[d.metricName] = d.value;
  }
  return out;
}

function expectRunDimensions(world: NodeWorld): void {
  expect(world.cloudWatch.data.length).toBeGreaterThan(0);
  for (const d of world.cloudWatch.data) {
    expect(d.namespace).toBe(TRAINING_METRIC_NAMESPACE);
    expect(d.dimensionNames).toEqual([...TRAINING_METRIC_DIMENSIONS]);
    expect(d.dimensions).toEqual({ RunId: world.spec.runId, AutoScalingGroupName: world.groupName });
    expect(TRAINING_METRIC_NAMES).toContain(d.metricName);
  }
  for (const call of world.cloudWatch.calls) expect(call).toMatchObject({ action: "PutMetricData", status: 200, signed: true });
}

describe("training metrics of a run without trouble", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start();
  }, 120_000);
  afterAll(async () => world?.close());

  it("publishes epoch, mAP, images/s, attempts, interruptions and cost after every epoch, with the run's dimensions", async () => {
    const startedAt = Date.now();
    const agent = world.runAgent({ env: { STANDIN_EPOCH_MS: "250" } });
    const exit = await expectExit(agent, EXIT.done);
    expectRunDimensions(world);

    const all = snapshots(world.cloudWatch.data);
    // At start, nothing trained yet: progress and counters, no mAP or throughput.
    expect(all[0]).toEqual({ Epoch: 0, EpochsTotal: 4, SpotInterruptions: 0, Attempts: 0, EstimatedCostUsd: expect.any(Number) });

    // One snapshot per epoch, with that epoch's validation metrics and throughput.
    for (const epoch of [1, 2, 3, 4]) {
      const metrics = standInMetrics(epoch);
      expect(all).toContainEqual({
        Epoch: epoch,
        EpochsTotal: 4,
        "mAP50-95": metrics["metrics/mAP50-95(B)"],
        mAP50: metrics["metrics/mAP50(B)"],
        ImagesPerSecond: 100 + epoch,
        SpotInterruptions: 0,
        Attempts: 1,
        EstimatedCostUsd: expect.any(Number),
      });
    }
    // Over the datapoints' timestamps (what CloudWatch graphs by; a retried request may arrive
    // late), the epoch and the cost never go down.
    const byTime = (metricName: string): number[] =>
      world.cloudWatch.data
        .filter((d) => d.metricName === metricName)
        .map((d, arrival) => ({ d, arrival }))
        .sort((a, b) => (a.d.timestampMs ?? 0) - (b.d.timestampMs ?? 0) || a.arrival - b.arrival)
        .map(({ d }) => d.value);
    const epochs = byTime("Epoch");
    expect(epochs).toEqual([...epochs].sort((a, b) => a - b));
    const costs = byTime("EstimatedCostUsd");
    expect(costs).toEqual([...costs].sort((a, b) => a - b));

    // The last snapshot is the completed record's, sent before the agent exited.
    const record = await storedRecord(world);
    expect(historyPhases(record)).toEqual(["starting", "training", "uploading", "completed"]);
    expect(all[all.length - 1]).toEqual({
      Epoch: 4,
      EpochsTotal: 4,
      "mAP50-95": standInMetrics(4)["metrics/mAP50-95(B)"],
      mAP50: standInMetrics(4)["metrics/mAP50(B)"],
      ImagesPerSecond: 104,
      SpotInterruptions: 0,
      Attempts: 1,
      EstimatedCostUsd: record.estimatedCostUsd,
    });

    // Timestamps are the agent's clock during the run.
    for (const d of world.cloudWatch.data) {
      expect(d.timestampMs).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(d.timestampMs).toBeLessThanOrEqual(exit.exitedAt);
    }
    expect(exit.stdout).not.toMatch(/metrics-(publish-failed|unsent)/);
    await expectCleanRun(world);
  }, 60_000);
});

describe("training metrics across a spot interruption", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start();
  }, 120_000);
  afterAll(async () => world?.close());

  it("count the interruption as soon as the node records it, and the second attempt on the next node", async () => {
    const first = world.runAgent({ env: { STANDIN_EPOCH_MS: "300" } });
    await first.waitForStandIn((e) => e.event === "epoch-start" && e.overall === 3);
    world.imds.triggerSpotNotice();
    await expectExit(first, EXIT.interrupted);
    expectRunDimensions(world);
    const interrupted = await storedRecord(world);
    expect(interrupted.phase).toBe("interrupted");
    const firstNode = snapshots(world.cloudWatch.data);
    expect(firstNode[firstNode.length - 1]).toMatchObject({ SpotInterruptions: 1, Attempts: 1, Epoch: interrupted.epoch });
    const sentByFirst = world.cloudWatch.data.length;

    world.replaceNode("i-0a1b2c3d4e5f60002");
    const second = world.runAgent({ env: { STANDIN_EPOCH_MS: "150" } });
    await expectExit(second, EXIT.done);
    expectRunDimensions(world);
    const secondNode = snapshots(world.cloudWatch.data.slice(sentByFirst));
    // The replacement starts where the first left off, then trains on with a second attempt.
    expect(secondNode[0]).toMatchObject({ Epoch: interrupted.epoch, SpotInterruptions: 1, Attempts: 1 });
    expect(secondNode[secondNode.length - 1]).toMatchObject({ Epoch: 4, SpotInterruptions: 1, Attempts: 2, "mAP50-95": standInMetrics(4)["metrics/mAP50-95(B)"] });
    await expectCleanRun(world);
  }, 90_000);
});

describe("a CloudWatch that refuses every PutMetricData", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start();
  }, 120_000);
  afterAll(async () => world?.close());

  it("changes nothing about the run: it completes, ships its model and logs the failed publishes", async () => {
    world.cloudWatch.failNext(Number.MAX_SAFE_INTEGER);
    const agent = world.runAgent();
    const exit = await expectExit(agent, EXIT.done);
    expect(world.cloudWatch.data).toEqual([]);
    expect(world.cloudWatch.calls.length).toBeGreaterThan(0);
    expect(world.cloudWatch.calls.every((c) => c.status === 500)).toBe(true);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", epoch: 4, attempts: 1, error: null });
    expect(await world.object("model/best.onnx")).toBeDefined();
    const failures = exit.stdout.split("\n").filter((l) => l.includes('"metrics-publish-failed"'));
    expect(failures.length).toBeGreaterThan(0);
    expect(JSON.parse(failures[0]!)).toMatchObject({ level: "warn", namespace: "YoloTrain", error: expect.stringMatching(/InternalServiceFault.*HTTP 500/) });
    await expectCleanRun(world);
  }, 60_000);
});
