import { readdir, stat } from "fs/promises";
import { join } from "path";
import { phaseOfFolder } from "./runLayout";

/**
 * Finds finished `last.pt` files by polling the weights folders. Ultralytics' callbacks do not run
 * in DDP workers, so the agent cannot be told when a checkpoint is saved; and `last.pt` is rewritten
 * in place, so a file is taken as complete only when its (inode, size, mtime) held still across two polls.
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

/** Pure bookkeeping of what each poll saw and what has been shipped. */
export class StabilityTracker {
  private readonly previousPoll = new Map<string, FileSignature>();
  private readonly shipped = new Map<string, FileSignature>();

  /**
   * Records this poll's view of `path` and says whether it is a complete file not shipped yet:
   * seen unchanged on the previous poll too, and different from the last one shipped.
   */
  observe(path: string, signature: FileSignature | null): boolean {
    const before = this.previousPoll.get(path);
    if (signature === null) {
      this.previousPoll.delete(path);
      return false;
    }
    this.previousPoll.set(path, signature);
    return sameSignature(before, signature) && !sameSignature(this.shipped.get(path), signature);
  }

  markShipped(path: string, signature: FileSignature): void {
    this.shipped.set(path, signature);
  }

  isShipped(path: string, signature: FileSignature): boolean {
    return sameSignature(this.shipped.get(path), signature);
  }
}

/** `<workdir>/phase-<k>/weights/last.pt` files that exist now, by ascending phase. */
export async function scanCheckpoints(workdir: string): Promise<CheckpointFile[]> {
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
    const path = join(workdir, name, "weights", "last.pt");
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
