import * as fs from "fs";
import * as path from "path";
import fc from "fast-check";
import {
  DockerIgnore,
  execForm,
  folderContext,
  lintDockerfile,
  memoryContext,
  parseDockerfile,
  parseImageRef,
  requirementProblems,
  unpinnedReason,
  type Problem,
} from "./dockerfileLint";

const ROOT = path.resolve(__dirname, "..", "..");
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), "utf8");
const DOCKERFILE = read("docker/Dockerfile");
const DOCKERIGNORE = read(".dockerignore");
const REQUIREMENTS = read("docker/requirements.txt");

/**
 * apt packages the image may install without a version: OpenCV's runtime libraries. The Ubuntu
 * archive of the base image keeps only the newest build of a package, so pinning a version would
 * break the build at the next security update; adding a package here is a conscious decision.
 */
const APT_ALLOWLIST = ["libgl1", "libglib2.0-0"];

const parsed = parseDockerfile(DOCKERFILE);
const final = parsed.stages[parsed.stages.length - 1]!;
const instructions = (keyword: string): string[] => final.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

describe("docker/Dockerfile", () => {
  it("passes every pinning, user, entrypoint and build-context check", () => {
    const problems = lintDockerfile({ dockerfile: DOCKERFILE, context: folderContext(ROOT), dockerignore: DOCKERIGNORE, aptAllowlist: APT_ALLOWLIST });
    expect(problems).toEqual([]);
  });

  it("bundles the agent in a stage pinned to an exact Node.js 22 release, with npm ci and npm run build:agent", () => {
    const agent = parsed.stages[0]!;
    expect(agent.name).toBe("agent");
    expect(agent.from).toMatch(/^node:22\.\d+\.\d+-bookworm-slim$/);
    const runs = agent.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    expect(runs).toEqual(["npm ci --no-audit --no-fund", "npm run build:agent"]);
    // The bundle the runtime stage copies is the one the stage's manifest's build:agent writes.
    const buildAgent = (JSON.parse(read("docker/agent/package.json")) as { scripts: Record<string, string> }).scripts["build:agent"];
    expect(buildAgent).toMatch(/esbuild agent\/main\.ts --bundle --platform=node .*--outfile=dist-agent\/agent\.js/);
    expect(instructions("COPY")).toContain("--from=agent /src/dist-agent/agent.js /src/dist-agent/agent.js.map /app/");
  });

  it("runs on a PyTorch CUDA 12 runtime image whose torch the requirements restate", () => {
    const match = /^pytorch\/pytorch:(\d+\.\d+\.\d+)-cuda(12\.\d+)-cudnn(\d+)-runtime$/.exec(final.from);
    expect(match).not.toBeNull();
    expect(REQUIREMENTS).toMatch(new RegExp(`^torch==${match![1]!.replace(/\./g, "\\.")}$`, "m"));
  });

  it("runs the bundled agent with the image's node, as uid 1000, in /scratch", () => {
    expect(execForm(instructions("ENTRYPOINT").pop()!)).toEqual(["node", "/app/agent.js"]);
    expect(instructions("USER").pop()).toBe("1000:1000");
    expect(instructions("WORKDIR").pop()).toBe("/scratch");
    expect(instructions("COPY")).toEqual(
      expect.arrayContaining(["--from=agent /usr/local/bin/node /usr/local/bin/node", "docker/train.py /app/train.py", "docker/trainer/ /app/trainer/"]),
    );
  });

  it("makes `python /app/train.py` the trainer command and forbids ultralytics' run-time pip installs", () => {
    const env = instructions("ENV").join(" ");
    expect(env).toContain('YOLO_TRAIN_TRAINER="python /app/train.py"');
    expect(env).toContain("YOLO_AUTOINSTALL=false");
  });

  it("pins every Python requirement, including ultralytics and the ONNX export packages", () => {
    expect(requirementProblems(REQUIREMENTS)).toEqual([]);
    const pins = new Map(
      REQUIREMENTS.split("\n")
        .filter((l) => /==/.test(l) && !l.startsWith("#"))
        .map((l) => l.trim().split("==") as [string, string]),
    );
    for (const name of ["ultralytics", "onnx", "onnxslim", "onnxruntime", "mlflow-skinny", "wandb"]) expect(pins.get(name)).toMatch(/^\d+\.\d+/);
    // The PyPI releases that shipped a crypto miner (ultralytics#18027).
    expect(["8.3.41", "8.3.42", "8.3.45", "8.3.46"]).not.toContain(pins.get("ultralytics"));
  });

  it("copies into the agent stage every source file the agent bundle imports, and the build context sends them", async () => {
    const esbuild = await import("esbuild");
    const bundle = await esbuild.build({ entryPoints: ["agent/main.ts"], bundle: true, platform: "node", target: "node20", write: false, metafile: true, absWorkingDir: ROOT, logLevel: "silent" });
    const sources = Object.keys(bundle.metafile.inputs).filter((f) => !f.startsWith("node_modules/"));
    expect(sources).toContain("agent/main.ts");
    const agentStage = parsed.stages.find((stage) => stage.name === "agent")!;
    const copied = agentStage.instructions
      .filter((i) => i.keyword === "COPY" && !i.args.includes("--from"))
      .flatMap((i) => i.args.split(/\s+/).filter((t) => !t.startsWith("--")).slice(0, -1));
    const ignore = new DockerIgnore(DOCKERIGNORE);
    const missing = sources.filter((file) => ignore.ignores(file) || !copied.some((src) => src === file || (src.endsWith("/") && file.startsWith(src))));
    expect(missing).toEqual([]);
  });

  it("keeps dependencies, history and tests out of the build context", () => {
    const ignore = new DockerIgnore(DOCKERIGNORE);
    for (const left of ["package.json", "package-lock.json", "ota/edge/puller.ts", "components/image/trainingImage.ts", "node_modules/zod/package.json", ".git/HEAD", "dist/index.js", "test/docker/dockerfile.test.ts", "docs/node-runtime.md", "docker/tests/test_train.py", "docker/trainer/__pycache__/run.cpython-311.pyc", ".env"]) {
      expect({ left, ignored: ignore.ignores(left) }).toEqual({ left, ignored: true });
    }
    for (const sent of ["docker/agent/package.json", "docker/agent/package-lock.json", "agent/main.ts", "runspec/schema.ts", "ota/publisher.ts", "docker/train.py", "docker/trainer/run.py", "docker/requirements.txt"]) {
      expect({ sent, ignored: ignore.ignores(sent) }).toEqual({ sent, ignored: false });
    }
  });
});

