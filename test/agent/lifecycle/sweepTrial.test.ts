import { SWEEP_TRIAL_RELEASE_NOTE } from "../../../agent/supervisor";
import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { autoScalingCalls, eventsOfStart, expectCleanRun, expectExit, historyPhases, otaKeys, runKeys, storedRecord, teardownOf, waitForRecord } from "../fakes/runExpectations";

/**
 * A sweep trial's agent at its rungs (issue 12): it records the sweep's metric in the rung records
 * (`sweeps/<sweepId>/rungs/<k>.json`, real S3 SDK against s3rver) and stops itself when ASHA says so.
 * Rungs at epochs 1 and 3 of 4, η = 2, maximizing mAP50-95. The stand-in's metric is given per epoch.
 */
const SWEEP_ID = "sweep-widgets";
const METRIC = "metrics/mAP50-95(B)";
const SWEEP = { sweepId: SWEEP_ID, trialId: "yolov8n-widgets-0123456789", metric: METRIC, direction: "maximize" as const, reductionFactor: 2, rungs: [1, 3] };
const CURVE = (values: number[]): Record<string, string> => ({ STANDIN_METRIC_CURVE: JSON.stringify({ [METRIC]: values }) });
const REPLACEMENT = "i-0a1b2c3d4e5f60002";

interface Entry {
  trialId: string;
  value: number;
  epoch: number;
  recordedAt: string;
}

let world: NodeWorld;
beforeEach(async () => {
  world = await NodeWorld.start({ spec: { sweep: SWEEP } });
}, 120_000);
afterEach(async () => world?.close());

const rungKey = (rung: number): string => `sweeps/${SWEEP_ID}/rungs/${rung}.json`;

async function rungEntries(rung: number): Promise<Entry[] | undefined> {
  return (await world.s3.getJson<{ entries: Entry[] }>(world.bucket, rungKey(rung)))?.entries;
}

/** Other trials that reached the rung before this one. */
async function seedRung(rung: number, epoch: number, entries: Array<{ trialId: string; value: number }>): Promise<void> {
  const record = { schemaVersion: 1, sweepId: SWEEP_ID, rung, epoch, entries: entries.map((e) => ({ ...e, epoch, recordedAt: "2026-12-01T00:00:00.000Z" })) };
  await world.s3.putObject(world.bucket, rungKey(rung), JSON.stringify(record));
}

/** First node: records rung 0 (first there), then hangs in epoch 2 until a spot notice interrupts it. */
async function interruptAfterRungZero(): Promise<void> {
  const first = world.runAgent({ env: { ...CURVE([0.3, 0.35, 0.4, 0.45]), STANDIN_HANG_AT_EPOCH: "2" } });
  await waitForRecord(world, (r) => r.checkpoint?.epoch === 1 && (r.sweep?.rungs.length ?? 0) === 1);
  world.imds.triggerSpotNotice();
  await expectExit(first, EXIT.interrupted);
  expect(await rungEntries(0)).toEqual([expect.objectContaining({ trialId: SWEEP.trialId, value: 0.3, epoch: 1 })]);
  expect((await storedRecord(world)).phase).toBe("interrupted");
  world.replaceNode(REPLACEMENT);
}

