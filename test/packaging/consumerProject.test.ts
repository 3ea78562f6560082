/**
 * What a platform engineer does first (issue 11): pack the package, install the tarball into a
 * fresh Pulumi TypeScript project with Pulumi's template tsconfig, type-check it, and test a
 * program built on the components under `yolo-train/testing`'s mocks. The build runs in a staging
 * copy of the sources, so the repository's own dist/ is never touched while other tests read it.
 * The install takes the package's dependencies and the @pulumi peers from npm's cache (filled by
 * the `npm ci` before the tests), pinned to the versions this repository tests with.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const PULUMI_PEERS = ["@pulumi/pulumi", "@pulumi/aws", "@pulumi/awsx", "@pulumi/docker"];

/** Pulumi's `aws-typescript` template tsconfig (pulumi/templates, aws-typescript/tsconfig.json). */
const PULUMI_TEMPLATE_TSCONFIG = {
  compilerOptions: {
    strict: true,
    outDir: "bin",
    target: "es2020",
    module: "commonjs",
    moduleResolution: "node",
    sourceMap: true,
    experimentalDecorators: true,
    pretty: true,
    noFallthroughCasesInSwitch: true,
    noImplicitReturns: true,
    forceConsistentCasingInFileNames: true,
  },
};

/** A platform team's program: two experiments on one fleet, built from the components. */
const PROGRAM = `
import { Fleet, TrainingRun } from "yolo-train";
import { parseExperimentConfig } from "yolo-train/config";

export function experiments(context: { project: string; stack: string; region: string }): { fleet: Fleet; runs: TrainingRun[] } {
  const fleet = new Fleet("vision", { monthlyBudgetUsd: 1500, alertEmail: "ml-platform@example.com" });
  const runs = ["helmets", "pallets"].map(
    (model) => new TrainingRun(model, { config: parseExperimentConfig({ stage: "debug", data: model, ota: { modelName: model } }, context), fleet }),
  );
  return { fleet, runs };
}
`;

const TEST = `
import { arnPattern, installAwsMocks, valueOf } from "yolo-train/testing";
import { experiments } from "./index";

async function main(): Promise<void> {
  const mocks = installAwsMocks({ project: "platform", stack: "helmet-detector-yolov8s-v2", region: "eu-west-1" });
  const { fleet, runs } = experiments({ project: mocks.project, stack: mocks.stack, region: mocks.region });
  const keyArn = await valueOf(runs[0]!.ota.signingKeyArn);
  const groupArns = await Promise.all(runs.map((run) => valueOf(run.nodeGroup.groupArn)));
  await valueOf(fleet.outputs);
  await mocks.settle();
  const autoscaling = arnPattern("autoscaling", { region: mocks.region, accountId: mocks.accountId });
  const report = {
    keyArn: arnPattern("kms", { region: mocks.region, accountId: mocks.accountId }).test(keyArn) || keyArn,
    sameKey: keyArn === (await valueOf(fleet.ota.signingKeyArn)),
    groupArns: groupArns.every((arn) => autoscaling.test(arn)) || groupArns,
    vpcs: mocks.ofType("awsx:ec2:Vpc").length,
    repositories: mocks.ofType("aws:ecr/repository:Repository").length,
    imageBuilds: mocks.ofType("docker:index/image:Image").length,
    otaBuckets: mocks.ofType("yolo-train:ota:OtaBucket").length,
    datasetBuckets: mocks.ofType("yolo-train:storage:DatasetBucket").length,
    nodeGroups: mocks.ofType("yolo-train:compute:GpuNodeGroup").length,
  };
  process.stdout.write(JSON.stringify(report));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
`;

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" } });
}

/** Builds the package in a staging copy of the sources and packs it; returns the tarball's path. */
function packInStaging(work: string): string {
  const staging = path.join(work, "staging");
  const skip = new Set(["node_modules", ".git", "dist", "dist-agent", "dist-lambda", "test", "bench", "coverage"]);
  fs.cpSync(ROOT, staging, { recursive: true, filter: (source) => !skip.has(path.basename(source)) || path.dirname(source) !== ROOT });
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(staging, "node_modules"), "dir");
  run(NPM, ["run", "build"], staging);
  const packed = JSON.parse(run(NPM, ["pack", "--ignore-scripts", "--json", "--pack-destination", work], staging)) as Array<{ filename: string }>;
  return path.join(work, packed[0]!.filename);
}

describe("a fresh Pulumi TypeScript project that installs the packed package", () => {
  let work: string;
  let consumer: string;
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-train-consumer-"));
    const tarball = packInStaging(work);
    consumer = path.join(work, "consumer");
    fs.mkdirSync(consumer);
    const ours = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
    const pinned = Object.fromEntries([...PULUMI_PEERS, "typescript", "@types/node"].map((name) => [name, ours.devDependencies[name]!]));
    fs.writeFileSync(
      path.join(consumer, "package.json"),
      JSON.stringify({ name: "platform", private: true, main: "index.ts", dependencies: { "yolo-train": `file:${tarball}`, ...pinned } }, null, 2),
    );
    fs.writeFileSync(path.join(consumer, "tsconfig.json"), JSON.stringify(PULUMI_TEMPLATE_TSCONFIG, null, 4));
    fs.writeFileSync(path.join(consumer, "index.ts"), PROGRAM);
    fs.writeFileSync(path.join(consumer, "check.ts"), TEST);
    run(NPM, ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], consumer);
  }, 600_000);
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("installs one copy of each @pulumi package, the consumer's", () => {
    for (const name of PULUMI_PEERS) {
      expect([name, fs.existsSync(path.join(consumer, "node_modules", "yolo-train", "node_modules", name))]).toEqual([name, false]);
    }
  });

  it("type-checks with Pulumi's template tsconfig and no skipLibCheck: zero errors", () => {
    let output = "";
    try {
      run(process.execPath, [path.join(consumer, "node_modules", "typescript", "bin", "tsc"), "-p", consumer], consumer);
    } catch (error) {
      output = `${(error as { stdout?: string }).stdout ?? ""}${(error as { stderr?: string }).stderr ?? ""}`;
    }
    expect(output).toBe("");
  }, 300_000);

  it("runs two experiments on one Fleet under yolo-train/testing's mocks: one of each shared part, two node groups", () => {
    const report = JSON.parse(run(process.execPath, [path.join(consumer, "bin", "check.js")], consumer)) as Record<string, unknown>;
    expect(report).toEqual({
      keyArn: true,
      sameKey: true,
      groupArns: true,
      vpcs: 1,
      repositories: 1,
      imageBuilds: 1,
      otaBuckets: 1,
      datasetBuckets: 1,
      nodeGroups: 2,
    });
  }, 120_000);
});
