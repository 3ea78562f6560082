/**
 * `pullModel`: brings one model's channel to this box, or refuses. The device rules of
 * docs/ota.md, checked in this order, each before anything is trusted that depends on it:
 *
 * 1. the channel pointer names a version (it is not trusted beyond that);
 * 1b. with a pinned root key: the chain of root documents gives the release keys, and the signed
 *    timestamp shows this view of the bucket is fresh (viewCheck.ts; a stale view is exit 7);
 * 2. the manifest's signature verifies with a release key, before the manifest is even parsed;
 * 3. the manifest is for the model asked for, and for the version the pointer named;
 * 4. its version is above the highest ever installed here (equal: already up to date);
 * 4b. the release key signed that this version is in this channel (the pointer alone proves nothing);
 * 5. it has not expired;
 * 6. this box runs it: the ONNX opset its manifest's `runtime` names is at most what the box said
 *    it runs (`box`; a box that said nothing, or a manifest without `runtime`, is not checked);
 * 7. every file has exactly its declared length (reading stops one byte past it) and sha256.
 *
 * Then the install is atomic (edgeFolder.ts). A refusal, a source that cannot be reached or a
 * failure halfway leaves `current`, `versions/` and `state.json` as they were.
 */
import { createHash, type KeyObject } from "crypto";
import { promises as fs } from "fs";
import * as path from "path";
import { InvalidManifestError, layoutFor, manifestExpired, parseChannelPointer, parseSignedManifest, versionKey, type Manifest, type ModelLayout } from "../manifest";
import { SigningKeyError, publicKeyFingerprint, readPublicKey, verifyManifestSignature } from "../signature";

export { publicKeyFingerprint } from "../signature";
import { channelSignatureKey, verifyChannelMembership } from "../channelMembership";
import { EdgeFolder, reconcileState, requireSameModel } from "./edgeFolder";
import { checkView } from "./viewCheck";
import { EdgeUsageError, IncompatibleReleaseError, LocalIoError, SourceError, VerificationRefusedError, describeError } from "./errors";
import { readAtMost, readSmallObject, transferLimits, withTransferDeadlines, type ModelSource } from "./modelSource";
import { opsetCeiling, runtimeVerdict, type BoxRuntime } from "./runtimeSupport";
import { STATE_SCHEMA_VERSION, readState, writeFileAtomically, writeState, type EdgeState } from "./stateStore";

/** Largest channel pointer, manifest and signature the puller reads; anything longer is refused. */
export const MAX_POINTER_BYTES = 64 * 1024;
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** A DER ECDSA P-256 signature is at most 72 bytes. */
export const MAX_SIGNATURE_BYTES = 1024;

/** A step of the install, in order; `beforeStep` sees each. */
export type InstallStep = "download" | "commit" | "swap" | "record";

