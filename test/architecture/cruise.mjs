// Runs dependency-cruiser's `cruise` API over the code with .dependency-cruiser.cjs and prints
// {modules, dependencies, violations} as JSON. An ES module of its own, run by
// test/architecture.test.ts in a child Node process: dependency-cruiser is ESM-only, and Jest runs
// the tests as CommonJS. Run from the repository root.
import { cruise } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config";

/** What the architecture covers: the stack program and every folder of code. */
const ROOTS = ["index.ts", "runspec", "catalog", "config", "components", "agent", "keeper", "ota", "cli", "offline", "testing", "bench"];

const options = await extractDepcruiseOptions("./.dependency-cruiser.cjs");
const result = await cruise(ROOTS, { ...options, outputType: "json" }, {}, { tsConfig: extractTSConfig("./tsconfig.json") });
const { summary } = typeof result.output === "string" ? JSON.parse(result.output) : result.output;
process.stdout.write(
  JSON.stringify({
    modules: summary.totalCruised,
    dependencies: summary.totalDependenciesCruised,
    violations: summary.violations.map((v) => ({
      from: v.from,
      to: v.to,
      rule: v.rule.name,
      ...(v.cycle ? { cycle: v.cycle.map((step) => (typeof step === "string" ? step : step.name)) } : {}),
    })),
  }),
);
