import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import type { RunRecord } from "../fakes/runRecordAuditor";
import { eventsOfStart, expectCleanRun, expectDurableCheckpoint, expectExit, historyPhases, storedRecord } from "../fakes/runExpectations";

/**
 * Issue 9, item 1: ultralytics rewrites `last.pt` in place, so a node stopped while it saves leaves
 * the file empty (truncated, not yet written) or half written. The agent must not upload that over
 * the run's good checkpoint (the key is the same), nor name it in run.json: the next node would fail
 * every attempt to resume. Here the checkpoints are zip archives as torch.save writes them, rewritten
 * every 500 ms while the agent polls every 2 s (the default), and the spot notice lands while the
 * stand-in is saving.
 */

const EPOCHS = 12;
const REPLACEMENT = "i-0a1b2c3d4e5f60002";

describe.each(["empty", "half"])("a spot notice while last.pt is being rewritten (the stop leaves it %s)", (leftAs) => {
  let world: NodeWorld;
  let interrupted: RunRecord;

  beforeAll(async () => {
    world = await NodeWorld.start({ spec: { train: { epochs: EPOCHS, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } } });
  }, 120_000);
  afterAll(async () => world?.close());

  it("leaves a whole checkpoint the trainer wrote before durable and named in run.json", async () => {
    const first = world.runAgent({
      env: { STANDIN_CHECKPOINT_FORMAT: "zip", STANDIN_EPOCH_MS: "500", YOLO_TRAIN_WATCH_MS: "2000", STANDIN_ON_STOP: leftAs },
    });
    // Past two of the agent's polls, so whole versions were there to be found.
    await first.waitForStandIn((e) => e.event === "epoch-start" && e.overall === 9);
    world.imds.triggerSpotNotice();
    await expectExit(first, EXIT.interrupted);

    const events = eventsOfStart(world.standInEvents(), 1);
    const cut = events.find((e) => e.event === "stopped-mid-save");
    // The premise: the trainer died saving, leaving last.pt empty or half a checkpoint.
    expect(cut).toMatchObject({ phase: 0, bytes: leftAs === "empty" ? 0 : expect.any(Number) });
    if (leftAs === "half") expect(cut!.bytes).toBeGreaterThan(0);

    interrupted = await storedRecord(world);
    expect(interrupted).toMatchObject({ phase: "interrupted", attempts: 1 });
    // The record names a whole checkpoint (the object is the stand-in's zip for that epoch, sha256 and
    // size as recorded), one the trainer had finished writing: not the one the stop cut short.
    const durable = await expectDurableCheckpoint(world, interrupted, { phase: 0 });
    const finished = events.filter((e) => e.event === "checkpoint").map((e) => e.epoch);
    expect(finished).toContain(durable.epoch);
    expect(durable.epoch).toBeLessThan(cut!.epoch!);
    await expectCleanRun(world);
  }, 60_000);

  it("lets the replacement node resume from that checkpoint and finish the run", async () => {
    world.replaceNode(REPLACEMENT);
    const second = world.runAgent({ env: { STANDIN_CHECKPOINT_FORMAT: "zip", STANDIN_EPOCH_MS: "150" } });
    await expectExit(second, EXIT.done);

    const checkpoint = interrupted.checkpoint!;
    const start = eventsOfStart(world.standInEvents(), 2)[0]!;
    expect(start.resumedFrom).toEqual({ kind: "last", runId: world.spec.runId, phase: 0, epoch: checkpoint.epoch, sha256: checkpoint.sha256, bytes: checkpoint.bytes });
    const retrained = eventsOfStart(world.standInEvents(), 2)
      .filter((e) => e.event === "checkpoint")
      .map((e) => e.epoch);
    expect(retrained).toEqual(Array.from({ length: EPOCHS - checkpoint.epoch }, (_, i) => checkpoint.epoch + 1 + i));

    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", attempts: 2, interruptions: 1, epoch: EPOCHS, epochs: EPOCHS });
    await expectDurableCheckpoint(world, record, { phase: 0 });
    expect(historyPhases(record)).toEqual(["starting", "training", "interrupted", "starting", "training", "uploading", "completed"]);
    await expectCleanRun(world);
  }, 60_000);
});
