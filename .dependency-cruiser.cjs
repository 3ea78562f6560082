/**
 * The architecture of yolo-train as dependency-cruiser rules (issue 11, item 6): which folder may
 * import which. `npm run arch` prints every violation; test/architecture.test.ts fails on any.
 *
 *   runspec/      the contract floor: run spec, run record, bucket layout and its key-prefix rule,
 *                 limits, metric names, AWS region and ARN formats, the Problem type. Imports none of ours.
 *   catalog/      GPU catalog, prices, time and cost model          → runspec
 *   config/       the stack config                                  → runspec, catalog
 *   ota/          OTA manifests, signing, trust, the edge runtime   → runspec
 *   agent/        the run agent on the GPU node                     → runspec, ota
 *   keeper/       the sweep keeper function (Lambda)                → runspec, ota, agent
 *   components/   the Pulumi components                             → anything but agent, cli
 *   cli/, offline/, testing/, index.ts, bench/                      → anything (bench also → test/)
 *
 * Type-only imports count (`tsPreCompilationDeps`): a type is a dependency of the design too.
 * @see https://github.com/sverweij/dependency-cruiser/blob/main/doc/rules-reference.md
 */

/** Every top-level place of the code, as the start of a path relative to the repository root. */
const PLACES = ["runspec", "catalog", "config", "ota", "agent", "keeper", "components", "cli", "offline", "testing", "bench", "test", "index.ts"];

/** A path pattern for the given places: folders (`runspec/…`) or the root file `index.ts`. */
function placesPattern(places) {
  return `^(?:${places.map((p) => (p.endsWith(".ts") ? p.replace(/\./g, "\\.") + "$" : `${p}/`)).join("|")})`;
}

/** A rule that `from` may import its own folder and `allowed` only, of our code. */
function onlyImports(from, allowed, comment) {
  return {
    name: `${from}-imports-only-${allowed.length > 0 ? allowed.join("-") : "itself"}`,
    severity: "error",
    comment,
    from: { path: `^${from}/` },
    to: { path: placesPattern(PLACES.filter((p) => p !== from && !allowed.includes(p))) },
  };
}

module.exports = {
  forbidden: [
    onlyImports("runspec", [], "runspec/ is the contract floor every other folder builds on: it imports nothing of theirs."),
    onlyImports("catalog", ["runspec"], "catalog/ (prices, time and cost model) builds on the contracts only; it takes plain inputs, not the config type."),
    onlyImports("config", ["runspec", "catalog"], "config/ checks the stack config against the contracts and the catalog; never against components."),
    onlyImports("ota", ["runspec"], "ota/ is shipped to the node and to edge devices: it builds on the contracts only."),
    onlyImports("agent", ["runspec", "ota"], "agent/ is bundled from runspec/, ota/ and agent/ alone (docker/Dockerfile)."),
    onlyImports("keeper", ["runspec", "ota", "agent"], "keeper/ is bundled into the sweep keeper Lambda: it builds on the contracts, OTA publishing and the agent's pure readers, never on components or the CLI."),
    {
      name: "components-not-to-agent-or-cli",
      severity: "error",
      comment: "The components run in `pulumi up`; the agent runs on the node, the keeper in Lambda and the CLI on a workstation, all on top of them (a component names the keeper's bundle and environment, keeper/keeperEnv.ts, only).",
      from: { path: "^components/" },
      to: { path: placesPattern(["agent", "cli", "keeper"]), pathNot: "^keeper/keeperEnv\\.ts$" },
    },
    {
      name: "no-imports-of-tests-or-benchmarks",
      severity: "error",
      comment: "Shipped code never imports test/ or bench/ (the benchmark may use the test fakes).",
      from: { pathNot: "^(?:test|bench)/" },
      to: { path: placesPattern(["test", "bench"]) },
    },
    {
      name: "no-circular-in-components",
      severity: "error",
      comment: "No cycles among the components: each file builds on the ones below it.",
      from: { path: "^components/" },
      to: { circular: true },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: ["node_modules", "^test/"] },
    exclude: { path: ["^dist", "^node_modules"] },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".json"] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
