import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { readFile, stat } from "fs/promises";
import { retry, type BackoffPolicy } from "./backoff";
import { describeError, type Logger } from "./log";
import type { RunLayout } from "./runLayout";
import type { RunRecord } from "./runRecord";

/** Record writes are small; retried for about a minute in all, on top of the SDK's own retries. */
export const RECORD_RETRY: BackoffPolicy = { maxAttempts: 8, baseMs: 500, capMs: 10_000 };

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}

/**
 * `run.json` and `progress.jsonl` in S3. Give it a client with few SDK tries per request (see
 * `createS3Client`'s `maxAttempts`): its own retries can be cut short by {@link RecordPublisher.hold}, the SDK's cannot.
 */
export class RunRecordStore {
  constructor(
    private readonly s3: S3Client,
    private readonly layout: RunLayout,
    private readonly log: Logger,
    private readonly policy: BackoffPolicy = RECORD_RETRY,
  ) {}

  private async getObject(key: string): Promise<Buffer | null> {
    return retry(
      async () => {
        try {
          const answer = await this.s3.send(new GetObjectCommand({ Bucket: this.layout.bucket, Key: key }));
          return answer.Body ? Buffer.from(await answer.Body.transformToByteArray()) : Buffer.alloc(0);
        } catch (error) {
          if (isNotFound(error)) return null;
          throw error;
        }
      },
      { policy: this.policy, onRetry: (error, n, delayMs) => this.log.warn("read-retry", { key, retry: n + 1, delayMs, error: describeError(error) }) },
    );
  }

  /** The stored record as parsed JSON; null when there is none. Unparseable text is reported as `{ unreadable }`. */
  async readRecord(): Promise<{ readonly json: unknown } | null> {
    const bytes = await this.getObject(this.layout.recordKey);
    if (bytes === null) return null;
    try {
      return { json: JSON.parse(bytes.toString("utf8")) };
    } catch {
      return { json: { unreadable: bytes.length } };
    }
  }

  async readProgress(): Promise<Buffer | null> {
    return this.getObject(this.layout.progressKey);
  }

  private async put(key: string, body: Buffer | string, contentType: string, signal?: AbortSignal): Promise<void> {
    await retry(
      // The signal stops retrying but never cancels a request on the wire: a cancelled PUT may still
      // be applied by S3 later, and an old record landing after a newer one is exactly what must not happen.
      () => this.s3.send(new PutObjectCommand({ Bucket: this.layout.bucket, Key: key, Body: body, ContentType: contentType })),
      {
        policy: this.policy,
        ...(signal ? { signal } : {}),
        onRetry: (error, n, delayMs) => this.log.warn("write-retry", { key, retry: n + 1, delayMs, error: describeError(error) }),
      },
    );
  }

  /** Writes the progress lines (when given) and then the record, so the record never runs ahead of them. */
  async write(record: RunRecord, progress: Buffer | null, signal?: AbortSignal): Promise<void> {
    if (progress !== null) await this.put(this.layout.progressKey, progress, "application/x-ndjson", signal);
    if (signal?.aborted) throw new Error("record write aborted");
    await this.put(this.layout.recordKey, JSON.stringify(record, null, 2) + "\n", "application/json", signal);
  }
}

/**
 * Keeps S3's `run.json` at the newest record without queueing every intermediate one: records
 * published while a write is in flight replace each other, except phase changes (milestones),
 * which are each written in order so a watcher sees every phase the run went through.
 */
export class RecordPublisher {
  /** Records still to write, oldest first; only the last may be a non-milestone. */
  private readonly pending: { record: RunRecord; milestone: boolean }[] = [];
  private inFlight: Promise<void> | null = null;
  private stopRetrying: AbortController | null = null;
  private lastError: unknown = null;
  private held: { released: Promise<void>; release: () => void } | null = null;
  private progressUploadedSize = -1;
  private progressUploadedMtime = -1;

