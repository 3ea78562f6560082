/**
 * Where the puller reads one model's releases from: an S3 bucket ({@link S3ModelSource}) or a
 * plain HTTPS base URL ({@link HttpModelSource}). A source only moves bytes; it is not trusted.
 * Every byte it serves is checked against the signed manifest, and reading stops one byte past
 * what the manifest declares, so a source that serves more cannot fill the disk or stall the box.
 */
import { SourceError, VerificationRefusedError } from "./errors";

/** An object being read from its first byte. */
export interface ObjectBody {
  /** The object's bytes, in order, from byte 0. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Stops the transfer and closes the connection; nothing more is read. Safe to call twice. */
  abort(): void;
}

/** One model's folder in the OTA bucket (`<modelsPrefix><modelName>/`), wherever it is served from. */
export interface ModelSource {
  /** Where the folder is, for messages: `s3://bucket/models/widgets/` or `https://…/models/widgets/`. */
  readonly location: string;
  /**
   * Starts reading the object at `key`, relative to the model's folder (`channels/stable.json`,
   * `versions/0000000007/model.onnx`), asking for its first `maxBytes` bytes only (a range
   * request). The caller still counts: a source may send more than it was asked for.
   * Throws a {@link SourceError} (`missing` true) when there is no such object, and a
   * {@link SourceError} (`missing` false) when the source cannot be reached.
   */
  open(key: string, maxBytes: number): Promise<ObjectBody>;
  /** Closes connections the source opened for itself. */
  destroy?(): void;
}

/** What {@link readAtMost} saw. */
export interface ReadOutcome {
  /** Bytes handed to `onChunk`: all of the object when `longer` is false. */
  readonly bytes: number;
  /** The object has more than `length` bytes; reading stopped at the first byte past it. */
  readonly longer: boolean;
}

/**
 * Hands the object's bytes to `onChunk`, up to `length`, and stops reading (aborting the
 * transfer) as soon as a byte past `length` arrives. Errors while receiving are a
 * {@link SourceError}; errors from `onChunk` (a disk write) pass through unchanged.
 */
export async function readAtMost(body: ObjectBody, length: number, where: string, onChunk: (chunk: Buffer) => Promise<void> | void): Promise<ReadOutcome> {
  const iterator = body.chunks[Symbol.asyncIterator]();
  let bytes = 0;
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw new SourceError(`Reading ${where} failed after ${bytes} bytes: ${(error as Error).message ?? String(error)}`, false, { cause: error });
      }
      if (next.done) return { bytes, longer: false };
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      if (chunk.length === 0) continue;
      if (bytes + chunk.length > length) {
        const within = chunk.subarray(0, length - bytes);
        if (within.length > 0) await onChunk(within);
        return { bytes: length, longer: true };
      }
      await onChunk(chunk);
      bytes += chunk.length;
    }
  } finally {
    body.abort();
  }
}

/**
 * Reads a small object whole (channel pointer, manifest, signature), refusing one longer than
 * `maxBytes`: metadata that never ends is an attack on the box, not a release.
 */
export async function readSmallObject(source: ModelSource, key: string, maxBytes: number, what: string): Promise<Buffer> {
  const where = `${source.location}${key}`;
  const body = await source.open(key, maxBytes + 1);
  const chunks: Buffer[] = [];
  const outcome = await readAtMost(body, maxBytes, where, (chunk) => {
    chunks.push(Buffer.from(chunk));
  });
  if (outcome.longer) {
    throw new VerificationRefusedError("too-large", `Refused ${what} ${where}: it is longer than ${maxBytes} bytes, far more than ${what} can be; stopped reading there.`);
  }
  return Buffer.concat(chunks);
}
