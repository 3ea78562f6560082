import type { S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "../../../agent/log";
import { judgeLease, MAX_CLOCK_SKEW_MS, parseLeaseDocument, RunLease, type LeaseDocument, type LeaseRead } from "../../../agent/runLease";
import { s3ForTests } from "../fakes/s3PerTest";

const HOUR_MS = 3_600_000;

describe("judgeLease", () => {
  const NOW = Date.parse("2025-06-01T12:00:00.000Z");
  const TTL = 30_000;
  const FALLBACK_TTL = 45_000;
  const holder = { agentId: "agent-a", instanceId: "i-0123456789abcdef0" };
  const leaseRead = (fields: Partial<LeaseDocument> = {}): LeaseRead => ({
    etag: '"v1"',
    document: { runId: "run-1", holder, acquiredAt: new Date(NOW - 60_000).toISOString(), renewedAt: new Date(NOW).toISOString(), ttlMs: TTL, released: false, ...fields },
  });
  const unparseable: LeaseRead = { etag: '"v1"', document: parseLeaseDocument("{ not json", "run-1") };

  it.each([
    ["no lease object: free", null, NOW, { kind: "free" }],
    ["a released lease: released, naming who released it", leaseRead({ released: true }), NOW, { kind: "released", holder }],
    ["just seen, renewed just now: live for a whole TTL", leaseRead(), NOW, { kind: "live", holder, expiresInMs: TTL }],
    ["seen 10 s ago: live for the rest of the TTL", leaseRead(), NOW - 10_000, { kind: "live", holder, expiresInMs: TTL - 10_000 }],
    ["unchanged for a whole TTL by the waiter's clock: expired", leaseRead(), NOW - TTL, { kind: "expired", holder }],
    [
      "unchanged for a whole TTL, though the holder's clock is hours ahead: expired",
      leaseRead({ renewedAt: new Date(NOW + 3 * HOUR_MS).toISOString() }),
      NOW - TTL,
      { kind: "expired", holder },
    ],
    [
      "a holder clock hours ahead does not stretch a lease seen only briefly either: live",
      leaseRead({ renewedAt: new Date(NOW + 3 * HOUR_MS).toISOString() }),
      NOW - 1_000,
      { kind: "live", holder, expiresInMs: TTL - 1_000 },
    ],
    [
      "just seen, renewedAt older than TTL + the worst clock skew: expired at once",
      leaseRead({ renewedAt: new Date(NOW - TTL - MAX_CLOCK_SKEW_MS).toISOString() }),
      NOW,
      { kind: "expired", holder },
    ],
    [
      "just seen, renewedAt older than the TTL but within the clock skew: live (the holder's clock may be behind)",
      leaseRead({ renewedAt: new Date(NOW - TTL - MAX_CLOCK_SKEW_MS + 1_000).toISOString() }),
      NOW,
      { kind: "live", holder, expiresInMs: TTL },
    ],
    ["an unparseable lease counts with the fallback TTL: live until it passed", unparseable, NOW - FALLBACK_TTL + 1_000, { kind: "live", holder: null, expiresInMs: 1_000 }],
    ["an unparseable lease counts with the fallback TTL: expired once it passed", unparseable, NOW - FALLBACK_TTL, { kind: "expired", holder: null }],
    ["a lease document's own TTL wins over the fallback", leaseRead(), NOW - TTL - 1, { kind: "expired", holder }],
  ])("%s", (_name, read, firstSeenAtMs, expected) => {
    expect(judgeLease(read, firstSeenAtMs, NOW, FALLBACK_TTL)).toMatchObject(expected);
  });

  it("says why an expired lease expired", () => {
    const watched = judgeLease(leaseRead(), NOW - TTL, NOW, FALLBACK_TTL);
    expect(watched.kind === "expired" && watched.why).toMatch(/unchanged for 30 s/);
    const old = judgeLease(leaseRead({ renewedAt: "2025-06-01T10:00:00.000Z" }), NOW, NOW, FALLBACK_TTL);
    expect(old.kind === "expired" && old.why).toMatch(/last renewed at 2025-06-01T10:00:00.000Z/);
  });
});

describe("parseLeaseDocument", () => {
  const valid = { runId: "run-1", holder: { agentId: "a", instanceId: "i-1" }, acquiredAt: "2025-06-01T12:00:00.000Z", renewedAt: "2025-06-01T12:00:10.000Z", ttlMs: 30_000, released: false };

  it("reads a lease of the run", () => {
    expect(parseLeaseDocument(JSON.stringify(valid), "run-1")).toEqual(valid);
  });

  it.each([
    ["not JSON", "{"],
    ["another run's lease", JSON.stringify({ ...valid, runId: "run-2" })],
    ["a holder without an agentId", JSON.stringify({ ...valid, holder: { instanceId: "i-1" } })],
    ["a TTL that is not positive", JSON.stringify({ ...valid, ttlMs: 0 })],
    ["no renewedAt", JSON.stringify({ ...valid, renewedAt: undefined })],
  ])("is null for %s", (_name, text) => {
    expect(parseLeaseDocument(text, "run-1")).toBeNull();
  });
});

const BUCKET = "lease-bucket";

describe("RunLease against S3 (s3rver behind the fault proxy)", () => {
  const world = s3ForTests(BUCKET);

  /** A fresh run, so each test has its own lease key. */
  function newRun(): { runId: string; key: string } {
    const runId = world.nextRunId();
    return { runId, key: `runs/${runId}/lease.json` };
  }

  interface AgentOptions {
    readonly ttlMs?: number;
    readonly now?: () => number;
    /** SDK tries per request; 1 makes an injected 5xx surface at once. */
    readonly maxAttempts?: number;
    /** Gives up on a connection idle this long, awaiting an answer (and the SDK retries the request), as the agent's clients do after 30 s. */
    readonly socketTimeoutMs?: number;
  }

  // s3rver 3.7 rewrites an object's file in place, so a GET of the lease that races a PUT of it
  // can be torn (a short body that never ends, or a 500); real S3 never does that. The tests
  // below therefore never let one agent read the lease while another writes it: the holder's
  // renewals and releases happen in the waiter's `stopWaiting` hook, between its looks, and the
  // racing agents all look before any of them writes. Writes still race each other freely.

  /** One agent process: its own S3 client and agentId, talking to S3 through the proxy. */
  function agent(run: { runId: string; key: string }, agentId: string, options: AgentOptions = {}): { lease: RunLease; client: S3Client; events: string[] } {
    const client = world.agentClient(options);
    const events: string[] = [];
    const log: Logger = { info: (event) => events.push(event), warn: (event) => events.push(event), error: (event) => events.push(event) };
    const lease = new RunLease(client, {
      runId: run.runId,
      bucket: BUCKET,
      key: run.key,
      holder: { agentId, instanceId: `i-${agentId}` },
      ttlMs: options.ttlMs ?? 30_000,
      log,
      ...(options.now ? { now: options.now } : {}),
    });
    return { lease, client, events };
  }

  const stored = (key: string): Promise<LeaseDocument | undefined> => world.s3().getJson<LeaseDocument>(BUCKET, key);
  /** Every PutObject of the key that reached the proxy from request number `since` on. */
  const putsOf = (key: string, since = 0) => world.s3().proxy.requests.slice(since).filter((r) => r.method === "PUT" && r.key === key);

  it("takes a free lease: lease.json names the holder and its TTL", async () => {
    const run = newRun();
    const a = agent(run, "agent-a", { ttlMs: 20_000 });

    const outcome = await a.lease.acquire({ maxWaitMs: 0, pollMs: 50 });

    expect(outcome).toEqual({ kind: "acquired", tookOver: { kind: "free" } });
    expect(await stored(run.key)).toMatchObject({ runId: run.runId, holder: { agentId: "agent-a", instanceId: "i-agent-a" }, ttlMs: 20_000, released: false });
    expect(a.lease.holds()).toBe(true);
    expect(a.lease.lostReason).toBeNull();
    expect(await a.lease.confirm()).toBe(true);
    expect(a.events).toContain("lease-acquired");
  });

  it("keeps a second agent waiting, writing nothing, while the holder renews; it ends up held-elsewhere", async () => {
    const run = newRun();
    // A TTL shorter than B's wait: only A's renewals keep B from taking the lease over.
    const TTL = 500;
    const a = agent(run, "agent-a", { ttlMs: TTL });
    const b = agent(run, "agent-b", { ttlMs: TTL });
    await a.lease.acquire({ maxWaitMs: 0, pollMs: 50 });
    const mark = world.s3().proxy.requests.length;

    let renewals = 0;
    const outcome = await b.lease.acquire({
      maxWaitMs: 3 * TTL,
      pollMs: 50,
      // A renews before each of B's looks.
      stopWaiting: async () => {
        expect(await a.lease.renew()).toBe(true);
        renewals += 1;
        return false;
      },
    });

    expect(outcome).toEqual({ kind: "held-elsewhere", holder: { agentId: "agent-a", instanceId: "i-agent-a" } });
    // Every PUT of the lease while B waited was one of A's renewals, and S3 applied each: B sent none.
    expect(renewals).toBeGreaterThan(1);
    expect(putsOf(run.key, mark).map((r) => r.status)).toEqual(Array(renewals).fill(200));
    expect((await stored(run.key))?.holder.agentId).toBe("agent-a");
    expect(a.lease.lostReason).toBeNull();
    expect(await a.lease.renew()).toBe(true);
    expect(b.lease.holds()).toBe(false);
    expect(await b.lease.confirm()).toBe(false);
    expect(b.events).toContain("lease-held-elsewhere");
  });

  it("hands the lease to a waiting agent at once when the holder releases it", async () => {
    const run = newRun();
    const a = agent(run, "agent-a", { ttlMs: 30_000 });
    const b = agent(run, "agent-b", { ttlMs: 30_000 });
    await a.lease.acquire({ maxWaitMs: 0, pollMs: 50 });

    let looks = 0;
    const outcome = await b.lease.acquire({
      maxWaitMs: 20_000,
      pollMs: 50,
      // A finishes (and releases) after B looked twice.
      stopWaiting: async () => {
        looks += 1;
        if (looks === 3) await a.lease.release();
        return false;
      },
    });

    expect(outcome).toEqual({ kind: "acquired", tookOver: { kind: "released", holder: { agentId: "agent-a", instanceId: "i-agent-a" } } });
    // On its first look after the release, long before the 30 s TTL was up.
    expect(looks).toBe(3);
    expect(await stored(run.key)).toMatchObject({ holder: { agentId: "agent-b" }, released: false });
    expect(a.lease.holds()).toBe(false);
    expect(b.lease.holds()).toBe(true);
    expect(a.events).toContain("lease-released");
  });

  it("lets a waiter take over a dead holder's lease after a TTL; the old holder then finds it lost", async () => {
    const run = newRun();
    const TTL = 400;
    const a = agent(run, "agent-a", { ttlMs: TTL });
    // B's own TTL is for its lease once taken; it judges A's lease by the TTL A wrote into it.
    const b = agent(run, "agent-b", { ttlMs: 30_000 });
    await a.lease.acquire({ maxWaitMs: 0, pollMs: 50 });

    // A never renews (its node died).
    const startedAt = Date.now();
    const outcome = await b.lease.acquire({ maxWaitMs: 10_000, pollMs: 50 });
    const waitedMs = Date.now() - startedAt;

    expect(outcome).toMatchObject({ kind: "acquired", tookOver: { kind: "expired", holder: { agentId: "agent-a" } } });
    // B measured the TTL on its own clock from its first look, which came after A's write.
    expect(waitedMs).toBeGreaterThanOrEqual(TTL);
    expect(waitedMs).toBeLessThan(8_000);
    expect((await stored(run.key))?.holder.agentId).toBe("agent-b");
    expect(b.lease.holds()).toBe(true);
    expect(await b.lease.confirm()).toBe(true);

    // A comes back: its renewal meets B's lease.
    expect(await a.lease.renew()).toBe(false);
    expect(a.lease.lostReason).toMatch(/another agent/);
    expect(a.lease.holds()).toBe(false);
    expect(await a.lease.confirm()).toBe(false);
    expect(a.events).toContain("lease-lost");
    // And the loser's release leaves the new holder's lease alone.
    await a.lease.release();
    expect(await stored(run.key)).toMatchObject({ holder: { agentId: "agent-b" }, released: false });
    expect(await b.lease.renew()).toBe(true);
  });

  it("takes over at once a lease renewed longer ago than a TTL and the worst clock skew; the holder, whose clock lags, learns it from confirm()", async () => {
    const run = newRun();
    // A's clock is hours behind: the lease it writes looks long dead to everyone else.
    const a = agent(run, "agent-a", { ttlMs: 30_000, now: () => Date.now() - 3 * HOUR_MS });
    const b = agent(run, "agent-b", { ttlMs: 30_000 });
    await a.lease.acquire({ maxWaitMs: 0, pollMs: 50 });

    const outcome = await b.lease.acquire({ maxWaitMs: 0, pollMs: 50 });

    expect(outcome).toMatchObject({ kind: "acquired", tookOver: { kind: "expired", holder: { agentId: "agent-a" }, why: expect.stringMatching(/last renewed at/) } });
    expect((await stored(run.key))?.holder.agentId).toBe("agent-b");
    // By its own clock A is within its TTL...
    expect(a.lease.holds()).toBe(true);
    // ...but S3 no longer shows its lease.
    expect(await a.lease.confirm()).toBe(false);
    expect(a.lease.lostReason).toMatch(/no longer this agent's/);
    expect(a.lease.holds()).toBe(false);
    expect(await a.lease.renew()).toBe(false);
    expect(await b.lease.confirm()).toBe(true);
  });

  it("gives a free lease to exactly one of five agents racing for it", async () => {
    const run = newRun();
    const agents = ["a", "b", "c", "d", "e"].map((name) => agent(run, `agent-${name}`));
    // Every agent's first look (all find no lease) is answered before any of them writes, so all
    // five send If-None-Match at once and S3 alone decides.
    let looked = 0;
    let allLooked!: () => void;
    const everyoneLooked = new Promise<void>((resolve) => (allLooked = resolve));
    for (const { client } of agents) {
      let first = true;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === "PutObjectCommand") await everyoneLooked;
          try {
            return await next(args);
          } finally {
            if (context.commandName === "GetObjectCommand" && first) {
              first = false;
              if (++looked === agents.length) allLooked();
            }
          }
        },
        { step: "initialize", name: "everyoneLooksFirst" },
      );
    }

    const outcomes = await Promise.all(agents.map(({ lease }) => lease.acquire({ maxWaitMs: 0, pollMs: 50 })));

    const winners = outcomes.flatMap((outcome, i) => (outcome.kind === "acquired" ? [agents[i]!.lease.holder.agentId] : []));
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    for (const outcome of outcomes) {
      if (outcome.kind !== "acquired") expect(outcome).toEqual({ kind: "held-elsewhere", holder: { agentId: winner, instanceId: `i-${winner}` } });
    }
    expect((await stored(run.key))?.holder.agentId).toBe(winner);
    expect(agents.filter(({ lease }) => lease.holds()).map(({ lease }) => lease.holder.agentId)).toEqual([winner]);
    // All five wrote; S3 applied one and refused four.
    expect(putsOf(run.key).map((r) => r.status).sort()).toEqual([200, 412, 412, 412, 412]);
  });

  it("stops waiting when stopWaiting says so, and writes nothing", async () => {
    const run = newRun();
    const a = agent(run, "agent-a");
    const b = agent(run, "agent-b");
    await a.lease.acquire({ maxWaitMs: 0, pollMs: 50 });
    const mark = world.s3().proxy.requests.length;

    let asked = 0;
    const outcome = await b.lease.acquire({ maxWaitMs: 20_000, pollMs: 20, stopWaiting: async () => ++asked >= 3 });

    expect(outcome).toEqual({ kind: "stopped" });
    expect(asked).toBe(3);
    expect(putsOf(run.key, mark)).toHaveLength(0);
    expect(b.lease.holds()).toBe(false);
  });

  it("stops waiting when its signal is aborted, whether before or during the wait", async () => {
    const run = newRun();
    const a = agent(run, "agent-a");
    const b = agent(run, "agent-b");
    await a.lease.acquire({ maxWaitMs: 0, pollMs: 50 });
    const mark = world.s3().proxy.requests.length;

    const during = new AbortController();
    const startedAt = Date.now();
    setTimeout(() => during.abort(), 200);
    expect(await b.lease.acquire({ maxWaitMs: 20_000, pollMs: 5_000, signal: during.signal })).toEqual({ kind: "stopped" });
    // The abort cut the 5 s poll wait short.
    expect(Date.now() - startedAt).toBeLessThan(4_000);

    const before = new AbortController();
    before.abort();
    const requestsBefore = world.s3().proxy.requests.length;
    expect(await b.lease.acquire({ maxWaitMs: 20_000, pollMs: 50, signal: before.signal })).toEqual({ kind: "stopped" });
    expect(world.s3().proxy.requests.length).toBe(requestsBefore);

    expect(putsOf(run.key, mark)).toHaveLength(0);
  });

  it("stops holding a TTL after the last successful renewal, and holds again once a renewal on the same ETag succeeds", async () => {
    const run = newRun();
    const TTL = 5_000;
    // The holder's clock, moved by the test: holds() is about the agent's own clock only.
    let clock = Date.now();
    const a = agent(run, "agent-a", { ttlMs: TTL, now: () => clock, maxAttempts: 1 });
    await a.lease.acquire({ maxWaitMs: 0, pollMs: 50 });
    const written = await stored(run.key);

    world.s3().proxy.injectFaults([{ forMs: 60_000, failEvery: 1, status: 503, only: (r) => r.method === "PUT" && r.key === run.key }]);
    clock += 1_000;
    await expect(a.lease.renew()).rejects.toMatchObject({ $metadata: { httpStatusCode: 503 } });
    expect(a.lease.holds()).toBe(true); // within the TTL of the acquiring write
    clock += TTL - 1_000 - 1;
    expect(a.lease.holds()).toBe(true);
    clock += 1;
    expect(a.lease.holds()).toBe(false); // a TTL since the last write S3 applied
    await expect(a.lease.renew()).rejects.toMatchObject({ $metadata: { httpStatusCode: 503 } });
    expect(a.lease.holds()).toBe(false);
    expect(await a.lease.confirm()).toBe(false);
    expect(a.lease.lostReason).toBeNull(); // not lost: nobody else wrote
    expect(await stored(run.key)).toEqual(written);

    world.s3().proxy.injectFaults([]);
    expect(await a.lease.renew()).toBe(true);
    expect(a.lease.holds()).toBe(true);
    expect(a.lease.lostReason).toBeNull();
    expect(await a.lease.confirm()).toBe(true);
    expect(await stored(run.key)).toMatchObject({ holder: { agentId: "agent-a" }, acquiredAt: written!.acquiredAt, renewedAt: new Date(clock).toISOString() });
  });

  it("recognises as its own a write S3 applied whose answer was lost, when the SDK's retry of it is refused", async () => {
    // The proxy cannot apply a write and answer 500, but it can apply it and hold the answer back
    // past the client's socket timeout: the SDK then retries the same PUT, and S3 answers the
    // retry 412 because the first one changed the object.
    const run = newRun();
    const a = agent(run, "agent-a", { socketTimeoutMs: 1_000, maxAttempts: 3 });
    const b = agent(run, "agent-b");
    const lateAnswer = (): void => world.s3().proxy.injectFaults([{ requests: 1, delayMs: 3_000, only: (r) => r.method === "PUT" && r.key === run.key }]);

    lateAnswer();
    const outcome = await a.lease.acquire({ maxWaitMs: 0, pollMs: 50 });
    expect(outcome).toEqual({ kind: "acquired", tookOver: { kind: "free" } });
    const acquiring = putsOf(run.key);
    expect(acquiring.map((r) => r.fault)).toEqual(["delayed", "none"]);
    expect(acquiring[1]!.status).toBe(412);
    expect(a.lease.holds()).toBe(true);
    expect(await a.lease.confirm()).toBe(true);

    // The same for a renewal (If-Match on the ETag the applied write replaced).
    const mark = world.s3().proxy.requests.length;
    lateAnswer();
    expect(await a.lease.renew()).toBe(true);
    expect(putsOf(run.key, mark).map((r) => [r.fault, r.status ?? null])).toEqual([
      ["delayed", null],
      ["none", 412],
    ]);
    expect(a.lease.lostReason).toBeNull();
    expect(await a.lease.confirm()).toBe(true);
    // It now knows the ETag S3 holds: the next renewal goes through at once.
    expect(await a.lease.renew()).toBe(true);
    expect(await b.lease.acquire({ maxWaitMs: 0, pollMs: 50 })).toMatchObject({ kind: "held-elsewhere", holder: { agentId: "agent-a" } });
  });
});
