/**
 * What this box has, without asking the source: `rollback` (back to the version that ran before)
 * and `status` (what runs, what is kept, when it expires).
 */
import { createHash } from "crypto";
import { createReadStream, promises as fs } from "fs";
import * as path from "path";
import { InvalidManifestError, manifestExpired, parseManifest, type Manifest } from "../manifest";
import { EdgeFolder, reconcileState } from "./edgeFolder";
import { EdgeUsageError, LocalIoError, describeError } from "./errors";
import { readState, writeState, type EdgeState } from "./stateStore";
import { readTrust } from "./trustStore";
import { restoreTrustedRoot } from "../trust/rootDocument";
import { timestampOfStored } from "../trust/timestampDocument";

export interface RollbackOptions {
  /** The destination folder a pull installed into. */
  readonly dest: string;
  /** @default the system clock */
  readonly now?: () => Date;
}

export interface RollbackResult {
  readonly modelName: string;
  /** The version that was current. */
  readonly from: number;
  /** The version that is current now. */
  readonly to: number;
  /** Still the floor: pulls install only versions above it. */
  readonly highestVersion: number;
  readonly currentPath: string;
}

/**
 * Points `current` back at the version that ran before the last install, after checking that
 * its files still have the lengths and sha256 of its manifest. The floor does not move: the
 * version rolled back from is not installed again by a pull; the next release above it is.
 * Goes back one version only; a second rollback has nothing to go back to.
 */
export async function rollback(options: RollbackOptions | string): Promise<RollbackResult> {
  const { dest, now = () => new Date() } = typeof options === "string" ? { dest: options } : options;
  const folder = new EdgeFolder(dest);
  await requireFolder(folder);
  const unlock = await folder.lock();
  try {
    const state = await loadState(folder, now());
    if (!state) throw new EdgeUsageError(`Nothing is installed in ${folder.dest}: there is nothing to roll back.`);
    const target = state.previousVersion;
    if (target === undefined) {
      const why = state.rolledBackFrom !== undefined ? `it was already rolled back from version ${state.rolledBackFrom}` : "no earlier version was installed here";
      throw new EdgeUsageError(`Cannot roll back ${state.modelName} in ${folder.dest}: current is version ${state.currentVersion} and ${why}.`);
    }
    const manifest = await readLocalManifest(folder, target);
    await checkFiles(folder, target, manifest);
    await folder.pointCurrentAt(target);
    const { previousVersion: _dropped, ...rest } = state;
    const next: EdgeState = { ...rest, currentVersion: target, rolledBackFrom: state.currentVersion, updatedAt: now().toISOString() };
    await writeState(folder.dest, next);
    return { modelName: state.modelName, from: state.currentVersion, to: target, highestVersion: state.highestVersion, currentPath: folder.current };
  } finally {
    await unlock().catch(() => undefined);
  }
}

export interface EdgeStatus {
  readonly dest: string;
  readonly modelName: string;
  /** The channel of the last install. */
  readonly channel: string;
  readonly currentVersion: number;
  readonly previousVersion?: number;
  readonly highestVersion: number;
  readonly rolledBackFrom?: number;
  readonly updatedAt: string;
  readonly currentPath: string;
  /** The current release's manifest, as verified when it was installed. */
  readonly manifest: Manifest;
  /** The current release's manifest has expired: no newer release reached this box in time. */
  readonly expired: boolean;
  /** Version folders on disk. */
  readonly versionsOnDisk: readonly number[];
  /** How fresh the last view of the bucket was; absent on a box that pins the release key instead of a root key. */
  readonly view?: ViewFreshness;
}

/** What `<dest>/trust.json` says about the view of the bucket the last pull saw (docs/edge.md, "Freshness"). */
export interface ViewFreshness {
  /** The newest root document this box verified. */
  readonly rootVersion: number;
  /** The newest timestamp accepted: when it was signed, and when it stops vouching for the view. */
  readonly timestampIssuedAt?: string;
  readonly timestampExpires?: string;
  /** The last pull's check: `fresh`, or `stale` with why. */
  readonly lastCheck?: { readonly at: string; readonly outcome: "fresh" | "stale"; readonly channel: string; readonly problem?: string };
  /** The last check was fresh and its timestamp has not expired yet. False: `edge status` exits 7. */
  readonly fresh: boolean;
}

