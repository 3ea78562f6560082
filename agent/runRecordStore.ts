import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { readFile, stat } from "fs/promises";
import { isTransientError, retry, type BackoffPolicy } from "./backoff";
import { describeError, type Logger } from "./log";
import type { RunLayout } from "../runspec/runLayout";
import type { RunRecord } from "../runspec/runRecord";
import { isConditionFailure } from "./runLease";
import { isS3NotFound } from "../ota/s3Errors";

/** Record writes are small; retried for about a minute in all, on top of the SDK's own retries. */
export const RECORD_RETRY: BackoffPolicy = { maxAttempts: 8, baseMs: 500, capMs: 10_000 };

const isNotFound = isS3NotFound;

/** A record write found that this agent is not, or no longer, the run's single writer; never retried. */
export class RecordConflictError extends Error {
  override readonly name = "RecordConflictError";
}

/** The run's lease as the store sees it (agent/runLease.ts). */
export interface WriterFence {
  /** Cheap, local: may this agent still write? Asked before every write. */
  holds(): boolean;
  /** Asks S3: is the lease still this agent's? Asked when a record write met another writer's record. */
  confirm(): Promise<boolean>;
}

/**
 * `run.json` and `progress.jsonl` in S3. Give it a client with few SDK tries per request (see
 * `createS3Client`'s `maxAttempts`): its own retries can be cut short by {@link RecordPublisher.hold}, the SDK's cannot.
 *
 * `run.json` is written only on the version this agent read or wrote last (`If-Match` on its ETag;
 * `If-None-Match: *` when there was none), so a second writer is noticed, not overwritten. With a
 * `fence` (the run's lease) every write first checks that this agent still holds the run.
 */
export class RunRecordStore {
  /** ETag of the record as this agent last read or wrote it; null when there was none. */
  private etag: string | null = null;
  private fence: WriterFence | null = null;

  constructor(
    private readonly s3: S3Client,
    private readonly layout: RunLayout,
    private readonly log: Logger,
    private readonly policy: BackoffPolicy = RECORD_RETRY,
  ) {}

  /** From now on writes only while `fence` holds (set once the lease is taken). */
  guardWith(fence: WriterFence): void {
    this.fence = fence;
  }

  private async getObject(key: string, etag?: { etag: string | null }): Promise<Buffer | null> {
    return retry(
      async () => {
        try {
          const answer = await this.s3.send(new GetObjectCommand({ Bucket: this.layout.bucket, Key: key }));
          if (etag) etag.etag = answer.ETag ?? null;
          return answer.Body ? Buffer.from(await answer.Body.transformToByteArray()) : Buffer.alloc(0);
        } catch (error) {
          if (isNotFound(error)) {
            if (etag) etag.etag = null;
            return null;
          }
          throw error;
        }
      },
      { policy: this.policy, onRetry: (error, n, delayMs) => this.log.warn("read-retry", { key, retry: n + 1, delayMs, error: describeError(error) }) },
    );
  }

