import { execFileSync } from "child_process";
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, statSync } from "fs";
import { dirname, join } from "path";

const ROOT = join(__dirname, "..", "..", "..");

/** The agent as it ships: the bundle `npm run build:agent` writes. */
export const AGENT_BUNDLE = join(ROOT, "dist-agent", "agent.js");

/** Folders whose sources go into the bundle. */
const SOURCES = ["agent", "runspec", "ota"];

function newestSourceMtime(): number {
  let newest = 0;
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|js|json)$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const folder of SOURCES) walk(join(ROOT, folder));
  return newest;
}

function isFresh(): boolean {
  return existsSync(AGENT_BUNDLE) && statSync(AGENT_BUNDLE).mtimeMs >= newestSourceMtime();
}

/**
 * Runs `npm run build:agent` when the bundle is missing or older than its sources. Jest runs test
 * files in parallel workers, so a lock folder makes one worker build while the others wait.
 */
export async function ensureAgentBuilt(): Promise<string> {
  if (isFresh()) return AGENT_BUNDLE;
  // Inside dist-agent/ (git-ignored), so a lock left by a killed run never shows up in a diff.
  mkdirSync(dirname(AGENT_BUNDLE), { recursive: true });
  const lock = join(dirname(AGENT_BUNDLE), ".build-lock");
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed run: no build takes this long.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 90_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // Gone already: the next mkdir takes it.
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}; remove it if no build is running`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (isFresh()) return AGENT_BUNDLE;
    }
  }
  try {
    if (!isFresh()) execFileSync("npm", ["run", "--silent", "build:agent"], { cwd: ROOT, stdio: "pipe" });
  } catch (error) {
    const e = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`npm run build:agent failed:\n${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`);
  } finally {
    rmdirSync(lock);
  }
  if (!existsSync(AGENT_BUNDLE)) throw new Error(`npm run build:agent did not write ${AGENT_BUNDLE}`);
  return AGENT_BUNDLE;
}
