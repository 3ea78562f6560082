/**
 * The destination folder on the box, and the file-system steps that make an install atomic:
 *
 *     <dest>/state.json                 what is installed (stateStore.ts)
 *     <dest>/current -> versions/<v>    the running model: load <dest>/current/model.onnx
 *     <dest>/versions/<v>/              one folder per release: its files, manifest.json, manifest.json.sig
 *     <dest>/.staging/<v>/              a release being downloaded; never read by anyone
 *     <dest>/.lock                      held by the one pull or rollback at work
 *
 * A release is downloaded into `.staging/<v>/` and fsynced, renamed to `versions/<v>/` whole,
 * and then `current` is swapped by renaming a new link over it: the inference service sees the
 * old folder or the new one, never a mix. The rename of `current` is the commit point.
 */
import { randomBytes } from "crypto";
import { promises as fs } from "fs";
import * as path from "path";
import { parseVersionKey, versionKey } from "../manifest";
import { EdgeUsageError, LocalIoError, describeError } from "./errors";
import { STATE_SCHEMA_VERSION, fsyncDirectory, type EdgeState } from "./stateStore";

export const CURRENT_LINK = "current";
export const VERSIONS_DIR = "versions";
export const STAGING_DIR = ".staging";
export const LOCK_FILE = ".lock";

/** Paths inside one destination folder. */
export class EdgeFolder {
  readonly dest: string;

  constructor(dest: string) {
    this.dest = path.resolve(dest);
  }

  get current(): string {
    return path.join(this.dest, CURRENT_LINK);
  }

  get versionsDir(): string {
    return path.join(this.dest, VERSIONS_DIR);
  }

  get stagingDir(): string {
    return path.join(this.dest, STAGING_DIR);
  }

  versionDir(v: number): string {
    return path.join(this.versionsDir, versionKey(v));
  }

  stagingDirOf(v: number): string {
    return path.join(this.stagingDir, versionKey(v));
  }

  /** Creates the folder (and its parents) when missing. */
  async ensure(): Promise<void> {
    await local(`create ${this.dest}`, () => fs.mkdir(this.dest, { recursive: true, mode: 0o755 }));
  }

  /** The version `current` points at; undefined when there is no `current` link. */
  async linkedVersion(): Promise<number | undefined> {
    let target: string;
    try {
      target = await fs.readlink(this.current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined;
      if (code === "EINVAL") throw new LocalIoError(`${this.current} is not a symbolic link; yolo-train manages it. Move it away and pull again.`);
      throw new LocalIoError(`Cannot read ${this.current}: ${describeError(error)}`, { cause: error });
    }
    const segments = target.split(/[\\/]/).filter((s) => s !== "");
    const v = segments.length === 2 && segments[0] === VERSIONS_DIR ? parseVersionKey(segments[1] ?? "") : undefined;
    if (v === undefined) throw new LocalIoError(`${this.current} points at ${JSON.stringify(target)}, not at ${VERSIONS_DIR}/<version>; yolo-train manages it. Move it away and pull again.`);
    return v;
  }

  /** The versions present under `versions/`, ascending. */
  async versionsOnDisk(): Promise<number[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.versionsDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new LocalIoError(`Cannot list ${this.versionsDir}: ${describeError(error)}`, { cause: error });
    }
    return names
      .map((n) => parseVersionKey(n))
      .filter((v): v is number => v !== undefined)
      .sort((a, b) => a - b);
  }

  /** Removes `.staging/` and everything in it: what an interrupted pull left behind. */
  async clearStaging(): Promise<void> {
    await local(`remove ${this.stagingDir}`, () => fs.rm(this.stagingDir, { recursive: true, force: true }));
  }

  /** An empty `.staging/<v>/`, ready to download into. */
  async freshStaging(v: number): Promise<string> {
    const dir = this.stagingDirOf(v);
    await local(`prepare ${dir}`, async () => {
      await fs.rm(dir, { recursive: true, force: true });
      await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    });
    return dir;
  }

  /**
   * Moves a complete, fsynced `.staging/<v>/` to `versions/<v>/` in one rename, replacing what an
   * earlier interrupted install of `<v>` left there (never the folder `current` points at).
   */
  async commit(v: number, linked: number | undefined): Promise<void> {
    if (v === linked) throw new LocalIoError(`Refusing to replace ${this.versionDir(v)}: ${this.current} points at it.`);
    const from = this.stagingDirOf(v);
    const to = this.versionDir(v);
    await local(`move ${from} to ${to}`, async () => {
      await fsyncDirectory(from);
      await fs.mkdir(this.versionsDir, { recursive: true, mode: 0o755 });
      await fs.rm(to, { recursive: true, force: true });
      await fs.rename(from, to);
      await fsyncDirectory(this.versionsDir);
    });
  }

  /** Points `current` at `versions/<v>/` by renaming a new link over it: atomic for readers. */
  async pointCurrentAt(v: number): Promise<void> {
    const temporary = path.join(this.dest, `${CURRENT_LINK}.tmp`);
    await local(`point ${this.current} at ${this.versionDir(v)}`, async () => {
      await fs.rm(temporary, { force: true });
      await fs.symlink(path.join(VERSIONS_DIR, versionKey(v)), temporary);
      await fs.rename(temporary, this.current);
      await fsyncDirectory(this.dest);
    });
  }

