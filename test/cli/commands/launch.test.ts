import { copyFileSync, mkdtempSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import type { StackLauncher, UpEvent, UpInput, UpResult } from "../../../cli/stackAutomation";
import { describeUpEvent } from "../../../cli/upProgress";
import { OperateWorld, STACK_OUTPUTS, memoryIo, recordAt, runCli } from "./operateHarness";

const ROOT = resolve(__dirname, "../../..");

/** Records the up and plays a few engine events instead of running Pulumi. */
class RecordingLauncher implements StackLauncher {
  readonly calls: UpInput[] = [];
  constructor(private readonly result: string = "succeeded") {}
  async up(input: UpInput): Promise<UpResult> {
    this.calls.push(input);
    const meta = (op: string, type: string, name: string) => ({ metadata: { op, type, urn: `urn:pulumi:dev::yolo-train::${type}::${name}` } });
    const events: UpEvent[] = [
      { resourcePreEvent: meta("same", "pulumi:pulumi:Stack", "yolo-train-dev") },
      { resourcePreEvent: meta("create", "aws:s3/bucket:Bucket", "artifacts") },
      { resOutputsEvent: meta("create", "aws:s3/bucket:Bucket", "artifacts") },
      { summaryEvent: { durationSeconds: 42, resourceChanges: { create: 1, same: 1 } } },
    ];
    for (const event of events) input.onEvent(event);
    return { outputs: STACK_OUTPUTS, result: this.result };
  }
}

let world: OperateWorld;
let project: string;
beforeAll(async () => {
  world = await OperateWorld.start();
  project = mkdtempSync(join(tmpdir(), "yolo-train-project-"));
  copyFileSync(join(ROOT, "Pulumi.yaml"), join(project, "Pulumi.yaml"));
  copyFileSync(join(ROOT, "Pulumi.dev.yaml"), join(project, "Pulumi.dev.yaml"));
});
afterAll(async () => {
  await world.close();
});

const ioWith = (launcher: StackLauncher, extra: Parameters<typeof memoryIo>[0] = {}) => ({ ...memoryIo({ cwd: project, ...extra }), stackLauncher: launcher });

describe("yolo-train launch", () => {
  it("sets only the --set values (namespaced) on the stack, runs up in the project folder and shows each step", async () => {
    const launcher = new RecordingLauncher();
    const io = ioWith(launcher);
    expect(await runCli(["launch", "--stack", "dev", "--set", "epochs=20", "--set", "aws:region=us-west-2"], io)).toBe(0);
    expect(launcher.calls).toHaveLength(1);
    expect(launcher.calls[0]).toMatchObject({ stackName: "dev", workDir: project, config: { "yolo-train:epochs": "20", "aws:region": "us-west-2" }, configPaths: false });
    expect(io.err.join("")).toBe(
      ["+ create   aws:s3/bucket:Bucket artifacts ...", "+ create   aws:s3/bucket:Bucket artifacts done (1/1)", "done in 42s: 1 create", ""].join("\n"),
    );
    expect(io.text()).toContain("stack dev is up: run exp-1 in us-east-1");
  });

  it("sets fields of structured values by path, as pulumi config set --path does", async () => {
    const launcher = new RecordingLauncher();
    const io = ioWith(launcher);
    expect(await runCli(["launch", "--stack", "dev", "--set", "ota.promote.min=0.5", "--set", "epochs=20"], io)).toBe(0);
    expect(launcher.calls[0]).toMatchObject({ config: { "yolo-train:ota.promote.min": "0.5", "yolo-train:epochs": "20" }, configPaths: true });
  });

  it("refuses a misspelt path with exit 2, suggesting the field", async () => {
    const launcher = new RecordingLauncher();
    const io = ioWith(launcher);
    expect(await runCli(["launch", "--stack", "dev", "--set", "ota.chanel=stable"], io)).toBe(2);
    expect(launcher.calls).toEqual([]);
    expect(io.err.join("")).toMatch(/`ota.chanel` is "stable".*did you mean `channel`\?/);
  });

  it("refuses an invalid merged config with exit 2 and deploys nothing", async () => {
    const launcher = new RecordingLauncher();
    const io = ioWith(launcher);
    expect(await runCli(["launch", "--stack", "dev", "--set", "imgsz=33"], io)).toBe(2);
    expect(launcher.calls).toEqual([]);
    expect(io.err.join("")).toMatch(/Stack config yolo-train\/dev has 1 problem; nothing was created:\n\s+- `imgsz` is 33; it must be a multiple of 32/);
  });

  it("refuses keys in a misspelt namespace and unknown aws: keys, all at once, with the key meant", async () => {
    const launcher = new RecordingLauncher();
    const io = ioWith(launcher);
    expect(await runCli(["launch", "--stack", "dev", "--set", "yolo_train:epochs=5", "--set", "aws:regoin=us-west-2", "--set", "imgsz=33"], io)).toBe(2);
    expect(launcher.calls).toEqual([]);
    const err = io.err.join("");
    expect(err).toContain("has 3 problems; nothing was created");
    expect(err).toMatch(/`yolo_train:epochs` is "5".*did you mean `yolo-train:epochs`\?/);
    expect(err).toMatch(/`aws:regoin` is "us-west-2".*did you mean `aws:region`\?/);
  });

  it("validates a new stack (no Pulumi.<stack>.yaml) from the --set values alone, asking for a region", async () => {
    const launcher = new RecordingLauncher();
    const io = ioWith(launcher);
    expect(await runCli(["launch", "--stack", "fresh", "--set", "epochs=5"], io)).toBe(2);
    expect(launcher.calls).toEqual([]);
    expect(io.err.join("")).toContain("aws:region");
  });

  it.each([["epochs"], ["=5"], ["two words=5"]])("rejects --set %s as a usage error", async (set) => {
    const launcher = new RecordingLauncher();
    const io = ioWith(launcher);
    expect(await runCli(["launch", "--stack", "dev", "--set", set], io)).toBe(2);
    expect(io.err.join("")).toContain("--set takes key=value");
    expect(launcher.calls).toEqual([]);
  });

  it("exits 1 when up does not succeed", async () => {
    const io = ioWith(new RecordingLauncher("failed"));
    expect(await runCli(["launch", "--stack", "dev"], io)).toBe(1);
    expect(io.err.join("")).toContain("pulumi up failed");
  });

  it("--watch follows the run from the new stack's outputs until it ends, exiting with status's code", async () => {
    await world.putRecord(recordAt({ epoch: 1 }));
    const io = ioWith(new RecordingLauncher(), { onSleep: (n) => (n === 1 ? world.putRecord(recordAt({ epoch: 4, end: "hung" })) : undefined) });
    expect(await runCli(["launch", "--stack", "dev", "--watch", "--interval", "1", "--json"], io)).toBe(21);
    const lines = io.text().trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ result: "succeeded", stack: "dev", runId: "exp-1" });
    expect(lines.slice(1).map((l) => l.phase)).toEqual(["training", "hung"]);
  });

  it("needs a stack name", async () => {
    const io = ioWith(new RecordingLauncher());
    world.setEnv({ PULUMI_STACK: undefined });
    expect(await runCli(["launch"], io)).toBe(2);
    expect(io.err.join("")).toContain("Say which stack");
  });
});

describe("describeUpEvent", () => {
  it("shows failures and errors, and hides unchanged resources", () => {
    const tally = { started: 0, done: 0, failed: 0 };
    const meta = { op: "update", type: "aws:autoscaling/group:Group", urn: "urn:pulumi:dev::p::aws:autoscaling/group:Group::nodes" };
    expect(describeUpEvent({ resourcePreEvent: { metadata: { ...meta, op: "same" } } }, tally)).toBeUndefined();
    expect(describeUpEvent({ resOpFailedEvent: { metadata: meta } }, tally)).toBe("! update   aws:autoscaling/group:Group nodes FAILED");
    expect(describeUpEvent({ diagnosticEvent: { message: "quota exceeded\n", severity: "error" } }, tally)).toBe("error: quota exceeded");
    expect(describeUpEvent({ diagnosticEvent: { message: "chatter", severity: "info" } }, tally)).toBeUndefined();
    expect(tally).toEqual({ started: 0, done: 0, failed: 1 });
  });
});

