import { lstat, mkdir, readdir } from "fs/promises";
import { dirname, join } from "path";
import type { BackoffPolicy } from "./backoff";
import type { CheckpointTransfer } from "./checkpointUploader";
import { describeError, type Logger } from "./log";
import type { RunLayout } from "../runspec/runLayout";
import { sameSignature, type FileSignature } from "./weightsWatcher";

/**
 * The run cache (docs/node-runtime.md, "Weights and label caches"): what a trainer fetches or
 * builds before it trains — weights ultralytics downloads by name (the spec's `model`, the AMP
 * check's `yolo11n.pt`) in `<scratch>/weights/`, and its dataset label caches in
 * `<workdir>/label-cache/` — carried from node to node of one run through the artifact bucket
 * (`<prefix>cache/weights/<name>`, `<prefix>cache/labels/<name>`). A spot replacement starts with
 * an empty scratch disk; without this it would download the weights from the internet and rescan
 * the whole dataset again.
 *
 * Everything here is best effort: a failure is a warning, and the trainer then fetches or rebuilds
 * the file itself, as it would without a cache.
 */

export type CacheKind = "weights" | "labels";
export const CACHE_KINDS: readonly CacheKind[] = ["weights", "labels"];

/**
 * A plain file name: no folder separator and no leading dot (so never `.` or `..`). Names come from
 * S3 keys on restore, so this is what keeps a key from writing outside the two folders.
 */
export const CACHE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Only what ultralytics puts there: weights (`.pt`) and label caches (`.cache`; it writes `.cache.npy` first, then renames). */
const SUFFIX: Readonly<Record<CacheKind, string>> = { weights: ".pt", labels: ".cache" };
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * One retry on top of the SDK's own per-request retries: a cache file is worth less than the time
 * a stubborn S3 error (or a download that keeps failing verification) would cost the run.
 */
export const CACHE_RETRY: BackoffPolicy = { maxAttempts: 2, baseMs: 500, capMs: 2_000 };

/** Where the cache lives for one run: the S3 folder and the node's two folders. */
export interface CachePlaces {
  readonly keyPrefix: string;
  readonly dirs: Readonly<Record<CacheKind, string>>;
}

export function cachePlaces(layout: Pick<RunLayout, "cacheKeyPrefix" | "weightsCacheDir" | "labelCacheDir">): CachePlaces {
  return { keyPrefix: layout.cacheKeyPrefix, dirs: { weights: layout.weightsCacheDir, labels: layout.labelCacheDir } };
}

/** One cache file: its object key and its local path. */
export interface CacheEntry {
  readonly kind: CacheKind;
  readonly name: string;
  readonly key: string;
  readonly path: string;
}

export interface CacheFile extends CacheEntry {
  readonly signature: FileSignature;
}

export function isCacheFileName(kind: CacheKind, name: string): boolean {
  return CACHE_FILE_NAME.test(name) && name.endsWith(SUFFIX[kind]);
}

/** The entry of a file name found in a kind's folder; null for any other name. Pure. */
export function cacheEntry(places: CachePlaces, kind: CacheKind, name: string): CacheEntry | null {
  if (!isCacheFileName(kind, name)) return null;
  const dir = places.dirs[kind];
  const path = join(dir, name);
  // Implied by the name pattern; checked again because this is the one place a path is made from a key.
  if (dirname(path) !== dir) return null;
  return { kind, name, key: `${places.keyPrefix}${kind}/${name}`, path };
}

/** The entry an object key stands for: exactly `<prefix>cache/<kind>/<name>` with a valid name; else null. Pure. */
export function cacheEntryOfKey(places: CachePlaces, key: string): CacheEntry | null {
  if (!key.startsWith(places.keyPrefix)) return null;
  const rest = key.slice(places.keyPrefix.length);
  for (const kind of CACHE_KINDS) {
    if (rest.startsWith(`${kind}/`)) return cacheEntry(places, kind, rest.slice(kind.length + 1));
  }
  return null;
}

export interface UploadCandidates {
  /** The files this poll found. */
  readonly files: readonly CacheFile[];
  /** What the previous poll found, by key. */
  readonly previousPoll: ReadonlyMap<string, FileSignature>;
  /** Local files known to be the object in S3 (uploaded or restored), by key. */
  readonly synced: ReadonlyMap<string, FileSignature>;
  /** Files whose upload failed, by key: not tried again until they change or the trainer exited. */
  readonly failed: ReadonlyMap<string, FileSignature>;
  /** After the trainer exited nothing writes the files any more: every file counts as stable. */
  readonly trainerExited: boolean;
}

/**
 * The files to upload now: stable (unchanged since the previous poll, or the trainer has exited)
 * and not known to be in S3 as they are. Pure.
 */
