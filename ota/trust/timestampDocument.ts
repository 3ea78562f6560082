/**
 * The timestamp of one model's releases (docs/ota.md, "Timestamp"): `timestamp.json` in the
 * model's folder, a {@link SignedEnvelope} of
 * `{type:"timestamp", schemaVersion, modelName, issuedAt, expires, channels:{<channel>: <version>}}`
 * signed by a timestamp key of the root document. The stack's scheduled function re-signs it every
 * few hours with a short expiry; `channels` holds, for each channel, the newest version the release
 * key signed into it that the function has seen (never lower than in the timestamp before).
 *
 * A box that reads a timestamp which expired, is older than one it already saw, or says a channel
 * is at a newer version than the pointer it is served, is looking at a frozen or replayed view of
 * the bucket (a stale mirror, a cache, an attacker replaying old objects): it refuses the pull
 * with its own exit code within hours, not when the release expires months later. Pure: no I/O.
 */
import { z } from "zod";
import { InvalidManifestError, canonicalJson } from "../manifest";
import { EVEN_WHEN_INVALID, expiresAfter, isoTimeSchema, modelNameSchema, parseWith, versionSchema } from "../manifestSchema";
import { publicKeyFingerprint, type ManifestSigner } from "../signature";
import type { TrustedRoot } from "./rootDocument";
import { keysThatSigned, parseEnvelope, signEnvelope, type SignedEnvelope } from "./signedEnvelope";

export const TIMESTAMP_SCHEMA_VERSION = 1;
/** Key of the timestamp in a model's folder. */
export const TIMESTAMP_FILE = "timestamp.json";
/** The largest timestamp a reader accepts. */
export const MAX_TIMESTAMP_BYTES = 64 * 1024;
/**
 * A timestamp is good for a day, and re-signed every 6 hours: three refreshes may fail (a KMS or
 * Lambda incident, a deploy) before a box calls its view stale, and a frozen view shows within a
 * day instead of the 90 days a release lives.
 */
export const DEFAULT_TIMESTAMP_EXPIRES_HOURS = 24;
export const DEFAULT_TIMESTAMP_REFRESH_HOURS = 6;
/** Most channels a timestamp lists. */
export const MAX_TIMESTAMP_CHANNELS = 64;

const CHANNEL_NAME = /^[a-z][a-z0-9-]{0,31}$/;

const TimestampSchema = z
  .strictObject({
    type: z.literal("timestamp", { error: 'must be "timestamp"' }),
    schemaVersion: z.literal(TIMESTAMP_SCHEMA_VERSION, { error: `must be ${TIMESTAMP_SCHEMA_VERSION}; this reader knows no other timestamp format` }),
    modelName: modelNameSchema,
    issuedAt: isoTimeSchema,
    expires: isoTimeSchema,
    channels: z.unknown().check((ctx) => {
      const value = ctx.value;
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        ctx.issues.push({ code: "custom", message: "must be an object of channel name to version", input: value });
        return;
      }
      const entries = Object.entries(value);
      if (entries.length > MAX_TIMESTAMP_CHANNELS) ctx.issues.push({ code: "custom", message: `must list at most ${MAX_TIMESTAMP_CHANNELS} channels`, input: value });
      for (const [name, version] of entries) {
        if (!CHANNEL_NAME.test(name)) ctx.issues.push({ code: "custom", path: [name], message: "is not a channel name (1-32 characters of a-z, 0-9 and '-')", input: name });
        else if (!versionSchema.safeParse(version).success) ctx.issues.push({ code: "custom", path: [name], message: "must be a release version (an integer from 1)", input: version });
      }
    }),
  })
  .superRefine(expiresAfter("issuedAt"), EVEN_WHEN_INVALID);

export interface TimestampDocument {
  readonly type: "timestamp";
  readonly schemaVersion: typeof TIMESTAMP_SCHEMA_VERSION;
  readonly modelName: string;
  readonly issuedAt: string;
  readonly expires: string;
  /** Channel → the newest version signed into it when the timestamp was issued. */
  readonly channels: Readonly<Record<string, number>>;
}

export interface TimestampInput {
  readonly modelName: string;
  readonly issuedAt: Date;
  /** @default {@link DEFAULT_TIMESTAMP_EXPIRES_HOURS} */
  readonly expiresInHours?: number;
  readonly channels: Readonly<Record<string, number>>;
}

