import { readdir, stat } from "fs/promises";
import { join } from "path";
import { phaseOfFolder } from "../runspec/runLayout";

/**
 * Finds `last.pt` files by polling the weights folders. Ultralytics' callbacks do not run in DDP
 * workers, so the agent cannot be told when a checkpoint is saved; and `last.pt` is rewritten in
 * place, so each poll notes the file's (inode, size, mtime) and offers every version not seen before
 * to the shipper, which copies it aside and decides from the copy whether it is whole
 * (checkpointIntegrity.ts `inspectZip`). Waiting for a version to hold still across polls is no
 * test of completeness, and a checkpoint rewritten more often than every two polls never would.
 */

export interface FileSignature {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

export const sameSignature = (a: FileSignature | null | undefined, b: FileSignature | null | undefined): boolean =>
  a != null && b != null && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

export interface CheckpointFile {
  readonly phase: number;
  readonly path: string;
  readonly signature: FileSignature;
}

/** What one poll makes of a file. */
export interface Sighting {
  /** A version neither shipped nor judged yet: worth a look. */
  readonly fresh: boolean;
  /**
   * The previous poll saw the same version. Only for files that are not zip archives (a stand-in
   * trainer's): their completeness cannot be read from their bytes, so they keep the older rule of
   * holding still across two polls.
   */
  readonly heldStill: boolean;
}

/** Pure bookkeeping, per path: the version the previous poll saw, the one last judged, the one last shipped. */
export class CheckpointVersions {
  private readonly previousPoll = new Map<string, FileSignature>();
  private readonly judged = new Map<string, FileSignature>();
  private readonly shipped = new Map<string, FileSignature>();

  /** Records this poll's view of `path` (null: no file) and says what it is. */
  observe(path: string, signature: FileSignature | null): Sighting {
    const before = this.previousPoll.get(path);
    if (signature === null) {
      this.previousPoll.delete(path);
      return { fresh: false, heldStill: false };
    }
    this.previousPoll.set(path, signature);
    const fresh = !sameSignature(this.shipped.get(path), signature) && !sameSignature(this.judged.get(path), signature);
    return { fresh, heldStill: sameSignature(before, signature) };
  }

  /** The version was read to its end (whole or not): it is not offered again. */
  markJudged(path: string, signature: FileSignature): void {
    this.judged.set(path, signature);
  }

  markShipped(path: string, signature: FileSignature): void {
    this.shipped.set(path, signature);
  }

  isShipped(path: string, signature: FileSignature): boolean {
    return sameSignature(this.shipped.get(path), signature);
  }
}

/** Which of ultralytics' weights files: `last.pt` (every epoch) or `best.pt` (when fitness improved). */
export type WeightsFile = "last.pt" | "best.pt";

/** `<workdir>/phase-<k>/weights/<file>` files that exist now, by ascending phase. */
export async function scanCheckpoints(workdir: string, file: WeightsFile = "last.pt"): Promise<CheckpointFile[]> {
  let entries: string[];
  try {
    entries = await readdir(workdir);
  } catch {
    return [];
  }
  const found: CheckpointFile[] = [];
  for (const name of entries) {
    const phase = phaseOfFolder(name);
    if (phase === null) continue;
    const path = join(workdir, name, "weights", file);
    try {
      const info = await stat(path);
      if (info.isFile()) found.push({ phase, path, signature: { ino: info.ino, size: info.size, mtimeMs: info.mtimeMs } });
    } catch {
      // No checkpoint in this phase yet.
    }
  }
  return found.sort((a, b) => a.phase - b.phase);
}

export async function signatureOf(path: string): Promise<FileSignature | null> {
  try {
    const info = await stat(path);
    return { ino: info.ino, size: info.size, mtimeMs: info.mtimeMs };
  } catch {
    return null;
  }
}