  /**
   * The stored record as parsed JSON; null when there is none. Unparseable text is reported as
   * `{ unreadable }`. Its version is the one the next write must replace.
   */
  async readRecord(): Promise<{ readonly json: unknown } | null> {
    const seen = { etag: null as string | null };
    const bytes = await this.getObject(this.layout.recordKey, seen);
    this.etag = seen.etag;
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

  private async put(key: string, body: Buffer | string, contentType: string, signal?: AbortSignal, conditional = false): Promise<void> {
    await retry(
      // The signal stops retrying but never cancels a request on the wire: a cancelled PUT may still
      // be applied by S3 later, and an old record landing after a newer one is exactly what must not happen.
      async () => {
        this.checkFence();
        const condition = !conditional ? {} : this.etag === null ? { IfNoneMatch: "*" } : { IfMatch: this.etag };
        try {
          const answer = await this.s3.send(new PutObjectCommand({ Bucket: this.layout.bucket, Key: key, Body: body, ContentType: contentType, ...condition }));
          if (conditional) this.etag = answer.ETag ?? null;
        } catch (error) {
          if (!conditional || !isConditionFailure(error)) throw error;
          // Resolved in this agent's favour: written already, or the next try replaces the other write.
          if ((await this.resolveConflict(Buffer.from(body))) === "written") return;
          throw Object.assign(new Error("run record written by another agent; writing over it"), { $retryable: true });
        }
      },
      {
        policy: this.policy,
        ...(signal ? { signal } : {}),
        isRetryable: (error) => !(error instanceof RecordConflictError) && isTransientError(error),
        onRetry: (error, n, delayMs) => this.log.warn("write-retry", { key, retry: n + 1, delayMs, error: describeError(error) }),
      },
    );
  }

  /**
   * The record's conditional write failed: S3 holds another version than this agent's. If it is
   * the very record being written (an SDK retry of a PUT S3 had applied), that is success. If this
   * agent still holds the lease, the other version came from a writer whose lease had run out (a
   * request it sent in time that landed late): the next try writes over it. Otherwise this agent is
   * not the run's writer any more: RecordConflictError.
   */
  private async resolveConflict(body: Buffer): Promise<"written" | "write-again"> {
    const seen = { etag: null as string | null };
    const current = await this.getObject(this.layout.recordKey, seen);
    if (current !== null && current.equals(body)) {
      this.etag = seen.etag;
      return "written";
    }
    if (this.fence !== null && (await this.fence.confirm())) {
      this.log.warn("record-conflict-overridden", { key: this.layout.recordKey, note: "another writer's late record; this agent holds the lease" });
      this.etag = seen.etag;
      return "write-again";
    }
    throw new RecordConflictError(`s3://${this.layout.bucket}/${this.layout.recordKey} was written by another agent: this agent is no longer the run's writer`);
  }

  private checkFence(): void {
    if (this.fence !== null && !this.fence.holds()) throw new RecordConflictError("this agent no longer holds the run's lease: it writes nothing more");
  }

  /** Writes the progress lines (when given) and then the record, so the record never runs ahead of them. */
  async write(record: RunRecord, progress: Buffer | null, signal?: AbortSignal): Promise<void> {
    if (progress !== null) await this.put(this.layout.progressKey, progress, "application/x-ndjson", signal);
    if (signal?.aborted) throw new Error("record write aborted");
    await this.put(this.layout.recordKey, JSON.stringify(record, null, 2) + "\n", "application/json", signal, true);
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
  private held: { released: Promise<void>; release: () => void; count: number } | null = null;
  private progressUploadedSize = -1;
  private progressUploadedMtime = -1;

  constructor(
    private readonly store: RunRecordStore,
    private readonly progressFile: string,
    private readonly log: Logger,
    /** Called when a write finds that this agent is no longer the run's writer (nothing more is written). */
    private readonly onConflict: (error: RecordConflictError) => void = () => undefined,
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
    if (this.refused === null && this.inFlight === null && this.held === null && this.pending.length > 0) this.inFlight = this.drain();
  }

  /** Set when a write found another writer: this agent writes no record after it. */
  private refused: RecordConflictError | null = null;

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
      this.held = { released, release, count: 0 };
    }
    this.held.count += 1;
    this.stopRetrying?.abort();
    if (this.inFlight !== null) await this.inFlight;
  }

  /** Ends one {@link hold} (last.pt and best.pt uploads may overlap); the last one resumes writing, starting with what was published meanwhile. */
  release(): void {
    const held = this.held;
    if (held === null) return;
    held.count -= 1;
    if (held.count > 0) return;
    this.held = null;
    held.release();
    this.kick();
  }

  /** Resolves once no hold is in place: no checkpoint upload is changing the object the record names. */
  async unheld(): Promise<void> {
    while (this.held !== null) await this.held.released;
  }

  /** Resolves once every published record is in S3; throws if the newest could not be written. */
  async flush(): Promise<void> {
    for (let round = 0; round < 3 && this.pending.length > 0 && this.refused === null; round++) {
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
          if (error instanceof RecordConflictError) {
            this.lastError = error;
            this.refused = error;
            this.log.error("record-write-refused", { phase: record.phase, error: describeError(error) });
            this.onConflict(error);
          } else if (stop.signal.aborted) {
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
