import { sha256Hex } from "../fakes/standInCheckpoint";
import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { autoScalingCalls, expectCleanRun, expectExit, runKeys, storedRecord, teardownOf } from "../fakes/runExpectations";

const FIRST = "i-0a1b2c3d4e5f60001";
const RELAUNCHED = "i-0a1b2c3d4e5f60003";

let world: NodeWorld;
beforeAll(async () => {
  world = await NodeWorld.start({ instanceId: FIRST });
}, 120_000);
afterAll(async () => world?.close());

/** Every object of the run with its sha256. */
async function contents(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of await runKeys(world)) out[key] = sha256Hex((await world.object(key))!);
  return out;
}

describe("a node launched for a run that already completed", () => {
  it("does not start the trainer, writes nothing to S3, and terminates itself", async () => {
    await expectExit(world.runAgent(), EXIT.done);
    const finished = await storedRecord(world);
    expect(finished.phase).toBe("completed");
    const before = await contents();
    const startsBefore = world.standInEvents().filter((e) => e.event === "start").length;
    const writesBefore = world.proxy.writes.length;

    world.replaceNode(RELAUNCHED);
    await expectExit(world.runAgent(), EXIT.done);

    expect(world.standInEvents().filter((e) => e.event === "start")).toHaveLength(startsBefore);
    expect(autoScalingCalls(world)).toEqual([teardownOf(FIRST), teardownOf(RELAUNCHED)]);
    expect(world.asg.desiredCapacity(world.groupName)).toBe(0);

    // A completed record is never rewritten (docs/node-runtime.md): nothing at all was written.
    expect(world.proxy.writes.slice(writesBefore).map((w) => `${w.method} ${w.key}`)).toEqual([]);
    expect(await contents()).toEqual(before);
    const record = await storedRecord(world);
    expect(record).toMatchObject({
      phase: "completed",
      attempts: finished.attempts,
      interruptions: finished.interruptions,
      epoch: finished.epoch,
      checkpoint: finished.checkpoint,
      artifacts: finished.artifacts,
      metrics: finished.metrics,
    });
    await expectCleanRun(world);
  }, 60_000);
});
