import { digestFile } from "../ota/fileDigest";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createHash } from "crypto";
import { createReadStream, createWriteStream } from "fs";
import { mkdir, rename, rm } from "fs/promises";
import { dirname } from "path";
import { Readable, Transform } from "stream";
import { pipeline } from "stream/promises";
import { isTransientError, retry, type BackoffPolicy } from "./backoff";
import { s3ChecksumAgrees, type FileDigest } from "./checkpointIntegrity";
import { describeError, type Logger } from "./log";
import { isS3NotFound } from "../ota/s3Errors";

/**
 * Moves files between the node and the artifact bucket so that what S3 holds is exactly what was
 * on disk: multipart uploads with per-part SHA-256 checksums (S3 rejects a damaged part), the
 * whole-file SHA-256 in the object's `sha256` metadata, and a HEAD after every upload that checks
 * length, metadata and (where the endpoint keeps one) S3's checksum. A multipart upload only becomes
 * the object when it completes, so a failed upload leaves the previous object in place.
 */

/** S3's minimum part size is 5 MiB. 16 MiB parts in 8 parallel streams: fewer requests than the AWS CLI's 8 MiB × 10, same throughput on loopback, 128 MiB in memory at most. */
export const DEFAULT_PART_SIZE = 16 * 1024 * 1024;
export const DEFAULT_QUEUE_SIZE = 8;

export const UPLOAD_RETRY: BackoffPolicy = { maxAttempts: 6, baseMs: 500, capMs: 15_000 };

export class IntegrityError extends Error {
  override readonly name = "IntegrityError";
}

export interface TransferOptions {
  readonly partSize?: number;
  readonly queueSize?: number;
  readonly retryPolicy?: BackoffPolicy;
}

export interface UploadRequest {
  readonly path: string;
  readonly key: string;
  readonly contentType?: string;
  /** Stop retrying rather than wait past this time (ms since epoch); e.g. the end of a spot warning. */
  readonly deadlineMs?: number;
  /** Aborts the upload (the multipart upload is aborted, nothing is retried); for best-effort uploads that must give way. */
  readonly signal?: AbortSignal;
  /** Instead of the transfer's policy: fewer tries for uploads that are worth less than the time. */
  readonly retryPolicy?: BackoffPolicy;
}

/** An object under a prefix, as a listing shows it. */
export interface ListedObject {
  readonly key: string;
  readonly bytes: number;
}

/** What a HEAD says about an object: its length and its `sha256` metadata (null when it has none). */
export interface ObjectFacts {
  readonly bytes: number;
  readonly sha256: string | null;
}

const isNotFound = isS3NotFound;

/** A file as S3 now holds it: its digest and the version the upload created (null where S3 keeps no versions). */
export interface UploadedObject extends FileDigest {
  readonly versionId: string | null;
}

export interface DownloadResult extends FileDigest {
  /** `record`: the bytes match the sha256 the run record named; `metadata`: a newer complete upload, matching its own metadata. */
  readonly matched: "record" | "metadata";
}

