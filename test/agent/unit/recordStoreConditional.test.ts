import type { S3Client } from "@aws-sdk/client-s3";
import { tmpdir } from "os";
import { join } from "path";
import type { Logger } from "../../../agent/log";
import { RunLease } from "../../../agent/runLease";
import { startRecord } from "../../../agent/runRecord";
import { runLayout, type RunLayout } from "../../../runspec/runLayout";
import type { RunRecord } from "../../../runspec/runRecord";
import { RecordConflictError, RecordPublisher, RunRecordStore, type WriterFence } from "../../../agent/runRecordStore";
import { s3ForTests } from "../fakes/s3PerTest";

const BUCKET = "record-bucket";
/** The store's own retries, quick: these tests are about conditions, not backoff. */
const QUICK_RETRY = { maxAttempts: 4, baseMs: 10, capMs: 50 };

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

const world = s3ForTests(BUCKET);
const agentClient = world.agentClient;

/** A fresh run (its own keys) and a record of it at `epoch`. */
function newRun(): { layout: RunLayout; record: (epoch: number, phase?: RunRecord["phase"]) => RunRecord } {
  const runId = world.nextRunId();
  const layout = runLayout({ runId, artifacts: { bucket: BUCKET, prefix: `runs/${runId}/` } }, join(tmpdir(), "record-store-conditional"));
  const base = startRecord({ runId, previous: null, atMs: Date.parse("2025-06-01T12:00:00.000Z"), trainingPhases: 1, firstPhaseEpochs: 10, usdPerHour: 1 }).record;
  return { layout, record: (epoch, phase = "training") => ({ ...base, phase, epoch }) };
}

function storeFor(layout: RunLayout, client: S3Client = agentClient()): RunRecordStore {
  return new RunRecordStore(client, layout, silent, QUICK_RETRY);
}

const recordText = (record: RunRecord): string => JSON.stringify(record, null, 2) + "\n";
/** What S3 holds at the run's record key, parsed; undefined when nothing. */
const storedRecord = (layout: RunLayout): Promise<RunRecord | undefined> => world.s3().getJson<RunRecord>(BUCKET, layout.recordKey);
/** Another writer (a stale agent) writes the record, unconditionally, straight to S3. */
const writtenByAnother = (layout: RunLayout, record: RunRecord): Promise<void> => world.s3().putObject(BUCKET, layout.recordKey, recordText(record));
/** The statuses of PutObjects of `key` that went through the proxy since request number `since`. */
const putStatuses = (key: string, since = 0): Array<number | null> =>
  world.s3().proxy.requests
    .slice(since)
    .filter((r) => r.method === "PUT" && r.key === key)
    .map((r) => r.status ?? null);

function fence(holds: boolean, confirms: boolean): WriterFence & { confirm: jest.Mock<Promise<boolean>, []> } {
  return { holds: () => holds, confirm: jest.fn(async () => confirms) };
}

