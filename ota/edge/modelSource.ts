/**
 * Where the puller reads one model's releases from: an S3 bucket ({@link S3ModelSource}) or a
 * plain HTTPS base URL ({@link HttpModelSource}). A source only moves bytes; it is not trusted.
 * Every byte it serves is checked against the signed manifest, and reading stops one byte past
 * what the manifest declares, so a source that serves more cannot fill the disk. Nor can one that
 * serves too slowly hold the box: each source abandons a request that goes quiet (its idle
 * timeout), and the puller holds every read to a deadline from its length
 * ({@link withTransferDeadlines}).
 */
import { EdgeUsageError, SourceError, VerificationRefusedError } from "./errors";

/** An object being read from its first byte. */
export interface ObjectBody {
  /** The object's bytes, in order, from byte 0. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Stops the transfer and closes the connection; nothing more is read. Safe to call twice. */
  abort(): void;
}

/** How {@link ModelSource.open} may be stopped from outside. */
export interface OpenOptions {
  /**
   * Aborts the request: a source stops waiting for the answer (or its body) and closes the
   * connection. The puller's per-object deadline ({@link withTransferDeadlines}).
   */
  readonly signal?: AbortSignal;
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
   * {@link SourceError} (`missing` false) when the source cannot be reached, including when it
   * stops sending (each source has an idle timeout) or `options.signal` aborts.
   */
  open(key: string, maxBytes: number, options?: OpenOptions): Promise<ObjectBody>;
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

/**
 * How slow a read may be. Each object a pull reads (channel pointer, manifest, signature, each
 * file) must arrive whole within `deadlineBaseMs` plus the bytes it may have (a file's declared
 * length and one byte more; a metadata object's cap) at `minBytesPerSecond`, counted from the
 * request, so connecting, waiting for the answer, the S3 client's retries and the body all count.
 * A source's idle timeout ends a connection that goes quiet; this ends one that stays alive by
 * trickling.
 */
export interface TransferLimits {
  /** The slowest average rate accepted, in bytes per second (`--min-rate`, in KiB/s). */
  readonly minBytesPerSecond: number;
  /** Time every object gets on top of its length at that rate, in ms (`--deadline-base`, in seconds). */
  readonly deadlineBaseMs: number;
}

/**
 * 16 KiB/s (128 kbit/s) is slower than any working network a factory box sits on (Ethernet,
 * Wi-Fi, even a poor cellular link does several times that), yet far above a trickle meant to
 * hold the box: a 12 MiB ONNX export gets 60 s + 12.8 min, a 64 KiB channel pointer 64 s. The base
 * of 60 s covers connecting (10 s at most), the first byte (30 s idle at most), TLS and TCP slow
 * start on a long path, so a small object on a slow but honest link is never cut short.
 */
export const DEFAULT_TRANSFER_LIMITS: TransferLimits = { minBytesPerSecond: 16 * 1024, deadlineBaseMs: 60_000 };

/**
 * The idle timeout of both sources (`idleTimeoutMs`, `--idle-timeout`): a request with no byte
 * for this long is abandoned. A working link, even a congested one, delivers something every few
 * seconds; 30 s of silence means the path is gone (a NAT entry or firewall state dropped, Wi-Fi
 * roamed), and costs a 15-minute timer little.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** The connection timeout of both sources (`connectTimeoutMs`). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** A timeout option in ms: a positive whole number a timer can wait for. */
export function checkTimeout(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || value > 2 ** 31 - 1) {
    throw new EdgeUsageError(`${name} is ${String(value)}; it must be a whole number of milliseconds from 1 to ${2 ** 31 - 1} (default ${fallback}).`);
  }
  return value;
}

/** The longest delay `setTimeout` takes (about 24.8 days); longer ones would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The deadline of reading up to `maxBytes` bytes under `limits`, in ms. */
export function transferDeadlineMs(maxBytes: number, limits: TransferLimits): number {
  return Math.min(MAX_TIMER_MS, limits.deadlineBaseMs + Math.ceil((maxBytes * 1000) / limits.minBytesPerSecond));
}

/**
 * The limits a caller asked for, defaults filled in; all unusable values are reported together
 * in one {@link EdgeUsageError} naming the option (and its `yolo-train edge pull` flag).
 */
