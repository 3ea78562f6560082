import { EXIT, NodeWorld, type AgentRun } from "../fakes/nodeWorld";
import type { RunRecord } from "../fakes/runRecordAuditor";
import {
  autoScalingCalls,
  eventsOfStart,
  expectCleanRun,
  expectDurableCheckpoint,
  expectExit,
  historyPhases,
  storedRecord,
  teardownOf,
} from "../fakes/runExpectations";

/**
 * A spot notice (or a stop signal) that comes before the trainer starts: while the agent reads the
 * record, downloads the checkpoint or the starting weights (docs/node-runtime.md, "Record
 * semantics"). The node is about to vanish, so the agent cuts the download short, launches no
 * trainer, counts no attempt, records `interrupted` saying when the notice came, and exits 75
 * without teardown, as it would during training; the next node resumes.
 */

const EPOCH_MS = 300;
/** The world's spot poll interval (nodeWorld.ts FAST_POLLS). */
const SPOT_POLL_MS = 100;
/** How long the fault proxy holds back a slowed download: far longer than the agent may take to stop. */
const SLOW_DOWNLOAD_MS = 15_000;
/** Notice → agent gone: a poll or two, the record write and the process exit; nowhere near the held download. */
const STOPS_WITHIN_MS = 20 * SPOT_POLL_MS;

