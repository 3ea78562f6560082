import { spawnSync } from "child_process";
import { writeFileSync, mkdtempSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { tsNodeArgs } from "../support/tsBuild";

/**
 * `yolo-train edge …` runs on factory edge boxes, small ARM computers: the CLI must not load the
 * Pulumi SDK (about a second of start-up and most of the memory) for commands that do not deploy.
 * A preloaded hook records every module the process loads.
 */
const ROOT = join(__dirname, "..", "..");

function loadedModules(args: readonly string[]): { status: number | null; modules: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "yolo-startup-"));
  const out = join(dir, "modules.json");
  const hook = join(dir, "recordModules.js");
  writeFileSync(
    hook,
    `const Module = require("module");
const loaded = new Set();
const load = Module._load;
Module._load = function (request, parent, isMain) { const result = load.apply(this, arguments); try { loaded.add(Module._resolveFilename(request, parent, isMain)); } catch {} return result; };
process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify([...loaded])));
`,
  );
  const result = spawnSync(process.execPath, ["--require", hook, ...tsNodeArgs(join(ROOT, "cli", "yoloTrain.ts")), ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { status: result.status, modules: JSON.parse(require("fs").readFileSync(out, "utf8")) as string[] };
}

const PULUMI_SDK = /node_modules[\\/]@pulumi[\\/]pulumi[\\/]/;

describe("the CLI's start-up", () => {
  it.each([[["--version"]], [["edge", "--help"]], [["edge", "pull", "--help"]], [["sweep", "status", "--help"]]])("for %j loads no Pulumi SDK", (args) => {
    const { status, modules } = loadedModules(args);
    expect(status).toBe(0);
    // The hook works: the CLI's own modules are in the list.
    expect(modules.some((m) => m.endsWith(join("cli", "yoloTrain.ts")))).toBe(true);
    expect(modules.filter((m) => PULUMI_SDK.test(m))).toEqual([]);
  });
});
