import { createHash } from "crypto";
import fc from "fast-check";
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "fs";
import { readFile } from "fs/promises";
import { tmpdir } from "os";
import { join } from "path";
import { CheckpointShipper, isOlderCheckpoint, type CheckpointPosition } from "../../../agent/checkpointShipper";
import type { UploadRequest } from "../../../agent/checkpointUploader";
import type { Logger } from "../../../agent/log";
import { runLayout, type RunLayout } from "../../../runspec/runLayout";
import type { CheckpointRef } from "../../../runspec/runRecord";
import { CheckpointVersions, scanCheckpoints } from "../../../agent/weightsWatcher";
import { storedZip } from "../fakes/storedZip";

describe("isOlderCheckpoint", () => {
  it.each<{ what: string; candidate: CheckpointPosition; durable: CheckpointPosition | null; older: boolean }>([
    { what: "nothing durable yet", candidate: { phase: 0, epoch: 1 }, durable: null, older: false },
    { what: "an earlier epoch of the same phase", candidate: { phase: 0, epoch: 2 }, durable: { phase: 0, epoch: 3 }, older: true },
    { what: "the same epoch (ultralytics' final rewrite holds the last epoch again)", candidate: { phase: 0, epoch: 3 }, durable: { phase: 0, epoch: 3 }, older: false },
    { what: "a later epoch", candidate: { phase: 0, epoch: 4 }, durable: { phase: 0, epoch: 3 }, older: false },
    { what: "an earlier phase, whatever its epoch", candidate: { phase: 0, epoch: 9 }, durable: { phase: 1, epoch: 1 }, older: true },
    { what: "a later phase, whatever its epoch", candidate: { phase: 2, epoch: 1 }, durable: { phase: 1, epoch: 9 }, older: false },
    { what: "an unknown epoch in the same phase (cannot tell)", candidate: { phase: 1, epoch: null }, durable: { phase: 1, epoch: 4 }, older: false },
    { what: "an unknown durable epoch in the same phase (cannot tell)", candidate: { phase: 1, epoch: 1 }, durable: { phase: 1, epoch: null }, older: false },
  ])("$what: older is $older", ({ candidate, durable, older }) => {
    expect(isOlderCheckpoint(candidate, durable)).toBe(older);
  });

  it("orders known positions by phase, then epoch, and never calls both of two positions older", () => {
    const position = fc.record({ phase: fc.integer({ min: 0, max: 3 }), epoch: fc.integer({ min: 1, max: 5 }) });
    fc.assert(
      fc.property(position, position, (a, b) => {
        const older = a.phase < b.phase || (a.phase === b.phase && a.epoch < b.epoch);
        return isOlderCheckpoint(a, b) === older && !(isOlderCheckpoint(a, b) && isOlderCheckpoint(b, a));
      }),
    );
  });
});

/** A checkpoint as a zip whose first entry says which epoch it is (a stand-in for torch.save's archive). */
const zipCheckpoint = (epoch: number): Buffer =>
  storedZip(
    [
      ["checkpoint/epoch.json", Buffer.from(JSON.stringify({ epoch }))],
      ["checkpoint/data/0", Buffer.alloc(50_000, epoch)],
    ],
    { zip64: true },
  ).bytes;
/** The epoch a test checkpoint holds: the zip's first entry, or a text checkpoint's first line. */
function epochOf(bytes: Buffer): number {
  if (bytes.readUInt32LE(0) !== 0x04034b50) return Number(bytes.toString().split("\n")[0]);
  const data = 30 + bytes.readUInt16LE(26) + bytes.readUInt16LE(28);
  return (JSON.parse(bytes.subarray(data, data + bytes.readUInt32LE(18)).toString()) as { epoch: number }).epoch;
}

/** An upload the test lets finish when it wants (`finish`), remembering what it held. */
interface StartedUpload {
  readonly key: string;
  readonly epoch: number;
  /** Record writes held (beforeUpload minus afterUpload) while it ran: must be 1. */
  readonly recordsHeld: number;
  readonly finish: () => void;
}