describe("RunRecordStore: run.json written on the version it knows", () => {
  it("creates the record of a new run", async () => {
    const { layout, record } = newRun();
    const store = storeFor(layout);
    expect(await store.readRecord()).toBeNull();

    await store.write(record(0, "starting"), null);

    expect(await storedRecord(layout)).toEqual(record(0, "starting"));
    expect(putStatuses(layout.recordKey)).toEqual([200]);
  });

  it("does not overwrite a record someone else created after it found none (If-None-Match), without a fence", async () => {
    const { layout, record } = newRun();
    const store = storeFor(layout);
    expect(await store.readRecord()).toBeNull();
    await writtenByAnother(layout, record(7));

    await expect(store.write(record(0, "starting"), null)).rejects.toBeInstanceOf(RecordConflictError);

    expect(await storedRecord(layout)).toEqual(record(7));
    expect(putStatuses(layout.recordKey)).toEqual([412]);
  });

  it("replaces exactly the version it read, and then each version it wrote itself", async () => {
    const { layout, record } = newRun();
    await writtenByAnother(layout, record(3)); // a previous node's record
    const store = storeFor(layout);
    expect(await store.readRecord()).toEqual({ json: record(3) });

    await store.write(record(4), null);
    await store.write(record(5), null);

    expect(await storedRecord(layout)).toEqual(record(5));
    expect(putStatuses(layout.recordKey)).toEqual([200, 200]);
  });

  it("refuses to write over a record another writer wrote since it read, when it has no fence", async () => {
    const { layout, record } = newRun();
    await writtenByAnother(layout, record(3));
    const store = storeFor(layout);
    await store.readRecord();
    await writtenByAnother(layout, record(9, "completed"));

    await expect(store.write(record(4), null)).rejects.toBeInstanceOf(RecordConflictError);

    expect(await storedRecord(layout)).toEqual(record(9, "completed"));
    expect(putStatuses(layout.recordKey)).toEqual([412]);
  });

  it("writes over another writer's record when its lease still confirms (the other was a stale writer's late request)", async () => {
    const { layout, record } = newRun();
    await writtenByAnother(layout, record(3));
    const store = storeFor(layout);
    await store.readRecord();
    const lease = fence(true, true);
    store.guardWith(lease);
    await writtenByAnother(layout, record(2)); // an old record landing late

    await store.write(record(4), null);

    expect(await storedRecord(layout)).toEqual(record(4));
    expect(lease.confirm).toHaveBeenCalledTimes(1);
    expect(putStatuses(layout.recordKey)).toEqual([412, 200]);

    // It now knows the version S3 holds: the next write goes straight through.
    await store.write(record(5), null);
    expect(await storedRecord(layout)).toEqual(record(5));
    expect(lease.confirm).toHaveBeenCalledTimes(1);
    expect(putStatuses(layout.recordKey)).toEqual([412, 200, 200]);
  });

  it("gives up when its lease no longer confirms, leaving the other writer's record", async () => {
    const { layout, record } = newRun();
    await writtenByAnother(layout, record(3));
    const store = storeFor(layout);
    await store.readRecord();
    const lease = fence(true, false);
    store.guardWith(lease);
    await writtenByAnother(layout, record(6));

    await expect(store.write(record(4), null)).rejects.toBeInstanceOf(RecordConflictError);

    expect(lease.confirm).toHaveBeenCalledTimes(1);
    expect(await storedRecord(layout)).toEqual(record(6));
    expect(putStatuses(layout.recordKey)).toEqual([412]);
  });

  it("writes nothing at all, neither progress lines nor the record, once its fence no longer holds", async () => {
    const { layout, record } = newRun();
    await writtenByAnother(layout, record(3));
    const store = storeFor(layout);
    await store.readRecord();
    const lease = fence(false, true);
    store.guardWith(lease);
    const mark = world.s3().proxy.requests.length;

    await expect(store.write(record(4), Buffer.from('{"epoch":4}\n'))).rejects.toBeInstanceOf(RecordConflictError);

    expect(world.s3().proxy.writes.filter((r) => r.seq > mark)).toEqual([]);
    expect(lease.confirm).not.toHaveBeenCalled();
    expect(await storedRecord(layout)).toEqual(record(3));
    expect(await world.s3().getObject(BUCKET, layout.progressKey)).toBeUndefined();
  });

  it("with real leases: the new holder writes over the old holder's late record; the old holder's store writes nothing more", async () => {
    const { layout, record } = newRun();
    const TTL = 30_000;
    // One clock for both nodes, moved by the test (a TTL need not pass in real time).
    let clock = Date.now();
    const leaseOf = (agentId: string): RunLease =>
      new RunLease(agentClient(), { runId: record(0).runId, bucket: BUCKET, key: layout.leaseKey, holder: { agentId, instanceId: null }, ttlMs: TTL, log: silent, now: () => clock });
    const a = leaseOf("agent-a");
    expect((await a.acquire({ maxWaitMs: 0, pollMs: 10 })).kind).toBe("acquired");
    const storeA = storeFor(layout);
    await storeA.readRecord();
    storeA.guardWith(a);
    await storeA.write(record(1), null);

    // A's node stalls and renews no more; B waits a TTL (half a TTL passes between its looks) and takes over.
    const b = leaseOf("agent-b");
    const taken = await b.acquire({ maxWaitMs: 10 * TTL, pollMs: 10, stopWaiting: () => ((clock += TTL / 2), false) });
    expect(taken).toMatchObject({ kind: "acquired", tookOver: { kind: "expired", holder: { agentId: "agent-a" } } });
    const storeB = storeFor(layout);
    expect(await storeB.readRecord()).toEqual({ json: record(1) });
    storeB.guardWith(b);
    // A request A sent while it still held the lease lands now.
    await writtenByAnother(layout, record(2));

    await storeB.write(record(2, "starting"), null);
    expect(putStatuses(layout.recordKey).slice(-2)).toEqual([412, 200]);
    expect(await storedRecord(layout)).toEqual(record(2, "starting"));

    const mark = world.s3().proxy.requests.length;
    await expect(storeA.write(record(3), null)).rejects.toBeInstanceOf(RecordConflictError);
    expect(putStatuses(layout.recordKey, mark)).toEqual([]);
    expect(await storedRecord(layout)).toEqual(record(2, "starting"));
  });

  it("with real leases: a holder that still believes it holds (its clock lags) but lost the lease refuses to write over the new holder's record", async () => {
    const { layout, record } = newRun();
    const leaseOf = (agentId: string, now: () => number): RunLease =>
      new RunLease(agentClient(), { runId: record(0).runId, bucket: BUCKET, key: layout.leaseKey, holder: { agentId, instanceId: null }, ttlMs: 30_000, log: silent, now });
    // A's clock is hours behind, so the lease it writes looks long dead: B takes it over at once.
    const a = leaseOf("agent-a", () => Date.now() - 3 * 3_600_000);
    await a.acquire({ maxWaitMs: 0, pollMs: 10 });
    const storeA = storeFor(layout);
    await storeA.readRecord();
    storeA.guardWith(a);
    await storeA.write(record(1), null);
    const b = leaseOf("agent-b", Date.now);
    expect(await b.acquire({ maxWaitMs: 0, pollMs: 10 })).toMatchObject({ kind: "acquired", tookOver: { kind: "expired" } });
    const storeB = storeFor(layout);
    await storeB.readRecord();
    storeB.guardWith(b);
    await storeB.write(record(1, "starting"), null);
    const mark = world.s3().proxy.requests.length;

    expect(a.holds()).toBe(true);
    await expect(storeA.write(record(2), null)).rejects.toBeInstanceOf(RecordConflictError);

    expect(putStatuses(layout.recordKey, mark)).toEqual([412]);
    expect(a.lostReason).not.toBeNull();
    expect(await storedRecord(layout)).toEqual(record(1, "starting"));
  });

  it("takes a write S3 applied, whose answer was lost and whose retry was refused, as written", async () => {
    // The proxy applies the PUT but holds its answer past the client's socket timeout; the retry
    // (same If-Match) then finds the object changed: 412, and the object is this very record.
    const { layout, record } = newRun();
    await writtenByAnother(layout, record(3));
    const store = storeFor(layout, agentClient({ socketTimeoutMs: 1_000 }));
    await store.readRecord();
    world.s3().proxy.injectFaults([{ requests: 1, delayMs: 3_000, only: (r) => r.method === "PUT" && r.key === layout.recordKey }]);

    await store.write(record(4), null);

    expect(world.s3().proxy.requests.filter((r) => r.method === "PUT" && r.key === layout.recordKey).map((r) => [r.fault, r.status ?? null])).toEqual([
      ["delayed", null],
      ["none", 412],
    ]);
    expect(await storedRecord(layout)).toEqual(record(4));
    // And it knows the ETag of what it wrote.
    await store.write(record(5), null);
    expect(await storedRecord(layout)).toEqual(record(5));
  });
});