export interface PullOptions {
  /** Where the model's releases are: an {@link S3ModelSource} or an {@link HttpModelSource}. */
  readonly source: ModelSource;
  /** The model (`ota.modelName` of the stack). */
  readonly modelName: string;
  /**
   * The channel to follow.
   * @default "stable"
   */
  readonly channel?: string;
  /**
   * The pinned root key, SPKI PEM: the stack output `otaRootPublicKeyPem` (`--root-key`). The box
   * learns the release and timestamp keys from the chain of root documents it signs, refuses a
   * frozen view (an expired, replayed or lagging timestamp: {@link StaleViewError}, exit 7), and
   * follows key rotation and revocation (docs/ota.md, "Root of trust"). Give this or
   * {@link publicKeyPem}, not both.
   */
  readonly rootPublicKeyPem?: string;
  /**
   * The pinned release key, SPKI PEM: the stack output `otaPublicKeyPem` (`--public-key`). The
   * older way to pin: it cannot be rotated or revoked without re-provisioning the box, and no
   * timestamp is checked, so a frozen view is noticed only when the release expires. Give this
   * or {@link rootPublicKeyPem}, not both.
   */
  readonly publicKeyPem?: string;
  /** The destination folder (one per model), created when missing. */
  readonly dest: string;
  /**
   * The clock that judges expiry.
   * @default the system clock
   */
  readonly now?: () => Date;
  /** Progress lines for a human (one per step). @default none */
  readonly log?: (line: string) => void;
  /**
   * Called before each install step with the version being installed; whatever it throws ends
   * the pull there, as a crash would. For tests and supervisors.
   * @default none
   */
  readonly beforeStep?: (step: InstallStep, version: number) => void | Promise<void>;
  /**
   * What this box's runtime runs (`--max-opset`, `--onnxruntime`): a release whose manifest needs a
   * higher ONNX opset is refused with an {@link IncompatibleReleaseError} before any download.
   * @default not checked: any opset installs
   */
  readonly box?: BoxRuntime;
  /**
   * The slowest average rate a read may keep, in bytes per second (`--min-rate`, in KiB/s): each
   * object (channel pointer, manifest, signature, each file) must arrive within
   * `deadlineBaseMs` plus the bytes it may have at this rate (a file's declared length + 1),
   * counted from its request, or the pull fails with a {@link SourceError} (exit 4), nothing
   * changed. A server that trickles cannot hold the pull (and its lock). The sources' idle
   * timeouts end a connection that goes quiet.
   * @default 16384 (16 KiB/s; see DEFAULT_TRANSFER_LIMITS)
   */
  readonly minBytesPerSecond?: number;
  /**
   * The time every object gets on top of its length at `minBytesPerSecond`, in ms (`--deadline-base`, in seconds).
   * @default 60000
   */
  readonly deadlineBaseMs?: number;
}

export interface PullResult {
  /** `installed`: the channel's release is now current. `up-to-date`: nothing to do. */
  readonly status: "installed" | "up-to-date";
  readonly modelName: string;
  readonly channel: string;
  /** The version the channel points at, verified. */
  readonly version: number;
  /** The version `current` points at now. */
  readonly currentVersion: number;
  /** The version that ran before this install (kept for `rollback`), when there was one. */
  readonly previousVersion?: number;
  /** The highest version ever installed here: nothing at or below it is installed again. */
  readonly highestVersion: number;
  /** `<dest>/current`: the running model is `<dest>/current/model.onnx`. */
  readonly currentPath: string;
  /** The verified manifest of the channel's release. */
  readonly manifest: Manifest;
  /** What did not stop the pull but needs attention (an expired release, a held rollback, a failed prune). */
  readonly warnings: readonly string[];
  /** With a pinned root key: the root version and timestamp that vouched for this view. */
  readonly trust?: { readonly rootVersion: number; readonly timestampIssuedAt: string; readonly timestampExpires: string };
}