  /** Removes every version folder but `keep`'s. Returns what it removed. */
  async prune(keep: ReadonlySet<number>): Promise<number[]> {
    const removed: number[] = [];
    for (const v of await this.versionsOnDisk()) {
      if (keep.has(v)) continue;
      await local(`remove ${this.versionDir(v)}`, () => fs.rm(this.versionDir(v), { recursive: true, force: true }));
      removed.push(v);
    }
    if (removed.length > 0) await local(`sync ${this.versionsDir}`, () => fsyncDirectory(this.versionsDir));
    return removed;
  }

  /**
   * Takes `<dest>/.lock` for this process, so a pull from a timer and one by hand never work on
   * the same folder at once. A lock whose process is gone (or was held before the last boot) is
   * taken over. Returns the release function.
   */
  async lock(): Promise<() => Promise<void>> {
    const file = path.join(this.dest, LOCK_FILE);
    const holder: LockHolder = { pid: process.pid, bootId: await bootId(), since: new Date().toISOString(), token: randomBytes(8).toString("hex") };
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        await fs.writeFile(file, JSON.stringify(holder) + "\n", { flag: "wx", mode: 0o644 });
        return async () => {
          // Only our own lock: never one a later process took over.
          const now = await readLockHolder(file);
          if (now?.token === holder.token) await fs.rm(file, { force: true });
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw new LocalIoError(`Cannot create ${file}: ${describeError(error)}`, { cause: error });
      }
      const other = await readLockHolder(file);
      if (other && (await lockHolderAlive(other))) {
        throw new LocalIoError(
          `${this.dest} is busy: process ${other.pid} holds ${file} since ${other.since}. Wait for it; if no yolo-train process is running, remove the file.`,
        );
      }
      await fs.rm(file, { force: true });
    }
    throw new LocalIoError(`Cannot take ${file}: another process keeps taking it.`);
  }
}

interface LockHolder {
  readonly pid: number;
  readonly bootId?: string;
  readonly since: string;
  readonly token: string;
}

async function readLockHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const value = JSON.parse(await fs.readFile(file, "utf8")) as Partial<LockHolder>;
    if (typeof value.pid !== "number") return undefined;
    return { pid: value.pid, bootId: value.bootId, since: String(value.since), token: String(value.token) };
  } catch {
    return undefined;
  }
}

async function lockHolderAlive(holder: LockHolder): Promise<boolean> {
  const boot = await bootId();
  if (holder.bootId && boot && holder.bootId !== boot) return false;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Linux's id of this boot: a pid in a lock from before a reboot means nothing. */
async function bootId(): Promise<string | undefined> {
  try {
    return (await fs.readFile("/proc/sys/kernel/random/boot_id", "utf8")).trim();
  } catch {
    return undefined;
  }
}

async function local<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof LocalIoError) throw error;
    throw new LocalIoError(`Cannot ${what}: ${describeError(error)}`, { cause: error });
  }
}

/**
 * The state as it must be given where `current` points (`linked`): the rename of `current` is
 * the commit point, so a state file one step behind (a power cut between the swap and the state
 * write) is brought up to it. Pure; returns `state` itself when nothing needs to change.
 */
export function reconcileState(
  state: EdgeState | undefined,
  linked: number | undefined,
  fallback: { readonly modelName: string; readonly channel: string; readonly now: Date; readonly versionsOnDisk: readonly number[] },
): EdgeState | undefined {
  const now = fallback.now.toISOString();
  if (state === undefined) {
    if (linked === undefined) return undefined;
    const older = fallback.versionsOnDisk.filter((v) => v < linked);
    return {
      schemaVersion: STATE_SCHEMA_VERSION,
      modelName: fallback.modelName,
      channel: fallback.channel,
      highestVersion: linked,
      currentVersion: linked,
      ...(older.length > 0 ? { previousVersion: Math.max(...older) } : {}),
      updatedAt: now,
    };
  }
  if (linked === undefined || linked === state.currentVersion) return state;
  const { previousVersion: _previous, rolledBackFrom: _rolledBackFrom, ...rest } = state;
  if (linked > state.highestVersion) {
    // An install got as far as the swap.
    return { ...rest, highestVersion: linked, currentVersion: linked, previousVersion: state.currentVersion, updatedAt: now };
  }
  if (linked === state.previousVersion) {
    // A rollback got as far as the swap.
    return { ...rest, currentVersion: linked, rolledBackFrom: state.currentVersion, updatedAt: now };
  }
  // Someone pointed `current` elsewhere by hand: believe it, keep the floor.
  return { ...rest, currentVersion: linked, ...(state.previousVersion !== undefined && state.previousVersion !== linked ? { previousVersion: state.previousVersion } : {}), updatedAt: now };
}

/** Throws when `dest` already holds another model: one folder per model. */
export function requireSameModel(state: EdgeState | undefined, modelName: string, dest: string): void {
  if (state && state.modelName !== modelName) {
    throw new EdgeUsageError(`${dest} holds model ${JSON.stringify(state.modelName)}, not ${JSON.stringify(modelName)}: use one destination folder per model.`);
  }
}