export function selectUploads(candidates: UploadCandidates): CacheFile[] {
  const { previousPoll, synced, failed, trainerExited } = candidates;
  return candidates.files.filter((file) => {
    if (sameSignature(synced.get(file.key), file.signature)) return false;
    if (trainerExited) return true;
    return sameSignature(previousPoll.get(file.key), file.signature) && !sameSignature(failed.get(file.key), file.signature);
  });
}

/** The transfer calls the cache makes: the checkpoints' verified uploads and downloads. */
export type CacheTransfer = Pick<CheckpointTransfer, "listObjects" | "headObject" | "uploadFile" | "downloadFile" | "digestFile">;

export interface RunCacheHooks {
  /**
   * Resolves when a cache upload may start: once no checkpoint upload is queued or running, so a
   * cache file never delays a checkpoint (one that starts later runs alongside).
   */
  readonly beforeUpload: () => Promise<void>;
}

/** (inode, size, mtime) of a regular file; null for anything else, a symbolic link included (never followed). */
async function regularFileSignature(path: string): Promise<FileSignature | null> {
  try {
    const info = await lstat(path);
    return info.isFile() ? { ino: info.ino, size: info.size, mtimeMs: info.mtimeMs } : null;
  } catch {
    return null;
  }
}

/** A directory itself, not a symbolic link to one. */
async function isRealDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Restores the run cache before the first launch on a node and uploads what the trainer adds. The
 * supervisor polls it (with its checkpoint watcher) once the trainer has written a progress line in
 * this launch: by then ultralytics has fetched its weights and built its label caches, so a file
 * that holds still is complete. Passes never overlap; uploads run one at a time.
 */
export class RunCache {
  private readonly places: CachePlaces;
  private readonly previousPoll = new Map<string, FileSignature>();
  private readonly synced = new Map<string, FileSignature>();
  private readonly failed = new Map<string, FileSignature>();
  /** The objects' sha256 by key, from the restore's listing; null when it failed (then each upload asks S3 with a HEAD). */
  private remote: Map<string, string> | null = null;
  private pass: Promise<void> | null = null;
  private exitPassWanted = false;
  private readonly stopping = new AbortController();

