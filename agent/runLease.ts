import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { sleep } from "./backoff";
import { describeError, type Logger } from "./log";
import { isS3NotFound, isS3PreconditionFailed } from "../ota/s3Errors";

/**
 * The run's single-writer lease (`runs/<runId>/lease.json`, docs/node-runtime.md "One agent per
 * run"). Only the agent holding it trains, uploads checkpoints and writes the run record. It is
 * taken and renewed with S3 conditional writes (`If-None-Match: *` for a new lease, `If-Match:
 * <ETag>` for every change), so two agents can never both believe they took it: S3 decides each
 * write atomically and answers the loser 412. A lease not renewed for its TTL is expired; the
 * waiter measures that TTL on its own clock from when it first saw that version of the lease, so
 * no two nodes' clocks need agree. The holder stops counting on its lease a TTL after it sent its
 * last successful renewal, which is no later than a waiter can take it over.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */

export interface LeaseHolder {
  /** Random per agent process: two agents on one instance (a restarted container) are two holders. */
  readonly agentId: string;
  readonly instanceId: string | null;
}

/** The lease object's JSON. */
export interface LeaseDocument {
  readonly runId: string;
  readonly holder: LeaseHolder;
  readonly acquiredAt: string;
  readonly renewedAt: string;
  readonly ttlMs: number;
  /** Set by a holder that stopped (any end state): the next agent takes over at once. */
  readonly released: boolean;
}

/** A read of the lease object: its document (null when it is not one) and its ETag. */
export interface LeaseRead {
  readonly document: LeaseDocument | null;
  readonly etag: string;
}

export type LeaseVerdict =
  | { readonly kind: "free" }
  | { readonly kind: "released"; readonly holder: LeaseHolder | null }
  | { readonly kind: "expired"; readonly holder: LeaseHolder | null; readonly why: string }
  | { readonly kind: "live"; readonly holder: LeaseHolder | null; readonly expiresInMs: number };

/** EC2 keeps clocks within milliseconds (Amazon Time Sync); a minute covers a node far worse off. */
export const MAX_CLOCK_SKEW_MS = 60_000;

/**
 * Whether the lease read can be taken over. `firstSeenAtMs`: when this agent first read this version
 * (same ETag) of it. A lease is expired when it stayed unchanged a whole TTL by this agent's clock, or
 * when its own `renewedAt` is older than a TTL plus the worst clock skew (a lease a dead node left long
 * ago need not be watched for a TTL). A lease that is not a lease document counts with `fallbackTtlMs`.
 */
export function judgeLease(read: LeaseRead | null, firstSeenAtMs: number, nowMs: number, fallbackTtlMs: number): LeaseVerdict {
  if (read === null) return { kind: "free" };
  const document = read.document;
  const holder = document?.holder ?? null;
  if (document?.released) return { kind: "released", holder };
  const ttlMs = document?.ttlMs ?? fallbackTtlMs;
  const watchedMs = nowMs - firstSeenAtMs;
  if (watchedMs >= ttlMs) return { kind: "expired", holder, why: `unchanged for ${Math.round(watchedMs / 1000)} s (TTL ${Math.round(ttlMs / 1000)} s)` };
  const renewedAtMs = document === null ? Number.NaN : Date.parse(document.renewedAt);
  if (Number.isFinite(renewedAtMs) && renewedAtMs + ttlMs + MAX_CLOCK_SKEW_MS <= nowMs) {
    return { kind: "expired", holder, why: `last renewed at ${document!.renewedAt}, more than the TTL and ${MAX_CLOCK_SKEW_MS / 1000} s ago` };
  }
  return { kind: "live", holder, expiresInMs: ttlMs - watchedMs };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The lease document in `text`, or null when it is not one of this run. */
export function parseLeaseDocument(text: string, runId: string): LeaseDocument | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(json) || json.runId !== runId || !isObject(json.holder) || typeof json.holder.agentId !== "string") return null;
  if (typeof json.acquiredAt !== "string" || typeof json.renewedAt !== "string") return null;
  if (typeof json.ttlMs !== "number" || !Number.isFinite(json.ttlMs) || json.ttlMs <= 0) return null;
  const instanceId = typeof json.holder.instanceId === "string" ? json.holder.instanceId : null;
  return { runId, holder: { agentId: json.holder.agentId, instanceId }, acquiredAt: json.acquiredAt, renewedAt: json.renewedAt, ttlMs: json.ttlMs, released: json.released === true };
}

