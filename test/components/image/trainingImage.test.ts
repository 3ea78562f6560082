import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { InvalidInputError } from "../../../runspec/problems";
import { contentTag, digestContextFiles } from "../../../components/image/imageTag";
import { defaultDockerContext, TrainingImage, type TrainingImageArgs } from "../../../components/image/trainingImage";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";

let runtime: OfflineRuntime;
const tempDirs: string[] = [];
const DIGEST = `sha256:${"0f".repeat(32)}`;

beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "test" });
});
afterAll(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});


const find = (type: string, name: string) => runtime.named(type, name);

function dockerContext(trainPy = "print('train')\n"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-image-"));
  tempDirs.push(dir);
  fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM python:3.11-slim\nCOPY train.py /app/train.py\n");
  fs.writeFileSync(path.join(dir, "train.py"), trainPy);
  return dir;
}

/** The secret wrapper the runtime leaves around inputs built from secrets. */
const unsecret = (v: any) => (v && typeof v === "object" && "value" in v && Object.keys(v).length === 2 ? v.value : v);

describe("TrainingImage built from a context", () => {
  let context: string;
  let image: TrainingImage;
  let same: TrainingImage;
  let edited: TrainingImage;
  beforeAll(async () => {
    context = dockerContext();
    image = new TrainingImage("trainer", { context, keepTaggedImages: 5, tags: { project: "yolo" } });
    same = new TrainingImage("trainer-copy", { context: dockerContext() });
    edited = new TrainingImage("trainer-edited", { context: dockerContext("print('train v2')\n") });
    await Promise.all([valueOf(image.imageUri), valueOf(same.imageUri), valueOf(edited.imageUri)]);
    await runtime.settle();
  });

  it("creates a private ECR repository that scans on push, has immutable tags and AES256 encryption", () => {
    const repo = find("aws:ecr/repository:Repository", "trainer");
    expect(repo.inputs).toMatchObject({
      imageScanningConfiguration: { scanOnPush: true },
      imageTagMutability: "IMMUTABLE",
      encryptionConfigurations: [{ encryptionType: "AES256" }],
      forceDelete: false,
      tags: { project: "yolo" },
    });
  });

  it("expires untagged images after a day and keeps the last N tagged images", async () => {
    const lifecycle = find("aws:ecr/lifecyclePolicy:LifecyclePolicy", "trainer-lifecycle");
    expect(lifecycle.inputs.repository).toBe((await valueOf(image.repositoryUrl!)).split("/").pop());
    const policy = JSON.parse(lifecycle.inputs.policy);
    expect(policy.rules.map((r: any) => r.selection)).toEqual([
      { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 1 },
      { tagStatus: "tagged", tagPatternList: ["*"], countType: "imageCountMoreThan", countNumber: 5 },
    ]);
    const defaults = JSON.parse(find("aws:ecr/lifecyclePolicy:LifecyclePolicy", "trainer-copy-lifecycle").inputs.policy);
    expect(defaults.rules[1].selection.countNumber).toBe(10);
  });

  it("builds the context for linux/amd64 and tags the image with the context's content hash", async () => {
    const built = find("docker:index/image:Image", "trainer");
    const tag = contentTag(digestContextFiles(context), ["platform=linux/amd64", "dockerfile=Dockerfile"]);
    expect(image.contentTag).toBe(tag);
    expect(built.inputs.imageName).toBe(`${await valueOf(image.repositoryUrl!)}:${tag}`);
    expect(built.inputs.build).toEqual({ context, dockerfile: path.join(context, "Dockerfile"), platform: "linux/amd64" });
    expect(built.inputs.buildOnPreview).toBe(false);
  });

  it("gives the same tag to the same content and a new tag to new content", () => {
    expect(same.contentTag).toBe(image.contentTag);
    expect(edited.contentTag).not.toBe(image.contentTag);
  });

  it("pushes with credentials from the repository's registry", async () => {
    const registry = unsecret(find("docker:index/image:Image", "trainer").inputs.registry);
    expect(registry).toEqual({ server: await valueOf(image.repositoryUrl!), username: "AWS", password: "offline-token" });
    const tokenCall = runtime.cloud.invokes.find((i) => i.token === "aws:ecr/getAuthorizationToken:getAuthorizationToken");
    expect(tokenCall?.inputs.registryId).toMatch(/^\d{12}$/);
    expect(runtime.cloud.unknownInvokes).toEqual([]);
  });

  it("outputs the image by digest, and the repository's ARN and URL", async () => {
    const uri = await valueOf(image.imageUri);
    const url = await valueOf(image.repositoryUrl!);
    expect(uri).toMatch(/^[^@]+@sha256:[0-9a-f]{64}$/);
    expect(uri.startsWith(`${url}@`)).toBe(true);
    expect(await valueOf(image.repositoryArn!)).toMatch(/^arn:aws:ecr:us-east-1:\d{12}:repository\/trainer-/);
  });
});

describe("the default build context", () => {
  it("is the package root, holding docker/Dockerfile", () => {
    expect(defaultDockerContext()).toBe(path.resolve(__dirname, "..", "..", ".."));
  });

  it("builds docker/Dockerfile from the package root, tagged by what .dockerignore lets through", async () => {
    const image = new TrainingImage("default-context", {});
    await valueOf(image.imageUri);
    const built = runtime.named("docker:index/image:Image", "default-context");
    expect(built.inputs.build.context).toBe(path.resolve(__dirname, "..", "..", ".."));
    expect(built.inputs.build.dockerfile).toBe(path.resolve(__dirname, "..", "..", "..", "docker", "Dockerfile"));
    const files = digestContextFiles(defaultDockerContext(), path.join(defaultDockerContext(), "docker", "Dockerfile")).map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(["docker/agent/package.json", "docker/agent/package-lock.json", "agent/main.ts", "docker/train.py", "docker/Dockerfile"]));
    expect(files.some((f) => f.startsWith("node_modules/") || f.startsWith(".git/") || f.startsWith("test/"))).toBe(false);
  });
});

