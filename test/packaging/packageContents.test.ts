import createDockerignore from "@balena/dockerignore";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

/**
 * What `npm pack` publishes, read from `npm pack --dry-run --json --ignore-scripts` (a listing:
 * no build, no tarball), and the manifest fields a consumer's npm and TypeScript read. The
 * consumer-project test (install the tarball, type-check, run under mocks) needs a build; this
 * one does not, so it runs in `npm test` on a fresh clone.
 */
const ROOT = path.resolve(__dirname, "..", "..");
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), "utf8");

interface ExportTarget {
  readonly types: string;
  readonly default: string;
}
interface Manifest {
  readonly license: string;
  readonly main: string;
  readonly types: string;
  readonly bin: Record<string, string>;
  readonly exports: Record<string, ExportTarget>;
  readonly typesVersions: Record<string, Record<string, string[]>>;
  readonly files: string[];
  readonly engines: Record<string, string>;
  readonly dependencies: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly devDependencies: Record<string, string>;
}
const manifest = JSON.parse(read("package.json")) as Manifest;

/** Files every package has whatever `files` says (npm adds them), and what the build writes. */
const ALWAYS = ["package.json", "README.md", "LICENSE"];
const BUILD_OUTPUT = /^(dist|dist-lambda)\//;

let packed: string[];
beforeAll(() => {
  const pack = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  if (pack.status !== 0) throw new Error(`npm pack --dry-run failed (${pack.status}): ${pack.stderr}`);
  packed = (JSON.parse(pack.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path).sort();
});

/** `files` as npm reads it: an entry includes itself and everything under it; `!` entries (globs) take away. */
function coveredByFiles(file: string): boolean {
  const glob = (pattern: string): RegExp =>
    new RegExp(
      "^" +
        pattern
          .split(/(\*\*\/|\*\*|\*)/)
          .map((part) => (part === "**/" ? "(?:.*/)?" : part === "**" ? ".*" : part === "*" ? "[^/]*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
          .join("") +
        "(?:/.*)?$",
    );
  const included = manifest.files.filter((e) => !e.startsWith("!")).some((e) => glob(e.replace(/\/$/, "")).test(file));
  const excluded = manifest.files.filter((e) => e.startsWith("!")).some((e) => glob(e.slice(1).replace(/\/$/, "")).test(file));
  return included && !excluded;
}

/**
 * The files docker/Dockerfile's build context sends from the package root: its `.dockerignore`
 * (Docker's rules, as TrainingImage reads them for the content tag), plus the Dockerfile.
 */
function dockerContextFiles(): string[] {
  const rules = read(".dockerignore").split(/\r?\n/);
  const ignore = createDockerignore({ ignorecase: false }).add(rules);
  const exceptions = rules.map((r) => r.trim()).filter((r) => r.startsWith("!")).map((r) => r.slice(1).replace(/^\/+/, ""));
  const out = new Set<string>(["docker/Dockerfile"]);
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!ignore.ignores(relPath) || exceptions.some((e) => e.startsWith(`${relPath}/`) || e.includes("*"))) walk(relPath);
      } else if (!ignore.ignores(relPath)) {
        out.add(relPath);
      }
    }
  };
  walk("");
  return [...out].sort();
}