/** How waiting for the lease ended. */
export type AcquireOutcome =
  | { readonly kind: "acquired"; readonly tookOver: LeaseVerdict }
  /** Still held elsewhere after the wait: another agent runs this run. */
  | { readonly kind: "held-elsewhere"; readonly holder: LeaseHolder | null }
  /** `whileWaiting` asked to stop waiting (the run completed, a spot notice, a signal). */
  | { readonly kind: "stopped" };

export interface AcquireOptions {
  /** Give up after this long (0: one look). */
  readonly maxWaitMs: number;
  /** Between looks while the lease is held elsewhere. */
  readonly pollMs: number;
  /** Called before each look while waiting: true stops the wait. */
  readonly stopWaiting?: () => Promise<boolean> | boolean;
  readonly signal?: AbortSignal;
}

/** S3's answer to a write whose condition did not hold (412), or an `If-Match` on a key that is gone (404). */
export function isConditionFailure(error: unknown): boolean {
  return isS3PreconditionFailed(error) || isS3NotFound(error);
}

const isNotFound = isS3NotFound;

export interface RunLeaseOptions {
  readonly runId: string;
  readonly bucket: string;
  readonly key: string;
  readonly holder: LeaseHolder;
  readonly ttlMs: number;
  readonly log: Logger;
  readonly now?: () => number;
}

export class RunLease {
  private readonly now: () => number;
  /** ETag of the lease version this agent wrote last; null while it holds none. */
  private etag: string | null = null;
  private acquiredAt = "";
  /** Local time until which this agent may act as the holder: its last successful write's send time plus the TTL. */
  private validUntilMs = 0;
  private lost: string | null = null;

  constructor(
    private readonly s3: S3Client,
    private readonly options: RunLeaseOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  get holder(): LeaseHolder {
    return this.options.holder;
  }

  /** Why the lease was lost, or null while it is held (or was never taken). */
  get lostReason(): string | null {
    return this.lost;
  }

  /**
   * Whether this agent may still write as the run's single writer: it took the lease, has not lost
   * it, and a TTL has not passed since its last successful renewal was sent.
   */
  holds(): boolean {
    return this.etag !== null && this.lost === null && this.now() < this.validUntilMs;
  }

  async read(): Promise<LeaseRead | null> {
    try {
      const answer = await this.s3.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.options.key }));
      const text = answer.Body ? await answer.Body.transformToString("utf8") : "";
      return { document: parseLeaseDocument(text, this.options.runId), etag: answer.ETag ?? "" };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  private document(released: boolean, atMs: number): string {
    const at = new Date(atMs).toISOString();
    const document: LeaseDocument = { runId: this.options.runId, holder: this.options.holder, acquiredAt: this.acquiredAt || at, renewedAt: at, ttlMs: this.options.ttlMs, released };
    return JSON.stringify(document, null, 2) + "\n";
  }

