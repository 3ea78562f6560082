import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { RungEntry } from "../../runspec/sweep/asha";
import { parseRungRecord, RUNG_RECORD_SCHEMA_VERSION, type RungRecord } from "../../runspec/sweep/rungRecord";
import { rungRecordKey } from "../../runspec/bucketLayout";
import { isTransientError, retry, type BackoffPolicy } from "../backoff";
import { describeError, type Logger } from "../log";
import { isConditionFailure } from "../runLease";
import { isS3ConditionalConflict, isS3NotFound } from "../../ota/s3Errors";

/**
 * A sweep's rung records in S3 (`sweeps/<sweepId>/rungs/<rung>.json`, runspec/sweep/rungRecord.ts):
 * the only state the trials of a sweep share, so that no controller has to stay up (issue 12).
 * Every trial appends its own entry with a conditional write on the version it read (`If-Match:
 * <ETag>`, or `If-None-Match: *` for a record that does not exist yet): of two trials writing the
 * same rung at once S3 applies one and answers the other 412, which reads again and appends to
 * what the first wrote. So no entry is ever lost, none is there twice, and the append order is the
 * order S3 applied the writes in, the same for every reader.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */

/**
 * Retries of one append: conflicts with other trials and S3's bad moments, with full jitter so the
 * losers of a race do not meet again. At one conflict a round, maxParallel trials arriving at once
 * all get through within as many tries; about 20 s of waiting at the most.
 */
export const RUNG_WRITE_RETRY: BackoffPolicy = { maxAttempts: 10, baseMs: 100, capMs: 5_000 };

export interface RungStoreOptions {
  readonly log: Logger;
  readonly policy?: BackoffPolicy;
}

/** Thrown when a rung record cannot be read or written; names the key. */
export class RungStoreError extends Error {
  override readonly name = "RungStoreError";
}

/** Another writer changed the record between this writer's read and write (S3 answered 412 or 409). */
function isWriteConflict(error: unknown): boolean {
  // 409 ConditionalRequestConflict: S3 was applying another conditional write to the key at the same moment.
  return isConditionFailure(error) || isS3ConditionalConflict(error);
}

const isNotFound = isS3NotFound;

/** Where one rung's record lives, and the record it must be. */
interface RungPlace {
  readonly bucket: string;
  readonly key: string;
  readonly expected: { readonly sweepId: string; readonly rung: number; readonly epoch: number };
}

function place(bucket: string, sweepId: string, rung: number, epoch: number): RungPlace {
  return { bucket, key: rungRecordKey(sweepId, rung), expected: { sweepId, rung, epoch } };
}

const where = (at: RungPlace): string => `s3://${at.bucket}/${at.key}`;

/** One GET of the record: it and its ETag, or null when there is none. A record that is not a valid one of this rung is refused, never written over. */
async function getRecord(s3: S3Client, at: RungPlace): Promise<{ readonly record: RungRecord; readonly etag: string } | null> {
  let text: string;
  let etag: string | undefined;
  try {
    const answer = await s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: at.key }));
    text = answer.Body ? await answer.Body.transformToString("utf8") : "";
    etag = answer.ETag;
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
  try {
    const record = parseRungRecord(text, at.expected);
    if (etag === undefined) throw new Error("no ETag in S3's answer: it cannot be written on");
    return { record, etag };
  } catch (error) {
    // Writing over it would drop the entries it holds; a person has to look (the message says where).
    throw new RungStoreError(`${where(at)}: ${(error as Error).message}`, { cause: error });
  }
}

/** Retries `operation` on S3's bad moments (and on `alsoRetry`), and names the key in what it finally throws. */
async function withRetries<T>(at: RungPlace, options: RungStoreOptions, what: string, operation: () => Promise<T>, alsoRetry: (error: unknown) => boolean = () => false): Promise<T> {
  try {
    return await retry(operation, {
      policy: options.policy ?? RUNG_WRITE_RETRY,
      isRetryable: (error) => !(error instanceof RungStoreError) && (alsoRetry(error) || isTransientError(error)),
      onRetry: (error, n, delayMs) => options.log.warn("rung-retry", { key: at.key, what, retry: n + 1, delayMs, conflict: alsoRetry(error), error: describeError(error) }),
    });
  } catch (error) {
    if (error instanceof RungStoreError) throw error;
    throw new RungStoreError(`could not ${what} ${where(at)}: ${describeError(error)}`, { cause: error });
  }
}

/** The rung's record as stored, or null when no trial has reached the rung yet. Throws a {@link RungStoreError} naming the key for one that is not valid. */
export async function readRung(s3: S3Client, bucket: string, sweepId: string, rung: number, epoch: number, options: RungStoreOptions): Promise<RungRecord | null> {
  const at = place(bucket, sweepId, rung, epoch);
  return (await withRetries(at, options, "read", () => getRecord(s3, at)))?.record ?? null;
}

/**
 * Records the trial's entry at the rung, unless it has one already (a resumed trial, or an SDK
 * retry of a write S3 had applied), and returns the rung's entries as stored after it, the trial's
 * included: decide with `decideAtRung` on exactly these, which are what every other trial sees.
 * Throws a {@link RungStoreError} naming the key when the record is not valid or the write still
 * conflicts after {@link RUNG_WRITE_RETRY}'s tries.
 */
export async function recordAtRung(
  s3: S3Client,
  bucket: string,
  sweepId: string,
  rung: number,
  epoch: number,
  entry: RungEntry,
  options: RungStoreOptions,
): Promise<readonly RungEntry[]> {
  const at = place(bucket, sweepId, rung, epoch);
  let tries = 0;
  const stored = await withRetries(
    at,
    options,
    `record ${entry.trialId} at`,
    async () => {
      tries += 1;
      const current = await getRecord(s3, at);
      const entries = current?.record.entries ?? [];
      if (entries.some((e) => e.trialId === entry.trialId)) return { entries, wrote: false };
      // Parsed before it is written: a record this store would refuse to read must never reach S3.
      let next: RungRecord;
      try {
        next = parseRungRecord({ schemaVersion: RUNG_RECORD_SCHEMA_VERSION, ...at.expected, entries: [...entries, entry] }, at.expected);
      } catch (error) {
        throw new RungStoreError(`refusing to write ${where(at)}, the entry of ${entry.trialId} would make it ${(error as Error).message}`, { cause: error });
      }
      await s3.send(
        new PutObjectCommand({
          Bucket: at.bucket,
          Key: at.key,
          Body: JSON.stringify(next, null, 2) + "\n",
          ContentType: "application/json",
          ...(current === null ? { IfNoneMatch: "*" } : { IfMatch: current.etag }),
        }),
      );
      return { entries: next.entries, wrote: true };
    },
    isWriteConflict,
  );
  options.log.info(stored.wrote ? "rung-recorded" : "rung-already-recorded", { key: at.key, trialId: entry.trialId, value: entry.value, epoch: entry.epoch, position: stored.entries.findIndex((e) => e.trialId === entry.trialId) + 1, entries: stored.entries.length, tries });
  return stored.entries;
}
