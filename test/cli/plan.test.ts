import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

/** Runs `yolo-train plan` as `npm run plan` does, in a process of its own. */
function plan(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(TSX, [path.join(ROOT, "cli", "plan.ts"), ...args], {
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

  it("prints JSON for scripts with --json", () => {
    const { status, stdout } = plan(["--json"]);
    expect(status).toBe(0);
    const parsed = JSON.parse(stdout);
    expect(parsed.outputs.estimate.chosenInstanceType.instanceType).toBe("g4dn.xlarge");
    expect(parsed.resources.map((r: { type: string }) => r.type)).toContain("aws:autoscaling/group:Group");
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

  it("reports every config problem, names each key, and exits non-zero", () => {
    const dir = projectWithStack(
      "bad",
      ["config:", "  aws:region: us-east-1", "  yolo-train:imgsz: 650", "  yolo-train:gpusPerNode: 2", "  yolo-train:epoch: 5"].join(
        "\n",
      ),
    );
    const { status, stdout, stderr } = plan(["--cwd", dir, "--stack", "bad"]);
    expect(status).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain("nothing was created");
    expect(stderr).toMatch(/`imgsz` is 650/);
    expect(stderr).toMatch(/`gpusPerNode` is 2/);
    expect(stderr).toMatch(/`epoch`.*epochs/);
  });

  it("says which stacks exist when the stack file is missing", () => {
    const dir = projectWithStack("only", "config:\n  aws:region: us-east-1\n");
    const { status, stderr } = plan(["--cwd", dir, "--stack", "nope"]);
    expect(status).toBe(1);
    expect(stderr).toContain("Pulumi.nope.yaml does not exist");
    expect(stderr).toContain("Stacks here: only");
  });
});
