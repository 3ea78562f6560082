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
 *
 * No link is followed inside the destination. Every folder this class creates, lists, renames
 * into or removes (the destination itself, `versions/`, each `versions/<v>/`, `.staging/`,
 * `.staging/<v>/`) is checked with `lstat` right before it is used to be a real folder, and
 * `state.json` and `.lock` to be plain files when present; anything else (a symbolic link,
 * wherever it points, or a file where a folder belongs) refuses the pull, rollback or status
 * with a {@link LocalIoError} before anything is written or removed. `current` is the one link,
 * and it must point at `versions/<v>`. Removals (`fs.rm`) are only of checked real folders, and
 * `fs.rm` removes a link inside one without following it.
 */
import { randomBytes } from "crypto";
import { promises as fs, type Dirent, type Stats } from "fs";
import * as path from "path";
import { parseVersionKey, versionKey } from "../manifest";
import { EdgeUsageError, LocalIoError, describeError } from "./errors";
import { STATE_FILE, STATE_SCHEMA_VERSION, fsyncDirectory, type EdgeState } from "./stateStore";

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

  /** Creates the folder (and its parents) when missing; refuses a destination that is not a real folder. */
  async ensure(): Promise<void> {
    const present = await fs.lstat(this.dest).then(
      () => true,
      (error: unknown) => !["ENOENT", "ENOTDIR"].includes(String((error as NodeJS.ErrnoException).code)),
    );
    // mkdir does not follow a link at `dest` (it reports it as existing); requireDest refuses one.
    if (!present) await local(`create ${this.dest}`, () => fs.mkdir(this.dest, { recursive: true, mode: 0o755 }));
    await this.requireDest();
  }

  /** The version `current` points at; undefined when there is no `current` link. */
  async linkedVersion(): Promise<number | undefined> {
    await this.requireDest();
    const stat = await lstatOrNone(this.current);
    if (stat === undefined) return undefined;
    if (!stat.isSymbolicLink()) throw new LocalIoError(`${this.current} is not a symbolic link; yolo-train manages it. Move it away and pull again.`);
    let target: string;
    try {
      target = await fs.readlink(this.current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new LocalIoError(`Cannot read ${this.current}: ${describeError(error)}`, { cause: error });
    }
    const segments = target.split(/[\\/]/).filter((s) => s !== "");
    const v = segments.length === 2 && segments[0] === VERSIONS_DIR ? parseVersionKey(segments[1] ?? "") : undefined;
    if (v === undefined) throw new LocalIoError(`${this.current} points at ${JSON.stringify(target)}, not at ${VERSIONS_DIR}/<version>; yolo-train manages it. Move it away and pull again.`);
    // What it leads to must be ours too: versions/ and versions/<v> real folders (or missing).
    if (await this.directoryOrNone(this.versionsDir)) await this.directoryOrNone(this.versionDir(v));
    return v;
  }

  /**
   * The versions present under `versions/`, ascending. Refuses (before anyone acts on the list)
   * a `versions/` that is a link or a file, and any entry named like a version that is not a real
   * folder; other entries are left alone.
   */
  async versionsOnDisk(): Promise<number[]> {
    await this.requireDest();
    if (!(await this.directoryOrNone(this.versionsDir))) return [];
    let entries: Dirent[];
    try {
      entries = await fs.readdir(this.versionsDir, { withFileTypes: true });
    } catch (error) {
      throw new LocalIoError(`Cannot list ${this.versionsDir}: ${describeError(error)}`, { cause: error });
    }
    const versions: number[] = [];
    for (const entry of entries) {
      const v = parseVersionKey(entry.name);
      if (v === undefined) continue;
      // The entry's type is its own (readdir does not follow links); lstat says what it is for the message.
      if (!entry.isDirectory()) await this.requireDirectory(path.join(this.versionsDir, entry.name));
      versions.push(v);
    }
    return versions.sort((a, b) => a - b);
  }

  /** Removes `.staging/` and everything in it: what an interrupted pull left behind. */
  async clearStaging(): Promise<void> {
    await this.requireDest();
    if (!(await this.directoryOrNone(this.stagingDir))) return;
    await local(`remove ${this.stagingDir}`, () => fs.rm(this.stagingDir, { recursive: true, force: true }));
  }

  /** An empty `.staging/<v>/`, ready to download into. */
  async freshStaging(v: number): Promise<string> {
    const dir = this.stagingDirOf(v);
    await this.requireDest();
    await this.makeDirectory(this.stagingDir);
    if (await this.directoryOrNone(dir)) await local(`prepare ${dir}`, () => fs.rm(dir, { recursive: true, force: true }));
    await this.makeDirectory(dir);
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
    await this.requireDest();
    await this.requireDirectory(this.stagingDir);
    await this.requireDirectory(from);
    await local(`sync ${from}`, () => fsyncDirectory(from));
    await this.makeDirectory(this.versionsDir);
    if (await this.directoryOrNone(to)) await local(`remove ${to}`, () => fs.rm(to, { recursive: true, force: true }));
    await local(`move ${from} to ${to}`, async () => {
      await fs.rename(from, to);
      await fsyncDirectory(this.versionsDir);
    });
  }

  /** Points `current` at `versions/<v>/` by renaming a new link over it: atomic for readers. */
  async pointCurrentAt(v: number): Promise<void> {
    const temporary = path.join(this.dest, `${CURRENT_LINK}.tmp`);
    await this.requireDest();
    await this.requireDirectory(this.versionsDir);
    await this.requireDirectory(this.versionDir(v));
    const leftover = await lstatOrNone(temporary);
    if (leftover?.isDirectory()) throw new LocalIoError(`${temporary} is a folder; yolo-train uses that name for a link of its own. Nothing was changed: move it away and try again.`);
    await local(`point ${this.current} at ${this.versionDir(v)}`, async () => {
      // A link or file there is removed itself: fs.rm does not follow links.
      if (leftover !== undefined) await fs.rm(temporary, { force: true });
      await fs.symlink(path.join(VERSIONS_DIR, versionKey(v)), temporary);
      await fs.rename(temporary, this.current);
      await fsyncDirectory(this.dest);
    });
  }

  /** Removes every version folder but `keep`'s. Returns what it removed. Never follows a link. */
  async prune(keep: ReadonlySet<number>): Promise<number[]> {
    const removed: number[] = [];
    for (const v of await this.versionsOnDisk()) {
      if (keep.has(v)) continue;
      // Checked again right before the removal: a link planted since the listing is refused, not followed.
      await this.requireDest();
      await this.requireDirectory(this.versionsDir);
      await this.requireDirectory(this.versionDir(v));
      await local(`remove ${this.versionDir(v)}`, () => fs.rm(this.versionDir(v), { recursive: true, force: true }));
      removed.push(v);
    }
    if (removed.length > 0) await local(`sync ${this.versionsDir}`, () => fsyncDirectory(this.versionsDir));
    return removed;
  }

  /**
   * Refuses a destination that is not a real folder (a link to one included), and a `state.json`
   * or `.lock` in it that is not a plain file.
   */
  private async requireDest(): Promise<void> {
    const stat = await lstatOrNone(this.dest);
    if (stat === undefined) throw new LocalIoError(`${this.dest} does not exist (it was removed while yolo-train worked in it). Nothing more was changed.`);
    if (stat.isSymbolicLink()) {
      throw new LocalIoError(
        `--dest ${this.dest} is a symbolic link (to ${JSON.stringify(await readlinkOr(this.dest))}), not a folder. yolo-train follows no links in its destination, so that nothing is written or removed where a link points. ` +
          "Nothing was written or removed: pass the folder it points at as --dest, or replace the link with a real folder.",
      );
    }
    if (!stat.isDirectory()) throw new LocalIoError(`--dest ${this.dest} is ${kindOf(stat)}, not a folder. Nothing was written or removed: pass a folder as --dest.`);
    for (const name of [STATE_FILE, LOCK_FILE]) {
      const file = path.join(this.dest, name);
      const entry = await lstatOrNone(file);
      if (entry === undefined || entry.isFile()) continue;
      throw new LocalIoError(
        `${file} is ${entry.isSymbolicLink() ? `a symbolic link (to ${JSON.stringify(await readlinkOr(file))})` : kindOf(entry)}, not a plain file; yolo-train writes it itself and follows no links in ${this.dest}. ` +
          "Nothing was written or removed: move it away and try again.",
      );
    }
  }

  /** True when `dir` is a real folder, false when nothing is there; refuses a link or anything else. */
  private async directoryOrNone(dir: string): Promise<boolean> {
    const stat = await lstatOrNone(dir);
    if (stat === undefined) return false;
    if (stat.isDirectory()) return true;
    throw await this.notAFolder(dir, stat);
  }

  /** Refuses unless `dir` is a real folder (not a link to one). */
  private async requireDirectory(dir: string): Promise<void> {
    if (!(await this.directoryOrNone(dir))) throw new LocalIoError(`${dir} does not exist (something removed it while yolo-train worked in ${this.dest}). Nothing more was changed; try again.`);
  }

  /** Creates `dir` unless it is there (never through a link: its parent was checked), then checks it. */
  private async makeDirectory(dir: string): Promise<void> {
    if (!(await this.directoryOrNone(dir))) {
      await local(`create ${dir}`, () =>
        fs.mkdir(dir, { mode: 0o755 }).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        }),
      );
      await this.requireDirectory(dir);
    }
  }

  private async notAFolder(dir: string, stat: Stats): Promise<LocalIoError> {
    const what = stat.isSymbolicLink() ? `a symbolic link (to ${JSON.stringify(await readlinkOr(dir))})` : kindOf(stat);
    return new LocalIoError(
      `${dir} is ${what}, not a folder. yolo-train follows no links in ${this.dest}: it would write or remove files wherever the link points. ` +
        "Nothing was written or removed: move it away (yolo-train recreates its folders) and try again.",
    );
  }

  /**
   * Takes `<dest>/.lock` for this process, so a pull from a timer and one by hand never work on
   * the same folder at once. A lock whose process is gone (or was held before the last boot) is
   * taken over. Returns the release function.
   */
  async lock(): Promise<() => Promise<void>> {
    const file = path.join(this.dest, LOCK_FILE);
    await this.requireDest();
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
      // A link or folder named .lock is not a lock of ours: refused, never followed or removed.
      await this.requireDest();
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

/** What is at `p`, without following a link there; undefined when nothing is. */
async function lstatOrNone(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new LocalIoError(`Cannot read ${p}: ${describeError(error)}`, { cause: error });
  }
}

async function readlinkOr(p: string): Promise<string> {
  return fs.readlink(p).catch(() => "?");
}

function kindOf(stat: Stats): string {
  if (stat.isFile()) return "a file";
  if (stat.isDirectory()) return "a folder";
  if (stat.isSymbolicLink()) return "a symbolic link";
  return "a special file (socket, FIFO or device)";
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