/** Builds a timestamp, checked as a reader checks it. Throws an {@link InvalidManifestError} listing every problem. */
export function buildTimestamp(input: TimestampInput): TimestampDocument {
  const hours = input.expiresInHours ?? DEFAULT_TIMESTAMP_EXPIRES_HOURS;
  const expires = new Date(input.issuedAt.getTime() + hours * 3_600_000);
  return timestampOf({
    type: "timestamp",
    schemaVersion: TIMESTAMP_SCHEMA_VERSION,
    modelName: input.modelName,
    issuedAt: input.issuedAt.toISOString(),
    expires: Number.isNaN(expires.getTime()) ? String(input.expiresInHours) : expires.toISOString(),
    channels: { ...input.channels },
  });
}

function timestampOf(value: unknown): TimestampDocument {
  return parseWith(TimestampSchema, value, "timestamp") as TimestampDocument;
}

/** The envelope bytes of `timestamp` signed by `signer`. */
export function signTimestamp(timestamp: TimestampDocument, signer: ManifestSigner): Promise<Buffer> {
  return signEnvelope(JSON.parse(canonicalJson(timestamp)) as Record<string, unknown>, [signer]);
}

/** Why a timestamp was not accepted. */
export type TimestampRefusalReason = "invalid-timestamp" | "timestamp-not-signed";

export class TimestampRefusedError extends Error {
  constructor(
    readonly reason: TimestampRefusalReason,
    message: string,
  ) {
    super(message);
    this.name = "TimestampRefusedError";
  }
}

/** The timestamp in `envelope`, for `modelName`, signed by a timestamp key of `root`; a {@link TimestampRefusedError} otherwise. */
export function verifyTimestamp(envelope: SignedEnvelope, root: TrustedRoot, modelName: string, where: string): TimestampDocument {
  let timestamp: TimestampDocument;
  try {
    timestamp = timestampOf(envelope.signed);
  } catch (error) {
    if (error instanceof InvalidManifestError) throw new TimestampRefusedError("invalid-timestamp", `${where}: ${error.message}`);
    throw error;
  }
  if (timestamp.modelName !== modelName) {
    throw new TimestampRefusedError("invalid-timestamp", `${where} is the timestamp of model ${JSON.stringify(timestamp.modelName)}, not of ${JSON.stringify(modelName)}`);
  }
  if (keysThatSigned(envelope, root.keys.timestamp).size === 0) {
    throw new TimestampRefusedError(
      "timestamp-not-signed",
      `${where} is not signed by a timestamp key of root version ${root.document.version} (${root.keys.timestamp.map((k) => publicKeyFingerprint(k)).join(", ")})`,
    );
  }
  return timestamp;
}

/** A timestamp this box accepted earlier, read back from its stored envelope bytes (not verified again); undefined when unreadable. */
export function timestampOfStored(bytes: Buffer): TimestampDocument | undefined {
  try {
    return timestampOf(parseEnvelope(bytes, "stored timestamp").signed);
  } catch {
    return undefined;
  }
}

/** What the box last accepted, to judge the next timestamp against. */
export interface SeenTimestamp {
  readonly issuedAt: string;
}

/**
 * Why a verified timestamp shows a stale view, or undefined when it is fresh: it expired, it is
 * older than one this box already accepted (replayed), or it names a newer version of `channel`
 * than the pointer being served (`pointerVersion`: the pointer is older than the timestamp).
 */
export function staleViewProblem(timestamp: TimestampDocument, now: Date, seen: SeenTimestamp | undefined, channel: string, pointerVersion: number): string | undefined {
  if (now.getTime() >= Date.parse(timestamp.expires)) {
    return `the timestamp expired at ${timestamp.expires} (issued ${timestamp.issuedAt}, now ${now.toISOString()}): nothing has re-signed it since, so this view of the bucket may be frozen (a stale mirror or cache, or a stopped refresh function)`;
  }
  if (seen !== undefined && Date.parse(timestamp.issuedAt) < Date.parse(seen.issuedAt)) {
    return `the timestamp was issued at ${timestamp.issuedAt}, before the one this box already accepted (${seen.issuedAt}): an old timestamp is being replayed`;
  }
  const signedVersion = timestamp.channels[channel];
  if (signedVersion !== undefined && pointerVersion < signedVersion) {
    return `channel ${JSON.stringify(channel)} points at version ${pointerVersion}, but the timestamp issued at ${timestamp.issuedAt} says it was at version ${signedVersion}: the channel pointer served is older than the timestamp (a frozen or replayed view)`;
  }
  return undefined;
}
