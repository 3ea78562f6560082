import { mkdirSync, rmSync, statSync } from "fs";
import { dirname } from "path";

/** A lock older than this was left by a killed run: no build takes this long. */
const STALE_LOCK_MS = 90_000;
const WAIT_MS = 120_000;

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `build` unless `isFresh()` says its output is up to date. Jest runs test files in parallel
 * workers, so a lock folder (`lockDir`, inside a git-ignored output folder, so a lock left by a
 * killed run never shows up in a diff) makes one worker build while the others wait and then find
 * the output fresh. Synchronous, for `spawnSync` callers too.
 */
export function buildOnce(lockDir: string, isFresh: () => boolean, build: () => void): void {
  if (isFresh()) return;
  mkdirSync(dirname(lockDir), { recursive: true });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > STALE_LOCK_MS) rmSync(lockDir, { recursive: true, force: true });
      } catch {
        // Gone already: the next mkdir takes it.
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockDir}; remove it if no build is running`);
      sleepMs(200);
      if (isFresh()) return;
    }
  }
  try {
    if (!isFresh()) build();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
