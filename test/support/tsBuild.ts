import { execFileSync } from "child_process";
import { existsSync, readdirSync, statSync } from "fs";
import { join, relative } from "path";
import { buildOnce } from "./buildOnce";

const ROOT = join(__dirname, "..", "..");

/** Where the transpiled copies go: git-ignored (dist-test/), mirroring the tree (cli/plan.ts -> dist-test/ts/cli/plan.js). */
const OUT = join(ROOT, "dist-test", "ts");

/** Preloaded with `--require`: runs a required `.ts` file as its copy under {@link OUT}. */
const HOOK = join(__dirname, "prebuiltTs.js");

/** The project's TypeScript that yolo-train processes may load: the CLI, what it imports, the stack program (index.ts). */
const SOURCES = ["index.ts", "cli", "components", "catalog", "config", "runspec", "ota", "agent", "keeper", "offline", "testing"];

function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (path: string): void => {
    if (!existsSync(path)) return;
    if (statSync(path).isFile()) {
      if (/\.ts$/.test(path) && !/\.(d|test)\.ts$/.test(path)) files.push(path);
      return;
    }
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name === "__pycache__") continue;
      walk(join(path, entry.name));
    }
  };
  for (const source of SOURCES) walk(join(ROOT, source));
  return files;
}

function outputOf(source: string): string {
  return join(OUT, relative(ROOT, source).replace(/\.ts$/, ".js"));
}

/** Stale sources: those without a copy at least as new as they are. */
function staleSources(): string[] {
  return sourceFiles().filter((source) => {
    const out = outputOf(source);
    return !existsSync(out) || statSync(out).mtimeMs < statSync(source).mtimeMs;
  });
}

/**
 * Transpiles the project's TypeScript into dist-test/ts/ (esbuild, file by file, as tsx does on
 * the fly) when any file has no fresh copy. Jest runs test files in parallel workers, so a lock
 * folder makes one worker build while the others wait. Synchronous, for `spawnSync` callers.
 */
export function ensureTsBuilt(): void {
  buildOnce(join(ROOT, "dist-test", ".ts-build-lock"), () => staleSources().length === 0, () => {
    try {
      execFileSync(
        join(ROOT, "node_modules", ".bin", "esbuild"),
        [...staleSources(), `--outdir=${OUT}`, `--outbase=${ROOT}`, "--format=cjs", "--platform=node", "--target=node20", "--supported:dynamic-import=false", "--log-level=error"],
        { cwd: ROOT, stdio: "pipe" },
      );
    } catch (error) {
      const e = error as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`esbuild of the project's TypeScript failed:\n${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`);
    }
  });
  const left = staleSources();
  if (left.length > 0) throw new Error(`esbuild did not write fresh copies of ${left.slice(0, 5).join(", ")}`);
}

/**
 * Node's arguments that run `script` (a .ts file) as `node --import tsx script` would, from the
 * prebuilt copies: `[...nodeArgs(script), ...args]` for `spawn(process.execPath, …)`. One plain
 * Node process, no wrapper: a signal to it reaches the program itself.
 */
export function tsNodeArgs(script: string): string[] {
  ensureTsBuilt();
  return ["--require", HOOK, script];
}