describe("a sweep trial", () => {
  it("that is first at its rungs continues and completes, leaving its release to the sweep", async () => {
    const agent = world.runAgent({ env: CURVE([0.3, 0.35, 0.4, 0.45]) });
    const { stdout } = await expectExit(agent, EXIT.done);
    const record = await storedRecord(world);
    expect(record.phase).toBe("completed");
    // Only the sweep's winner is released, by the sweep keeper: the model stays in the artifact bucket.
    expect(record.release).toBeNull();
    expect(record.releaseBlocked).toBeNull();
    expect(record.history?.at(-1)).toMatchObject({ phase: "completed", note: SWEEP_TRIAL_RELEASE_NOTE });
    expect(await otaKeys(world)).toEqual([]);
    expect((await runKeys(world)).filter((k) => k.startsWith("model/")).sort()).toEqual(["model/best.onnx", "model/best.pt", "model/result.json"]);
    expect(stdout).toContain('"event":"release-left-to-sweep"');
    expect(world.kms.calls).toEqual([]);
    expect(record.sweep).toEqual({
      rungs: [
        { rung: 0, epoch: 1, value: 0.3, promote: true, cutoff: null, earlier: 0 },
        { rung: 1, epoch: 3, value: 0.4, promote: true, cutoff: null, earlier: 0 },
      ],
      stoppedAt: null,
    });
    expect(await rungEntries(0)).toEqual([expect.objectContaining({ trialId: SWEEP.trialId, value: 0.3, epoch: 1 })]);
    expect(await rungEntries(1)).toEqual([expect.objectContaining({ trialId: SWEEP.trialId, value: 0.4, epoch: 3 })]);
    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
    await expectCleanRun(world);
  }, 60_000);

  it("below the cutoff of the trials before it stops early: no release, its checkpoint durable, teardown once", async () => {
    await seedRung(0, 1, [
      { trialId: "trial-a", value: 0.5 },
      { trialId: "trial-b", value: 0.6 },
    ]);
    // The trainer hangs in epoch 2 until stopped: only the rung decision can end this run.
    const agent = world.runAgent({ env: { ...CURVE([0.2, 0.3, 0.4, 0.5]), STANDIN_HANG_AT_EPOCH: "2" } });
    await expectExit(agent, EXIT.done);

    const record = await storedRecord(world);
    expect(record.phase).toBe("stopped-early");
    expect(record.error).toBeNull();
    // η = 2: the median of 0.5 and 0.6.
    const stoppedAt = { rung: 0, epoch: 1, value: 0.2, cutoff: 0.55, earlier: 2 };
    expect(record.sweep).toEqual({ rungs: [{ ...stoppedAt, promote: false }], stoppedAt });
    expect(historyPhases(record).at(-1)).toBe("stopped-early");
    expect(record.history?.at(-1)).toMatchObject({ note: expect.stringContaining("stopped early by the sweep at rung 0 (epoch 1): value 0.2 < cutoff 0.55") });
    expect((await rungEntries(0))?.map((e) => e.trialId)).toEqual(["trial-a", "trial-b", SWEEP.trialId]);

    // The trainer was stopped (before its last epochs), nothing was released, the node went once.
    const events = eventsOfStart(world.standInEvents(), 1);
    expect(events.some((e) => e.event === "signal")).toBe(true);
    expect(events.filter((e) => e.event === "checkpoint").map((e) => e.epoch)).toEqual([1]);
    expect(await world.survivingTrainers()).toEqual([]);
    expect(await otaKeys(world)).toEqual([]);
    const keys = await runKeys(world);
    expect(keys.filter((k) => k.startsWith("model/"))).toEqual([]);
    expect(keys).toEqual(expect.arrayContaining(["checkpoints/phase-0/last.pt", "run.json"]));
    expect(record.checkpoint).toMatchObject({ phase: 0 });
    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
    expect(world.asg.desiredCapacity(world.groupName)).toBe(0);
    await expectCleanRun(world);

    // Final, like completed: a node launched for the run anyway neither trains nor rewrites the record.
    const firstNode = world.imds.instanceId;
    world.replaceNode(REPLACEMENT);
    const relaunched = world.runAgent();
    const { stdout } = await expectExit(relaunched, EXIT.done);
    expect(stdout).toContain('"event":"already-stopped-early"');
    expect(world.standInEvents().filter((e) => e.event === "start")).toHaveLength(1);
    expect(await storedRecord(world)).toEqual(record);
    expect(autoScalingCalls(world)).toEqual([teardownOf(firstNode), teardownOf(REPLACEMENT)]);
  }, 60_000);

  it("whose trainer failed right after a rung it must stop at is not relaunched", async () => {
    await seedRung(0, 1, [{ trialId: "trial-a", value: 0.5 }]);
    // The crash (early in epoch 2) usually comes before the decision: the relaunch path decides it.
    // Either order ends the same way, which is what is checked.
    const agent = world.runAgent({ env: { ...CURVE([0.2, 0.3, 0.4, 0.5]), STANDIN_EPOCH_MS: "20", STANDIN_CRASH_AT_EPOCH: "2", STANDIN_CRASH_ATTEMPTS: "1" } });
    await expectExit(agent, EXIT.done);
    const record = await storedRecord(world);
    expect(record.phase).toBe("stopped-early");
    expect(record.sweep?.stoppedAt).toEqual({ rung: 0, epoch: 1, value: 0.2, cutoff: 0.5, earlier: 1 });
    expect(world.standInEvents().filter((e) => e.event === "start")).toHaveLength(1);
    expect((await rungEntries(0))?.map((e) => e.trialId)).toEqual(["trial-a", SWEEP.trialId]);
    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
  }, 60_000);

  it("that ties with the cutoff continues", async () => {
    await seedRung(0, 1, [
      { trialId: "trial-a", value: 0.1 },
      { trialId: "trial-b", value: 0.3 },
      { trialId: "trial-c", value: 0.3 },
    ]);
    const agent = world.runAgent({ env: CURVE([0.3, 0.35, 0.4, 0.45]) });
    await expectExit(agent, EXIT.done);
    const record = await storedRecord(world);
    expect(record.phase).toBe("completed");
    expect(record.sweep?.rungs[0]).toEqual({ rung: 0, epoch: 1, value: 0.3, promote: true, cutoff: 0.3, earlier: 3 });
    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
  }, 60_000);

  it("interrupted after recording rung 0 resumes, keeps its one rung-0 entry and decides at rung 1", async () => {
    await interruptAfterRungZero();
    const second = world.runAgent({ env: CURVE([0.3, 0.35, 0.4, 0.45]) });
    await expectExit(second, EXIT.done);

    const start = eventsOfStart(world.standInEvents(), 2)[0]!;
    expect(start.resumedFrom).toMatchObject({ phase: 0, epoch: 1 });
    expect(await rungEntries(0)).toEqual([expect.objectContaining({ trialId: SWEEP.trialId, value: 0.3, epoch: 1 })]);
    expect(await rungEntries(1)).toEqual([expect.objectContaining({ trialId: SWEEP.trialId, value: 0.4, epoch: 3 })]);
    const record = await storedRecord(world);
    expect(record.phase).toBe("completed");
    expect(record.sweep?.rungs.map((r) => [r.rung, r.promote])).toEqual([
      [0, true],
      [1, true],
    ]);
    expect(autoScalingCalls(world)).toEqual([teardownOf(REPLACEMENT)]);
    await expectCleanRun(world);
  }, 60_000);

  it("without the metric at a rung is judged as the worst: it stops when others were there first, and adds no entry", async () => {
    await seedRung(0, 1, [{ trialId: "trial-a", value: 0.1 }]);
    const agent = world.runAgent({ env: { ...CURVE([null as unknown as number, 0.3]), STANDIN_HANG_AT_EPOCH: "2" } });
    const { stdout } = await expectExit(agent, EXIT.done);
    const record = await storedRecord(world);
    expect(record.phase).toBe("stopped-early");
    expect(record.sweep?.stoppedAt).toMatchObject({ rung: 0, epoch: 1, cutoff: 0.1, earlier: 1 });
    expect(stdout).toContain('"event":"rung-metric-missing"');
    expect((await rungEntries(0))?.map((e) => e.trialId)).toEqual(["trial-a"]);
    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
  }, 60_000);

  it("whose rung record cannot be used trains on to the end, trying the rung again at later epochs", async () => {
    // Not a rung record: the store refuses to read or write over it (as with S3 down after its retries).
    await world.s3.putObject(world.bucket, rungKey(0), "not json");
    const agent = world.runAgent({ env: CURVE([0.3, 0.35, 0.4, 0.45]) });
    const { stdout } = await expectExit(agent, EXIT.done);
    const record = await storedRecord(world);
    expect(record.phase).toBe("completed");
    const failures = stdout.split("\n").filter((line) => line.includes('"event":"rung-io-failed"'));
    // At epoch 1, then again with each later epoch line until the trial finished.
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures.every((line) => line.includes('"rung":0'))).toBe(true);
    expect(record.sweep?.rungs.map((r) => r.rung)).toEqual([1]);
    expect((await world.s3.getObject(world.bucket, rungKey(0)))?.toString()).toBe("not json");
    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
  }, 60_000);

  it("resumed after a rung decision that was stop stops without training", async () => {
    await interruptAfterRungZero();
    // The stored rung says stop: a better trial's entry came first (the agent went before it could act).
    const own = (await rungEntries(0))!;
    await seedRung(0, 1, [{ trialId: "trial-a", value: 0.9 }]);
    const seeded = await world.s3.getJson<{ entries: Entry[] }>(world.bucket, rungKey(0));
    await world.s3.putObject(world.bucket, rungKey(0), JSON.stringify({ ...seeded, entries: [...seeded!.entries, ...own] }));

    const second = world.runAgent({ env: CURVE([0.3, 0.35, 0.4, 0.45]) });
    await expectExit(second, EXIT.done);
    expect(world.standInEvents().filter((e) => e.event === "start")).toHaveLength(1);
    const record = await storedRecord(world);
    expect(record.phase).toBe("stopped-early");
    expect(record.sweep?.stoppedAt).toEqual({ rung: 0, epoch: 1, value: 0.3, cutoff: 0.9, earlier: 1 });
    expect((await rungEntries(0))?.map((e) => e.trialId)).toEqual(["trial-a", SWEEP.trialId]);
    expect(await otaKeys(world)).toEqual([]);
    expect(autoScalingCalls(world)).toEqual([teardownOf(REPLACEMENT)]);
  }, 60_000);
});

