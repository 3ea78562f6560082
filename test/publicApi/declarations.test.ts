/**
 * The package's public declarations import no zod (issue 11, item 3): a consumer with Pulumi's
 * default tsconfig type-checks every .d.ts reachable from the entry points, and zod's types fail
 * there (TS1259) or leak our schema internals into their API. The declarations are emitted in
 * memory with the build's compiler options and walked from each subpath export.
 */
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "..", "..");
const ENTRY_POINTS = ["components/index.ts", "config/index.ts", "catalog/index.ts", "runspec/index.ts", "ota/index.ts", "ota/edge/index.ts", "testing/index.ts"];

function emittedDeclarations(): Map<string, string> {
  const configFile = ts.readConfigFile(path.join(ROOT, "tsconfig.build.json"), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
  const options: ts.CompilerOptions = { ...parsed.options, declaration: true, emitDeclarationOnly: true, noEmit: false, outDir: "/decl", rootDir: ROOT, sourceMap: false, declarationMap: false };
  const program = ts.createProgram(
    ENTRY_POINTS.map((e) => path.join(ROOT, e)),
    options,
  );
  const files = new Map<string, string>();
  program.emit(undefined, (fileName, text) => {
    if (fileName.endsWith(".d.ts")) files.set(path.relative("/decl", fileName), text);
  });
  return files;
}

describe("the public declarations", () => {
  const files = emittedDeclarations();

  /** Every declaration file reachable from the entry points, with the chain that reaches it. */
  function reachable(): Map<string, string[]> {
    const chains = new Map<string, string[]>();
    const queue: Array<[string, string[]]> = ENTRY_POINTS.map((e) => [e.replace(/\.ts$/, ".d.ts"), []]);
    while (queue.length > 0) {
      const [file, via] = queue.shift()!;
      if (chains.has(file) || !files.has(file)) continue;
      chains.set(file, [...via, file]);
      for (const [, spec] of files.get(file)!.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
        if (!spec!.startsWith(".")) continue;
        const target = path.normalize(path.join(path.dirname(file), spec!));
        for (const candidate of [`${target}.d.ts`, path.join(target, "index.d.ts")]) {
          if (files.has(candidate)) {
            queue.push([candidate, [...via, file]]);
            break;
          }
        }
      }
    }
    return chains;
  }

  it("are emitted for every entry point", () => {
    for (const entry of ENTRY_POINTS) expect(files.has(entry.replace(/\.ts$/, ".d.ts"))).toBe(true);
  });

  it("import nothing from zod, from any file a consumer's type check reaches", () => {
    const chains = reachable();
    expect(chains.size).toBeGreaterThan(20);
    const leaking = [...chains].filter(([file]) => /["']zod["']/.test(files.get(file)!)).map(([, chain]) => [...chain].reverse().join(" <- "));
    expect(leaking).toEqual([]);
  });
});
