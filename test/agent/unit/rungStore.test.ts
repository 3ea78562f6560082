import type { S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "../../../agent/log";
import { readRung, recordAtRung, RungStoreError, type RungStoreOptions } from "../../../agent/sweep/rungStore";
import { rungRecordKey } from "../../../runspec/bucketLayout";
import { decideAtRung, type RungEntry } from "../../../runspec/sweep/asha";
import type { RungRecord } from "../../../runspec/sweep/rungRecord";
import { firstReadsBeforeWrites } from "../fakes/firstReadsBeforeWrites";
import { s3ForTests } from "../fakes/s3PerTest";

const BUCKET = "rung-bucket";
/** Rung 1 of a sweep with minEpochs 1 and η 3: epoch 3. */
const RUNG = 1;
const EPOCH = 3;

const world = s3ForTests(BUCKET);

/** A fresh sweep (its own rung keys) for each test. */
function newSweep(): { sweepId: string; key: string } {
  const sweepId = world.nextRunId().replace("run", "sweep");
  return { sweepId, key: rungRecordKey(sweepId, RUNG) };
}

/** One trial's agent: its own S3 client and log; quick retries, as the tests are about conditions, not backoff. */
function trial(options: { maxAttempts?: number; policy?: RungStoreOptions["policy"] } = {}): { client: S3Client; events: Array<{ event: string; fields: Record<string, unknown> }>; options: RungStoreOptions } {
  const events: Array<{ event: string; fields: Record<string, unknown> }> = [];
  const push = (event: string, fields: Record<string, unknown> = {}): void => void events.push({ event, fields });
  const log: Logger = { info: push, warn: push, error: push };
  const client = world.agentClient(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {});
  return { client, events, options: { log, policy: options.policy ?? { maxAttempts: 10, baseMs: 20, capMs: 200 } } };
}

const entry = (trialId: string, value: number): RungEntry => ({ trialId, value, epoch: EPOCH, recordedAt: "2026-12-05T00:00:00.000Z" });
const stored = (key: string): Promise<RungRecord | undefined> => world.s3().getJson<RungRecord>(BUCKET, key);
/** The statuses of the PutObjects of `key` that reached the proxy since request number `since`. */
const putStatuses = (key: string, since = 0): Array<number | null> =>
  world.s3()
    .proxy.requests.slice(since)
    .filter((r) => r.method === "PUT" && r.key === key)
    .map((r) => r.status ?? null);

describe("recordAtRung and readRung against S3 (s3rver behind the fault proxy)", () => {
  it("appends entries in the order they are recorded and returns the rung as stored", async () => {
    const sweep = newSweep();
    const { client, events, options } = trial();
    expect(await readRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, options)).toBeNull();

    expect(await recordAtRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, entry("t1", 0.5), options)).toEqual([entry("t1", 0.5)]);
    expect(await recordAtRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, entry("t2", 0.4), options)).toEqual([entry("t1", 0.5), entry("t2", 0.4)]);
    const third = await recordAtRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, entry("t3", 0.7), options);

    expect(third.map((e) => e.trialId)).toEqual(["t1", "t2", "t3"]);
    const record = { schemaVersion: 1, sweepId: sweep.sweepId, rung: RUNG, epoch: EPOCH, entries: third };
    expect(await stored(sweep.key)).toEqual(record);
    expect(await readRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, options)).toEqual(record);
    // The first write created the record (If-None-Match), the others replaced the version they read (If-Match): none refused.
    expect(putStatuses(sweep.key)).toEqual([200, 200, 200]);
    expect(events.filter((e) => e.event === "rung-recorded").map((e) => e.fields)).toEqual([
      expect.objectContaining({ key: sweep.key, trialId: "t1", position: 1, entries: 1, tries: 1 }),
      expect.objectContaining({ trialId: "t2", position: 2, entries: 2 }),
      expect.objectContaining({ trialId: "t3", position: 3, entries: 3 }),
    ]);
    // The caller decides on what is durable: t2 was worse than the only trial before it.
    expect(decideAtRung(third, { trialId: "t2", value: 0.4 }, "maximize", 3).promote).toBe(false);
  });

  it.each([2, 5])("keeps every entry, each once, when %d trials write the same rung at once", async (count) => {
    const sweep = newSweep();
    const trials = Array.from({ length: count }, () => trial());
    // All of them write on the version they read first (no record yet): S3 alone picks the one that goes first.
    firstReadsBeforeWrites(trials.map(({ client }) => client));

    const returned = await Promise.all(trials.map(({ client, options }, i) => recordAtRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, entry(`t${i + 1}`, i / 10), options)));

    const final = (await stored(sweep.key))!.entries;
    expect(final.map((e) => e.trialId).sort()).toEqual(trials.map((_, i) => `t${i + 1}`).sort());
    returned.forEach((entries, i) => {
      // Each trial got the rung as it stood once its entry was in: a prefix of the final record, ending with its own entry.
      expect(entries).toEqual(final.slice(0, entries.length));
      expect(entries[entries.length - 1]).toEqual(entry(`t${i + 1}`, i / 10));
    });
    // The first round: one write applied, every other one refused (412) and retried on what the winner wrote.
    const statuses = putStatuses(sweep.key);
    expect(statuses.filter((s) => s === 200)).toHaveLength(count);
    expect(statuses.filter((s) => s === 412).length).toBeGreaterThanOrEqual(count - 1);
    expect(statuses.every((s) => s === 200 || s === 412)).toBe(true);
    const conflicts = trials.flatMap(({ events }) => events.filter((e) => e.event === "rung-retry" && e.fields.conflict === true));
    expect(conflicts.length).toBeGreaterThanOrEqual(count - 1);
  });

  it("does not add a second entry for a trial that records again (a resumed trial), and writes nothing", async () => {
    const sweep = newSweep();
    const { client, events, options } = trial();
    await recordAtRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, entry("t1", 0.5), options);
    await recordAtRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, entry("t2", 0.6), options);
    const mark = world.s3().proxy.requests.length;

    // Resumed after a spot interruption, with a re-measured value: the recorded one stands.
    const again = await recordAtRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, entry("t1", 0.9), options);

    expect(again).toEqual([entry("t1", 0.5), entry("t2", 0.6)]);
    expect((await stored(sweep.key))!.entries).toEqual(again);
    expect(putStatuses(sweep.key, mark)).toEqual([]);
    expect(events.map((e) => e.event)).toContain("rung-already-recorded");
  });

  it.each([
    ["text that is not JSON", () => "{ not json", /is not valid JSON/],
    ["a record with a trial twice", (sweepId: string) => JSON.stringify({ schemaVersion: 1, sweepId, rung: RUNG, epoch: EPOCH, entries: [entry("t1", 0.5), entry("t1", 0.6)] }), /t1 has an earlier entry/],
    ["another rung's record", (sweepId: string) => JSON.stringify({ schemaVersion: 1, sweepId, rung: 2, epoch: 9, entries: [] }), /rung: is 2, expected 1/],
  ])("refuses %s at the rung's key, naming the key, and leaves it as it is", async (_name, text, problem) => {
    const sweep = newSweep();
    const body = text(sweep.sweepId);
    await world.s3().putObject(BUCKET, sweep.key, body);
    const { client, options } = trial();
    const mark = world.s3().proxy.requests.length;

    const recording = recordAtRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, entry("t2", 0.5), options);
    await expect(recording).rejects.toThrow(RungStoreError);
    await expect(recording).rejects.toThrow(`s3://${BUCKET}/${sweep.key}: not a valid rung record`);
    await expect(recording).rejects.toThrow(problem);
    await expect(readRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, options)).rejects.toThrow(`s3://${BUCKET}/${sweep.key}`);

    // Read once each, never retried and never written over.
    expect(world.s3().proxy.requests.slice(mark).map((r) => r.method)).toEqual(["GET", "GET"]);
    expect((await world.s3().getObject(BUCKET, sweep.key))!.toString("utf8")).toBe(body);
  });

  it("refuses to write an entry the record could not hold (from before the rung's epoch, a NaN)", async () => {
    const sweep = newSweep();
    const { client, options } = trial();
    await expect(recordAtRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, { ...entry("t1", 0.5), epoch: 2 }, options)).rejects.toThrow(/refusing to write s3:\/\/rung-bucket\/.*, the entry of t1 would make it not a valid rung record: entries\[0\]\.epoch: must be at least the rung's epoch/);
    await expect(recordAtRung(client, BUCKET, sweep.sweepId, RUNG, EPOCH, entry("t1", Number.NaN), options)).rejects.toThrow(/entries\[0\]\.value/);
    expect(putStatuses(sweep.key)).toEqual([]);
  });

  it("retries through S3's bad moments, and names the key once the tries run out", async () => {
    const sweep = newSweep();
    const putOfKey = (r: { method: string; key: string }): boolean => r.method === "PUT" && r.key === sweep.key;
    const flaky = trial({ maxAttempts: 1 });
    world.s3().proxy.injectFaults([{ requests: 1, failEvery: 1, status: 503, only: putOfKey }]);

    expect(await recordAtRung(flaky.client, BUCKET, sweep.sweepId, RUNG, EPOCH, entry("t1", 0.5), flaky.options)).toEqual([entry("t1", 0.5)]);
    expect(flaky.events.find((e) => e.event === "rung-retry")?.fields).toMatchObject({ key: sweep.key, conflict: false, error: expect.stringMatching(/503/) });

    const doomed = trial({ maxAttempts: 1, policy: { maxAttempts: 2, baseMs: 1, capMs: 1 } });
    world.s3().proxy.injectFaults([{ forMs: 60_000, failEvery: 1, status: 503, only: putOfKey }]);
    await expect(recordAtRung(doomed.client, BUCKET, sweep.sweepId, RUNG, EPOCH, entry("t2", 0.6), doomed.options)).rejects.toThrow(
      new RegExp(`could not record t2 at s3://${BUCKET}/${sweep.key}: .*HTTP 503`),
    );
    expect((await stored(sweep.key))!.entries).toEqual([entry("t1", 0.5)]);
  });
});
