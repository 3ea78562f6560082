import type { DestroyInput, StackDestroyer } from "../../../cli/stackAutomation";
import { AutoScalingFake } from "../../agent/fakes/autoScalingFake";
import { ARTIFACTS, DATASETS, GROUP, OperateWorld, memoryIo, runCli } from "./operateHarness";

/** Records the destroy instead of running Pulumi. */
class RecordingDestroyer implements StackDestroyer {
  readonly calls: DestroyInput[] = [];
  async destroy(input: DestroyInput): Promise<void> {
    this.calls.push(input);
    input.onOutput("Destroying (dev):\n - aws:s3/bucket:Bucket deleted\n");
  }
}

let world: OperateWorld;
let asg: AutoScalingFake;
beforeAll(async () => {
  world = await OperateWorld.start();
  asg = await AutoScalingFake.start();
  world.setEnv({ AWS_ENDPOINT_URL_AUTO_SCALING: asg.endpoint, PULUMI_STACK: undefined });
});
afterAll(async () => {
  await asg.close();
  await world.close();
});
beforeEach(async () => {
  asg.addGroup(GROUP, ["i-0aaa"]);
  for (const bucket of [ARTIFACTS, DATASETS]) for (const key of await world.s3.listKeys(bucket)) await world.s3.client.send(new (await import("@aws-sdk/client-s3")).DeleteObjectCommand({ Bucket: bucket, Key: key }));
});

const updates = (): Array<Readonly<Record<string, string>>> => asg.calls.filter((c) => c.action === "UpdateAutoScalingGroup").map((c) => c.params);

describe("yolo-train down", () => {
  it("sets the node group's MinSize and DesiredCapacity to 0 with a signed call, and destroys nothing", async () => {
    const destroyer = new RecordingDestroyer();
    const io = { ...memoryIo(), stackDestroyer: destroyer };
    const before = updates().length;
    expect(await runCli(["down", "--outputs-file", world.outputsFile], io)).toBe(0);
    expect(updates().slice(before)).toEqual([{ AutoScalingGroupName: GROUP, MinSize: "0", DesiredCapacity: "0" }]);
    expect(asg.calls.at(-1)!.signed).toBe(true);
    expect(asg.desiredCapacity(GROUP)).toBe(0);
    expect(asg.minSize(GROUP)).toBe(0);
    expect(destroyer.calls).toEqual([]);
    expect(io.text()).toContain(`node group ${GROUP}: MinSize 0, DesiredCapacity 0`);
  });

  it("--all --yes destroys the stack through the adapter when the buckets are empty", async () => {
    const destroyer = new RecordingDestroyer();
    const io = { ...memoryIo({ cwd: "/projects/yolo" }), stackDestroyer: destroyer };
    expect(await runCli(["down", "--stack", "dev", "--outputs-file", world.outputsFile, "--all", "--yes", "--json"], io)).toBe(0);
    expect(destroyer.calls.map((c) => ({ stackName: c.stackName, workDir: c.workDir }))).toEqual([{ stackName: "dev", workDir: "/projects/yolo" }]);
    expect(io.err.join("")).toContain("aws:s3/bucket:Bucket deleted");
    expect(JSON.parse(io.text())).toEqual({ scaledToZero: GROUP, destroyed: true, bucketsWithData: [] });
    expect(asg.desiredCapacity(GROUP)).toBe(0);
  });

  it("--all refuses (exit 3) while a bucket holds data, naming it, but still stops compute", async () => {
    await world.s3.putObject(ARTIFACTS, "runs/exp-1/checkpoints/phase-0/last.pt", "weights");
    const destroyer = new RecordingDestroyer();
    const io = { ...memoryIo(), stackDestroyer: destroyer };
    expect(await runCli(["down", "--stack", "dev", "--outputs-file", world.outputsFile, "--all", "--yes"], io)).toBe(3);
    expect(destroyer.calls).toEqual([]);
    expect(io.err.join("")).toContain(`bucket ${ARTIFACTS} holds data; copy what you need, then pass --force`);
    expect(asg.desiredCapacity(GROUP)).toBe(0);
  });

  it("--all --force destroys despite data after the user confirms", async () => {
    await world.s3.putObject(DATASETS, "datasets/coco.zip", "zip");
    const destroyer = new RecordingDestroyer();
    const io = { ...memoryIo({ confirm: true }), stackDestroyer: destroyer };
    expect(await runCli(["down", "--stack", "dev", "--outputs-file", world.outputsFile, "--all", "--force"], io)).toBe(0);
    expect(destroyer.calls).toHaveLength(1);
    expect(io.text()).toContain("stack dev destroyed");
  });

  it("--all without confirmation (no terminal, no --yes) refuses with exit 3", async () => {
    const destroyer = new RecordingDestroyer();
    const io = { ...memoryIo({ confirm: false }), stackDestroyer: destroyer };
    expect(await runCli(["down", "--stack", "dev", "--outputs-file", world.outputsFile, "--all"], io)).toBe(3);
    expect(destroyer.calls).toEqual([]);
    expect(io.err.join("")).toContain("not confirmed (pass --yes when there is no terminal)");
  });

  it("--all without a stack name is a usage error (exit 2) and changes nothing", async () => {
    const before = asg.calls.length;
    const io = { ...memoryIo(), stackDestroyer: new RecordingDestroyer() };
    expect(await runCli(["down", "--outputs-file", world.outputsFile, "--all", "--yes"], io)).toBe(2);
    expect(asg.calls.length).toBe(before);
  });

  it("exits 1 with the service's error when the group does not exist", async () => {
    const fs = await import("fs");
    const file = `${world.dir}/other-group.json`;
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(world.outputsFile, "utf8")), autoScalingGroupName: "gone" }));
    const io = memoryIo();
    expect(await runCli(["down", "--outputs-file", file], io)).toBe(1);
    expect(io.err.join("")).toContain("AutoScalingGroup name not found");
  });
});