describe("the Dockerfile reader", () => {
  it("joins continuation lines, skips comments inside them and keeps the first line's number", () => {
    const file = parseDockerfile(["FROM a:1.2.3 AS build", "", "RUN one \\", "  # a comment", "  && two \\", "", "  && three", 'CMD ["x"]'].join("\n"));
    expect(file.stages).toHaveLength(1);
    expect(file.stages[0]!.name).toBe("build");
    expect(file.stages[0]!.instructions).toEqual([
      { keyword: "RUN", args: "one && two && three", line: 3 },
      { keyword: "CMD", args: '["x"]', line: 8 },
    ]);
  });

  it("reads global ARGs, stages and the syntax directive", () => {
    const file = parseDockerfile(["# syntax=docker/dockerfile:1.7.0", "ARG BASE=python:3.11.9-slim", "FROM ${BASE}", "FROM base AS second"].join("\n"));
    expect(file.syntax).toEqual({ image: "docker/dockerfile:1.7.0", line: 1 });
    expect(file.globalArgs.get("BASE")).toBe("python:3.11.9-slim");
    expect(file.stages.map((s) => [s.index, s.from, s.name])).toEqual([
      [0, "${BASE}", undefined],
      [1, "base", "second"],
    ]);
  });

  it.each([
    ["a heredoc", "FROM a:1.2.3\nRUN <<EOF\necho hi\nEOF\n", /heredocs are not supported/],
    ["an instruction before FROM", "RUN echo\nFROM a:1.2.3\n", /RUN before the first FROM/],
  ])("refuses %s rather than read it wrong", (_label, text, error) => {
    expect(() => parseDockerfile(text)).toThrow(error);
  });
});

