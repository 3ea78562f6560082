import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import type { RunRecord } from "../fakes/runRecordAuditor";
import { eventsOfStart, expectCleanRun, expectExit, storedRecord, waitForRecord } from "../fakes/runExpectations";
import { checkpointHeader, sha256Hex } from "../fakes/standInCheckpoint";

/**
 * The model a resumed run publishes is its best epoch's (docs/node-runtime.md, "best.pt is kept
 * durable beside last.pt"). The stand-in's fitness stops improving after STANDIN_BEST_UNTIL, so its
 * best.pt is older than its last.pt, as ultralytics' is once a run overfits.
 */

const REPLACEMENT = "i-0a1b2c3d4e5f60002";

/** Waits until the stored record satisfies `ready`. */
/** The stand-in header of the object the record's `bestCheckpoint` names, checked against the record. */
async function durableBest(world: NodeWorld, record: RunRecord): Promise<ReturnType<typeof checkpointHeader>> {
  const best = (record as { bestCheckpoint?: { key: string; sha256: string; bytes: number } | null }).bestCheckpoint;
  if (!best) throw new Error(`the ${record.phase} record names no best.pt`);
  expect(best.key).toBe(`${world.prefix}checkpoints/phase-0/best.pt`);
  const bytes = (await world.s3.getObject(world.bucket, best.key))!;
  expect({ sha256: sha256Hex(bytes), bytes: bytes.length }).toEqual({ sha256: best.sha256, bytes: best.bytes });
  return checkpointHeader(bytes);
}

describe("a run interrupted after its best epoch", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ spec: { train: { epochs: 5, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } } });
  }, 120_000);
  afterAll(async () => world?.close());

  it("keeps best.pt durable beside last.pt while it trains", async () => {
    const first = world.runAgent({ env: { STANDIN_EPOCH_MS: "300", STANDIN_BEST_UNTIL: "2" } });
    const record = await waitForRecord(world, (r) => (r.checkpoint?.epoch ?? 0) >= 3);
    world.imds.triggerSpotNotice();
    await expectExit(first, EXIT.interrupted);
    // Epoch 2 was the best; epochs 3 and later did not improve, so best.pt stayed epoch 2's.
    expect(await durableBest(world, record)).toEqual({ kind: "best", runId: world.spec.runId, phase: 0, epoch: 2 });
    expect(await durableBest(world, await storedRecord(world))).toMatchObject({ epoch: 2 });
    await expectCleanRun(world);
  }, 60_000);

  it("restores it on the replacement node, so the completed run publishes epoch 2's weights, not the last epoch's", async () => {
    world.replaceNode(REPLACEMENT);
    const second = world.runAgent({ env: { STANDIN_EPOCH_MS: "300", STANDIN_BEST_UNTIL: "2" } });
    await expectExit(second, EXIT.done);
    // The replacement trained on from the checkpoint, and no later epoch beat epoch 2.
    const trained = eventsOfStart(world.standInEvents(), 2).filter((e) => e.event === "checkpoint").map((e) => e.epoch);
    expect(trained.at(-1)).toBe(5);
    expect(eventsOfStart(world.standInEvents(), 2).filter((e) => e.event === "best")).toEqual([]);

    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", attempts: 2, epoch: 5 });
    expect(checkpointHeader((await world.object("model/best.pt"))!)).toEqual({ kind: "best", runId: world.spec.runId, phase: 0, epoch: 2 });
    await expectCleanRun(world);
  }, 60_000);
});

describe("a run interrupted after its last epoch, during the final evaluation", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ spec: { train: { epochs: 3, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } } });
  }, 120_000);
  afterAll(async () => world?.close());

  it("evaluates and publishes the restored best.pt when the replacement finds the run already complete", async () => {
    const env = { STANDIN_EPOCH_MS: "300", STANDIN_BEST_UNTIL: "1", STANDIN_FINAL_MS: "15000" };
    const first = world.runAgent({ env });
    await waitForRecord(world, (r) => (r.checkpoint?.epoch ?? 0) >= 3);
    world.imds.triggerSpotNotice();
    await expectExit(first, EXIT.interrupted);

    world.replaceNode(REPLACEMENT);
    const second = world.runAgent({ env: { ...env, STANDIN_FINAL_MS: "0" } });
    await expectExit(second, EXIT.done);
    // Nothing was trained again: the checkpoint was the last epoch's.
    expect(eventsOfStart(world.standInEvents(), 2).filter((e) => e.event === "checkpoint")).toEqual([]);
    const result = JSON.parse((await world.object("model/result.json"))!.toString("utf8")) as { status: string };
    expect(result.status).toBe("already-complete");
    expect(checkpointHeader((await world.object("model/best.pt"))!)).toEqual({ kind: "best", runId: world.spec.runId, phase: 0, epoch: 1 });
    await expectCleanRun(world);
  }, 60_000);
});
