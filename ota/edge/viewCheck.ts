/**
 * Before a box trusts anything a pull reads, with a pinned root key (`--root-key`): which keys
 * sign releases now, and whether the view of the bucket is fresh (docs/ota.md, "Root of trust",
 * "Timestamp").
 *
 * 1. Walk the root documents: from the root stored in `<dest>/trust.json` (when it was reached
 *    from the same pinned key), or else from the oldest root the pinned key signed, forward one
 *    version at a time while `root/<n+1>.json` exists, each verified by the one before it.
 * 2. The newest root must not have expired.
 * 3. `timestamp.json` must be signed by a timestamp key of that root, not expired, not older than
 *    the last one this box accepted, and must not name a newer version of the channel than the
 *    pointer being served.
 *
 * What verified is stored at once (a newer root, a newer timestamp), so neither is ever walked
 * back; a stale view is stored too, for `edge status`.
 */
import type { KeyObject } from "crypto";
import { InvalidManifestError } from "../manifest";
import { publicKeyFingerprint } from "../signature";
import { MAX_ROOT_BYTES, RootRefusedError, restoreTrustedRoot, rootDocumentKey, rootExpired, verifyNextRoot, verifyRootAnchoredBy, type TrustedRoot } from "../trust/rootDocument";
import { parseEnvelope, type SignedEnvelope } from "../trust/signedEnvelope";
import { MAX_TIMESTAMP_BYTES, TIMESTAMP_FILE, TimestampRefusedError, staleViewProblem, timestampOfStored, verifyTimestamp, type TimestampDocument } from "../trust/timestampDocument";
import { SourceError, StaleViewError, VerificationRefusedError } from "./errors";
import { readSmallObject, type ModelSource } from "./modelSource";
import { readTrust, writeTrust, type StoredTrust } from "./trustStore";

/** Most root documents one pull walks: rotations are rare, and a bucket must not keep a box walking for ever. */
export const MAX_ROOT_WALK = 64;

export interface ViewCheckOptions {
  readonly source: ModelSource;
  readonly modelName: string;
  readonly channel: string;
  /** The version the channel pointer being served names. */
  readonly pointerVersion: number;
  /** The pinned root key. */
  readonly rootKey: KeyObject;
  readonly dest: string;
  readonly now: Date;
  readonly log: (line: string) => void;
}

export interface FreshView {
  /** The newest root: its release keys verify manifests and channel memberships. */
  readonly root: TrustedRoot;
  readonly timestamp: TimestampDocument;
}

/** Walks the roots, checks the timestamp; see the module comment. */
export async function checkView(options: ViewCheckOptions): Promise<FreshView> {
  const { source, modelName, dest, log } = options;
  const anchor = publicKeyFingerprint(options.rootKey);
  const stored = await readTrust(dest);
  const usable = stored !== undefined && stored.modelName === modelName && stored.anchor === anchor ? stored : undefined;
  let trust: StoredTrust | undefined = usable;

  const start = (usable && restoreTrustedRoot(Buffer.from(usable.root, "base64"), modelName)) || (await anchorRoot(options, anchor));
  const root = await walkForward(source, start);
  if (trust === undefined || root.bytes.toString("base64") !== trust.root) {
    trust = { ...(trust ?? {}), schemaVersion: 1, modelName, anchor, root: root.bytes.toString("base64") };
    await writeTrust(dest, trust);
    log(`root of trust: version ${root.document.version} (release keys ${fingerprints(root.keys.release)})`);
  }

  const stale = async (problem: string): Promise<never> => {
    await writeTrust(dest, { ...trust!, lastCheck: { at: options.now.toISOString(), outcome: "stale", channel: options.channel, problem } });
    throw new StaleViewError(`Refused to trust this view of ${source.location}: ${problem}. Nothing was installed; the current model, if any, keeps running.`);
  };

  if (rootExpired(root.document, options.now)) {
    await stale(`root document version ${root.document.version} expired at ${root.document.expires}; the root key holder must sign a new one (yolo-train ota root sign)`);
  }

  const timestampBytes = await readSmallObject(source, TIMESTAMP_FILE, MAX_TIMESTAMP_BYTES, "the timestamp").catch(async (error: unknown) => {
    if (error instanceof SourceError && error.missing) {
      return stale(`there is no ${TIMESTAMP_FILE} (${error.message}); the stack's timestamp function (stack output otaTimestampFunctionName) writes it at deploy and every few hours: check that it runs`);
    }
    throw error;
  });
  const timestamp = verifiedTimestamp(timestampBytes, root, modelName, `${source.location}${TIMESTAMP_FILE}`);
  const seen = trust.timestamp !== undefined ? timestampOfStored(Buffer.from(trust.timestamp, "base64")) : undefined;
  const problem = staleViewProblem(timestamp, options.now, seen, options.channel, options.pointerVersion);
  if (problem !== undefined) await stale(problem);

  const newer = seen === undefined || Date.parse(timestamp.issuedAt) >= Date.parse(seen.issuedAt);
  await writeTrust(dest, {
    ...trust,
    ...(newer ? { timestamp: timestampBytes.toString("base64") } : {}),
    lastCheck: { at: options.now.toISOString(), outcome: "fresh", channel: options.channel },
  });
  log(`timestamp issued ${timestamp.issuedAt}, expires ${timestamp.expires}: the view is fresh`);
  return { root, timestamp };
}

