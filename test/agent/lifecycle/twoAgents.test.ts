import { EXIT, NodeWorld, type AgentRun } from "../fakes/nodeWorld";
import type { RecordedRunRecord } from "../fakes/runRecordAuditor";
import { autoScalingCalls, eventsOfStart, expectCleanRun, expectDurableCheckpoint, expectExit, historyPhases, storedRecord, teardownOf, waitForRecord } from "../fakes/runExpectations";

/**
 * Two agents on one run (docs/node-runtime.md, "One agent per run"): Auto Scaling runs a second
 * instance of the group while the first still works (capacity rebalancing, a health replacement, a
 * `pulumi up` racing a slow shutdown). Two real agent processes, each with its own instance
 * metadata and scratch disk, share the run's S3 prefix, as two nodes would.
 */

const FIRST = "i-0a1b2c3d4e5f60001";
const SECOND = "i-0a1b2c3d4e5f60002";
/** Short, so takeovers happen within a test; renewed every third of it. */
const LEASE = { YOLO_TRAIN_LEASE_TTL_MS: "1500", YOLO_TRAIN_LEASE_WAIT_MS: "60000" };

const starts = (world: NodeWorld) => world.standInEvents().filter((e) => e.event === "start");
const startingEntries = (versions: readonly RecordedRunRecord[]) => versions.map((v) => (v.record.history ?? []).filter((h) => h.phase === "starting").length);

/**
 * The record once the last write the killed agent had sent is through: the proxy forwards a whole
 * body it already read even after the client died, so S3 ends up with the last record the agent
 * sent (the auditor's newest), a moment later.
 */