/** Resolves once a GET of `key` reaches S3 (through the proxy) after request number `afterSeq`. */
async function downloadStarted(world: NodeWorld, agent: AgentRun, key: string, afterSeq: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!world.proxy.requests.some((r) => r.seq > afterSeq && r.method === "GET" && r.key === key)) {
    if (Date.now() > deadline) throw new Error(`node ${agent.node} never asked for ${key}\n${agent.output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Well inside the download, not at its first byte.
  await new Promise((resolve) => setTimeout(resolve, 300));
}

describe("a spot notice during the checkpoint download of a replacement node", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start();
  }, 120_000);
  afterAll(async () => world?.close());

  let interrupted: RunRecord;

  it("follows a first node that trained and was interrupted with its checkpoint durable", async () => {
    const first = world.runAgent({ env: { STANDIN_EPOCH_MS: String(EPOCH_MS) } });
    await first.waitForStandIn((e) => e.event === "epoch-start" && e.overall === 2);
    world.imds.triggerSpotNotice();
    await expectExit(first, EXIT.interrupted);
    interrupted = await storedRecord(world);
    expect(interrupted).toMatchObject({ phase: "interrupted", attempts: 1, interruptions: 0 });
    await expectDurableCheckpoint(world, interrupted, { phase: 0 });
  }, 60_000);

  it("makes the next node stop the download, launch no trainer, count no attempt, record when the notice came and exit 75 without teardown", async () => {
    world.replaceNode("i-0a1b2c3d4e5f60002");
    const checkpointKey = interrupted.checkpoint!.key;
    const seqBefore = world.proxy.requests.length;
    world.proxy.injectFaults([{ requests: 1, delayMs: SLOW_DOWNLOAD_MS, only: (r) => r.method === "GET" && r.key === checkpointKey }]);
    const second = world.runAgent({ env: { STANDIN_EPOCH_MS: String(EPOCH_MS) } });
    await downloadStarted(world, second, checkpointKey, seqBefore);

    const notice = world.imds.triggerSpotNotice();
    const noticeAt = Date.now();
    const exit = await expectExit(second, EXIT.interrupted);
    // Stopped at the notice, not once the download was done.
    expect(exit.exitedAt - noticeAt).toBeLessThan(STOPS_WITHIN_MS);

    // Only the first node's trainer ever started.
    expect(world.standInEvents().filter((e) => e.event === "start")).toHaveLength(1);
    expect(autoScalingCalls(world)).toEqual([]);
    expect(world.asg.desiredCapacity(world.groupName)).toBe(1);

    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "interrupted", attempts: 1, interruptions: 1, checkpoint: interrupted.checkpoint });
    expect(record.error).toBe(`spot interruption notice during the checkpoint download: ${notice.action} at ${notice.time}; no trainer launched`);
    expect(historyPhases(record)).toEqual(["starting", "training", "interrupted", "starting", "interrupted"]);
    await expectCleanRun(world);
  }, 60_000);

  it("lets the node after it resume from the same checkpoint and complete, two interruptions counted", async () => {
    const third = "i-0a1b2c3d4e5f60003";
    world.replaceNode(third);
    await expectExit(world.runAgent({ env: { STANDIN_EPOCH_MS: String(EPOCH_MS) } }), EXIT.done);

    expect(eventsOfStart(world.standInEvents(), 2)[0]!.resumedFrom).toMatchObject({ sha256: interrupted.checkpoint!.sha256 });
    expect(autoScalingCalls(world)).toEqual([teardownOf(third)]);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", attempts: 2, interruptions: 2, startedAt: interrupted.startedAt });
    expect(historyPhases(record)).toEqual(["starting", "training", "interrupted", "starting", "interrupted", "starting", "training", "uploading", "completed"]);
    await expectCleanRun(world);
  }, 60_000);
});

describe("a stop before any trainer on a fresh run", () => {
  /** The run spec's default artifact bucket (test/runspec/experimentConfig.ts) holds the starting weights. */
  const ARTIFACT_BUCKET = "yolo-train-dev-artifacts";
  const MODEL_KEY = "weights/starting.pt";
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ spec: { model: `s3://${ARTIFACT_BUCKET}/${MODEL_KEY}` } });
    expect(world.bucket).toBe(ARTIFACT_BUCKET);
    await world.s3.putObject(world.bucket, MODEL_KEY, Buffer.alloc(64 * 1024, 7));
  }, 120_000);
  afterAll(async () => world?.close());

  it("exits 75 at once when the notice is there at agent start: no trainer, no attempt, no teardown", async () => {
    const notice = world.imds.triggerSpotNotice();
    await expectExit(world.runAgent(), EXIT.interrupted);

    expect(world.standInEvents()).toEqual([]);
    expect(autoScalingCalls(world)).toEqual([]);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "interrupted", attempts: 0, interruptions: 0, checkpoint: null });
    expect(record.error).toBe(`spot interruption notice at agent start: ${notice.action} at ${notice.time}; no trainer launched`);
    expect(historyPhases(record)).toEqual(["starting", "interrupted"]);
    await expectCleanRun(world);
  }, 60_000);

  it("treats SIGTERM during the starting weights download the same way", async () => {
    world.replaceNode("i-0a1b2c3d4e5f60002");
    const seqBefore = world.proxy.requests.length;
    world.proxy.injectFaults([{ requests: 1, delayMs: SLOW_DOWNLOAD_MS, only: (r) => r.method === "GET" && r.key === MODEL_KEY }]);
    const second = world.runAgent();
    await downloadStarted(world, second, MODEL_KEY, seqBefore);

    const signalledAt = Date.now();
    process.kill(second.pid!, "SIGTERM");
    const exit = await expectExit(second, EXIT.interrupted);
    expect(exit.exitedAt - signalledAt).toBeLessThan(STOPS_WITHIN_MS);

    expect(world.standInEvents()).toEqual([]);
    expect(autoScalingCalls(world)).toEqual([]);
    const record = await storedRecord(world);
    // Not "failed": a download cut short by the stop is no reason to give the run up.
    expect(record).toMatchObject({ phase: "interrupted", attempts: 0, interruptions: 1 });
    expect(record.error).toBe("agent received SIGTERM during the starting weights download; no trainer launched");
    expect(historyPhases(record)).toEqual(["starting", "interrupted", "starting", "interrupted"]);
    await expectCleanRun(world);
  }, 60_000);
});
