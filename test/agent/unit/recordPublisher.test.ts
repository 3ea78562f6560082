import type { Logger } from "../../../agent/log";
import { startRecord } from "../../../agent/runRecord";
import type { RunRecord } from "../../../runspec/runRecord";
import { RecordPublisher, type RunRecordStore } from "../../../agent/runRecordStore";

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A store whose writes complete when the test says so. */
class GatedStore {
  readonly writes: RunRecord[] = [];
  readonly pending: Array<{ record: RunRecord; finish: (error?: Error) => void }> = [];
  async write(record: RunRecord): Promise<void> {
    await new Promise<void>((resolve, reject) => this.pending.push({ record, finish: (error) => (error ? reject(error) : resolve()) }));
    this.writes.push(record);
  }
  /** Lets the publisher run (its progress-file check is real, asynchronous file I/O). */
  async settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 25));
  }
  /** Finishes the oldest write, waiting (up to 5 s) for one to start: on a loaded machine the publisher's file check can take longer than a settle. */
  async finishNext(error?: Error): Promise<void> {
    const deadline = Date.now() + 5000;
    while (this.pending.length === 0) {
      if (Date.now() > deadline) throw new Error("no write pending");
      await new Promise((r) => setTimeout(r, 5));
    }
    this.pending.shift()!.finish(error);
  }
}

const base = startRecord({ runId: "r", previous: null, atMs: 0, trainingPhases: 1, firstPhaseEpochs: 5, usdPerHour: 1 }).record;
const at = (epoch: number, phase: RunRecord["phase"] = "training"): RunRecord => ({ ...base, phase, epoch });

function publisherWith(store: GatedStore): RecordPublisher {
  return new RecordPublisher(store as unknown as RunRecordStore, "/nonexistent/progress.jsonl", silent);
}

describe("RecordPublisher", () => {
  it("writes only the newest of the records published while a write is in flight", async () => {
    const store = new GatedStore();
    const publisher = publisherWith(store);
    publisher.publish(at(1));
    await store.settle();
    publisher.publish(at(2));
    publisher.publish(at(3));
    publisher.publish(at(4));
    await store.finishNext();
    await store.settle();
    await store.finishNext();
    await store.settle();
    expect(store.writes.map((r) => r.epoch)).toEqual([1, 4]);
  });

  it("writes every phase change, in order, even when newer records follow at once (progress between them may be skipped)", async () => {
    const store = new GatedStore();
    const publisher = publisherWith(store);
    publisher.publish(at(0, "starting"), true);
    publisher.publish(at(0, "training"), true);
    publisher.publish(at(1));
    publisher.publish(at(2, "uploading"), true);
    publisher.publish(at(2, "completed"), true);
    let flushedAll = false;
    const flushed = publisher.flush().then(() => (flushedAll = true));
    while (!flushedAll) {
      await store.settle();
      if (store.pending.length > 0) await store.finishNext();
    }
    await flushed;
    expect(store.writes.map((r) => `${r.phase}:${r.epoch}`)).toEqual(["starting:0", "training:0", "uploading:2", "completed:2"]);
  });

  it("writes nothing while held, waits for the write on the wire, and resumes with the newest on release", async () => {
    const store = new GatedStore();
    const publisher = publisherWith(store);
    publisher.publish(at(1));
    await store.settle();
    let held = false;
    const holding = publisher.hold().then(() => (held = true));
    await store.settle();
    expect(held).toBe(false); // the request on the wire is let finish
    await store.finishNext();
    await holding;
    publisher.publish(at(2));
    publisher.publish(at(3));
    await store.settle();
    expect(store.pending).toHaveLength(0);
    publisher.release();
    await store.settle();
    await store.finishNext();
    await store.settle();
    expect(store.writes.map((r) => r.epoch)).toEqual([1, 3]);
  });

  it("keeps a record that failed to write and writes it with the next publish", async () => {
    const store = new GatedStore();
    const publisher = publisherWith(store);
    publisher.publish(at(1, "starting"), true);
    await store.settle();
    await store.finishNext(new Error("S3 down"));
    await store.settle();
    expect(store.writes).toHaveLength(0);
    publisher.publish(at(1));
    await store.settle();
    await store.finishNext();
    await store.settle();
    await store.finishNext();
    await store.settle();
    expect(store.writes.map((r) => r.phase)).toEqual(["starting", "training"]);
  });

  it("makes flush fail when the newest record cannot be written", async () => {
    const store = new GatedStore();
    const publisher = publisherWith(store);
    publisher.publish(at(1, "failed"), true);
    const flushed = publisher.flush();
    for (let i = 0; i < 3; i++) {
      await store.settle();
      await store.finishNext(new Error(`down ${i}`));
    }
    await expect(flushed).rejects.toThrow("down 2");
  });

  it("makes records queued during a checkpoint upload name the checkpoint that is durable when they are written", async () => {
    const store = new GatedStore();
    const publisher = publisherWith(store);
    const oldCheckpoint = { key: "k", sha256: "a".repeat(64), bytes: 1, phase: 0, epoch: 3, versionId: null };
    const newCheckpoint = { ...oldCheckpoint, sha256: "b".repeat(64), epoch: 4 };
    await publisher.hold();
    publisher.publish({ ...at(4, "uploading"), checkpoint: oldCheckpoint }, true);
    publisher.amendPending((record) => ({ ...record, checkpoint: newCheckpoint }));
    publisher.publish({ ...at(4, "uploading"), checkpoint: newCheckpoint });
    publisher.release();
    for (let i = 0; i < 2; i++) {
      await store.settle();
      await store.finishNext();
    }
    await store.settle();
    expect(store.writes.map((r) => [r.phase, r.checkpoint?.epoch])).toEqual([
      ["uploading", 4],
      ["uploading", 4],
    ]);
  });
});