describe("pinned image references", () => {
  it.each([
    ["pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime", undefined],
    ["node:20.20.2-bookworm-slim", undefined],
    ["registry.example.com:5000/team/image:1.0.0", undefined],
    [`python@sha256:${"a".repeat(64)}`, undefined],
    [`python:3.11@sha256:${"0".repeat(64)}`, undefined],
    ["python", "pinned-image"],
    ["python:3.11-slim", "pinned-image"],
    ["node:20-bookworm-slim", "pinned-image"],
    ["registry.example.com:5000/team/image", "pinned-image"],
    ["python@sha256:abc", "pinned-image"],
    ["python:latest", "no-latest"],
  ])("%s → %s", (reference, rule) => {
    expect(unpinnedReason(reference)?.rule).toBe(rule);
  });

  it("splits registry ports from tags", () => {
    expect(parseImageRef("host:5000/a/b:1.2.3@sha256:x")).toEqual({ repository: "host:5000/a/b", tag: "1.2.3", digest: "sha256:x" });
  });

  it("accepts exactly the tags that start with major.minor.patch", () => {
    const part = fc.integer({ min: 0, max: 999 });
    fc.assert(
      fc.property(part, part, part, fc.constantFrom("", "-slim", "-cuda12.4-cudnn9-runtime", "_1"), (a, b, c, suffix) => {
        expect(unpinnedReason(`img:${a}.${b}.${c}${suffix}`)).toBeUndefined();
        expect(unpinnedReason(`img:${a}.${b}${suffix}`)?.rule).toBe("pinned-image");
        expect(unpinnedReason(`img:${a}${suffix}`)?.rule).toBe("pinned-image");
      }),
    );
  });
});

describe(".dockerignore matching", () => {
  it.each([
    ["*\n!agent/", "agent/main.ts", false],
    ["*\n!agent/", "other/main.ts", true],
    ["*\n!docker/train.py", "docker/train.py", false],
    ["*\n!docker/train.py", "docker/Dockerfile", true],
    ["**/__pycache__", "a/b/__pycache__/x.pyc", true],
    ["*.md\n!README*.md", "README-docker.md", false],
    ["*.md\n!README*.md", "CHANGES.md", true],
    ["/node_modules", "node_modules/x/y.js", true],
    ["docs\n!docs", "docs/a.md", false],
  ])("%j: %s ignored=%s", (patterns, file, ignored) => {
    expect(new DockerIgnore(patterns).ignores(file)).toBe(ignored);
  });
});