/** Pulls the channel's release into `dest` when it is newer and verifies; see the module comment. */
export async function pullModel(options: PullOptions): Promise<PullResult> {
  const channel = options.channel ?? "stable";
  const clock = options.now ?? (() => new Date());
  const log = options.log ?? (() => undefined);
  const { modelName } = options;
  const layout = modelLayout(modelName, channel);
  const anchor = trustAnchor(options);
  // Checked before the lock, like the key: a wrong option is a usage error whatever the bucket holds.
  const ceiling = opsetCeiling(options.box ?? {});
  // Every read is held to a deadline from its length (modelSource.ts): a trickle cannot hold the lock.
  const source = withTransferDeadlines(options.source, transferLimits(options));
  const folder = new EdgeFolder(options.dest);

  await folder.ensure();
  const unlock = await folder.lock();
  try {
    await folder.clearStaging();
    const linked = await folder.linkedVersion();
    const stored = await readState(folder.dest);
    requireSameModel(stored, modelName, folder.dest);
    const state = reconcileState(stored, linked, { modelName, channel, now: clock(), versionsOnDisk: await folder.versionsOnDisk() });
    if (state !== stored && state !== undefined) await writeState(folder.dest, state);

    // 1. The channel pointer: which version to look at.
    const pointerKey = layout.channel(channel);
    const pointerBytes = await readSmallObject(source, pointerKey, MAX_POINTER_BYTES, "the channel pointer").catch((error: unknown) => {
      if (error instanceof SourceError && error.missing) {
        throw new SourceError(`Channel ${JSON.stringify(channel)} of model ${JSON.stringify(modelName)} does not exist: ${error.message} Check --model, --channel and the bucket or base URL.`, true, { cause: error });
      }
      throw error;
    });
    let version: number;
    try {
      const pointer = parseChannelPointer(pointerBytes);
      if (pointer.modelName !== modelName || pointer.channel !== channel) {
        throw new VerificationRefusedError(
          "invalid-pointer",
          `Refused ${source.location}${pointerKey}: it is the pointer of channel ${JSON.stringify(pointer.channel)} of model ${JSON.stringify(pointer.modelName)}, not of channel ${JSON.stringify(channel)} of ${JSON.stringify(modelName)}. Nothing was installed.`,
        );
      }
      version = pointer.version;
    } catch (error) {
      if (!(error instanceof InvalidManifestError)) throw error;
      throw new VerificationRefusedError("invalid-pointer", `Refused ${source.location}${pointerKey}: ${error.message}\nNothing was installed.`);
    }
    log(`channel ${channel} of ${modelName} points at version ${version}`);

    // 1b. With a root key: which keys sign releases now, and is this view fresh (viewCheck.ts)?
    let releaseKeys: readonly KeyObject[];
    let keysLabel: string;
    let trust: PullResult["trust"];
    if (anchor.root) {
      const view = await checkView({ source, modelName, channel, pointerVersion: version, rootKey: anchor.key.object, dest: folder.dest, now: clock(), log });
      releaseKeys = view.root.keys.release;
      keysLabel = `the release keys of root version ${view.root.document.version} (${releaseKeys.map((k) => publicKeyFingerprint(k)).join(", ")})`;
      trust = { rootVersion: view.root.document.version, timestampIssuedAt: view.timestamp.issuedAt, timestampExpires: view.timestamp.expires };
    } else {
      releaseKeys = [anchor.key.object];
      keysLabel = `the pinned public key (${anchor.key.fingerprint})`;
    }

    // 2. The manifest and its signature, verified before the manifest is parsed.
    const manifestKey = layout.manifest(version);
    const manifestBytes = await readSmallObject(source, manifestKey, MAX_MANIFEST_BYTES, "the manifest").catch((error: unknown) => {
      if (error instanceof SourceError && error.missing) {
        throw new SourceError(`Channel ${JSON.stringify(channel)} points at version ${version}, but its manifest is missing: ${error.message} The release is incomplete or was removed; nothing changed here.`, true, { cause: error });
      }
      throw error;
    });
    const signatureKey = layout.signature(version);
    const signature = await readSmallObject(source, signatureKey, MAX_SIGNATURE_BYTES, "the signature").catch((error: unknown) => {
      if (error instanceof SourceError && error.missing) {
        throw new VerificationRefusedError("unsigned", `Refused version ${version} of ${modelName}: it is unsigned (${error.message}). Nothing was installed.`);
      }
      throw error;
    });
    if (!releaseKeys.some((k) => verifyManifestSignature(manifestBytes, signature, k))) {
      throw new VerificationRefusedError(
        "bad-signature",
        `Refused version ${version} of ${modelName}: the signature of ${source.location}${manifestKey} does not verify with ${keysLabel}. ` +
          `The manifest was changed after signing, or signed with another key (${anchor.root ? "a key the root of trust does not list, or revoked" : "is the pinned key this stack's otaPublicKeyPem?"}). Nothing was installed.`,
      );
    }
    let manifest: Manifest;
    try {
      manifest = parseSignedManifest(manifestBytes);
    } catch (error) {
      if (!(error instanceof InvalidManifestError)) throw error;
      throw new VerificationRefusedError(
        "invalid-manifest",
        `Refused version ${version} of ${modelName}: its manifest is signed but this puller cannot accept it (a newer yolo-train may be needed on this box).\n${error.message}\nNothing was installed.`,
      );
    }

    // 3. The right model and version: a signed manifest of another model or release is a mix-and-match.
    if (manifest.modelName !== modelName) {
      throw new VerificationRefusedError("wrong-model", `Refused version ${version}: the signed manifest is for model ${JSON.stringify(manifest.modelName)}, not ${JSON.stringify(modelName)}. Nothing was installed.`);
    }
    if (manifest.version !== version) {
      throw new VerificationRefusedError(
        "version-mismatch",
        `Refused ${source.location}${manifestKey}: the channel points at version ${version} but the signed manifest there is version ${manifest.version} (a replayed or misplaced manifest). Nothing was installed.`,
      );
    }

    // 4. Newer than anything installed here.
    const highest = state?.highestVersion ?? 0;
    const repair = state !== undefined && linked === undefined && version === highest;
    if (version < highest) {
      throw new VerificationRefusedError(
        "rollback",
        `Refused version ${version} of ${modelName}: this box has installed version ${highest}, and an older release is never installed again (channel ${JSON.stringify(channel)} moved back, or an old pointer was replayed). ` +
          `To go back on purpose, run \`yolo-train edge rollback\`. Nothing was installed.`,
      );
    }
    const now = clock();
    if (version === highest && !repair && state) {
      const warnings: string[] = [...(ceiling?.warnings ?? [])];
      if (manifestExpired(manifest, now)) {
        warnings.push(`version ${version} expired at ${manifest.expires}: no release has been published to ${channel} since, or the channel is being held back. The installed model stays.`);
      }
      if (state.currentVersion !== version) {
        warnings.push(`current is version ${state.currentVersion} after a rollback; version ${version} is not installed again, the next release above it is.`);
      }
      log(`version ${version} is already installed`);
      return result("up-to-date", state, manifest, channel, version, folder, warnings, trust);
    }

    // 4b. In this channel: the pointer is unsigned, so a bucket writer could point `stable` at a
    // release that only ever went to `candidate` (it failed the gate). Only the release key's
    // signature of (model, channel, version) makes it a member.
    const membershipKey = layout.membership(channel, version);
    const membership = await readSmallObject(source, membershipKey, MAX_SIGNATURE_BYTES, "the channel membership signature").catch((error: unknown) => {
      if (error instanceof SourceError && error.missing) {
        throw new VerificationRefusedError(
          "not-in-channel",
          `Refused version ${version} of ${modelName}: the channel pointer names it, but it was never signed into channel ${JSON.stringify(channel)} (${error.message}). ` +
            `A release that did not pass the gate into this channel, or a pointer moved by hand or by someone with write access to the bucket, is not installed. Nothing was installed.`,
        );
      }
      throw error;
    });
    if (!releaseKeys.some((k) => verifyChannelMembership(membership, modelName, channel, version, k))) {
      throw new VerificationRefusedError(
        "not-in-channel",
        `Refused version ${version} of ${modelName}: ${source.location}${membershipKey} is not a signature by ${keysLabel} that this version is in channel ${JSON.stringify(channel)}. Nothing was installed.`,
      );
    }

    // 5. Not expired.
    if (manifestExpired(manifest, now)) {
      throw new VerificationRefusedError(
        "expired",
        `Refused version ${version} of ${modelName}: its manifest expired at ${manifest.expires} (now ${now.toISOString()}). A stale release is not installed; publish a new one. If the release is fresh, check this box's clock. Nothing was installed.`,
      );
    }

    // 6. This box runs it: a model its runtime cannot load must not replace the one that runs.
    const verdict = runtimeVerdict(manifest.runtime, ceiling);
    if (!verdict.runs) {
      const exported = manifest.runtime;
      throw new IncompatibleReleaseError(
        `Refused version ${version} of ${modelName}: it needs ONNX opset ${verdict.needs}` +
          `${exported ? ` (verified with ${exported.verifiedWith.name} ${exported.verifiedWith.version})` : ""}, but this box runs at most opset ${verdict.ceiling.maxOpset} (${verdict.ceiling.basis}). ` +
          `${verdict.fix} Nothing was downloaded; the current model, if any, keeps running.`,
        verdict.needs,
        verdict.ceiling.maxOpset,
      );
    }
    const warnings: string[] = [...(ceiling?.warnings ?? [])];
    if (verdict.warning !== undefined) {
      warnings.push(`version ${version}: ${verdict.warning}; installed unchecked, as before.`);
    } else if (ceiling !== undefined && manifest.runtime !== undefined) {
      log(`version ${version} needs ONNX opset ${manifest.runtime.opset}; this box runs up to ${ceiling.maxOpset} (${ceiling.basis})`);
    }

    // 7. The files, into .staging/<v>/, then committed.
    await options.beforeStep?.("download", version);
    await requireSpace(folder, manifest);
    const staging = await folder.freshStaging(version);
    try {
      for (const file of manifest.files) {
        await downloadFile(source, layout.file(version, file.path), file, path.join(staging, file.path), version);
        log(`verified ${file.path} (${file.length} bytes, sha256 ${file.sha256.slice(0, 12)}…)`);
      }
      await writeFileAtomically(path.join(staging, "manifest.json"), manifestBytes);
      await writeFileAtomically(path.join(staging, "manifest.json.sig"), signature);
      await options.beforeStep?.("commit", version);
      await folder.commit(version, linked);
    } finally {
      await folder.clearStaging().catch(() => undefined);
    }
    await options.beforeStep?.("swap", version);
    await folder.pointCurrentAt(version);
    log(`current → versions/${versionKey(version)}`);

    const previousVersion = repair ? state?.previousVersion : state?.currentVersion;
    const next: EdgeState = {
      schemaVersion: STATE_SCHEMA_VERSION,
      modelName,
      channel,
      highestVersion: version,
      currentVersion: version,
      ...(previousVersion !== undefined && previousVersion !== version ? { previousVersion } : {}),
      updatedAt: clock().toISOString(),
    };
    await options.beforeStep?.("record", version);
    await writeState(folder.dest, next);

    // Keep the new version and the one before it; the install is done whatever pruning does.
    try {
      const removed = await folder.prune(new Set([version, ...(next.previousVersion !== undefined ? [next.previousVersion] : [])]));
      if (removed.length > 0) log(`removed versions ${removed.join(", ")}`);
    } catch (error) {
      warnings.push(`installed, but old versions could not be removed: ${describeError(error)}`);
    }
    return result("installed", next, manifest, channel, version, folder, warnings, trust);
  } finally {
    await unlock().catch(() => undefined);
  }
}

