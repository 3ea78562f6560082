import { copyFile, mkdir, open, rm } from "fs/promises";
import { join } from "path";
import { inspectZip, zipStart, type ZipVerdict } from "./checkpointIntegrity";
import type { CheckpointTransfer } from "./checkpointUploader";
import { describeError, type Logger } from "./log";
import { bestCheckpointEpoch, checkpointEpoch } from "./progress";
import type { RunLayout } from "../runspec/runLayout";
import type { CheckpointRef } from "../runspec/runRecord";
import { sameSignature, scanCheckpoints, signatureOf, type CheckpointFile, type CheckpointVersions, type FileSignature, type WeightsFile } from "./weightsWatcher";

/** Where a checkpoint stands in the run: a later phase is newer, then a later epoch. */
export interface CheckpointPosition {
  readonly phase: number;
  /** Null when the agent could not tell (see `checkpointEpoch`). */
  readonly epoch: number | null;
}

/**
 * Whether uploading `candidate` would replace the durable checkpoint with an older one. Same phase
 * and an unknown epoch on either side cannot be compared, and is not refused (what the agent did
 * before it compared epochs). The same position is not older: ultralytics' final rewrite of
 * `last.pt` (optimizer stripped) holds the last epoch again, and goes up.
 */
export function isOlderCheckpoint(candidate: CheckpointPosition, durable: CheckpointPosition | null): boolean {
  if (durable === null) return false;
  if (candidate.phase !== durable.phase) return candidate.phase < durable.phase;
  return candidate.epoch !== null && durable.epoch !== null && candidate.epoch < durable.epoch;
}

export interface ShipperHooks {
  /**
   * Which weights file this shipper keeps durable: `last.pt` (the checkpoint the run resumes from, at
   * `checkpoints/phase-<k>/last.pt`) or `best.pt` (at `checkpoints/phase-<k>/best.pt`).
   * @default "last.pt"
   */
  readonly file?: WeightsFile;
  /** Epochs of a phase in the spec (caps `checkpoint.epoch`). */
  readonly phaseEpochs: (phase: number) => number;
  /** The checkpoint the record names now, complete in S3; nothing older is uploaded over it. */
  readonly durable: () => CheckpointPosition | null;
  /** Called once the object is complete and verified in S3; the caller then names it in the record. */
  readonly onShipped: (checkpoint: CheckpointRef) => void;
  /** Called before an upload to the checkpoint key starts; resolves when it may start. */
  readonly beforeUpload: () => Promise<void>;
  /** Called after the upload ended (after `onShipped` when it succeeded). */
  readonly afterUpload: () => void;
}

/** `progress.jsonl` and its mtime from one open file, so the bytes are the ones that mtime describes. */
async function readProgressSnapshot(path: string): Promise<{ bytes: Buffer; mtimeMs: number }> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch {
    return { bytes: Buffer.alloc(0), mtimeMs: -Infinity };
  }
  try {
    const info = await handle.stat();
    const bytes = Buffer.alloc(info.size);
    const { bytesRead } = await handle.read(bytes, 0, info.size, 0);
    return { bytes: bytes.subarray(0, bytesRead), mtimeMs: info.mtimeMs };
  } finally {
    await handle.close();
  }
}

/** The structural zip check on a file, reading only its ends, directory and local headers. */
async function inspectZipFile(path: string): Promise<ZipVerdict> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    return await inspectZip({
      size,
      read: async (offset, length) => {
        const bytes = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
        let filled = 0;
        while (filled < bytes.length) {
          const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return bytes.subarray(0, filled);
      },
    });
  } finally {
    await handle.close();
  }
}

/** How a file's first bytes classify it (`zipStart`), without copying it. */
async function startOf(path: string, size: number): Promise<ReturnType<typeof zipStart>> {
  const handle = await open(path, "r");
  try {
    const head = Buffer.alloc(Math.min(4, size));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return zipStart(head.subarray(0, bytesRead), bytesRead);
  } finally {
    await handle.close();
  }
}

/** A whole version of a `last.pt` copied aside, waiting for its upload or in it. */
interface Snapshot {
  readonly file: CheckpointFile;
  readonly path: string;
  readonly epoch: number | null;
  /** Resolves once the copy is uploaded, failed, or dropped for a newer one. */
  readonly settled: Promise<void>;
  readonly settle: () => void;
}

/**
 * Ships `last.pt` files to `checkpoints/phase-<k>/last.pt`, one upload at a time (two uploads to one
 * key must not race). While the trainer runs, each new version the watcher finds is copied aside
 * (the trainer may rewrite the file any moment) and the copy is checked; a whole copy is uploaded at
 * once, or, while an upload runs, kept as the one to upload next, replacing any older one waiting.
 * After the trainer stopped, the file on disk goes up if it is whole, else the copy waiting.
 */