describe("RecordPublisher over the conditional store", () => {
  it("reports a conflict once through onConflict and writes no record after it", async () => {
    const { layout, record } = newRun();
    await writtenByAnother(layout, record(3));
    const store = storeFor(layout);
    await store.readRecord();
    await writtenByAnother(layout, record(8)); // the run's new writer
    const conflicts: RecordConflictError[] = [];
    let conflicted!: () => void;
    const conflictSeen = new Promise<void>((resolve) => (conflicted = resolve));
    const publisher = new RecordPublisher(store, join(layout.workdir, "no-progress.jsonl"), silent, (error) => {
      conflicts.push(error);
      conflicted();
    });

    publisher.publish(record(4));
    await conflictSeen;
    // hold() resolves once no write is in flight: the refused one is over.
    await publisher.hold();
    publisher.release();
    publisher.publish(record(5));
    publisher.publish(record(5, "interrupted"), true);
    await publisher.hold(); // and so is anything these two started
    publisher.release();
    await expect(publisher.flush()).rejects.toBeInstanceOf(RecordConflictError);

    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toBeInstanceOf(RecordConflictError);
    expect(putStatuses(layout.recordKey)).toEqual([412]);
    expect(await storedRecord(layout)).toEqual(record(8));
  });

  it("counts holds: with two overlapping holds, writing resumes only after both are released", async () => {
    const { layout, record } = newRun();
    const store = storeFor(layout);
    await store.readRecord();
    const publisher = new RecordPublisher(store, join(layout.workdir, "no-progress.jsonl"), silent);

    await publisher.hold(); // last.pt upload
    await publisher.hold(); // best.pt upload, overlapping
    publisher.publish(record(4, "uploading"), true);
    publisher.release(); // last.pt done; best.pt still uploading
    let unheld = false;
    const waitingForUnheld = publisher.unheld().then(() => (unheld = true));
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(unheld).toBe(false);
    expect(putStatuses(layout.recordKey)).toEqual([]);

    publisher.release();
    await waitingForUnheld;
    await publisher.flush();

    expect(putStatuses(layout.recordKey)).toEqual([200]);
    expect(await storedRecord(layout)).toEqual(record(4, "uploading"));
  });
});
