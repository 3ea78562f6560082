import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { tsNodeArgs } from "../support/tsBuild";

const ROOT = path.resolve(__dirname, "..", "..");

/**
 * Runs `yolo-train plan` as `npm run plan` (tsx cli/plan.ts) does, in a process of its own: the
 * sources (the CLI and the stack program it loads) run from their prebuilt JavaScript
 * (test/support/tsBuild.ts) rather than through tsx, which costs seconds per process.
 */
function plan(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [...tsNodeArgs(path.join(ROOT, "cli", "plan.ts")), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
    // No AWS credentials anywhere: the plan must not need them.
    env: { PATH: process.env.PATH, HOME: os.tmpdir(), ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A project folder whose program is this repo's index.ts, with one stack file. */
function projectWithStack(stack: string, yaml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-train-plan-"));
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    `name: yolo-train\nruntime: nodejs\nmain: ${JSON.stringify(path.join(ROOT, "index.ts"))}\n`,
  );
  fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), yaml);
  return dir;
}

describe("npm run plan", () => {
  it("prints the dev stack's resources, prices, estimate and guardrails with no AWS account", () => {
    const { status, stdout, stderr } = plan([]);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout).toContain("stack dev of project yolo-train, region us-east-1");
    for (const type of [
      "yolo-train:run:TrainingRun",
      "aws:autoscaling/group:Group",
      "aws:ec2/launchTemplate:LaunchTemplate",
      "aws:cloudwatch/metricAlarm:MetricAlarm",
      "aws:scheduler/schedule:Schedule",
      "aws:kms/key:Key",
      "docker:index/image:Image",
      "yolo-train:ota:TimestampFunction",
      "aws:lambda/function:Function",
      "aws:lambda/invocation:Invocation",
    ]) {
      expect(stdout).toContain(type);
    }
    for (const key of ["signing-key", "root-key", "timestamp-key"]) expect(stdout).toContain(`aws:kms/key:Key  yolo-train-dev-ota-${key}`);
    expect(stdout).toContain("aws:scheduler/schedule:Schedule  yolo-train-dev-ota-timestamp-schedule");
    expect(stdout).toMatch(/  - timestamps: a Lambda function re-signs each model's timestamp\.json with the stack's timestamp key every 6 h \(each valid 24 h\), and once at deploy/);
    expect(stdout).toContain("  - root key: signs root documents of trust only, from an administrator's workstation (yolo-train ota root sign)");
    // The standing cost counts the three keys, and says the timestamp function costs next to nothing.
    expect(stdout).toContain("  - 3× KMS key (signing: OTA release, root and timestamp keys), $1/month each: $3.00");
    expect(stdout).toMatch(/  - 1× Lambda function \(OTA timestamp refresh, 4 short runs a day\).*effectively \$0.*: \$0\.00/);
    expect(stdout).toMatch(/Standing costs while no GPU runs: about \$6\.30\/month/);
    expect(stdout).toMatch(/g4dn\.xlarge\s+\$0\.5260\s+\$0\.2039\s+← used for the estimate/);
    expect(stdout).toMatch(/Estimated run: [\d.]+ h, \$[\d.]+ on spot vs \$[\d.]+ on demand \(saves/);
    expect(stdout).toMatch(/max runtime: 2 h → .* at \d{4}-\d\d-\d\dT/);
    expect(stdout).toContain("idle GPU: below 5 % on every GPU for 15 min");
    expect(stdout).toContain("budget: none");
    expect(stdout).toContain("lost checkpoint: none of the run's checkpoints can be restored → the run fails and is torn down (set yolo-train:restartIfCheckpointLost");
    expect(stdout).toMatch(/Model delivery \(OTA\): model "dev"\n  - every completed run publishes a release to this stack's bucket s3:\/\/\S+\/models\/dev\/, signed with its own KMS key, channel candidate\n  - promotion to stable: never automatically/);
  });

  it("prints JSON for scripts with --json, each resource with its inputs for policy tools", () => {
    const { status, stdout } = plan(["--json"]);
    expect(status).toBe(0);
    const parsed = JSON.parse(stdout);
    expect(parsed.outputs.estimate.chosenInstanceType.instanceType).toBe("g4dn.xlarge");
    expect(parsed.resources.map((r: { type: string }) => r.type)).toContain("aws:autoscaling/group:Group");
    type Planned = { type: string; name: string; custom: boolean; inputs: Record<string, any> };
    const resources = parsed.resources as Planned[];
    const group = resources.find((r) => r.type === "aws:autoscaling/group:Group")!;
    expect(group.inputs).toMatchObject({ minSize: 0, desiredCapacity: 1, mixedInstancesPolicy: expect.any(Object) });
    const blocks = resources.filter((r) => r.type === "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) expect(block.inputs).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    // Pulumi's secret wrapper never leaks into the JSON: secrets are "[secret]".
    expect(stdout).not.toContain("4dabf18193072939515e22adb298388d");
    expect(parsed.warnings).toEqual([]);
    expect(parsed.estimatePhases).toEqual([]);
  });

  it("plans another stack with --stack, with its budget, the train stage's A100s, a restart on a lost checkpoint and a fleet OTA bucket", () => {
    const dir = projectWithStack(
      "big",
      [
        "config:",
        "  aws:region: us-west-2",
        "  yolo-train:stage: train",
        "  yolo-train:model: yolo11s.pt",
        "  yolo-train:data: coco.yaml",
        "  yolo-train:budgetUsd: 500",
        "  yolo-train:alertEmail: ml-team@example.com",
        "  yolo-train:restartIfCheckpointLost: true",
        "  yolo-train:ota:",
        "    modelName: pallets",
        "    bucket: fleet-models-1a2b3c",
        "    signingKeyArn: arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "    promote:",
        "      min: 0.6",
      ].join("\n"),
    );
    const { status, stdout, stderr } = plan(["--cwd", dir, "--stack", "big"]);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout).toContain("region us-west-2");
    expect(stdout).toContain("1 node of 8× A100");
    expect(stdout).toContain("p4d.24xlarge");
    expect(stdout).toContain("budget: $500/month");
    expect(stdout).toContain("aws:budgets/budget:Budget");
    expect(stdout).toContain("max runtime: 72 h");
    expect(stdout).toContain("lost checkpoint: none of the run's checkpoints can be restored → train again from the starting weights (restartIfCheckpointLost)");
    expect(stdout).toContain(
      "every completed run publishes a release to the shared bucket s3://fleet-models-1a2b3c/models/pallets/ (another stack owns it), signed with arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    );
    expect(stdout).toContain("promotion to stable: when metrics/mAP50-95(B) ≥ 0.6 and better than the current stable release");
    expect(stdout).not.toContain("aws:kms/key:Key");
    expect(stdout).not.toContain("aws:lambda/function:Function");
    expect(stdout).toContain("  - timestamps and root key: the stack that owns the bucket signs them");
  });

  it("plans a stack that declares a sweep: what `pulumi up` would create and cost, pointing to `yolo-train sweep plan` for the trials", () => {
    const dir = projectWithStack(
      "sweep",
      [
        "config:",
        "  aws:region: us-east-1",
        "  yolo-train:epochs: 27",
        "  yolo-train:sweep:",
        "    method: grid",
        "    space:",
        "      imgsz: [320, 640]",
        "    maxParallel: 2",
        "    asha: { minEpochs: 3 }",
        "    budgetUsd: 20",
      ].join("\n"),
    );
    const { status, stdout, stderr } = plan(["--cwd", dir, "--stack", "sweep"]);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout).toMatch(/^Sweep sweep-[0-9a-f]{12}: 2 trials \(grid over imgsz\), maximize metrics\/mAP50-95\(B\), 2 at once, ASHA at epochs 3, 9/m);
    expect(stdout).toContain("yolo-train sweep plan --stack sweep");
    // The stack program computes the early-stopping advice from the trials; the plan prints it with its warnings.
    expect(stdout).toMatch(/Warnings:\n(  - .*\n)*  - early stopping \(asha\) ranks trials first at epoch 3, inside the learning-rate warm-up \(3 epochs:/);
    for (const type of ["yolo-train:sweep:Sweep", "yolo-train:sweep:SweepKeeper", "yolo-train:run:TrainingRun", "aws:s3/bucketObjectv2:BucketObjectv2"]) expect(stdout).toContain(type);
    expect(stdout).toContain("every trial's node group is created empty (desired 0, max 1); the keeper (a Lambda function, rate(1 minute))");
    expect(stdout).toMatch(/Most it can cost: \$\d/);
    expect(stdout).toContain("sweep budget: $20: the keeper starts no trial once spent + committed would pass it");
    expect(stdout).toMatch(/Lambda function \(sweep keeper, a round every 1 min/);
    expect(stdout).toContain("the sweep's winner (the best completed trial) is released to this stack's bucket");
  });

  it("refuses an invalid sweep, naming each key, and exits 2", () => {
    const dir = projectWithStack(
      "badsweep",
      ["config:", "  aws:region: us-east-1", "  yolo-train:sweep:", "    method: grid", "    space:", "      imgsz: [320, 333]", "    maxParallel: 99"].join("\n"),
    );
    const { status, stdout, stderr } = plan(["--cwd", dir, "--stack", "badsweep"]);
    expect(status).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^Stack config yolo-train\/badsweep has 2 problems; nothing was created:/);
    for (const key of ["sweep.space.imgsz[1]", "sweep.maxParallel"]) expect(stderr).toContain(`\`${key}\``);
  });

  it("reports every config problem once, without a stack trace, names each key, and exits 2", () => {
    const dir = projectWithStack(
      "bad",
      [
        "config:",
        "  aws:region: us-east-1",
        "  aws:regoin: us-west-2",
        "  yolo-train:imgsz: 650",
        "  yolo-train:gpusPerNode: 2",
        "  yolo-train:epoch: 5",
        "  yolo_train:batch: 8",
      ].join("\n"),
    );
    const { status, stdout, stderr } = plan(["--cwd", dir, "--stack", "bad"]);
    expect(status).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.match(/nothing was created/g)).toHaveLength(1);
    expect(stderr.match(/`imgsz` is 650/g)).toHaveLength(1);
    expect(stderr).toMatch(/^Stack config yolo-train\/bad has 5 problems; nothing was created:\n/);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).not.toMatch(/unhandled|Error:/i);
    expect(stderr).toMatch(/`gpusPerNode` is 2/);
    expect(stderr).toMatch(/`epoch`.*epochs/);
    expect(stderr).toMatch(/`aws:regoin` is "us-west-2".*did you mean `aws:region`\?/);
    expect(stderr).toMatch(/`yolo_train:batch` is "8".*did you mean `yolo-train:batch`\?/);
  });

  it("warns that a first pulumi up would train on the empty dataset bucket, and labels each progressive phase in the estimate", () => {
    const dir = projectWithStack(
      "widgets",
      [
        "config:",
        "  aws:region: us-east-1",
        "  yolo-train:data: widgets",
        "  yolo-train:datasetImages: 2000",
        "  yolo-train:progressive:",
        "    - imgsz: 320",
        "      epochs: 50",
        "    - imgsz: 640",
        "      epochs: 30",
      ].join("\n"),
    );
    const { status, stdout, stderr } = plan(["--cwd", dir, "--stack", "widgets"]);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout).toMatch(/Warnings:\n  - On a first `pulumi up` \(a stack not deployed yet\) the GPU node starts at once and trains on datasets\/widgets\/data\.yaml in the stack's dataset bucket, which that same `pulumi up` creates, empty/);
    expect(stdout).toContain("aws s3 sync ./widgets");
    expect(stdout).toContain("set `yolo-train:data widgets` again");
    const total = Number(/Estimated run: ([\d.]+) h/.exec(stdout)![1]);
    const phases = [...stdout.matchAll(/^  phase (\d): imgsz (\d+), (\d+) epochs, ~([\d.]+) h, \$[\d.]+(?: \(.*\))?$/gm)];
    expect(phases.map((m) => [m[1], m[2], m[3]])).toEqual([["1", "320", "50"], ["2", "640", "30"]]);
    expect(phases.reduce((sum, m) => sum + Number(m[4]), 0)).toBeCloseTo(total, 1);
    // The small-image phase is the cheaper one per epoch.
    expect(Number(phases[0]![4]) / 50).toBeLessThan(Number(phases[1]![4]) / 30);
  });

  it("refuses an unknown option with exit 2", () => {
    const { status, stderr } = plan(["--stak", "dev"]);
    expect(status).toBe(2);
    expect(stderr).toContain("unknown option '--stak'");
  });

  it("says which stacks exist when the stack file is missing", () => {
    const dir = projectWithStack("only", "config:\n  aws:region: us-east-1\n");
    const { status, stderr } = plan(["--cwd", dir, "--stack", "nope"]);
    expect(status).toBe(2);
    expect(stderr).toContain("Pulumi.nope.yaml does not exist");
    expect(stderr).toContain("Stacks here: only");
  });
});

describe("the stack program under a real `pulumi up`", () => {
  it("stops on an invalid config with a RunError, which Pulumi prints once, as its message alone", async () => {
    const dir = projectWithStack("refused", ["config:", "  aws:region: us-east-1", "  yolo-train:imgsz: 650", "  yolotrain:epochs: 3"].join("\n"));
    let thrown: unknown;
    await jest.isolateModulesAsync(async () => {
      const { runOfflinePlan } = await import("../../cli/plan/runOfflinePlan");
      await runOfflinePlan(dir, "refused").catch((error: unknown) => {
        thrown = error;
      });
    });
    const { RunError } = await import("@pulumi/pulumi");
    // Pulumi's language host logs a RunError's message without the stack, and only once.
    expect(RunError.isInstance(thrown)).toBe(true);
    expect((thrown as Error).message).toMatch(/^Stack config yolo-train\/refused has 2 problems; nothing was created:\n/);
    expect((thrown as Error).message).toContain("did you mean `yolo-train:epochs`?");
    expect((thrown as { problems?: { key: string }[] }).problems?.map((p) => p.key)).toEqual(["imgsz", "yolotrain:epochs"]);
  });
});
