import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import type { RunRecord } from "../fakes/runRecordAuditor";
import { autoScalingCalls, eventsOfStart, expectCleanRun, expectExit, storedRecord, teardownOf, waitForRecord } from "../fakes/runExpectations";

/**
 * A checkpoint S3 no longer holds intact (docs/node-runtime.md, "A corrupt checkpoint does not
 * restart the run"). The artifact bucket keeps versions, as on AWS; a version's bytes are damaged
 * in place (`corruptVersion`), so it no longer hashes to the sha256 the record names.
 */

const REPLACEMENT = "i-0a1b2c3d4e5f60002";

interface Ref {
  readonly key: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly phase: number;
  readonly epoch: number;
  readonly versionId: string | null;
}
type FullRecord = RunRecord & {
  readonly previousCheckpoint: Ref | null;
  readonly checkpointFailures: Array<{ key: string; versionId: string | null; sha256: string; reason: string; outcome: string }>;
};

const spec = (restartIfCheckpointLost?: boolean) => ({
  train: { epochs: 8, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} },
  limits: { maxRuntimeHours: 2, idleMinutes: 15, idleGpuPercent: 5, ...(restartIfCheckpointLost !== undefined ? { restartIfCheckpointLost } : {}) },
});

/** A first node trains past epoch 2 and is interrupted: its record names a checkpoint and the previous one. */
async function interruptedRun(world: NodeWorld): Promise<{ checkpoint: Ref; previous: Ref }> {
  // Slow epochs: the notice must come while training goes on.
  const first = world.runAgent({ env: { STANDIN_EPOCH_MS: "800" } });
  await waitForRecord<FullRecord>(world, (r) => (r.checkpoint?.epoch ?? 0) >= 2 && r.previousCheckpoint !== null);
  world.imds.triggerSpotNotice();
  await expectExit(first, EXIT.interrupted);
  const record = (await storedRecord(world)) as FullRecord;
  const checkpoint = record.checkpoint as Ref;
  const previous = record.previousCheckpoint!;
  // Both are versions of the one key, each named by its version id.
  expect(previous.key).toBe(checkpoint.key);
  expect(checkpoint.versionId).not.toBeNull();
  expect(previous.versionId).not.toBe(checkpoint.versionId);
  expect(previous.epoch).toBeLessThan(checkpoint.epoch);
  world.replaceNode(REPLACEMENT);
  return { checkpoint, previous };
}

/** Bit rot: the version's bytes change, its `sha256` metadata stays. */
async function corrupt(world: NodeWorld, ref: Ref): Promise<void> {
  const bytes = Buffer.alloc(ref.bytes, 0x5a);
  await world.proxy.corruptVersion(world.bucket, ref.key, ref.versionId!, bytes);
}

describe("a corrupt newest checkpoint", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ spec: spec() });
  }, 120_000);
  afterAll(async () => world?.close());

  it("is recorded as evidence and the run resumes from the previous good version, not from epoch 0", async () => {
    const { checkpoint, previous } = await interruptedRun(world);
    await corrupt(world, checkpoint);

    const second = world.runAgent({ env: { STANDIN_EPOCH_MS: "200" } });
    await expectExit(second, EXIT.done);
    const start = eventsOfStart(world.standInEvents(), 2)[0]!;
    expect(start.resumedFrom).toMatchObject({ kind: "last", phase: 0, epoch: previous.epoch, sha256: previous.sha256 });

    const record = (await storedRecord(world)) as FullRecord;
    expect(record).toMatchObject({ phase: "completed", attempts: 2, epoch: 8, error: null });
    expect(record.checkpointFailures).toEqual([
      expect.objectContaining({ key: checkpoint.key, versionId: checkpoint.versionId, sha256: checkpoint.sha256, outcome: "previous-checkpoint", reason: expect.stringMatching(/sha256/) }),
    ]);
    const launch = (record.history ?? []).filter((h) => h.phase === "training").at(-1) as { note?: string };
    expect(launch.note).toMatch(/resuming from the previous checkpoint/);
    // The damaged version is still there for a person to look at.
    expect(world.proxy.versionsOf(world.bucket, checkpoint.key)).toContain(checkpoint.versionId);
    await expectCleanRun(world, [checkpoint.sha256]);
  }, 90_000);
});