function result(
  status: PullResult["status"],
  state: EdgeState,
  manifest: Manifest,
  channel: string,
  version: number,
  folder: EdgeFolder,
  warnings: string[],
  trust: PullResult["trust"],
): PullResult {
  return {
    status,
    modelName: state.modelName,
    channel,
    version,
    currentVersion: state.currentVersion,
    ...(state.previousVersion !== undefined ? { previousVersion: state.previousVersion } : {}),
    highestVersion: state.highestVersion,
    currentPath: folder.current,
    manifest,
    warnings,
    ...(trust ? { trust } : {}),
  };
}

/** Keys of the model's releases relative to its folder, which is what a {@link ModelSource} reads. */
function modelLayout(modelName: string, channel: string) {
  let full: ModelLayout;
  try {
    full = layoutFor("", modelName);
    full.channel(channel);
  } catch (error) {
    throw new EdgeUsageError(`Invalid model or channel name: ${describeError(error)}`);
  }
  const relative = (k: string): string => k.slice(full.modelPrefix.length);
  return {
    channel: (name: string) => relative(full.channel(name)),
    manifest: (v: number) => relative(full.manifest(v)),
    signature: (v: number) => relative(full.signature(v)),
    membership: (c: string, v: number) => relative(channelSignatureKey(full, c, v)),
    file: (v: number, p: string) => relative(full.file(v, p)),
  };
}