/** What `dest` holds; undefined when nothing was ever installed there. Changes nothing. */
export async function status(options: RollbackOptions | string): Promise<EdgeStatus | undefined> {
  const { dest, now = () => new Date() } = typeof options === "string" ? { dest: options } : options;
  const folder = new EdgeFolder(dest);
  await requireFolder(folder);
  const state = await loadState(folder, now());
  if (!state) return undefined;
  const manifest = await readLocalManifest(folder, state.currentVersion);
  return {
    dest: folder.dest,
    modelName: state.modelName,
    channel: state.channel,
    currentVersion: state.currentVersion,
    ...(state.previousVersion !== undefined ? { previousVersion: state.previousVersion } : {}),
    highestVersion: state.highestVersion,
    ...(state.rolledBackFrom !== undefined ? { rolledBackFrom: state.rolledBackFrom } : {}),
    updatedAt: state.updatedAt,
    currentPath: folder.current,
    manifest,
    expired: manifestExpired(manifest, now()),
    versionsOnDisk: await folder.versionsOnDisk(),
    ...(await viewFreshness(folder.dest, state.modelName, now())),
  };
}

async function viewFreshness(dest: string, model: string, now: Date): Promise<{ view?: ViewFreshness }> {
  const trust = await readTrust(dest);
  if (trust === undefined || trust.modelName !== model) return {};
  const root = restoreTrustedRoot(Buffer.from(trust.root, "base64"), model);
  if (root === undefined) return {};
  const timestamp = trust.timestamp !== undefined ? timestampOfStored(Buffer.from(trust.timestamp, "base64")) : undefined;
  const fresh = trust.lastCheck?.outcome === "fresh" && timestamp !== undefined && now.getTime() < Date.parse(timestamp.expires);
  return {
    view: {
      rootVersion: root.document.version,
      ...(timestamp ? { timestampIssuedAt: timestamp.issuedAt, timestampExpires: timestamp.expires } : {}),
      ...(trust.lastCheck ? { lastCheck: trust.lastCheck } : {}),
      fresh,
    },
  };
}

async function requireFolder(folder: EdgeFolder): Promise<void> {
  try {
    const stat = await fs.stat(folder.dest);
    if (!stat.isDirectory()) throw new EdgeUsageError(`${folder.dest} is not a folder.`);
  } catch (error) {
    if (error instanceof EdgeUsageError) throw error;
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new EdgeUsageError(`${folder.dest} does not exist: nothing was ever pulled there.`);
    throw new LocalIoError(`Cannot read ${folder.dest}: ${describeError(error)}`, { cause: error });
  }
}

/** The state, brought up to where `current` points (a local install's manifest names the model). */
async function loadState(folder: EdgeFolder, now: Date): Promise<EdgeState | undefined> {
  const stored = await readState(folder.dest);
  const linked = await folder.linkedVersion();
  if (!stored && linked === undefined) return undefined;
  const fallbackModel = stored?.modelName ?? (linked !== undefined ? (await readLocalManifest(folder, linked)).modelName : "");
  return reconcileState(stored, linked, { modelName: fallbackModel, channel: stored?.channel ?? "unknown", now, versionsOnDisk: await folder.versionsOnDisk() });
}

/** The manifest kept beside an installed version (verified when it was installed). */
async function readLocalManifest(folder: EdgeFolder, v: number): Promise<Manifest> {
  const file = path.join(folder.versionDir(v), "manifest.json");
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    throw new LocalIoError(`Version ${v} is not on this box any more (${describeError(error)}).`, { cause: error });
  }
  try {
    return parseManifest(bytes);
  } catch (error) {
    if (error instanceof InvalidManifestError) throw new LocalIoError(`${file} is damaged: ${error.message}`);
    throw error;
  }
}

/** Checks that an installed version's files still have their manifest's lengths and sha256. */
async function checkFiles(folder: EdgeFolder, v: number, manifest: Manifest): Promise<void> {
  for (const file of manifest.files) {
    const target = path.join(folder.versionDir(v), file.path);
    const hash = createHash("sha256");
    let length = 0;
    try {
      for await (const chunk of createReadStream(target)) {
        length += (chunk as Buffer).length;
        hash.update(chunk as Buffer);
      }
    } catch (error) {
      throw new LocalIoError(`Cannot roll back to version ${v}: ${describeError(error)}`, { cause: error });
    }
    const sha256 = hash.digest("hex");
    if (length !== file.length || sha256 !== file.sha256) {
      throw new LocalIoError(`Cannot roll back to version ${v}: ${target} is damaged on disk (${length} bytes, sha256 ${sha256}; its manifest says ${file.length} bytes, ${file.sha256}). Current is unchanged.`);
    }
  }
}