export class CheckpointShipper {
  /** Examinations and the final shipment, one after another. */
  private chain: Promise<unknown> = Promise.resolve();
  private watching = false;
  private pending: Snapshot | null = null;
  private uploading: { readonly snapshot: Snapshot; readonly finished: Promise<void> } | null = null;
  private snapshotDir: Promise<string> | null = null;
  private snapshotCount = 0;
  /** The version last refused as older, per path: logged once, not at every poll. */
  private readonly refusedAsOlder = new Map<string, FileSignature>();
  private readonly file: WeightsFile;

  constructor(
    private readonly transfer: Pick<CheckpointTransfer, "uploadFile">,
    private readonly layout: RunLayout,
    private readonly versions: CheckpointVersions,
    private readonly hooks: ShipperHooks,
    private readonly log: Logger,
  ) {
    this.file = hooks.file ?? "last.pt";
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const next = this.chain.then(job, job);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** A trainer launch began: versions found from now on are examined and uploaded. */
  startWatching(): void {
    this.watching = true;
  }

  /**
   * The trainer is stopping: no new examination or upload starts (one running is let finish);
   * {@link shipFinal} decides what goes up last.
   */
  stopWatching(): void {
    this.watching = false;
  }

  /** Waits for the examination, the upload and the waiting copy there are now (not for later ones). */
  async idle(): Promise<void> {
    await this.chain;
    await Promise.all([this.uploading?.finished, this.pending?.settled]);
  }

  /** One poll's `last.pt` files, while the trainer runs. Never throws. */
  poll(files: readonly CheckpointFile[]): Promise<void> {
    return this.serial(async () => {
      if (!this.watching) return;
      for (const file of files) {
        const sighting = this.versions.observe(file.path, file.signature);
        if (!sighting.fresh) continue;
        try {
          await this.examine(file, sighting.heldStill);
        } catch (error) {
          this.log.warn("checkpoint-copy-failed", { phase: file.phase, error: describeError(error) });
        }
      }
      this.pump();
    });
  }

  /**
   * After the trainer stopped: ships the newest `last.pt` on disk if it is whole (or cannot be
   * judged), not shipped yet and not older than the durable checkpoint; otherwise the whole copy
   * still waiting, if any. Returns false (and logs) when nothing went up.
   */
  shipFinal(deadlineMs?: number): Promise<boolean> {
    return this.serial(async () => {
      this.watching = false;
      await this.uploading?.finished;
      const pending = this.pending;
      this.pending = null;
      try {
        const files = await scanCheckpoints(this.layout.workdir, this.file);
        const newest = files[files.length - 1];
        if (newest !== undefined) {
          if (this.versions.isShipped(newest.path, newest.signature)) {
            // What the trainer left is what went up last; a copy of the same file waiting is older.
            if (pending?.file.path === newest.path) return false;
          } else {
            // A file that cannot be read is no better than a torn one: the copy waiting still may be.
            const verdict = await inspectZipFile(newest.path).catch((error: unknown): ZipVerdict => ({ kind: "incomplete", reason: describeError(error) }));
            if (verdict.kind !== "incomplete") {
              if (await this.upload(newest, newest.path, await this.epochOf(newest), deadlineMs)) return true;
            } else {
              this.log.warn("checkpoint-incomplete", { phase: newest.phase, bytes: newest.signature.size, reason: verdict.reason, final: true });
            }
          }
        }
        return pending !== null && (await this.upload(pending.file, pending.path, pending.epoch, deadlineMs));
      } catch (error) {
        this.log.error("checkpoint-upload-failed", { final: true, error: describeError(error) });
        return false;
      } finally {
        if (pending !== null) await this.discard(pending);
      }
    });
  }

  /** Copies a new version aside and keeps the copy for upload if it is whole and not older than the durable one. */
  private async examine(file: CheckpointFile, heldStill: boolean): Promise<void> {
    const durable = this.hooks.durable();
    if (durable !== null && file.phase < durable.phase) return;
    // Rewritten since the scan: the next poll sees the newer version.
    if (!sameSignature(await signatureOf(file.path), file.signature)) return;
    const start = await startOf(file.path, file.signature.size);
    if (start !== "zip") {
      if (start.kind === "incomplete") {
        this.versions.markJudged(file.path, file.signature);
        this.log.info("checkpoint-incomplete", { phase: file.phase, bytes: file.signature.size, reason: start.reason });
        return;
      }
      // Not a zip: nothing in its bytes says it is whole, so it must hold still across two polls.
      if (!heldStill) return;
    }
    // The progress is read before the copy: a rewrite of last.pt from here on shows in its
    // signature after the copy, so the epoch read here belongs to the version copied.
    const epoch = await this.epochOf(file);
    if (this.refuseOlder(file, epoch)) return;
    const copy = join(await this.snapshotFolder(), `${++this.snapshotCount}.pt`);
    let kept = false;
    try {
      await copyFile(file.path, copy);
      // Rewritten during the copy: the copy may mix two versions, which no check of its bytes can
      // tell from a whole one (ultralytics writes the same entries at the same offsets every epoch).
      if (!sameSignature(await signatureOf(file.path), file.signature)) {
        this.log.info("checkpoint-changed-during-copy", { phase: file.phase });
        return;
      }
      const verdict = await inspectZipFile(copy);
      if (verdict.kind === "not-zip" && !heldStill) return;
      this.versions.markJudged(file.path, file.signature);
      if (verdict.kind === "incomplete") {
        // Usually a poll that met ultralytics half-way through writing; the next version will do.
        this.log.info("checkpoint-incomplete", { phase: file.phase, bytes: file.signature.size, reason: verdict.reason });
        return;
      }
      const superseded = this.pending;
      let settle!: () => void;
      const settled = new Promise<void>((resolve) => (settle = resolve));
      this.pending = { file, path: copy, epoch, settled, settle };
      kept = true;
      if (superseded !== null) {
        this.log.info("checkpoint-superseded", { phase: superseded.file.phase, epoch: superseded.epoch, by: { phase: file.phase, epoch } });
        await this.discard(superseded);
      }
    } finally {
      if (!kept) await rm(copy, { force: true });
    }
  }

  /** Starts uploading the waiting copy, unless an upload runs (it starts the next when done) or the trainer is stopping. */
  private pump(): void {
    if (!this.watching || this.uploading !== null || this.pending === null) return;
    const snapshot = this.pending;
    this.pending = null;
    const finished = (async () => {
      try {
        await this.upload(snapshot.file, snapshot.path, snapshot.epoch);
      } catch (error) {
        this.log.error("checkpoint-upload-failed", { phase: snapshot.file.phase, error: describeError(error) });
      } finally {
        await this.discard(snapshot);
      }
    })().finally(() => {
      this.uploading = null;
      this.pump();
    });
    this.uploading = { snapshot, finished };
  }

  private async discard(snapshot: Snapshot): Promise<void> {
    try {
      await rm(snapshot.path, { force: true });
    } finally {
      snapshot.settle();
    }
  }

  /** The agent's folder for copies, emptied once: copies an earlier agent left are of no use. */
  private snapshotFolder(): Promise<string> {
    this.snapshotDir ??= (async () => {
      // Each shipper empties its own folder: the best.pt shipper must not delete last.pt copies.
      const dir = join(this.layout.agentDir, this.file === "best.pt" ? "best-snapshots" : "snapshots");
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      return dir;
    })().catch((error: unknown) => {
      this.snapshotDir = null;
      throw error;
    });
    return this.snapshotDir;
  }

  /**
   * Whether `file` at `epoch` is older than the durable checkpoint (logged once per version). A
   * `best.pt` is compared by phase only: the trainer rewrites it only with better weights, and its
   * epoch is the less certain one (bestCheckpointEpoch), so a later phase's is never refused for it.
   */
  private refuseOlder(file: CheckpointFile, epoch: number | null): boolean {
    const durable = this.hooks.durable();
    const position = { phase: file.phase, epoch: this.file === "last.pt" ? epoch : null };
    if (!isOlderCheckpoint(position, durable)) return false;
    if (!sameSignature(this.refusedAsOlder.get(file.path), file.signature)) {
      this.refusedAsOlder.set(file.path, file.signature);
      this.log.warn("checkpoint-older-than-durable", { file: this.file, phase: file.phase, epoch, durable });
    }
    return true;
  }

  private async epochOf(file: CheckpointFile): Promise<number | null> {
    const progress = await readProgressSnapshot(this.layout.progressFile);
    return (this.file === "best.pt" ? bestCheckpointEpoch : checkpointEpoch)({
      progress: progress.bytes,
      progressMtimeMs: progress.mtimeMs,
      checkpointMtimeMs: file.signature.mtimeMs,
      phase: file.phase,
      phaseEpochs: this.hooks.phaseEpochs(file.phase),
    });
  }

  /**
   * Uploads `source` as this version of `file` and has the record name it. False, uploading nothing,
   * when it is older than the durable checkpoint; throws when the upload fails.
   */
  private async upload(file: CheckpointFile, source: string, epoch: number | null, deadlineMs?: number): Promise<boolean> {
    if (this.refuseOlder(file, epoch)) return false;
    const key = this.file === "best.pt" ? this.layout.bestCheckpointKey(file.phase) : this.layout.checkpointKey(file.phase);
    await this.hooks.beforeUpload();
    try {
      const uploaded = await this.transfer.uploadFile({ path: source, key, ...(deadlineMs !== undefined ? { deadlineMs } : {}) });
      this.versions.markShipped(file.path, file.signature);
      this.hooks.onShipped({ key, sha256: uploaded.sha256, bytes: uploaded.bytes, phase: file.phase, epoch, versionId: uploaded.versionId });
      this.log.info("checkpoint-durable", { file: this.file, key, phase: file.phase, epoch, bytes: uploaded.bytes, versionId: uploaded.versionId });
      return true;
    } finally {
      this.hooks.afterUpload();
    }
  }
}