describe("CheckpointShipper", () => {
  let scratch: string;
  let layout: RunLayout;
  let versions: CheckpointVersions;
  let started: StartedUpload[];
  let holdUploads: boolean;
  let recordsHeld: number;
  let durable: CheckpointRef | null;
  let shipped: CheckpointRef[];
  let logged: Array<{ event: string; fields: Record<string, unknown> }>;
  let shipper: CheckpointShipper;

  const lastPt = (): string => layout.lastCheckpointFile(0);
  /** The trainer's order of writes for one epoch: last.pt, then the progress line. */
  const trainEpoch = (epoch: number, bytes: Buffer = zipCheckpoint(epoch)): void => {
    writeFileSync(lastPt(), bytes);
    appendFileSync(layout.progressFile, JSON.stringify({ type: "epoch", phase: 0, phases: 1, epoch, epochs: 10 }) + "\n");
  };
  const poll = async (): Promise<void> => shipper.poll(await scanCheckpoints(layout.workdir));
  const until = async (condition: () => boolean): Promise<void> => {
    for (let i = 0; !condition(); i++) {
      if (i > 500) throw new Error("timed out");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  /** Epoch 1's upload held in flight while epoch 2's whole copy waits behind it. */
  const uploadEpochOneWhileEpochTwoWaits = async (): Promise<void> => {
    holdUploads = true;
    trainEpoch(1);
    await poll();
    await until(() => started.length === 1);
    trainEpoch(2);
    await poll();
  };
  const events = (name: string) => logged.filter((l) => l.event === name).map((l) => l.fields);

  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), "yolo-train-shipper-"));
    layout = runLayout({ runId: "r", artifacts: { bucket: "art", prefix: "runs/r/" } }, scratch);
    mkdirSync(join(layout.workdir, "phase-0", "weights"), { recursive: true });
    versions = new CheckpointVersions();
    started = [];
    holdUploads = false;
    recordsHeld = 0;
    durable = null;
    shipped = [];
    logged = [];
    const log: Logger = {
      info: (event, fields = {}) => logged.push({ event, fields }),
      warn: (event, fields = {}) => logged.push({ event, fields }),
      error: (event, fields = {}) => logged.push({ event, fields }),
    };
    const transfer = {
      uploadFile: async (request: UploadRequest) => {
        const bytes = await readFile(request.path);
        let finish!: () => void;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        started.push({ key: request.key, epoch: epochOf(bytes), recordsHeld, finish });
        if (!holdUploads) finish();
        await finished;
        return { bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"), versionId: null };
      },
    };
    shipper = new CheckpointShipper(
      transfer,
      layout,
      versions,
      {
        phaseEpochs: () => 10,
        durable: () => durable,
        onShipped: (checkpoint) => {
          durable = checkpoint;
          shipped.push(checkpoint);
        },
        beforeUpload: async () => void recordsHeld++,
        afterUpload: () => void recordsHeld--,
      },
      log,
    );
    shipper.startWatching();
  });
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  it("uploads a whole checkpoint the first poll finds, without waiting for a second poll", async () => {
    trainEpoch(1);
    await poll();
    await shipper.idle();
    expect(started.map((u) => [u.key, u.epoch, u.recordsHeld])).toEqual([["runs/r/checkpoints/phase-0/last.pt", 1, 1]]);
    expect(shipped).toEqual([expect.objectContaining({ phase: 0, epoch: 1, bytes: zipCheckpoint(1).length })]);
    expect(recordsHeld).toBe(0);
  });

  it("while an upload runs, keeps only the newest whole version and uploads it next", async () => {
    await uploadEpochOneWhileEpochTwoWaits();
    trainEpoch(3);
    await poll();
    expect(events("checkpoint-superseded")).toEqual([{ phase: 0, epoch: 2, by: { phase: 0, epoch: 3 } }]);
    started[0]!.finish();
    await until(() => started.length === 2);
    started[1]!.finish();
    await shipper.idle();
    expect(started.map((u) => u.epoch)).toEqual([1, 3]);
    expect(started.map((u) => u.recordsHeld)).toEqual([1, 1]);
    expect(durable).toMatchObject({ phase: 0, epoch: 3, versionId: null });
    // The copies taken aside are gone once uploaded or superseded.
    expect(readdirSync(join(layout.agentDir, "snapshots"))).toEqual([]);
  });

  it.each([
    ["emptied by the rewrite", Buffer.alloc(0)],
    ["half written", zipCheckpoint(1).subarray(0, 25_000)],
    ["whole but for its last byte", zipCheckpoint(1).subarray(0, zipCheckpoint(1).length - 1)],
  ])("does not upload a version %s, and uploads the next whole one", async (_what, bytes) => {
    trainEpoch(1, bytes);
    await poll();
    await poll();
    await shipper.idle();
    expect(started).toEqual([]);
    expect(events("checkpoint-incomplete")).toHaveLength(1);
    trainEpoch(2);
    await poll();
    await shipper.idle();
    expect(started.map((u) => u.epoch)).toEqual([2]);
  });

  it("never uploads a checkpoint older than the durable one, and does upload the same epoch and later", async () => {
    durable = { key: "runs/r/checkpoints/phase-0/last.pt", sha256: "ab", bytes: 1, phase: 0, epoch: 3, versionId: null };
    trainEpoch(1);
    await poll();
    trainEpoch(2);
    await poll();
    await shipper.idle();
    expect(started).toEqual([]);
    expect(events("checkpoint-older-than-durable").map((f) => f.epoch)).toEqual([1, 2]);
    trainEpoch(3);
    await poll();
    await shipper.idle();
    trainEpoch(4);
    await poll();
    await shipper.idle();
    expect(started.map((u) => u.epoch)).toEqual([3, 4]);
  });

  it("never uploads a checkpoint of an earlier phase than the durable one", async () => {
    durable = { key: "runs/r/checkpoints/phase-1/last.pt", sha256: "ab", bytes: 1, phase: 1, epoch: 1, versionId: null };
    trainEpoch(5);
    await poll();
    await expect(shipper.shipFinal()).resolves.toBe(false);
    expect(started).toEqual([]);
  });

  it("uploads a checkpoint that is not a zip (cannot be judged) only once it held still across two polls", async () => {
    trainEpoch(1, Buffer.from("1\nstand-in checkpoint"));
    await poll();
    await shipper.idle();
    expect(started).toEqual([]);
    await poll();
    await shipper.idle();
    expect(started.map((u) => u.epoch)).toEqual([1]);
  });

  describe("after the trainer stopped", () => {
    it("uploads the whole file on disk rather than the older copy waiting", async () => {
      await uploadEpochOneWhileEpochTwoWaits();
      shipper.stopWatching();
      trainEpoch(3);
      const final = shipper.shipFinal();
      started[0]!.finish();
      await until(() => started.length === 2);
      started[1]!.finish();
      await expect(final).resolves.toBe(true);
      expect(started.map((u) => u.epoch)).toEqual([1, 3]);
      expect(durable).toMatchObject({ epoch: 3 });
    });

    it.each([
      ["emptied", Buffer.alloc(0)],
      ["half written", zipCheckpoint(3).subarray(0, 25_000)],
    ])("uploads the whole copy waiting when the stop left last.pt %s", async (_what, cutShort) => {
      await uploadEpochOneWhileEpochTwoWaits();
      shipper.stopWatching();
      writeFileSync(lastPt(), cutShort);
      const final = shipper.shipFinal();
      started[0]!.finish();
      await until(() => started.length === 2);
      started[1]!.finish();
      await expect(final).resolves.toBe(true);
      expect(started.map((u) => u.epoch)).toEqual([1, 2]);
      expect(durable).toMatchObject({ epoch: 2 });
    });

    it("uploads nothing when the stop left last.pt empty and nothing whole is waiting", async () => {
      trainEpoch(1);
      await poll();
      await shipper.idle();
      shipper.stopWatching();
      writeFileSync(lastPt(), Buffer.alloc(0));
      await expect(shipper.shipFinal()).resolves.toBe(false);
      expect(started.map((u) => u.epoch)).toEqual([1]);
      expect(durable).toMatchObject({ epoch: 1 });
    });

    it("starts no upload of a copy waiting once told the trainer is stopping", async () => {
      await uploadEpochOneWhileEpochTwoWaits();
      shipper.stopWatching();
      started[0]!.finish();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(started).toHaveLength(1);
    });
  });
});
