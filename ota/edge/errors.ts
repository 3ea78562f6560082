/**
 * Why a pull, rollback or status did not succeed, sorted by what an operator does about it. Each
 * kind has its own exit code in `yolo-train edge` (docs/edge.md, "Exit codes"), so a timer, a
 * fleet agent or a human can tell "the bucket holds something I refuse" from "I cannot reach the
 * bucket" from "this box's disk is the problem".
 */

/** What went wrong, by who has to act. */
export type EdgeErrorKind =
  /** The arguments (or the pinned key file, or the destination folder's owner) are wrong: fix the invocation. */
  | "usage"
  /** What the source serves does not pass verification (signature, model, version, expiry, length, sha256): nothing was installed. */
  | "refused"
  /** The source cannot be reached, or lacks an object it should hold. Retrying later may help. */
  | "source"
  /** Reading or writing the destination folder failed (disk full, permissions, a held lock). */
  | "local"
  /** The release verifies, but needs more than this box's runtime runs (a higher ONNX opset): upgrade the runtime, or publish a model it can run. */
  | "incompatible"
  /**
   * What the source serves is older than the signed timestamp says the bucket is (the timestamp
   * expired, was replayed, or names a newer channel version than the pointer served), or the root
   * of trust expired: a frozen view (stale mirror or cache, stopped refresh function, an attacker
   * replaying old objects). Nothing was installed; find out why the view is old.
   */
  | "stale";

/** The exit code of `yolo-train edge` for each kind; 0 is success, 1 an unexpected error (a bug). */
export const EXIT_CODES: Readonly<Record<EdgeErrorKind, number>> = {
  usage: 2,
  refused: 3,
  source: 4,
  local: 5,
  incompatible: 6,
  stale: 7,
};

/** Base class of every error the edge puller throws on purpose. */
export abstract class EdgeError extends Error {
  abstract readonly kind: EdgeErrorKind;

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** The invocation is wrong (bad option, unreadable or unsuitable key file, a folder that holds another model). */
export class EdgeUsageError extends EdgeError {
  readonly kind = "usage";

  constructor(message: string) {
    super(message);
    this.name = "EdgeUsageError";
  }
}

/** Which device rule refused a release (docs/ota.md, "Device rules"). */
export type RefusalReason =
  | "invalid-pointer"
  /** A root document that does not verify or does not follow the trusted one (docs/ota.md, "Root of trust"). */
  | "bad-root"
  /** A timestamp that is not the root's timestamp key's signature over a valid timestamp of this model. */
  | "bad-timestamp"
  /** The channel names a release the release key never signed into that channel (docs/ota.md, "Channel membership"). */
  | "not-in-channel"
  | "unsigned"
  | "bad-signature"
  | "invalid-manifest"
  | "wrong-model"
  | "version-mismatch"
  | "rollback"
  | "expired"
  | "oversized"
  | "truncated"
  | "hash-mismatch"
  | "too-large";

/**
 * A release (or the channel pointer naming it) failed verification. Nothing was installed and
 * nothing in the destination changed; the message says what was refused and why.
 */
export class VerificationRefusedError extends EdgeError {
  readonly kind = "refused";

  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
    this.name = "VerificationRefusedError";
  }
}

/**
 * The view of the bucket is older than the signed timestamp (or the root) allows: nothing was
 * installed, and `yolo-train edge status` shows the problem until a pull sees a fresh view.
 */
export class StaleViewError extends EdgeError {
  readonly kind = "stale";

  constructor(message: string) {
    super(message);
    this.name = "StaleViewError";
  }
}

/** The source could not be reached, or an object is missing (`missing`: a 404, or a 403 S3 gives for a key it cannot show). */
export class SourceError extends EdgeError {
  readonly kind = "source";

  constructor(
    message: string,
    readonly missing: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SourceError";
  }
}

/** Reading or writing the destination folder failed. */
export class LocalIoError extends EdgeError {
  readonly kind = "local";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LocalIoError";
  }
}

/**
 * The release verified, but this box cannot run it: its manifest needs ONNX opset `needsOpset`
 * and the box runs at most `maxOpset` (`--max-opset`, `--onnxruntime`). Refused before any file
 * is downloaded; nothing in the destination changed and the current model keeps running. Not a
 * `refused` (3): nothing is wrong with the bucket, the box is behind.
 */
export class IncompatibleReleaseError extends EdgeError {
  readonly kind = "incompatible";

  constructor(
    message: string,
    readonly needsOpset: number,
    readonly maxOpset: number,
  ) {
    super(message);
    this.name = "IncompatibleReleaseError";
  }
}

/** `error`'s message for an operator (node's fs errors already carry their code and path). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
