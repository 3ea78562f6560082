import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import type { RunRecord } from "../fakes/runRecordAuditor";
import { eventsOfStart, expectCleanRun, expectDurableCheckpoint, expectExit, lastCheckpointWritten, storedRecord } from "../fakes/runExpectations";
import { checkpointHeader } from "../fakes/standInCheckpoint";

/**
 * Issue 9, items 8 and 1: which versions of `last.pt` go up while the trainer runs. A whole
 * checkpoint goes up as soon as a poll finds it, however often it is rewritten; while an upload runs
 * only the newest whole version waits; and nothing older than the durable checkpoint replaces it.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects the epoch of every checkpoint object PUT to the run's phase-0 key (single PUTs: the stand-in's are small). */
function recordCheckpointUploads(world: NodeWorld, holdMs = 0): number[] {
  const epochs: number[] = [];
  world.proxy.inspect(
    (r) => r.method === "PUT" && r.key === `${world.prefix}checkpoints/phase-0/last.pt` && !/(^|&)(uploadId|partNumber)=/.test(r.query),
    async (_request, body) => {
      epochs.push(checkpointHeader(body).epoch);
      if (holdMs > 0) await sleep(holdMs);
    },
  );
  return epochs;
}

const train = (epochs: number) => ({ train: { epochs, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } });

describe("a checkpoint rewritten more often than the agent polls", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ spec: train(12) });
  }, 120_000);
  afterAll(async () => world?.close());

  it("still goes up during training: a poll that finds it whole uploads it", async () => {
    // Rewritten every 500 ms, polled every 2 s (the default): two polls never see the same version.
    const agent = world.runAgent({ env: { STANDIN_CHECKPOINT_FORMAT: "zip", STANDIN_EPOCH_MS: "500", YOLO_TRAIN_WATCH_MS: "2000" } });
    await expectExit(agent, EXIT.done);

    const events = world.standInEvents();
    const writes = events.filter((e) => e.event === "checkpoint").map((e) => e.at);
    expect(Math.max(...writes.slice(1).map((at, i) => at - writes[i]!))).toBeLessThan(1000);
    const trainerExited = events.find((e) => e.event === "exit")!.at;

    // Records written before the trainer ended name a checkpoint (the auditor checked, as each was
    // written, that S3 held that object whole: expectCleanRun below).
    const namedWhileTraining = world.auditor.versions.filter((v) => v.at < trainerExited && v.record.checkpoint);
    expect(namedWhileTraining.map((v) => v.record.phase)).toContain("training");
    expect(await storedRecord(world)).toMatchObject({ phase: "completed", checkpoint: { phase: 0, epoch: 12 } });
    await expectCleanRun(world);
  }, 60_000);
});

describe("checkpoints written faster than S3 takes them", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ spec: train(16) });
  }, 120_000);
  afterAll(async () => world?.close());

  it("go up newest first: after each upload the newest whole version goes next, the ones between are skipped", async () => {
    // Each checkpoint PUT takes a second; the trainer writes one every 200 ms and the agent polls every 100 ms.
    const uploaded = recordCheckpointUploads(world, 1000);
    const agent = world.runAgent({ env: { STANDIN_CHECKPOINT_FORMAT: "zip", STANDIN_EPOCH_MS: "200" } });
    await expectExit(agent, EXIT.done);

    const written = world.standInEvents().filter((e) => e.event === "checkpoint").length;
    expect(written).toBe(16);
    // Strictly newer each time, and far fewer uploads than versions: none queued behind another.
    expect(uploaded).toEqual([...new Set(uploaded)].sort((a, b) => a - b));
    expect(uploaded.length).toBeLessThanOrEqual(written / 2);
    expect(uploaded[uploaded.length - 1]).toBe(16);
    expect(await storedRecord(world)).toMatchObject({ phase: "completed", checkpoint: { phase: 0, epoch: 16 } });
    await expectCleanRun(world);
  }, 60_000);
});

describe("a checkpoint older than the durable one", () => {
  const REPLACEMENT = "i-0a1b2c3d4e5f60002";
  let world: NodeWorld;
  let interrupted: RunRecord;
  beforeAll(async () => {
    world = await NodeWorld.start({ spec: train(6) });
  }, 120_000);
  afterAll(async () => world?.close());

  it("(the first node is interrupted with epoch 3 durable)", async () => {
    // Epochs long enough that the notice, sent as epoch 4 starts, stops the trainer before it
    // writes epoch 4 even on a loaded CI machine (at 300 ms it sometimes did not).
    const first = world.runAgent({ env: { STANDIN_EPOCH_MS: "1500" } });
    await first.waitForStandIn((e) => e.event === "epoch-start" && e.overall === 4);
    world.imds.triggerSpotNotice();
    await expectExit(first, EXIT.interrupted);
    expect(lastCheckpointWritten(eventsOfStart(world.standInEvents(), 1))).toEqual({ phase: 0, epoch: 3 });
    interrupted = await storedRecord(world);
    await expectDurableCheckpoint(world, interrupted, { phase: 0, epoch: 3 });
  }, 60_000);

  it("is never uploaded over it: a trainer that starts over from epoch 1 leaves epoch 3 durable until it passes it", async () => {
    world.replaceNode(REPLACEMENT);
    const uploaded = recordCheckpointUploads(world);
    const versionsBefore = world.auditor.versions.length;
    const second = world.runAgent({ env: { STANDIN_EPOCH_MS: "300", STANDIN_START_OVER: "1" } });
    const { stdout } = await expectExit(second, EXIT.done);

    // The premise: the trainer was handed epoch 3 and wrote epochs 1 and 2 again anyway.
    const events = eventsOfStart(world.standInEvents(), 2);
    expect(events[0]).toMatchObject({ resumedFrom: { phase: 0, epoch: 3 } });
    expect(events.filter((e) => e.event === "checkpoint").map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5, 6]);

    expect(uploaded.filter((epoch) => epoch < 3)).toEqual([]);
    expect(uploaded).toContain(6);
    // No record of this node named anything older than epoch 3.
    const named = world.auditor.versions.slice(versionsBefore).map((v) => v.record.checkpoint?.epoch);
    expect(named.filter((epoch) => epoch === undefined || epoch === null || epoch < 3)).toEqual([]);
    expect(stdout).toMatch(/"event":"checkpoint-older-than-durable"/);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", attempts: 2, interruptions: 1 });
    await expectDurableCheckpoint(world, record, { phase: 0, epoch: 6 });
    await expectCleanRun(world);
  }, 60_000);
});