  /** One conditional write of the lease; true when S3 applied it (then the ETag is ours). */
  private async write(condition: { ifNoneMatch: true } | { ifMatch: string }, released: boolean): Promise<boolean> {
    const sentAtMs = this.now();
    const body = this.document(released, sentAtMs);
    const acquiredAt = this.acquiredAt || new Date(sentAtMs).toISOString();
    try {
      const answer = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: this.options.key,
          Body: body,
          ContentType: "application/json",
          ...("ifNoneMatch" in condition ? { IfNoneMatch: "*" } : { IfMatch: condition.ifMatch }),
        }),
      );
      this.etag = answer.ETag ?? null;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // The SDK may have retried a PUT that S3 had applied: then the lease holds exactly our body.
      const now = await this.read();
      if (now?.document?.holder.agentId !== this.options.holder.agentId || now.document.renewedAt !== new Date(sentAtMs).toISOString()) return false;
      this.etag = now.etag;
    }
    this.acquiredAt = acquiredAt;
    this.validUntilMs = released ? 0 : sentAtMs + this.options.ttlMs;
    return true;
  }

  /**
   * Takes the lease: at once when there is none, it was released or it expired; otherwise waits,
   * looking every `pollMs`, until it is free, `stopWaiting` says stop, or `maxWaitMs` passed.
   */
  async acquire(options: AcquireOptions): Promise<AcquireOutcome> {
    const started = this.now();
    let seen = null as { etag: string; atMs: number } | null;
    let lastHolder: LeaseHolder | null = null;
    let waitingLogged = false;
    for (;;) {
      if (options.signal?.aborted || (await options.stopWaiting?.())) return { kind: "stopped" };
      let read: LeaseRead | null;
      try {
        read = await this.read();
      } catch (error) {
        // S3 had a bad moment (the SDK does not retry an error in the body's stream): look again
        // later, within the wait; past it the error is the answer.
        if (this.now() - started >= options.maxWaitMs) throw error;
        this.options.log.warn("lease-read-failed", { key: this.options.key, error: describeError(error) });
        await sleep(Math.max(1, options.pollMs), options.signal);
        continue;
      }
      const now = this.now();
      if (read !== null && seen?.etag !== read.etag) seen = { etag: read.etag, atMs: now };
      const verdict = judgeLease(read, seen?.atMs ?? now, now, this.options.ttlMs);
      if (verdict.kind !== "live") {
        // A new holding: its acquiredAt is the time of the write that takes it.
        this.acquiredAt = "";
        const taken = await this.write(read === null ? { ifNoneMatch: true } : { ifMatch: read.etag }, false);
        if (taken) {
          this.lost = null;
          this.options.log.info("lease-acquired", { key: this.options.key, took: verdict.kind, ...(verdict.kind === "expired" ? { why: verdict.why } : {}), previousHolder: verdict.kind === "free" ? null : verdict.holder, ttlMs: this.options.ttlMs });
          return { kind: "acquired", tookOver: verdict };
        }
        // Another agent wrote first: look again at once, at what it wrote.
        continue;
      }
      lastHolder = verdict.holder;
      if (!waitingLogged) {
        waitingLogged = true;
        this.options.log.warn("lease-held-elsewhere", { key: this.options.key, holder: verdict.holder, expiresInMs: verdict.expiresInMs, maxWaitMs: options.maxWaitMs, note: "waiting: this agent does not train while another holds the run" });
      }
      if (now - started >= options.maxWaitMs) return { kind: "held-elsewhere", holder: lastHolder };
      await sleep(Math.max(1, Math.min(options.pollMs, verdict.expiresInMs, started + options.maxWaitMs - now)), options.signal);
    }
  }

  /**
   * Renews the lease (If-Match on the ETag this agent wrote). Returns false, and remembers why, once
   * it is lost: another agent's write took its place (412). A failure to reach S3 throws; past the
   * TTL {@link holds} is false meanwhile (nothing is written), but the lease is not given up: a later
   * renewal that S3 applies on the same ETag proves no other agent wrote it in between.
   */
  async renew(): Promise<boolean> {
    if (this.lost !== null) return false;
    if (this.etag === null) throw new Error("renew() before the lease was acquired");
    if (await this.write({ ifMatch: this.etag }, false)) return true;
    return this.lose("another agent took the lease over");
  }

  /**
   * Whether S3 still shows this agent's lease (its ETag, not released): asked when a record write met
   * another writer, to tell a stale writer's late request from a takeover.
   */
  async confirm(): Promise<boolean> {
    if (!this.holds()) return false;
    const read = await this.read();
    if (read !== null && read.etag === this.etag && read.document?.released !== true) return true;
    this.lose("the lease in S3 is no longer this agent's");
    return false;
  }

  /** Marks the lease released so a next agent need not wait for it to expire. Best effort; never throws. */
  async release(): Promise<void> {
    if (this.etag === null || this.lost !== null) return;
    try {
      if (await this.write({ ifMatch: this.etag }, true)) this.options.log.info("lease-released", { key: this.options.key });
      else this.lose("another agent took the lease over before it was released");
    } catch (error) {
      this.options.log.warn("lease-release-failed", { key: this.options.key, error: describeError(error), note: "the next agent waits for it to expire" });
    } finally {
      this.etag = null;
      this.validUntilMs = 0;
    }
  }

  private lose(reason: string): false {
    if (this.lost === null) {
      this.lost = reason;
      this.options.log.error("lease-lost", { key: this.options.key, reason });
    }
    return false;
  }
}
