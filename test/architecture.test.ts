/**
 * The architecture (issue 11, item 6), as .dependency-cruiser.cjs states it: runspec/ is the floor
 * and imports nothing of ours; catalog/ builds on runspec/ only, config/ on runspec/ and catalog/,
 * ota/ on runspec/, agent/ on runspec/ and ota/, keeper/ on those three; components/ never import agent/, keeper/ (but its environment names) or cli/, nothing
 * shipped imports test/ or bench/, and the components have no cycles. `npm run arch` prints the
 * same report from the depcruise CLI.
 */
import { execFileSync } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: string;
  readonly cycle?: readonly string[];
}

interface CruiseReport {
  readonly modules: number;
  readonly dependencies: number;
  readonly violations: readonly Violation[];
}

/** dependency-cruiser's `cruise` API, run in a child process (it is ESM-only; Jest runs CommonJS here). */
function cruiseArchitecture(): CruiseReport {
  const output = execFileSync(process.execPath, [path.join(ROOT, "test", "architecture", "cruise.mjs")], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return JSON.parse(output) as CruiseReport;
}

describe("the architecture", () => {
  const report = cruiseArchitecture();

  it("is checked over the whole code base", () => {
    // A broken resolver would find nothing to object to; the code has some 190 modules.
    expect(report.modules).toBeGreaterThan(150);
    expect(report.dependencies).toBeGreaterThan(500);
  });

  it("has no arrow running back up: no dependency breaks a rule of .dependency-cruiser.cjs", () => {
    const lines = report.violations.map((v) => `${v.from} → ${v.to} (${v.rule})${v.cycle ? ` via ${v.cycle.join(" → ")}` : ""}`);
    expect(lines).toEqual([]);
  });
});