describe("the rules fire on bad Dockerfiles", () => {
  const FILES = { "requirements.txt": "ultralytics==8.3.40\nonnx==1.17.0\n", "train.py": "print('train')\n", "app/a.py": "", "app/b.py": "" };
  const GOOD = [
    "FROM python:3.11.9-slim AS base",
    "COPY requirements.txt /app/requirements.txt",
    "RUN pip install --no-cache-dir -r /app/requirements.txt && pip install onnxslim==0.1.34",
    "RUN apt-get update && apt-get install -y --no-install-recommends libgl1 curl=7.88.1-10+deb12u8",
    "COPY train.py app/ /app/",
    "FROM base",
    "COPY --from=base /app/train.py /app/train.py",
    "USER 1000:1000",
    'ENTRYPOINT ["python", "/app/train.py"]',
  ].join("\n");

  const lint = (dockerfile: string, files: Record<string, string> = FILES, dockerignore = ""): Problem[] =>
    lintDockerfile({ dockerfile, context: memoryContext(files), dockerignore, aptAllowlist: APT_ALLOWLIST });
  const replace = (from: string, to: string): string => {
    expect(GOOD).toContain(from);
    return GOOD.replace(from, to);
  };

  it("a pinned, non-root Dockerfile whose COPY sources exist passes", () => {
    expect(lint(GOOD)).toEqual([]);
  });

  it.each<[string, Problem["rule"], string, Record<string, string>?, string?]>([
    ["a FROM without a tag", "pinned-image", replace("FROM python:3.11.9-slim AS base", "FROM python AS base")],
    ["a FROM with a moving minor tag", "pinned-image", replace("FROM python:3.11.9-slim AS base", "FROM python:3.11-slim AS base")],
    ["a FROM with latest", "no-latest", replace("FROM python:3.11.9-slim AS base", "FROM python:latest AS base")],
    ["a FROM through an ARG of a moving tag", "pinned-image", replace("FROM python:3.11.9-slim AS base", "ARG BASE=node:20-slim\nFROM ${BASE} AS base")],
    ["a FROM through an ARG without default", "pinned-image", replace("FROM python:3.11.9-slim AS base", "ARG BASE\nFROM $BASE AS base")],
    ["a COPY --from of a latest image", "no-latest", replace("COPY --from=base /app/train.py", "COPY --from=busybox:latest /bin/sh")],
    ["an unpinned syntax directive", "pinned-image", `# syntax=docker/dockerfile:1\n${GOOD}`],
    ["a requirement with >=", "pinned-requirements", GOOD, { ...FILES, "requirements.txt": "ultralytics>=8.3\n" }],
    ["a requirement without a version", "pinned-requirements", GOOD, { ...FILES, "requirements.txt": "# comment\nonnx\n" }],
    ["an editable requirement", "pinned-requirements", GOOD, { ...FILES, "requirements.txt": "-e git+https://github.com/ultralytics/ultralytics\n" }],
    ["pip install of an unpinned package", "pinned-pip", replace("pip install onnxslim==0.1.34", "pip install onnxslim")],
    ["python -m pip install of a range", "pinned-pip", replace("pip install onnxslim==0.1.34", "python3 -m pip install 'onnxslim>=0.1'")],
    ["pip install from another index", "pinned-pip", replace("pip install onnxslim==0.1.34", "pip install --extra-index-url https://example.com onnxslim==0.1.34")],
    ["pip install -r of a file COPY did not bring", "pinned-pip", replace("-r /app/requirements.txt", "-r /tmp/other.txt")],
    ["an apt package neither pinned nor allowed", "apt-packages", replace("libgl1 curl=7.88.1-10+deb12u8", "libgl1 wget")],
    ["apt-get install with recommends", "apt-packages", replace("-y --no-install-recommends libgl1", "-y libgl1")],
    ["npm install instead of npm ci", "npm-ci", replace("RUN apt-get update", "RUN npm install && apt-get update")],
    ["a COPY of a file missing from the context", "copy-source", replace("COPY train.py app/ /app/", "COPY train.py app/ missing.py /app/")],
    ["a COPY of a file .dockerignore leaves out", "copy-source", GOOD, FILES, "train.py"],
    ["a COPY of a folder .dockerignore empties", "copy-source", GOOD, FILES, "app/"],
    ["a glob that matches nothing", "copy-source", replace("COPY train.py app/ /app/", "COPY train.py app/ *.json /app/")],
    ["an ADD from a URL", "copy-source", replace("COPY train.py app/ /app/", "COPY train.py app/ /app/\nADD https://example.com/model.pt /app/")],
    ["no USER", "user", replace("USER 1000:1000\n", "")],
    ["a final USER root", "user", replace("USER 1000:1000", "USER 1000\nUSER root")],
    ["no ENTRYPOINT", "entrypoint", replace('ENTRYPOINT ["python", "/app/train.py"]', 'CMD ["python", "/app/train.py"]')],
    ["a shell-form ENTRYPOINT", "entrypoint", replace('ENTRYPOINT ["python", "/app/train.py"]', "ENTRYPOINT python /app/train.py")],
  ])("%s → %s", (_label, rule, dockerfile, files = FILES, dockerignore = "") => {
    const problems = lint(dockerfile, files, dockerignore);
    expect(problems.map((p) => p.rule)).toEqual([rule]);
    expect(problems[0]!.line).toBeGreaterThan(0);
    expect(problems[0]!.message.length).toBeGreaterThan(20);
  });

  it("reports every problem of a Dockerfile at once, each with its line", () => {
    const bad = ["FROM python:latest", "RUN pip install ultralytics", "COPY missing.py /app/", "ENTRYPOINT python"].join("\n");
    expect(lint(bad).map((p) => [p.rule, p.line])).toEqual([
      ["no-latest", 1],
      ["pinned-pip", 2],
      ["copy-source", 3],
      ["user", 1],
      ["entrypoint", 4],
    ]);
  });
});
