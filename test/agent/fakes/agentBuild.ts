import { execFileSync } from "child_process";
import { existsSync, readdirSync, statSync } from "fs";
import { dirname, join } from "path";
import { buildOnce } from "../../support/buildOnce";

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
 * Runs `npm run build:agent` when the bundle is missing or older than its sources, once across
 * jest's parallel workers (see `buildOnce`).
 */
export async function ensureAgentBuilt(): Promise<string> {
  buildOnce(join(dirname(AGENT_BUNDLE), ".build-lock"), isFresh, () => {
    try {
      execFileSync("npm", ["run", "--silent", "build:agent"], { cwd: ROOT, stdio: "pipe" });
    } catch (error) {
      const e = error as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`npm run build:agent failed:\n${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`);
    }
  });
  if (!existsSync(AGENT_BUNDLE)) throw new Error(`npm run build:agent did not write ${AGENT_BUNDLE}`);
  return AGENT_BUNDLE;
}