  constructor(
    private readonly transfer: CacheTransfer,
    layout: Pick<RunLayout, "cacheKeyPrefix" | "weightsCacheDir" | "labelCacheDir">,
    private readonly log: Logger,
    private readonly hooks: RunCacheHooks,
    private readonly now: () => number = Date.now,
  ) {
    this.places = cachePlaces(layout);
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /**
   * Downloads the run's cached files that this node lacks, verified against their `sha256`
   * metadata. Files already here with the same sha256 stay as they are. Never throws.
   */
  async restore(): Promise<void> {
    if (this.stopped) return;
    const started = this.now();
    let listed;
    try {
      listed = await this.transfer.listObjects(this.places.keyPrefix, CACHE_RETRY);
    } catch (error) {
      this.log.warn("cache-restore-failed", { prefix: this.places.keyPrefix, error: describeError(error) });
      return;
    }
    const remote = new Map<string, string>();
    this.remote = remote;
    let files = 0;
    let bytes = 0;
    let present = 0;
    let skipped = 0;
    for (const object of listed) {
      if (this.stopped) break;
      const entry = cacheEntryOfKey(this.places, object.key);
      if (entry === null) {
        skipped++;
        this.log.warn("cache-object-ignored", { key: object.key, reason: "not cache/weights/<name>.pt or cache/labels/<name>.cache with a plain file name" });
        continue;
      }
      try {
        const got = await this.restoreOne(entry, remote);
        if (got === null) present++;
        else {
          files++;
          bytes += got;
        }
      } catch (error) {
        // Cut short by stop(): nothing is wrong with the object.
        if (this.stopped) break;
        skipped++;
        this.log.warn("cache-restore-skipped", { key: entry.key, error: describeError(error) });
      }
    }
    this.log.info("cache-restore-done", { files, bytes, alreadyPresent: present, skipped, ms: this.now() - started });
  }

  /** Restores one file; returns the bytes downloaded, or null when the same file was here already. */
  private async restoreOne(entry: CacheEntry, remote: Map<string, string>): Promise<number | null> {
    const head = await this.transfer.headObject(entry.key, CACHE_RETRY);
    if (head === null) throw new Error("the object is gone since the listing");
    if (head.sha256 === null || !SHA256_HEX.test(head.sha256)) throw new Error("the object has no sha256 metadata to verify it against");
    remote.set(entry.key, head.sha256);
    const dir = this.places.dirs[entry.kind];
    await mkdir(dir, { recursive: true });
    if (!(await isRealDirectory(dir))) throw new Error(`${dir} is not a directory`);
    const local = await regularFileSignature(entry.path);
    if (local !== null && local.size === head.bytes && (await this.transfer.digestFile(entry.path)).sha256 === head.sha256) {
      this.synced.set(entry.key, local);
      return null;
    }
    const started = this.now();
    // Through a temporary file, renamed into place only when its sha256 matches (a symbolic link in
    // the way is replaced, not followed). stop() cuts it short: the node may be about to vanish.
    const got = await this.transfer.downloadFile(entry.key, entry.path, head.sha256, CACHE_RETRY, this.stopping.signal);
    remote.set(entry.key, got.sha256);
    const signature = await regularFileSignature(entry.path);
    if (signature !== null) this.synced.set(entry.key, signature);
    this.log.info("cache-restored", { key: entry.key, path: entry.path, bytes: got.bytes, ms: this.now() - started });
    return got.bytes;
  }

  /**
   * One look at the two folders; uploads what is stable and not in S3 yet. Returns at once; a poll
   * while a pass runs is dropped, except the one after the trainer exited, which runs next.
   */
  poll(trainerExited: boolean): void {
    if (this.stopped) return;
    if (this.pass !== null) {
      if (trainerExited) this.exitPassWanted = true;
      return;
    }
    this.pass = this.runPass(trainerExited)
      .catch((error: unknown) => this.log.warn("cache-pass-failed", { error: describeError(error) }))
      .finally(() => {
        this.pass = null;
        if (this.exitPassWanted) {
          this.exitPassWanted = false;
          this.poll(true);
        }
      });
  }

  /**
   * Aborts an upload or restore download in flight and starts no other: the run is ending, its last
   * checkpoint must go first, or a stop came before the trainer started.
   */
  stop(): void {
    this.stopping.abort();
  }

  /** Resolves when no pass runs (tests). */
  async idle(): Promise<void> {
    while (this.pass !== null) await this.pass;
  }

  private async runPass(trainerExited: boolean): Promise<void> {
    const files = await this.scan();
    const chosen = selectUploads({ files, previousPoll: this.previousPoll, synced: this.synced, failed: this.failed, trainerExited });
    this.previousPoll.clear();
    for (const file of files) this.previousPoll.set(file.key, file.signature);
    for (const file of chosen) {
      if (this.stopped) return;
      await this.upload(file);
    }
  }

  /** Regular files with cache names in the two folders, weights first. */
  private async scan(): Promise<CacheFile[]> {
    const found: CacheFile[] = [];
    for (const kind of CACHE_KINDS) {
      const dir = this.places.dirs[kind];
      if (!(await isRealDirectory(dir))) continue;
      let names: string[];
      try {
        names = (await readdir(dir)).sort();
      } catch {
        continue;
      }
      for (const name of names) {
        const entry = cacheEntry(this.places, kind, name);
        if (entry === null) continue;
        const signature = await regularFileSignature(entry.path);
        if (signature !== null) found.push({ ...entry, signature });
      }
    }
    return found;
  }

  private async remoteSha256(key: string): Promise<string | null> {
    if (this.remote !== null) return this.remote.get(key) ?? null;
    return (await this.transfer.headObject(key, CACHE_RETRY))?.sha256 ?? null;
  }

  private async upload(file: CacheFile): Promise<void> {
    await this.hooks.beforeUpload();
    if (this.stopped || !sameSignature(await regularFileSignature(file.path), file.signature)) return;
    const started = this.now();
    try {
      const remoteSha256 = await this.remoteSha256(file.key);
      if (remoteSha256 !== null && (await this.transfer.digestFile(file.path)).sha256 === remoteSha256) {
        this.synced.set(file.key, file.signature);
        this.log.info("cache-already-in-s3", { key: file.key });
        return;
      }
      const digest = await this.transfer.uploadFile({ path: file.path, key: file.key, signal: this.stopping.signal, retryPolicy: CACHE_RETRY });
      if (!sameSignature(await regularFileSignature(file.path), file.signature)) {
        // Rewritten while it went up: the object may not hold what its sha256 says (a restore would
        // refuse it). Not synced: the next pass uploads the new file.
        this.remote?.delete(file.key);
        this.log.warn("cache-file-changed-during-upload", { key: file.key });
        return;
      }
      this.remote?.set(file.key, digest.sha256);
      this.synced.set(file.key, file.signature);
      this.failed.delete(file.key);
      this.log.info("cache-uploaded", { key: file.key, bytes: digest.bytes, ms: this.now() - started });
    } catch (error) {
      if (this.stopped) {
        this.log.info("cache-upload-stopped", { key: file.key });
        return;
      }
      this.failed.set(file.key, file.signature);
      this.log.warn("cache-upload-failed", { key: file.key, error: describeError(error) });
    }
  }
}