  constructor(
    private readonly store: RunRecordStore,
    private readonly progressFile: string,
    private readonly log: Logger,
  ) {}

  /** Schedules `record` to be written; returns at once. A milestone is never skipped. */
  publish(record: RunRecord, milestone = false): void {
    const last = this.pending[this.pending.length - 1];
    if (last !== undefined && !last.milestone) this.pending.pop();
    this.pending.push({ record, milestone });
    this.kick();
  }

  /**
   * Applies `change` to every record not written yet. When a checkpoint becomes durable, records
   * queued earlier (phase changes are never dropped) must name it too: written after the upload,
   * they would otherwise name an object S3 no longer holds.
   */
  amendPending(change: (record: RunRecord) => RunRecord): void {
    for (const entry of this.pending) entry.record = change(entry.record);
  }

  private kick(): void {
    if (this.inFlight === null && this.held === null && this.pending.length > 0) this.inFlight = this.drain();
  }

  /**
   * Stops writing records until {@link release}; resolves once no write is in flight. Used around a
   * checkpoint upload: the object at the checkpoint key changes during it, and a record written
   * meanwhile would name the old checkpoint while S3 already holds the new one. A write waiting to
   * retry after S3 errors gives up at once (it is written again after the release), so a checkpoint
   * after a spot notice queues at most behind one request; a request on the wire is let finish.
   */
  async hold(): Promise<void> {
    if (this.held === null) {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      this.held = { released, release };
    }
    this.stopRetrying?.abort();
    if (this.inFlight !== null) await this.inFlight;
  }

  /** Resumes writing, starting with what was published meanwhile. */
  release(): void {
    const held = this.held;
    this.held = null;
    held?.release();
    this.kick();
  }

  /** Resolves once no hold is in place: no checkpoint upload is changing the object the record names. */
  async unheld(): Promise<void> {
    while (this.held !== null) await this.held.released;
  }

  /** Resolves once every published record is in S3; throws if the newest could not be written. */
  async flush(): Promise<void> {
    for (let round = 0; round < 3 && this.pending.length > 0; round++) {
      while (this.held !== null) await this.held.released;
      this.kick();
      if (this.inFlight !== null) await this.inFlight;
    }
    if (this.pending.length > 0) throw this.lastError ?? new Error("run record not written");
  }

  private async changedProgress(): Promise<Buffer | null> {
    try {
      const info = await stat(this.progressFile);
      if (info.size === this.progressUploadedSize && info.mtimeMs === this.progressUploadedMtime) return null;
      const bytes = await readFile(this.progressFile);
      this.progressUploadedSize = info.size;
      this.progressUploadedMtime = info.mtimeMs;
      return bytes;
    } catch {
      return null;
    }
  }

  private async drain(): Promise<void> {
    try {
      for (let next = this.pending[0]; next !== undefined && this.held === null; next = this.pending[0]) {
        const { record } = next;
        const sizeBefore = this.progressUploadedSize;
        const mtimeBefore = this.progressUploadedMtime;
        const progress = await this.changedProgress();
        const stop = new AbortController();
        this.stopRetrying = stop;
        try {
          await this.store.write(record, progress, stop.signal);
          if (this.pending[0] === next) this.pending.shift();
          this.lastError = null;
          this.log.info("record-written", { phase: record.phase, epoch: record.epoch, epochs: record.epochs, attempts: record.attempts });
        } catch (error) {
          // Upload the progress lines again with the next write.
          this.progressUploadedSize = sizeBefore;
          this.progressUploadedMtime = mtimeBefore;
          if (stop.signal.aborted) {
            this.log.info("record-write-deferred", { phase: record.phase, reason: "checkpoint upload" });
          } else {
            this.lastError = error;
            this.log.error("record-write-failed", { phase: record.phase, error: describeError(error) });
          }
          return;
        } finally {
          this.stopRetrying = null;
        }
      }
    } finally {
      this.inFlight = null;
    }
  }
}
