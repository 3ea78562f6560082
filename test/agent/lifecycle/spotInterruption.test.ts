import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import type { RunRecord } from "../fakes/runRecordAuditor";
import {
  autoScalingCalls,
  eventsOfStart,
  expectCleanRun,
  expectDurableCheckpoint,
  expectExit,
  historyPhases,
  lastCheckpointWritten,
  progressLines,
  runKeys,
  storedRecord,
  teardownOf,
} from "../fakes/runExpectations";
import { standInMetrics } from "../fakes/standInCheckpoint";

const EPOCH_MS = 300;
const REPLACEMENT = "i-0a1b2c3d4e5f60002";

let world: NodeWorld;
beforeAll(async () => {
  // Two progressive phases, so the interruption lands in phase 1 and the resume must name it.
  world = await NodeWorld.start({
    spec: { train: { epochs: 5, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {}, progressive: [{ imgsz: 320, epochs: 2 }, { imgsz: 640, epochs: 3 }] } },
  });
}, 120_000);
afterAll(async () => world?.close());

describe("a spot interruption", () => {
  let interrupted: RunRecord;
  let stoppedAt: { phase: number; epoch: number };

  it("makes the first node ship its newest checkpoint, record interrupted and exit 75 without teardown", async () => {
    const first = world.runAgent({ env: { STANDIN_EPOCH_MS: String(EPOCH_MS) } });
    // Mid-epoch: half-way through the second epoch of phase 1 (overall epoch 4).
    await first.waitForStandIn((e) => e.event === "epoch-start" && e.overall === 4);
    await new Promise((resolve) => setTimeout(resolve, EPOCH_MS / 2));
    world.imds.triggerSpotNotice();
    await expectExit(first, EXIT.interrupted);

    const events = eventsOfStart(world.standInEvents(), 1);
    expect(events.some((e) => e.event === "signal")).toBe(true);
    stoppedAt = lastCheckpointWritten(events);
    expect(stoppedAt.phase).toBe(1);

    expect(autoScalingCalls(world)).toEqual([]);
    expect(world.asg.desiredCapacity(world.groupName)).toBe(1);

    interrupted = await storedRecord(world);
    expect(interrupted).toMatchObject({ phase: "interrupted", attempts: 1, trainingPhase: 1, trainingPhases: 2 });
    expect(interrupted.error).toMatch(/spot/i);
    // The newest checkpoint the trainer wrote before it was stopped is the one in S3 and in the record.
    await expectDurableCheckpoint(world, interrupted, stoppedAt);
    expect(await runKeys(world)).toEqual(["checkpoints/phase-0/best.pt", "checkpoints/phase-0/last.pt", "checkpoints/phase-1/best.pt", "checkpoints/phase-1/last.pt", "lease.json", "progress.jsonl", "run.json"]);
    await expectCleanRun(world);
  }, 60_000);

  it("lets the replacement node resume from that checkpoint, finish, and terminate only itself", async () => {
    world.replaceNode(REPLACEMENT);
    const writesBefore = world.proxy.writes.length;
    const second = world.runAgent({ env: { STANDIN_EPOCH_MS: String(EPOCH_MS) } });
    await expectExit(second, EXIT.done);

    // The trainer on the new node was handed exactly the uploaded checkpoint of phase 1.
    const events = eventsOfStart(world.standInEvents(), 2);
    const start = events[0]!;
    expect(start.resumePhase).toBe("1");
    expect(start.resumedFrom).toEqual({ kind: "last", runId: world.spec.runId, phase: 1, epoch: stoppedAt.epoch, sha256: interrupted.checkpoint!.sha256, bytes: interrupted.checkpoint!.bytes });
    // …and trained only what was left: the rest of phase 1, none of phase 0 again.
    const retrained = events.filter((e) => e.event === "checkpoint").map((e) => [e.phase, e.epoch]);
    expect(retrained).toEqual(Array.from({ length: 3 - stoppedAt.epoch }, (_, i) => [1, stoppedAt.epoch + 1 + i]));
    expect(world.standInEvents().filter((e) => e.event === "start")).toHaveLength(2);

    expect(autoScalingCalls(world)).toEqual([teardownOf(REPLACEMENT)]);
    expect(world.asg.desiredCapacity(world.groupName)).toBe(0);

    const record = await storedRecord(world);
    expect(record).toMatchObject({
      phase: "completed",
      attempts: 2,
      interruptions: 1,
      trainingPhase: 1,
      trainingPhases: 2,
      epoch: 3,
      epochs: 3,
      metrics: standInMetrics(5),
      startedAt: interrupted.startedAt,
    });
    await expectDurableCheckpoint(world, record, { phase: 1 });
    expect(historyPhases(record)).toEqual(["starting", "training", "interrupted", "starting", "training", "uploading", "completed"]);
    // Billed time keeps the first node's seconds.
    expect(record.billedSeconds!).toBeGreaterThan(interrupted.billedSeconds!);

    // progress.jsonl carries both nodes' epochs, each once.
    const lines = progressLines(await world.object("progress.jsonl")).map((l) => `${l.phase}/${l.epoch}`);
    expect(lines).toEqual(["0/1", "0/2", ...Array.from({ length: 3 }, (_, i) => `1/${i + 1}`)]);
    expect(await runKeys(world)).toEqual(["checkpoints/phase-0/best.pt", "checkpoints/phase-0/last.pt", "checkpoints/phase-1/best.pt", "checkpoints/phase-1/last.pt", "lease.json", "model/best.onnx", "model/best.pt", "model/result.json", "progress.jsonl", "run.json"]);
    // The replacement never rewrote phase 0's checkpoint.
    expect(world.proxy.writes.slice(writesBefore).filter((w) => w.key.includes("checkpoints/phase-0/"))).toEqual([]);
    await expectCleanRun(world);
  }, 60_000);
});