/** The key a pull trusts from: a pinned root key, or (the older way) the release key itself. */
function trustAnchor(options: Pick<PullOptions, "publicKeyPem" | "rootPublicKeyPem">): { readonly root: boolean; readonly key: ReturnType<typeof pinnedKey> } {
  const given = [options.rootPublicKeyPem, options.publicKeyPem].filter((k) => k !== undefined).length;
  if (given !== 1) {
    throw new EdgeUsageError(
      `Pin exactly one key: rootPublicKeyPem (--root-key, the stack output otaRootPublicKeyPem; follows key rotation and checks the timestamp) or publicKeyPem (--public-key, the stack output otaPublicKeyPem); ${given === 0 ? "neither was given" : "both were given"}.`,
    );
  }
  return options.rootPublicKeyPem !== undefined
    ? { root: true, key: pinnedKey(options.rootPublicKeyPem, "otaRootPublicKeyPem") }
    : { root: false, key: pinnedKey(options.publicKeyPem!, "otaPublicKeyPem") };
}

/** The pinned key, checked to be a P-256 public key, and its fingerprint for messages. */
export function pinnedKey(publicKeyPem: string, output = "otaPublicKeyPem"): { readonly object: ReturnType<typeof readPublicKey>; readonly fingerprint: string } {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(publicKeyPem)) {
    throw new EdgeUsageError(`The pinned key is a PRIVATE key. Never put a signing key on a box: pin the public key (stack output ${output}).`);
  }
  try {
    const object = readPublicKey(publicKeyPem);
    return { object, fingerprint: publicKeyFingerprint(object) };
  } catch (error) {
    if (error instanceof SigningKeyError) throw new EdgeUsageError(`The pinned public key is unusable: ${error.message}`);
    throw error;
  }
}