/** The oldest root the pinned key signed: a box provisioned after a root rotation pins the newer key and starts there. */
async function anchorRoot(options: ViewCheckOptions, anchor: string): Promise<TrustedRoot> {
  for (let version = 1; version <= MAX_ROOT_WALK; version++) {
    const read = await readRoot(options.source, version);
    if (read === undefined) {
      throw new SourceError(
        `No root document signed by the pinned root key (${anchor}) is published for ${options.modelName} (looked at ${options.source.location}${rootDocumentKey(1)}` +
          `${version > 1 ? ` to ${rootDocumentKey(version - 1)}` : ""}). The root key holder signs the first one after deploying the stack: yolo-train ota root sign. Is --root-key this stack's otaRootPublicKeyPem?`,
        true,
      );
    }
    try {
      return verifyRootAnchoredBy(read.envelope, read.bytes, options.rootKey, options.modelName, read.where);
    } catch (error) {
      if (error instanceof RootRefusedError && error.reason === "root-not-signed") continue;
      throw refusedRoot(error);
    }
  }
  throw new VerificationRefusedError("bad-root", `Refused the root of trust of ${options.modelName}: none of the first ${MAX_ROOT_WALK} root documents is signed by the pinned root key (${anchor}). Nothing was installed.`);
}

async function walkForward(source: ModelSource, start: TrustedRoot): Promise<TrustedRoot> {
  let root = start;
  for (let step = 0; step < MAX_ROOT_WALK; step++) {
    const read = await readRoot(source, root.document.version + 1);
    if (read === undefined) return root;
    try {
      root = verifyNextRoot(root, read.envelope, read.bytes, read.where);
    } catch (error) {
      throw refusedRoot(error);
    }
  }
  return root;
}

async function readRoot(source: ModelSource, version: number): Promise<{ envelope: SignedEnvelope; bytes: Buffer; where: string } | undefined> {
  const key = rootDocumentKey(version);
  const where = `${source.location}${key}`;
  let bytes: Buffer;
  try {
    bytes = await readSmallObject(source, key, MAX_ROOT_BYTES, "the root document");
  } catch (error) {
    if (error instanceof SourceError && error.missing) return undefined;
    throw error;
  }
  try {
    return { envelope: parseEnvelope(bytes, "root document"), bytes, where };
  } catch (error) {
    throw refusedRoot(error instanceof InvalidManifestError ? new RootRefusedError("invalid-root", `${where}: ${error.message}`) : error);
  }
}

function refusedRoot(error: unknown): unknown {
  if (!(error instanceof RootRefusedError)) return error;
  return new VerificationRefusedError(
    "bad-root",
    `Refused the root of trust: ${error.message}. Nothing was installed, and the keys trusted until now stay trusted. Someone wrote a root document the root key did not sign, or the chain was broken.`,
  );
}

function verifiedTimestamp(bytes: Buffer, root: TrustedRoot, modelName: string, where: string): TimestampDocument {
  try {
    return verifyTimestamp(parseEnvelope(bytes, "timestamp"), root, modelName, where);
  } catch (error) {
    const message = error instanceof InvalidManifestError ? `${where}: ${error.message}` : error instanceof TimestampRefusedError ? error.message : undefined;
    if (message === undefined) throw error;
    throw new VerificationRefusedError("bad-timestamp", `Refused the timestamp: ${message}. Nothing was installed.`);
  }
}

function fingerprints(keys: readonly KeyObject[]): string {
  return keys.map((key) => publicKeyFingerprint(key)).join(", ");
}