export class CheckpointTransfer {
  readonly partSize: number;
  readonly queueSize: number;
  private readonly policy: BackoffPolicy;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly log: Logger,
    options: TransferOptions = {},
  ) {
    this.partSize = Math.max(5 * 1024 * 1024, options.partSize ?? DEFAULT_PART_SIZE);
    this.queueSize = Math.max(1, options.queueSize ?? DEFAULT_QUEUE_SIZE);
    this.policy = options.retryPolicy ?? UPLOAD_RETRY;
  }

  /** Length and SHA-256 of a file. */
  async digestFile(path: string): Promise<FileDigest> {
    const { length, sha256 } = await digestFile(path);
    return { bytes: length, sha256 };
  }

  /**
   * Uploads a file that does not change meanwhile (a snapshot, or a stopped trainer's file),
   * retrying whole uploads on transient errors, and returns its digest once S3 has it complete.
   */
  async uploadFile(request: UploadRequest): Promise<UploadedObject> {
    const digest = await this.digestFile(request.path);
    const started = Date.now();
    const { signal } = request;
    const versionId = await retry(
      async () => {
        if (signal?.aborted) throw Object.assign(new Error("upload aborted"), { name: "AbortError" });
        const upload = new Upload({
          client: this.s3,
          params: {
            Bucket: this.bucket,
            Key: request.key,
            Body: createReadStream(request.path, { highWaterMark: 1024 * 1024 }),
            ContentType: request.contentType ?? "application/octet-stream",
            ChecksumAlgorithm: "SHA256",
            Metadata: { sha256: digest.sha256 },
          },
          partSize: this.partSize,
          queueSize: this.queueSize,
          leavePartsOnError: false,
        });
        const abort = (): void => void upload.abort();
        signal?.addEventListener("abort", abort, { once: true });
        let done;
        try {
          done = await upload.done();
        } finally {
          signal?.removeEventListener("abort", abort);
        }
        // The HEAD asks for the version this upload made: a later write to the key cannot answer for it.
        const created = "VersionId" in done && typeof done.VersionId === "string" && done.VersionId !== "" ? done.VersionId : null;
        await this.verifyObject(request.key, digest, created);
        return created;
      },
      {
        policy: request.retryPolicy ?? this.policy,
        ...(request.deadlineMs !== undefined ? { deadlineMs: request.deadlineMs } : {}),
        ...(signal !== undefined ? { signal } : {}),
        onRetry: (error, retryIndex, delayMs) =>
          this.log.warn("upload-retry", { key: request.key, retry: retryIndex + 1, delayMs, error: describeError(error) }),
      },
    );
    this.log.info("uploaded", { key: request.key, bytes: digest.bytes, sha256: digest.sha256, versionId, ms: Date.now() - started });
    return { ...digest, versionId };
  }

  private async verifyObject(key: string, digest: FileDigest, versionId: string | null): Promise<void> {
    const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: "ENABLED", ...(versionId !== null ? { VersionId: versionId } : {}) }));
    const problems: string[] = [];
    if (head.ContentLength !== digest.bytes) problems.push(`length ${String(head.ContentLength)} instead of ${digest.bytes}`);
    if (head.Metadata?.sha256 !== digest.sha256) problems.push(`metadata sha256 ${String(head.Metadata?.sha256)} instead of ${digest.sha256}`);
    if (!s3ChecksumAgrees(head.ChecksumSHA256, digest)) problems.push(`S3 checksum ${String(head.ChecksumSHA256)} is not the file's SHA-256`);
    if (problems.length > 0) throw new IntegrityError(`s3://${this.bucket}/${key} after upload: ${problems.join("; ")}`);
  }

  /**
   * Downloads `key` to `path` (through a temporary file, renamed only when verified). The bytes must
   * hash to `expectedSha256`, or, when a newer upload completed after the record was written, to the
   * object's own `sha256` metadata. `signal` cuts the download short (request, stream and retries):
   * a node with a spot notice must not spend its last two minutes on it. With `versionId`, exactly
   * that version is read, and it must hash to `expectedSha256`: no newer upload can stand in for it.
   */
  async downloadFile(key: string, path: string, expectedSha256: string, policy: BackoffPolicy = this.policy, signal?: AbortSignal, versionId?: string): Promise<DownloadResult> {
    await mkdir(dirname(path), { recursive: true });
    const partial = `${path}.download`;
    try {
      return await retry(
        async () => {
          signal?.throwIfAborted();
          const answer = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(versionId !== undefined ? { VersionId: versionId } : {}) }), { abortSignal: signal });
          if (!(answer.Body instanceof Readable)) throw new Error(`GetObject ${key} returned no stream`);
          const hash = createHash("sha256");
          let bytes = 0;
          const hashing = new Transform({
            transform(chunk: Buffer, _encoding, done) {
              hash.update(chunk);
              bytes += chunk.length;
              done(null, chunk);
            },
          });
          await pipeline(answer.Body, hashing, createWriteStream(partial), { signal });
          const got: FileDigest = { bytes, sha256: hash.digest("hex") };
          let matched: DownloadResult["matched"];
          if (got.sha256 === expectedSha256) matched = "record";
          else if (versionId === undefined && answer.Metadata?.sha256 === got.sha256) matched = "metadata";
          else if (versionId !== undefined) throw new IntegrityError(`s3://${this.bucket}/${key} version ${versionId}: sha256 ${got.sha256} is not the recorded ${expectedSha256}`);
          else throw new IntegrityError(`s3://${this.bucket}/${key}: sha256 ${got.sha256} matches neither the record (${expectedSha256}) nor the object's metadata`);
          await rename(partial, path);
          return { ...got, matched };
        },
        {
          policy,
          ...(signal !== undefined ? { signal } : {}),
          // A version's bytes never change: reading it again cannot mend a mismatch.
          isRetryable: (error) => !(versionId !== undefined && error instanceof IntegrityError) && isTransientError(error),
          onRetry: (error, retryIndex, delayMs) => this.log.warn("download-retry", { key, retry: retryIndex + 1, delayMs, error: describeError(error) }),
        },
      );
    } finally {
      await rm(partial, { force: true });
    }
  }

  /** Every object under `prefix` (all pages). */
  async listObjects(prefix: string, policy: BackoffPolicy = this.policy): Promise<ListedObject[]> {
    const found: ListedObject[] = [];
    let token: string | undefined;
    do {
      const page = await retry(() => this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })), {
        policy,
        onRetry: (error, retryIndex, delayMs) => this.log.warn("list-retry", { prefix, retry: retryIndex + 1, delayMs, error: describeError(error) }),
      });
      for (const object of page.Contents ?? []) if (object.Key !== undefined) found.push({ key: object.Key, bytes: object.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return found;
  }

  /** Length and `sha256` metadata of an object; null when there is no such object. */
  async headObject(key: string, policy: BackoffPolicy = this.policy): Promise<ObjectFacts | null> {
    return retry(
      async () => {
        try {
          const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
          return { bytes: head.ContentLength ?? 0, sha256: head.Metadata?.sha256 ?? null };
        } catch (error) {
          if (isNotFound(error)) return null;
          throw error;
        }
      },
      {
        policy,
        onRetry: (error, retryIndex, delayMs) => this.log.warn("head-retry", { key, retry: retryIndex + 1, delayMs, error: describeError(error) }),
      },
    );
  }
}