describe("npm pack", () => {
  it("ships the README and the LICENSE, the Apache License 2.0 that package.json names", () => {
    expect(packed).toEqual(expect.arrayContaining(ALWAYS));
    expect(manifest.license).toBe("Apache-2.0");
    const license = read("LICENSE");
    expect(license).toMatch(/^\s+Apache License\n\s+Version 2\.0, January 2004\n/);
    expect(license).toContain("END OF TERMS AND CONDITIONS");
    expect(license).toContain("APPENDIX: How to apply the Apache License to your work.");
    expect(license).toMatch(/^ {3}Copyright 2026 The yolo-train authors$/m);
  });

  it("ships no Python bytecode, test stubs, tests, source maps, temporary files or stack configs", () => {
    const unwanted = packed.filter(
      (f) =>
        /(^|\/)__pycache__\//.test(f) ||
        /\.pyc$/.test(f) ||
        f.startsWith("docker/tests/") ||
        f.startsWith("test/") ||
        /\.test\.[jt]s$/.test(f) ||
        /\.map$/.test(f) ||
        /\.tmp$/.test(f) ||
        /^Pulumi\..+\.yaml$/.test(f) ||
        f.startsWith("node_modules/"),
    );
    expect(unwanted).toEqual([]);
  });

  it("ships, besides the build output, exactly what the training image's default build context reads", () => {
    // TrainingImage builds docker/Dockerfile with the installed package as its context: every
    // file the context sends must be there (or the image differs from a checkout's); any other
    // source file is dead weight. .dockerignore itself is read by docker, not sent.
    const sources = packed.filter((f) => !BUILD_OUTPUT.test(f) && !ALWAYS.includes(f) && f !== ".dockerignore");
    expect(sources).toEqual(dockerContextFiles());
    expect(packed).toContain(".dockerignore");
  });

  it("covers with `files` every path main, types, bin and exports name", () => {
    const targets = [
      manifest.main,
      manifest.types,
      ...Object.values(manifest.bin),
      ...Object.values(manifest.exports).flatMap((t) => [t.types, t.default]),
    ].map((t) => t.replace(/^\.\//, ""));
    expect(targets.filter((t) => !coveredByFiles(t))).toEqual([]);
    expect(targets.filter((t) => !/^dist\/.+\.(js|d\.ts)$/.test(t))).toEqual([]);
    // Where the build has run, the listing itself holds them.
    const built = targets.filter((t) => fs.existsSync(path.join(ROOT, t)));
    expect(built.filter((t) => !packed.includes(t))).toEqual([]);
    // The OTA timestamp Lambda's bundle is read from the package root at run time.
    expect(coveredByFiles("dist-lambda/otaTimestamp/index.js")).toBe(true);
  });

  it("exports the library's subpaths, yolo-train/testing included", () => {
    expect(Object.keys(manifest.exports).sort()).toEqual([".", "./catalog", "./config", "./ota", "./ota/edge", "./runspec", "./testing"]);
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      const folder = subpath === "." ? "components" : subpath.slice(2);
      expect({ subpath, target }).toEqual({ subpath, target: { types: `./dist/${folder}/index.d.ts`, default: `./dist/${folder}/index.js` } });
    }
  });
});

describe("the manifest's dependencies", () => {
  /** The @pulumi packages the published code imports. */
  const pulumiImports = (): string[] => {
    const found = new Set<string>();
    const scan = (rel: string): void => {
      const full = path.join(ROOT, rel);
      if (!fs.existsSync(full)) return;
      for (const entry of fs.readdirSync(full, { withFileTypes: true })) {
        const child = `${rel}/${entry.name}`;
        if (entry.isDirectory()) scan(child);
        else if (/\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) {
          for (const m of read(child).matchAll(/(?:from\s+|require\(|import\()\s*["'](@pulumi\/[^/"']+)/g)) found.add(m[1]!);
        }
      }
    };
    for (const folder of ["components", "config", "catalog", "runspec", "ota", "offline", "cli", "agent", "testing"]) scan(folder);
    return [...found].sort();
  };
  const caretAllows = (range: string, version: string): boolean => {
    const r = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range);
    const v = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
    if (!r || !v) return false;
    const [rm, rn, rp] = r.slice(1).map(Number) as [number, number, number];
    const [vm, vn, vp] = v.slice(1).map(Number) as [number, number, number];
    return rm > 0 && vm === rm && (vn > rn || (vn === rn && vp >= rp));
  };

  it("asks for the @pulumi packages the code imports as peers, so a consumer's own copies are used", () => {
    const imported = pulumiImports();
    expect(imported).toEqual(expect.arrayContaining(["@pulumi/aws", "@pulumi/pulumi"]));
    const peers = manifest.peerDependencies ?? {};
    expect(imported.filter((name) => peers[name] === undefined)).toEqual([]);
    expect(Object.keys(manifest.dependencies).filter((name) => name.startsWith("@pulumi/"))).toEqual([]);
    for (const [name, range] of Object.entries(peers)) {
      // One major, from a floor: the tests run the exact version devDependencies pins, inside it.
      const pinned = manifest.devDependencies[name];
      expect({ name, range, pinned, allowed: caretAllows(range, pinned ?? "") }).toEqual({ name, range, pinned, allowed: true });
      expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it("supports Node.js 20 and later", () => {
    expect(manifest.engines.node).toBe(">=20");
  });
});

describe("typesVersions", () => {
  it("maps every subpath export to its declarations", () => {
    const expected = Object.fromEntries(
      Object.entries(manifest.exports)
        .filter(([subpath]) => subpath !== ".")
        .map(([subpath, target]) => [subpath.slice(2), [target.types.replace(/^\.\//, "")]]),
    );
    expect(manifest.typesVersions).toEqual({ "*": expected });
  });

  /**
   * TypeScript's own resolver against the package as npm installs it (the packed files, and the
   * exports targets, which the build writes), from a consumer with Pulumi's template tsconfig
   * (module commonjs, moduleResolution node, i.e. node10) and with the newer settings.
   */
  const CONSUMER = "/consumer";
  const INSTALLED = `${CONSUMER}/node_modules/yolo-train/`;
  const host = (): ts.ModuleResolutionHost => {
    const files = new Set([...packed, ...Object.values(manifest.exports).flatMap((t) => [t.types, t.default].map((p) => p.replace(/^\.\//, "")))]);
    const rel = (p: string): string | undefined => (p.startsWith(INSTALLED) ? p.slice(INSTALLED.length) : undefined);
    return {
      fileExists: (p) => (p === `${CONSUMER}/index.ts` ? true : files.has(rel(p) ?? "\0")),
      readFile: (p) => (rel(p) === "package.json" ? read("package.json") : undefined),
      directoryExists: (p) => {
        if (p === CONSUMER || p === `${CONSUMER}/node_modules` || `${p}/` === INSTALLED) return true;
        const dir = rel(`${p}/`);
        return dir !== undefined && [...files].some((f) => f.startsWith(dir));
      },
      realpath: (p) => p,
      getCurrentDirectory: () => CONSUMER,
    };
  };
  const settings: Array<[string, ts.CompilerOptions]> = [
    ["Pulumi's template (commonjs, node10)", { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 }],
    ["node16", { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 }],
    ["bundler", { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }],
  ];
  const cases = settings.flatMap(([label, options]) => Object.entries(manifest.exports).map(([subpath, target]) => [label, options, subpath, target.types] as const));

  it.each(cases)("%s resolves yolo-train%s to its declarations", (_label, options, subpath, types) => {
    const specifier = subpath === "." ? "yolo-train" : `yolo-train/${subpath.slice(2)}`;
    const resolved = ts.resolveModuleName(specifier, `${CONSUMER}/index.ts`, options, host(), undefined, undefined, ts.ModuleKind.CommonJS);
    expect(resolved.resolvedModule?.resolvedFileName).toBe(INSTALLED + types.replace(/^\.\//, ""));
  });
});