describe("a run whose checkpoint and previous checkpoint are both corrupt", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ spec: spec() });
  }, 120_000);
  afterAll(async () => world?.close());

  it("fails with the reason and tears down instead of training from scratch over the evidence", async () => {
    const { checkpoint, previous } = await interruptedRun(world);
    await corrupt(world, checkpoint);
    await corrupt(world, previous);
    const versionsBefore = world.proxy.versionsOf(world.bucket, checkpoint.key);

    const second = world.runAgent();
    await expectExit(second, EXIT.done);
    expect(world.standInEvents().filter((e) => e.event === "start")).toHaveLength(1);
    const record = (await storedRecord(world)) as FullRecord;
    expect(record.phase).toBe("failed");
    expect(record.error).toMatch(/unusable.*unusable.*restartIfCheckpointLost/s);
    expect(record.checkpointFailures.map((f) => [f.versionId, f.outcome])).toEqual([
      [checkpoint.versionId, "previous-checkpoint"],
      [previous.versionId, "failed"],
    ]);
    // Nothing overwrote the key: every version is still the first node's.
    expect(world.proxy.versionsOf(world.bucket, checkpoint.key)).toEqual(versionsBefore);
    expect(autoScalingCalls(world)).toEqual([teardownOf(REPLACEMENT)]);
    await expectCleanRun(world, [checkpoint.sha256, previous.sha256]);
  }, 90_000);
});

describe("a run that allows a fresh start when its checkpoints are lost", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ spec: spec(true) });
  }, 120_000);
  afterAll(async () => world?.close());

  it("trains again from the starting weights, saying so in the record", async () => {
    const { checkpoint, previous } = await interruptedRun(world);
    await corrupt(world, checkpoint);
    await corrupt(world, previous);

    await expectExit(world.runAgent({ env: { STANDIN_EPOCH_MS: "100" } }), EXIT.done);
    expect(eventsOfStart(world.standInEvents(), 2)[0]!.resumedFrom ?? null).toBeNull();
    const record = (await storedRecord(world)) as FullRecord;
    expect(record).toMatchObject({ phase: "completed", epoch: 8 });
    expect(record.checkpointFailures.map((f) => f.outcome)).toEqual(["previous-checkpoint", "fresh-start"]);
    const launch = (record.history ?? []).filter((h) => h.phase === "training").at(-1) as { note?: string };
    expect(launch.note).toMatch(/starting afresh \(limits\.restartIfCheckpointLost\)/);
    await expectCleanRun(world, [checkpoint.sha256, previous.sha256]);
  }, 90_000);
});

describe("a checkpoint S3 cannot serve for a while", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ spec: spec() });
  }, 120_000);
  afterAll(async () => world?.close());

  it("is not judged: the agent records why, exits 70 for the host to relaunch it, and the relaunch resumes it", async () => {
    const { checkpoint } = await interruptedRun(world);
    world.proxy.injectFaults([{ requests: 1000, failEvery: 1, status: 503, only: (r) => r.method === "GET" && r.key === checkpoint.key }]);
    const scratch = `${world.root}/relaunched-scratch`;
    // Every GET of the checkpoint fails with 503 SlowDown, which the SDK retries as throttling
    // (backoff from 0.5 s up to 8 s, 5 tries by default) inside each of the agent's own 6 tries:
    // about a minute of waiting. Two SDK tries per request (AWS_MAX_ATTEMPTS, the SDK's standard
    // setting) keep both retry layers at work and the outcome the same, in a few seconds.
    const second = world.runAgent({ scratch, timeoutMs: 90_000, env: { AWS_MAX_ATTEMPTS: "2" } });
    await expectExit(second, EXIT.internalError);
    const failed = (await storedRecord(world)) as FullRecord;
    expect(failed.phase).toBe("failed");
    expect(failed.error).toMatch(/could not be downloaded.*not starting over/);
    // Still the same checkpoint, nothing judged unusable, no teardown: the host relaunches the agent.
    expect(failed.checkpoint).toMatchObject({ versionId: checkpoint.versionId });
    expect(failed.checkpointFailures).toEqual([]);
    expect(autoScalingCalls(world)).toEqual([]);
    expect(world.standInEvents().filter((e) => e.event === "start")).toHaveLength(1);

    world.proxy.injectFaults([]);
    await expectExit(world.runAgent({ scratch }), EXIT.done);
    expect(eventsOfStart(world.standInEvents(), 2)[0]!.resumedFrom).toMatchObject({ epoch: checkpoint.epoch, sha256: checkpoint.sha256 });
    expect(await storedRecord(world)).toMatchObject({ phase: "completed", epoch: 8 });
    await expectCleanRun(world);
  }, 150_000);
});
