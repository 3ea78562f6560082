import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { digestContextFiles } from "../../components/image/imageTag";
import { parseDockerfile } from "./dockerfileLint";

/**
 * The Dockerfile's agent stage installs docker/agent/package.json (not the whole package) and runs
 * its build:agent. No Docker engine here, so the stage is replayed in a folder laid out like its
 * /src: the files its COPY lines take from the build context (as .dockerignore lets them through),
 * node_modules linked from this checkout (whose versions the lock test below ties to the stage's
 * lock), then the stage's own build script, and the bundle is run.
 */
const ROOT = path.resolve(__dirname, "..", "..");
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), "utf8");
type Lock = { packages: Record<string, { version?: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> }> };
type Manifest = { scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };

const stageManifest = JSON.parse(read("docker/agent/package.json")) as Manifest;
const stageLock = JSON.parse(read("docker/agent/package-lock.json")) as Lock;
const rootManifest = JSON.parse(read("package.json")) as Manifest;
const rootLock = JSON.parse(read("package-lock.json")) as Lock;

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe("the Dockerfile's agent stage", () => {
  it("builds with the same esbuild command as the repository, from its own manifest", () => {
    expect(stageManifest.scripts["build:agent"]).toBe(rootManifest.scripts["build:agent"]);
    const agent = parseDockerfile(read("docker/Dockerfile")).stages.find((s) => s.name === "agent")!;
    expect(agent.instructions.filter((i) => i.keyword === "COPY")[0]!.args).toBe("docker/agent/package.json docker/agent/package-lock.json ./");
  });

  it("pins its packages at the versions the repository's lock installs, so the image bundles what the tests ran", () => {
    const pinned = { ...stageManifest.dependencies, ...stageManifest.devDependencies };
    for (const [name, version] of Object.entries(pinned)) {
      expect({ name, version }).toEqual({ name, version: rootManifest.dependencies[name] ?? rootManifest.devDependencies[name] });
    }
    expect(stageLock.packages[""]!.dependencies).toEqual(stageManifest.dependencies);
    expect(stageLock.packages[""]!.devDependencies).toEqual(stageManifest.devDependencies);
    const differing = Object.entries(stageLock.packages)
      .filter(([key]) => key !== "")
      .filter(([key, entry]) => rootLock.packages[key]?.version !== entry.version)
      .map(([key, entry]) => `${key} ${entry.version} (repository: ${rootLock.packages[key]?.version ?? "absent"})`);
    expect(differing).toEqual([]);
  });

  it("lists every package the agent bundle imports", async () => {
    const esbuild = await import("esbuild");
    const bundle = await esbuild.build({ entryPoints: ["agent/main.ts"], bundle: true, platform: "node", target: "node20", write: false, metafile: true, absWorkingDir: ROOT, logLevel: "silent" });
    const imported = new Set(
      Object.keys(bundle.metafile.inputs)
        .map((f) => /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f)?.[1])
        .filter((p): p is string => p !== undefined),
    );
    const missing = [...imported].filter((name) => stageLock.packages[`node_modules/${name}`] === undefined);
    expect(missing).toEqual([]);
  });

  it("bundles an agent that runs, from only what its COPY lines take from the build context", () => {
    // What the build context sends, as TrainingImage computes it for the image tag.
    const sent = digestContextFiles(ROOT).map((f) => f.path);
    const agent = parseDockerfile(read("docker/Dockerfile")).stages.find((s) => s.name === "agent")!;
    const src = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-agent-stage-"));
    tempDirs.push(src);
    for (const copy of agent.instructions.filter((i) => i.keyword === "COPY" && !i.args.includes("--from"))) {
      const tokens = copy.args.split(/\s+/).filter((t) => !t.startsWith("--"));
      const destination = tokens.pop()!;
      for (const source of tokens) {
        for (const file of sent.filter((f) => f === source || (source.endsWith("/") && f.startsWith(source)))) {
          // `COPY a b ./` puts files by name; `COPY dir/ dir/` keeps the folder's tree.
          const target = source.endsWith("/") ? path.join(src, destination, path.posix.relative(source, file)) : path.join(src, destination, path.posix.basename(file));
          fs.mkdirSync(path.dirname(target), { recursive: true });
          fs.copyFileSync(path.join(ROOT, file), target);
        }
      }
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(src, "node_modules"), "dir");
    const build = spawnSync("npm", ["run", "build:agent"], { cwd: src, encoding: "utf8", timeout: 120_000 });
    expect({ status: build.status, stderr: build.status === 0 ? "" : build.stderr }).toEqual({ status: 0, stderr: "" });
    expect(fs.existsSync(path.join(src, "ota", "edge"))).toBe(false);

    // With no run spec the agent refuses at once: exit 64, naming what it needs (docs/node-runtime.md).
    const run = spawnSync(process.execPath, [path.join(src, "dist-agent", "agent.js")], { encoding: "utf8", timeout: 30_000, env: { PATH: process.env.PATH } });
    expect(run.status).toBe(64);
    expect(run.stdout + run.stderr).toMatch(/run spec|YOLO_TRAIN_RUN_SPEC/i);
  });
});