describe("the build context of the installed npm package", () => {
  it("holds what the Dockerfile copies, so a platform team's default build gives the checkout's image", async () => {
    // The files `npm pack` publishes (the package.json `files` list), as npm install lays them out.
    const root = path.resolve(__dirname, "..", "..", "..");
    const pack = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(pack.status).toBe(0);
    const published = (JSON.parse(pack.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(published).toEqual(expect.arrayContaining(["docker/Dockerfile", "docker/agent/package-lock.json", "agent/main.ts", ".dockerignore"]));
    const installed = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-installed-"));
    tempDirs.push(installed);
    for (const file of published) {
      fs.mkdirSync(path.dirname(path.join(installed, file)), { recursive: true });
      fs.copyFileSync(path.join(root, file), path.join(installed, file));
    }
    const fromPackage = new TrainingImage("from-npm", { context: installed, dockerfile: "docker/Dockerfile" });
    const fromCheckout = new TrainingImage("from-checkout", {});
    expect(fromPackage.contentTag).toBe(fromCheckout.contentTag);
    await valueOf(pulumi.all([fromPackage.imageUri, fromCheckout.imageUri]));
  });
});

describe("TrainingImage from an existing image", () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(pulumi.log, "warn").mockImplementation(async () => undefined);
  });
  afterEach(() => warn.mockRestore());

  it.each([
    [
      "an ECR image by digest",
      `123456789012.dkr.ecr.eu-west-1.amazonaws.com/yolo@${DIGEST}`,
      "arn:aws:ecr:eu-west-1:123456789012:repository/yolo",
      false,
    ],
    ["an ECR image by tag", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/yolo:v3", "arn:aws:ecr:eu-west-1:123456789012:repository/yolo", true],
    ["a Docker Hub image by tag", "ultralytics/ultralytics:8.3.0", undefined, true],
    ["a Docker Hub image with no tag", "ultralytics/ultralytics", undefined, true],
  ])("uses %s as is and creates nothing", async (label, uri, arn, warns) => {
    const name = `existing-${label.replace(/\W+/g, "-")}`;
    const image = new TrainingImage(name, { existingImageUri: uri });
    expect(await valueOf(image.imageUri)).toBe(uri);
    expect(image.repositoryArn === undefined ? undefined : await valueOf(image.repositoryArn)).toBe(arn);
    expect(image.contentTag).toBeUndefined();
    await runtime.settle();
    const component = find("yolo-train:image:TrainingImage", name);
    expect(runtime.childrenOf(component.urn)).toEqual([]);
    if (warns) {
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/tag.*digest/s), image);
    } else {
      expect(warn).not.toHaveBeenCalled();
    }
  });
});

describe("TrainingImage with a name ECR would refuse", () => {
  it("builds into a repository named after it, lower-cased and hashed", async () => {
    const image = new TrainingImage("Yolo-Image", { context: dockerContext() });
    expect(await valueOf(image.repositoryUrl!)).toMatch(/\/yolo-image-[0-9a-f]{8}-0a1b2c3$/);
  });
});

describe("TrainingImage with invalid arguments", () => {
  it("rejects a context without the paths its Dockerfile copies, naming each, and registers nothing", async () => {
    // docker/ alone: what a hand-made copy of the Dockerfile's folder would give.
    const partial = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-partial-"));
    tempDirs.push(partial);
    fs.cpSync(path.join(path.resolve(__dirname, "..", "..", ".."), "docker"), path.join(partial, "docker"), { recursive: true });
    let error: unknown;
    try {
      new TrainingImage("partial-context", { context: partial, dockerfile: "docker/Dockerfile" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    const [problem, ...others] = (error as InvalidInputError).problems;
    expect(others).toEqual([]);
    expect(problem).toMatchObject({ key: "TrainingImage.context", value: partial });
    expect(problem!.allowed).toBe("a folder holding every file docker/Dockerfile copies; missing: tsconfig.json, runspec/, ota/, agent/");
    expect(problem!.fix).toMatch(/yolo-train package root \(installed or a checkout\)/);
    await runtime.settle();
    expect(runtime.resources.filter((r) => r.name.startsWith("partial-context"))).toEqual([]);
  });

  it.each([
    ["an existing image and a context", "bad-both", { existingImageUri: "repo:v1", context: "/tmp" }, ["TrainingImage.context"]],
    ["an image reference that does not parse", "bad-uri", { existingImageUri: "Not An Image" }, ["TrainingImage.existingImageUri"]],
    ["a context folder that does not exist", "bad-context", { context: "/nonexistent/yolo-docker" }, ["TrainingImage.context"]],
    ["keeping no images", "bad-keep", { context: "__context__", keepTaggedImages: 0 }, ["TrainingImage.keepTaggedImages"]],
  ])("rejects %s, naming the argument, and registers nothing", async (_label, name, rawArgs: TrainingImageArgs, keys) => {
    const args = { ...rawArgs, ...(rawArgs.context === "__context__" ? { context: dockerContext() } : {}) };
    let error: unknown;
    try {
      new TrainingImage(name, args);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems.map((p) => p.key)).toEqual(keys);
    await runtime.settle();
    expect(runtime.resources.filter((r) => r.name === name || r.name.startsWith(`${name}-`))).toEqual([]);
  });
});