describe("a sweep trial that is not stopped early (ASHA off: no rungs, η null)", () => {
  let plain: NodeWorld;
  beforeEach(async () => {
    plain = await NodeWorld.start({ spec: { sweep: { ...SWEEP, reductionFactor: null, rungs: [] } } });
  }, 120_000);
  afterEach(async () => plain?.close());

  it("trains to its end and still leaves its release to the sweep, touching no rung record", async () => {
    const agent = plain.runAgent({ env: CURVE([0.3, 0.35, 0.4, 0.45]) });
    const { stdout } = await expectExit(agent, EXIT.done);
    const record = await storedRecord(plain);
    expect(record.phase).toBe("completed");
    expect(record.epoch).toBe(4);
    expect(record.release).toBeNull();
    expect(record.history?.at(-1)).toMatchObject({ phase: "completed", note: SWEEP_TRIAL_RELEASE_NOTE });
    expect(await otaKeys(plain)).toEqual([]);
    expect(plain.kms.calls).toEqual([]);
    expect(stdout).not.toContain('"event":"rung-decision"');
    expect(await plain.s3.listKeys(plain.bucket, "sweeps/")).toEqual([]);
    expect(autoScalingCalls(plain)).toEqual([teardownOf(plain.imds.instanceId)]);
  }, 60_000);
});