export function transferLimits(options: { readonly minBytesPerSecond?: number; readonly deadlineBaseMs?: number }): TransferLimits {
  const problems: string[] = [];
  const { minBytesPerSecond = DEFAULT_TRANSFER_LIMITS.minBytesPerSecond, deadlineBaseMs = DEFAULT_TRANSFER_LIMITS.deadlineBaseMs } = options;
  if (typeof minBytesPerSecond !== "number" || !Number.isFinite(minBytesPerSecond) || minBytesPerSecond <= 0) {
    problems.push(`minBytesPerSecond (--min-rate) is ${String(minBytesPerSecond)}; it must be a positive number of bytes per second (default ${DEFAULT_TRANSFER_LIMITS.minBytesPerSecond}).`);
  }
  if (typeof deadlineBaseMs !== "number" || !Number.isFinite(deadlineBaseMs) || deadlineBaseMs <= 0 || deadlineBaseMs > MAX_TIMER_MS) {
    problems.push(`deadlineBaseMs (--deadline-base) is ${String(deadlineBaseMs)}; it must be a number of milliseconds above 0 and at most ${MAX_TIMER_MS} (default ${DEFAULT_TRANSFER_LIMITS.deadlineBaseMs}).`);
  }
  if (problems.length > 0) throw new EdgeUsageError(`Invalid transfer limits:\n  ${problems.join("\n  ")}`);
  return { minBytesPerSecond, deadlineBaseMs };
}

/**
 * `source`, with every {@link ModelSource.open} held to its deadline under `limits` (see
 * {@link TransferLimits}). When the deadline passes, the request is aborted (its connection
 * closed) and the read fails with a {@link SourceError} that says so; a read that ends in time
 * clears its timer.
 */
export function withTransferDeadlines(source: ModelSource, limits: TransferLimits): ModelSource {
  return {
    location: source.location,
    open: (key, maxBytes) => openWithDeadline(source, key, maxBytes, limits),
    ...(source.destroy ? { destroy: () => source.destroy?.() } : {}),
  };
}

async function openWithDeadline(source: ModelSource, key: string, maxBytes: number, limits: TransferLimits): Promise<ObjectBody> {
  const where = `${source.location}${key}`;
  const deadlineMs = transferDeadlineMs(maxBytes, limits);
  const tooSlow =
    `too slow: not done within ${seconds(deadlineMs)} s, the deadline for up to ${maxBytes} bytes ` +
    `(${seconds(limits.deadlineBaseMs)} s plus that length at the minimum rate of ${kibPerSecond(limits.minBytesPerSecond)} KiB/s: --deadline-base, --min-rate)`;
  const controller = new AbortController();
  // Not unref'd: were nothing else to keep node running (a source that waits on no socket), the
  // process would end mid-pull with exit 0 instead of failing here when the time is up.
  const timer = setTimeout(() => controller.abort(new Error(tooSlow)), deadlineMs);
  const expired = new Promise<never>((_resolve, reject) => controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true }));
  expired.catch(() => undefined);

  const opening = source.open(key, maxBytes, { signal: controller.signal });
  let body: ObjectBody;
  try {
    // Raced as well, for a source that does not watch the signal; a body that comes too late is closed.
    body = await Promise.race([opening, expired]);
  } catch (error) {
    clearTimeout(timer);
    if (!controller.signal.aborted) throw error;
    opening.then((late) => late.abort(), () => undefined);
    throw new SourceError(`${where} could not be read: ${tooSlow}.`, false, { cause: error });
  }
  const abort = (): void => {
    clearTimeout(timer);
    body.abort();
  };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const iterator = body.chunks[Symbol.asyncIterator]();
    try {
      for (;;) {
        const pending = iterator.next();
        let next: IteratorResult<Uint8Array>;
        try {
          next = await Promise.race([pending, expired]);
        } catch (error) {
          pending.then(undefined, () => undefined);
          if (!controller.signal.aborted) throw error;
          body.abort();
          throw new Error(`${tooSlow}.`);
        }
        if (next.done) return;
        yield next.value;
      }
    } finally {
      clearTimeout(timer);
    }
  }
  return { chunks: chunks(), abort };
}

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

function kibPerSecond(bytesPerSecond: number): string {
  return String(Math.round((bytesPerSecond / 1024) * 1000) / 1000);
}
