import { copyFile, mkdir, open, rm } from "fs/promises";
import { checkpointEpoch } from "./progress";
import { join } from "path";
import { isTornZip, ZIP_TAIL_BYTES } from "./checkpointIntegrity";
import type { CheckpointTransfer } from "./checkpointUploader";
import { describeError, type Logger } from "./log";
import type { RunLayout } from "./runLayout";
import type { CheckpointRef } from "./runRecord";
import { scanCheckpoints, sameSignature, signatureOf, type CheckpointFile, type StabilityTracker } from "./weightsWatcher";

export interface ShipperHooks {
  /** Epochs of a phase in the spec (caps `checkpoint.epoch`). */
  readonly phaseEpochs: (phase: number) => number;
  /** Phase of the checkpoint the record names now; older phases are not shipped over it. */
  readonly recordedPhase: () => number | null;
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

async function readHeadAndTail(path: string, size: number): Promise<{ head: Buffer; tail: Buffer }> {
  const handle = await open(path, "r");
  try {
    const head = Buffer.alloc(Math.min(4, size));
    await handle.read(head, 0, head.length, 0);
    const tailLength = Math.min(size, ZIP_TAIL_BYTES);
    const tail = Buffer.alloc(tailLength);
    await handle.read(tail, 0, tailLength, size - tailLength);
    return { head, tail };
  } finally {
    await handle.close();
  }
}

/**
 * Ships `last.pt` files to `checkpoints/phase-<k>/last.pt`, one at a time. While the trainer runs,
 * a stable file is first copied aside (the trainer may start rewriting it any moment) and the copy
 * is uploaded; after the trainer stopped, the file on disk is uploaded directly.
 */
export class CheckpointShipper {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly transfer: CheckpointTransfer,
    private readonly layout: RunLayout,
    private readonly tracker: StabilityTracker,
    private readonly hooks: ShipperHooks,
    private readonly log: Logger,
  ) {}

  /** Runs shipping jobs one after another (two uploads to one key must not race). */
  private serial<T>(job: () => Promise<T>): Promise<T> {
    const next = this.chain.then(job, job);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Waits for every shipping job queued so far. */
  async idle(): Promise<void> {
    await this.chain;
  }

  /** Ships a file the watcher found stable while the trainer may still write. Never throws. */
  shipStable(file: CheckpointFile): Promise<boolean> {
    return this.serial(async () => {
      const recorded = this.hooks.recordedPhase();
      if (recorded !== null && file.phase < recorded) return false;
      if (this.tracker.isShipped(file.path, file.signature)) return false;
      await mkdir(this.layout.agentDir, { recursive: true });
      const snapshot = join(this.layout.agentDir, `phase-${file.phase}-last.pt`);
      try {
        // Read the progress after checking the file still is the stable one, and copy after that:
        // a rewrite of last.pt at any point since is caught by the check after the copy.
        if (!sameSignature(await signatureOf(file.path), file.signature)) return false;
        const epoch = await this.epochOf(file);
        await copyFile(file.path, snapshot);
        // The trainer may have begun rewriting during the copy; then the copy is mixed: drop it.
        if (!sameSignature(await signatureOf(file.path), file.signature)) {
          this.log.info("checkpoint-changed-during-copy", { phase: file.phase });
          return false;
        }
        return await this.upload(file, snapshot, epoch);
      } catch (error) {
        this.log.error("checkpoint-upload-failed", { phase: file.phase, error: describeError(error) });
        return false;
      } finally {
        await rm(snapshot, { force: true });
      }
    });
  }

  /**
   * After the trainer stopped: ships the newest `last.pt` on disk if it is not shipped yet and not a
   * torn write. Returns false (and logs) when there was nothing to ship or it failed.
   */
  shipFinal(deadlineMs?: number): Promise<boolean> {
    return this.serial(async () => {
      const files = await scanCheckpoints(this.layout.workdir);
      const newest = files[files.length - 1];
      if (newest === undefined) return false;
      const recorded = this.hooks.recordedPhase();
      if (recorded !== null && newest.phase < recorded) return false;
      if (this.tracker.isShipped(newest.path, newest.signature)) return false;
      try {
        return await this.upload(newest, newest.path, await this.epochOf(newest), deadlineMs);
      } catch (error) {
        this.log.error("checkpoint-upload-failed", { phase: newest.phase, final: true, error: describeError(error) });
        return false;
      }
    });
  }

  private async epochOf(file: CheckpointFile): Promise<number | null> {
    const progress = await readProgressSnapshot(this.layout.progressFile);
    return checkpointEpoch({
      progress: progress.bytes,
      progressMtimeMs: progress.mtimeMs,
      checkpointMtimeMs: file.signature.mtimeMs,
      phase: file.phase,
      phaseEpochs: this.hooks.phaseEpochs(file.phase),
    });
  }

  private async upload(file: CheckpointFile, source: string, epoch: number | null, deadlineMs?: number): Promise<boolean> {
    const { head, tail } = await readHeadAndTail(source, file.signature.size);
    if (isTornZip(head, tail)) {
      this.log.warn("checkpoint-torn", { phase: file.phase, bytes: file.signature.size });
      return false;
    }
    const key = this.layout.checkpointKey(file.phase);
    await this.hooks.beforeUpload();
    try {
      const digest = await this.transfer.uploadFile({ path: source, key, ...(deadlineMs !== undefined ? { deadlineMs } : {}) });
      this.tracker.markShipped(file.path, file.signature);
      this.hooks.onShipped({ key, sha256: digest.sha256, bytes: digest.bytes, phase: file.phase, epoch });
      this.log.info("checkpoint-durable", { key, phase: file.phase, epoch, bytes: digest.bytes });
      return true;
    } finally {
      this.hooks.afterUpload();
    }
  }
}