/** Refuses to start a download that cannot fit: better than a full disk halfway. */
async function requireSpace(folder: EdgeFolder, manifest: Manifest): Promise<void> {
  const needed = manifest.files.reduce((sum, f) => sum + f.length, 0);
  let free: number;
  try {
    const stats = await fs.statfs(folder.dest);
    free = stats.bavail * stats.bsize;
  } catch {
    return;
  }
  if (free < needed) {
    throw new LocalIoError(`Version ${manifest.version} needs ${needed} bytes in ${folder.dest}, but only ${free} are free. Free some space; nothing was installed.`);
  }
}

/** Streams one file to `target`, hashing as it goes; refuses it on a wrong length or sha256. */
async function downloadFile(source: ModelSource, key: string, file: Manifest["files"][number], target: string, version: number): Promise<void> {
  const where = `${source.location}${key}`;
  const body = await source.open(key, file.length + 1).catch((error: unknown) => {
    if (error instanceof SourceError && error.missing) {
      throw new SourceError(`Version ${version} lists ${file.path}, but it is missing: ${error.message} Nothing was installed.`, true, { cause: error });
    }
    throw error;
  });
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(target, "wx", 0o644);
  } catch (error) {
    body.abort();
    throw new LocalIoError(`Cannot create ${target}: ${describeError(error)}`, { cause: error });
  }
  const hash = createHash("sha256");
  try {
    const outcome = await readAtMost(body, file.length, where, async (chunk) => {
      hash.update(chunk);
      try {
        await handle.write(chunk);
      } catch (error) {
        throw new LocalIoError(`Cannot write ${target}: ${describeError(error)}`, { cause: error });
      }
    });
    if (outcome.longer) {
      throw new VerificationRefusedError(
        "oversized",
        `Refused version ${version}: ${where} is longer than the ${file.length} bytes its signed manifest declares; stopped reading at byte ${file.length + 1}. Nothing was installed.`,
      );
    }
    if (outcome.bytes < file.length) {
      throw new VerificationRefusedError(
        "truncated",
        `Refused version ${version}: ${where} has ${outcome.bytes} bytes, fewer than the ${file.length} its signed manifest declares (truncated). Nothing was installed.`,
      );
    }
    const actual = hash.digest("hex");
    if (actual !== file.sha256) {
      throw new VerificationRefusedError(
        "hash-mismatch",
        `Refused version ${version}: ${where} has sha256 ${actual}, not the ${file.sha256} its signed manifest declares (the file was changed after signing). Nothing was installed.`,
      );
    }
    try {
      await handle.sync();
    } catch (error) {
      throw new LocalIoError(`Cannot sync ${target}: ${describeError(error)}`, { cause: error });
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}