async function settledRecord(world: NodeWorld): Promise<Awaited<ReturnType<typeof storedRecord>>> {
  const last = world.auditor.versions.at(-1)?.record;
  for (let tries = 0; ; tries++) {
    const stored = await storedRecord(world).catch(() => undefined);
    if (stored !== undefined && stored.updatedAt === last?.updatedAt) return stored;
    if (tries >= 50) throw new Error(`S3 never got the dead agent's last record ${JSON.stringify(last)}; it holds ${JSON.stringify(stored)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Log events (`"event":"…"` lines) of an agent, in order. */
function logEvents(agent: AgentRun, stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => (JSON.parse(l) as { event?: string }).event ?? `(no event in ${l.slice(0, 60)}) node ${agent.node}`);
}

describe("a second node that starts while the first trains", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ instanceId: FIRST });
  }, 120_000);
  afterAll(async () => world?.close());

  it("waits without training or writing, and terminates itself once the first completes the run", async () => {
    const first = world.runAgent({ env: { ...LEASE, STANDIN_EPOCH_MS: "300" } });
    await first.waitForStandIn((e) => e.event === "checkpoint" && e.overall === 1);
    const second = world.runAgent({ imds: await world.addConcurrentNode(SECOND), env: LEASE });
    await expectExit(first, EXIT.done);
    const secondExit = await expectExit(second, EXIT.done);

    // One trainer ever ran: the second agent launched none.
    expect(starts(world)).toHaveLength(1);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", attempts: 1, interruptions: 0, error: null });
    expect(historyPhases(record)).toEqual(["starting", "training", "uploading", "completed"]);
    // Every record version came from the first agent: one start in its history, never a second.
    expect(new Set(startingEntries(world.auditor.versions))).toEqual(new Set([1]));
    expect(record.release).toMatchObject({ version: 1 });

    const events = logEvents(second, secondExit.stdout);
    expect(events).toContain("lease-held-elsewhere");
    expect(events).toContain("already-completed");
    expect(events).not.toContain("trainer-started");
    expect(events).not.toContain("record-written");
    // Each node terminates itself once: the first at the end of the run, the second as surplus. The
    // second may see the completed record before the first's own teardown call: order is not the contract.
    const byInstance = (calls: { InstanceId?: string }[]) => [...calls].sort((a, b) => String(a.InstanceId).localeCompare(String(b.InstanceId)));
    expect(byInstance(autoScalingCalls(world))).toEqual(byInstance([teardownOf(FIRST), teardownOf(SECOND)]));
    await expectCleanRun(world);
  }, 90_000);
});

describe("two nodes that start at the same moment", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ instanceId: FIRST });
  }, 120_000);
  afterAll(async () => world?.close());

  it("let exactly one of them train", async () => {
    const other = await world.addConcurrentNode(SECOND);
    const agents = [world.runAgent({ env: LEASE }), world.runAgent({ imds: other, env: LEASE })];
    const exits = await Promise.all(agents.map((agent) => expectExit(agent, EXIT.done)));

    expect(starts(world)).toHaveLength(1);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", attempts: 1 });
    expect(new Set(startingEntries(world.auditor.versions))).toEqual(new Set([1]));
    const trained = exits.map((exit, i) => logEvents(agents[i]!, exit.stdout).includes("trainer-started"));
    expect(trained.filter(Boolean)).toHaveLength(1);
    expect(autoScalingCalls(world).map((c) => c.InstanceId).sort()).toEqual([FIRST, SECOND]);
    await expectCleanRun(world);
  }, 90_000);
});

describe("a node that dies holding the lease", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ instanceId: FIRST, spec: { train: { epochs: 6, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } } });
  }, 120_000);
  afterAll(async () => world?.close());

  it("is taken over once the lease expires, and the run resumes from its last checkpoint", async () => {
    const first = world.runAgent({ env: { ...LEASE, STANDIN_EPOCH_MS: "300" } });
    await first.waitForStandIn((e) => e.event === "checkpoint" && e.overall === 2);
    await waitForRecord(world, (r) => (r.checkpoint?.epoch ?? 0) >= 2);
    // The instance vanishes: agent and trainer gone at once, no record written, lease not released.
    process.kill(first.pid!, "SIGKILL");
    for (const pid of world.liveTrainers()) process.kill(pid, "SIGKILL");
    await first.exit;
    const left = await settledRecord(world);
    expect(left.phase).toBe("training");
    const checkpointAtDeath = left.checkpoint;
    expect(checkpointAtDeath).not.toBeNull();

    const second = world.runAgent({ imds: await world.addConcurrentNode(SECOND), env: LEASE });
    const exit = await expectExit(second, EXIT.done);
    expect(logEvents(second, exit.stdout)).toContain("lease-acquired");
    expect(exit.stdout).toMatch(/"event":"lease-acquired".*"took":"expired"/);

    // The replacement resumed exactly the checkpoint the dead node had made durable.
    const resumed = eventsOfStart(world.standInEvents(), 2)[0]!;
    expect(resumed.resumedFrom).toMatchObject({ kind: "last", sha256: checkpointAtDeath!.sha256 });
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", attempts: 2, epoch: 6 });
    expect(historyPhases(record)).toEqual(["starting", "training", "starting", "training", "uploading", "completed"]);
    await expectDurableCheckpoint(world, record, { phase: 0, epoch: 6 });
    // The dead node asked for nothing; the replacement terminated itself at the end.
    expect(autoScalingCalls(world)).toEqual([teardownOf(SECOND)]);
    await expectCleanRun(world);
  }, 90_000);
});

describe("a node that stalls past its lease while another takes the run over", () => {
  let world: NodeWorld;
  beforeAll(async () => {
    world = await NodeWorld.start({ instanceId: FIRST, spec: { train: { epochs: 8, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } } });
  }, 120_000);
  afterAll(async () => world?.close());

  it("stops its trainer when it wakes, writes nothing more and exits 75; the new holder completes", async () => {
    let secondAgent: ReturnType<NodeWorld["runAgent"]> | undefined;
    const first = world.runAgent({ env: { ...LEASE, STANDIN_EPOCH_MS: "400" } });
    await first.waitForStandIn((e) => e.event === "checkpoint" && e.overall === 2);
    // The takeover resumes from what the record names: wait until a checkpoint is durable (under
    // load its upload can lag the trainer's checkpoint event).
    await waitForRecord(world, (r) => (r.checkpoint?.epoch ?? 0) >= 1);
    // A frozen VM or a long pause: the agent stops renewing, its trainer runs on.
    process.kill(first.pid!, "SIGSTOP");
    let takenOverAt: number;
    try {
      const second = world.runAgent({ imds: await world.addConcurrentNode(SECOND), env: { ...LEASE, STANDIN_EPOCH_MS: "400" } });
      await second.waitForStandIn((e) => e.event === "start" && e.resumedFrom !== undefined && e.resumedFrom !== null, 30_000);
      takenOverAt = world.auditor.versions.length;
      secondAgent = second;
    } finally {
      // Never leave a stopped agent behind a failed wait: it would time out in a later suite.
      process.kill(first.pid!, "SIGCONT");
    }
    const second = secondAgent!;

    const firstExit = await expectExit(first, EXIT.interrupted);
    const events = logEvents(first, firstExit.stdout);
    expect(events).toContain("run-taken-over");
    expect(events).toContain("exiting-without-writing");
    const afterWake = events.slice(events.lastIndexOf("run-taken-over"));
    expect(afterWake).not.toContain("checkpoint-durable");
    expect(afterWake).not.toContain("record-written");

    await expectExit(second, EXIT.done);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", attempts: 2, epoch: 8 });
    // From the takeover on, every record version is the second agent's (two starts in its history).
    expect(new Set(startingEntries(world.auditor.versions.slice(takenOverAt)))).toEqual(new Set([2]));
    expect(autoScalingCalls(world)).toEqual([teardownOf(SECOND)]);
    await expectCleanRun(world);
  }, 90_000);
});
