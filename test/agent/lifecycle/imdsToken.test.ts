import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { autoScalingCalls, expectCleanRun, expectExit, storedRecord, teardownOf } from "../fakes/runExpectations";

const EPOCH_MS = 300;
const REPLACEMENT = "i-0a1b2c3d4e5f60002";
const ID_PATH = "/latest/meta-data/instance-id";

let world: NodeWorld;
beforeAll(async () => {
  world = await NodeWorld.start();
}, 120_000);
afterAll(async () => world?.close());

/**
 * IMDSv2 tokens that are no token, or that go bad, must neither blind the agent to a spot notice
 * nor keep it from tearing down (docs/node-runtime.md, "Record semantics").
 */
describe("an IMDS whose tokens misbehave", () => {
  it("still lets the agent see a spot notice after its first token answers were garbage: exit 75", async () => {
    // The agent's first three token PUTs are answered with things no HTTP client can send back.
    world.imds.answerTokenRequests([
      { body: Buffer.from([0x41, 0xc3, 0x28, 0xff, 0x00, 0x9f]) },
      { body: "AQAEAFk8c2Zq\nZ3Y0YnRm" },
      { body: "A".repeat(10_000) },
    ]);
    const first = world.runAgent({ env: { STANDIN_EPOCH_MS: String(EPOCH_MS) } });
    await first.waitForStandIn((e) => e.event === "epoch-start" && e.overall === 2);
    world.imds.triggerSpotNotice();
    await expectExit(first, EXIT.interrupted);

    // All three garbage answers were asked for (and refused), and the notice was read promptly.
    expect(world.imds.requests.filter((r) => r.method === "PUT").length).toBeGreaterThanOrEqual(4);
    const { triggeredAt, firstServedAt } = world.imds.spotNoticeTimes;
    expect(firstServedAt! - triggeredAt!).toBeLessThan(2_000);
    expect(autoScalingCalls(world)).toEqual([]);
    expect(await storedRecord(world)).toMatchObject({ phase: "interrupted" });
    await expectCleanRun(world);
  }, 60_000);

  it("tears down the right instance when the token the agent holds goes bad before the run ends: exit 0", async () => {
    world.replaceNode(REPLACEMENT);
    const startedAt = Date.now();
    const second = world.runAgent({ env: { STANDIN_EPOCH_MS: String(EPOCH_MS) } });
    await second.waitForStandIn((e) => e.event === "checkpoint" && e.at >= startedAt);
    // From now on IMDS refuses every token it has issued: the one the agent holds included.
    const wentBadAt = Date.now();
    world.imds.rejectIssuedTokens(403);
    await expectExit(second, EXIT.done);

    // The agent did hold a token that went bad…
    const after = world.imds.requests.filter((r) => r.at >= wentBadAt);
    expect(after.some((r) => r.method === "GET" && r.status === 403)).toBe(true);
    // …and needed no IMDS to tear down: it had learnt its id at start.
    expect(after.filter((r) => r.path === ID_PATH)).toEqual([]);
    expect(autoScalingCalls(world)).toEqual([teardownOf(REPLACEMENT)]);
    expect(world.asg.desiredCapacity(world.groupName)).toBe(0);
    expect(await storedRecord(world)).toMatchObject({ phase: "completed", interruptions: 1 });
    await expectCleanRun(world);
  }, 60_000);
});
