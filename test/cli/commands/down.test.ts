import { DeleteBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { writeFileSync } from "fs";
import type { DestroyInput, StackDestroyer } from "../../../cli/stackAutomation";
import { AutoScalingFake } from "../../agent/fakes/autoScalingFake";
import { VersionedS3Fake } from "../../fakes/versionedS3Fake";
import { ARTIFACTS, DATASETS, GROUP, OperateWorld, STACK_OUTPUTS, memoryIo, runCli } from "./operateHarness";

const OTA = "yolo-ota-test";
const BUCKETS = [ARTIFACTS, DATASETS, OTA];

/**
 * Destroys the stack's buckets the way `pulumi destroy` does with `forceDestroy` off: a plain
 * DeleteBucket each, which S3 refuses while any version or delete marker remains.
 */
class BucketDeletingDestroyer implements StackDestroyer {
  readonly calls: DestroyInput[] = [];
  constructor(
    private readonly endpoint: () => string,
    private readonly buckets: readonly string[] = BUCKETS,
  ) {}
  async destroy(input: DestroyInput): Promise<void> {
    this.calls.push(input);
    const s3 = new S3Client({ region: "us-east-1", endpoint: this.endpoint(), forcePathStyle: true, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } });
    try {
      for (const bucket of this.buckets) {
        await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
        input.onOutput(` - aws:s3/bucket:Bucket ${bucket} deleted\n`);
      }
    } finally {
      s3.destroy();
    }
  }
}

let world: OperateWorld;
let asg: AutoScalingFake;
let s3: VersionedS3Fake;
let outputsFile: string;
let destroyer: BucketDeletingDestroyer;
beforeAll(async () => {
  world = await OperateWorld.start();
  asg = await AutoScalingFake.start();
  outputsFile = `${world.dir}/outputs-with-ota.json`;
  writeFileSync(outputsFile, JSON.stringify({ ...STACK_OUTPUTS, otaBucketName: OTA }));
});
afterAll(async () => {
  await asg.close();
  await world.close();
});
beforeEach(async () => {
  s3 = await VersionedS3Fake.start();
  for (const bucket of BUCKETS) s3.createBucket(bucket);
  world.setEnv({ AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_ENDPOINT_URL_AUTO_SCALING: asg.endpoint, PULUMI_STACK: undefined });
  asg.addGroup(GROUP, ["i-0aaa"]);
  destroyer = new BucketDeletingDestroyer(() => s3.endpoint);
});
afterEach(async () => {
  await s3.close();
});

const updates = (): Array<Readonly<Record<string, string>>> => asg.calls.filter((c) => c.action === "UpdateAutoScalingGroup").map((c) => c.params);
const s3Operations = (): string[] => s3.calls.map((c) => c.operation);
const down = (...args: string[]): string[] => ["down", "--outputs-file", outputsFile, ...args];

/** A checkpoint bucket as a run leaves it: objects overwritten (old versions) and deleted (markers). */
function fillArtifacts(): void {
  s3.putVersion(ARTIFACTS, "runs/exp-1/checkpoints/phase-0/last.pt", "epoch 1");
  s3.putVersion(ARTIFACTS, "runs/exp-1/checkpoints/phase-0/last.pt", "epoch 2");
  s3.putVersion(ARTIFACTS, "runs/exp-1/run.json", "{}");
  s3.deleteMarker(ARTIFACTS, "runs/exp-1/run.json");
}

describe("yolo-train down", () => {
  it("sets the node group's MinSize and DesiredCapacity to 0 with a signed call, and touches no bucket", async () => {
    const io = { ...memoryIo(), stackDestroyer: destroyer };
    const before = updates().length;
    expect(await runCli(down(), io)).toBe(0);
    expect(updates().slice(before)).toEqual([{ AutoScalingGroupName: GROUP, MinSize: "0", DesiredCapacity: "0" }]);
    expect(asg.calls.at(-1)!.signed).toBe(true);
    expect(asg.desiredCapacity(GROUP)).toBe(0);
    expect(asg.minSize(GROUP)).toBe(0);
    expect(destroyer.calls).toEqual([]);
    expect(s3.calls).toEqual([]);
    expect(io.text()).toContain(`node group ${GROUP}: MinSize 0, DesiredCapacity 0`);
  });

  it("--all --yes destroys the stack through the adapter when the three buckets hold nothing", async () => {
    const io = { ...memoryIo({ cwd: "/projects/yolo" }), stackDestroyer: destroyer };
    expect(await runCli(down("--stack", "dev", "--all", "--yes", "--json"), io)).toBe(0);
    expect(destroyer.calls.map((c) => ({ stackName: c.stackName, workDir: c.workDir }))).toEqual([{ stackName: "dev", workDir: "/projects/yolo" }]);
    expect(io.err.join("")).toContain(`aws:s3/bucket:Bucket ${OTA} deleted`);
    expect(JSON.parse(io.text())).toEqual({ scaledToZero: GROUP, destroyed: true, bucketsWithData: [] });
    expect(s3.bucketNames()).toEqual([]);
  });

  it("--all refuses (exit 3) while a bucket holds only old versions and a delete marker, which a plain listing would miss", async () => {
    fillArtifacts();
    s3.deleteMarker(ARTIFACTS, "runs/exp-1/checkpoints/phase-0/last.pt");
    const io = { ...memoryIo(), stackDestroyer: destroyer };
    expect(await runCli(down("--stack", "dev", "--all", "--yes"), io)).toBe(3);
    expect(destroyer.calls).toEqual([]);
    expect(io.err.join("")).toContain(`bucket ${ARTIFACTS} holds data; copy what you need, then pass --force`);
    expect(s3.versions(ARTIFACTS)).toHaveLength(5);
    expect(s3Operations()).not.toContain("DeleteObjects");
    expect(asg.desiredCapacity(GROUP)).toBe(0);
  });

  it("--all names every bucket with data, the OTA bucket's released models included", async () => {
    fillArtifacts();
    s3.putVersion(OTA, "models/widgets/versions/0000000001/model.onnx", "onnx");
    const io = { ...memoryIo(), stackDestroyer: destroyer };
    expect(await runCli(down("--stack", "dev", "--all", "--yes", "--json"), io)).toBe(3);
    expect(JSON.parse(io.text())).toMatchObject({ destroyed: false, bucketsWithData: [ARTIFACTS, OTA] });
    expect(io.err.join("")).toContain(`buckets ${ARTIFACTS}, ${OTA} hold data`);
  });

  it("--all --force waits for the last instance to terminate, deletes every version and marker, then destroys", async () => {
    fillArtifacts();
    s3.putVersion(OTA, "models/widgets/versions/0000000001/model.onnx", "onnx");
    asg.slowTermination(GROUP, 2);
    const deletesWhileNodeRan: number[] = [];
    const io = {
      ...memoryIo({ confirm: true, onSleep: () => void deletesWhileNodeRan.push(s3Operations().filter((o) => o === "DeleteObjects").length) }),
      stackDestroyer: destroyer,
    };
    expect(await runCli(down("--stack", "dev", "--all", "--force", "--json"), io)).toBe(0);
    expect(io.sleeps).toEqual([10_000, 10_000]);
    expect(deletesWhileNodeRan).toEqual([0, 0]);
    expect(io.err.join("")).toContain("waiting for i-0aaa to terminate before deleting data");
    expect(JSON.parse(io.text())).toEqual({ scaledToZero: GROUP, destroyed: true, bucketsWithData: [ARTIFACTS, OTA], emptied: { [ARTIFACTS]: 4, [OTA]: 1 } });
    expect(s3.bucketNames()).toEqual([]);
  });

  it("--all --force empties a bucket of more versions than one listing returns", async () => {
    for (let i = 0; i < 1203; i++) s3.putVersion(DATASETS, `datasets/widgets/images/${String(i % 400).padStart(4, "0")}.jpg`, "jpeg");
    const io = { ...memoryIo(), stackDestroyer: destroyer };
    expect(await runCli(down("--stack", "dev", "--all", "--force", "--yes"), io)).toBe(0);
    expect(s3Operations().filter((o) => o === "DeleteObjects")).toHaveLength(2);
    expect(io.text()).toContain(`bucket ${DATASETS}: deleted 1203 object versions`);
    expect(destroyer.calls).toHaveLength(1);
  });

  it("--all --force does not destroy when S3 refuses to delete some versions, and names them (exit 1)", async () => {
    fillArtifacts();
    s3.failDeletesOf(ARTIFACTS, "runs/exp-1/run.json");
    const io = { ...memoryIo(), stackDestroyer: destroyer };
    expect(await runCli(down("--stack", "dev", "--all", "--force", "--yes"), io)).toBe(1);
    expect(destroyer.calls).toEqual([]);
    const message = io.err.join("");
    expect(message).toContain(`could not delete 2 object versions in bucket ${ARTIFACTS}`);
    expect(message).toMatch(/runs\/exp-1\/run\.json \(version \S+\): AccessDenied/);
    expect(message).toContain("The stack was not destroyed");
    expect(s3.versions(ARTIFACTS).map((v) => v.key)).toEqual(["runs/exp-1/run.json", "runs/exp-1/run.json"]);
  });

  it("--all --force gives up after --drain-timeout while an instance lingers, deleting nothing (exit 1)", async () => {
    fillArtifacts();
    asg.slowTermination(GROUP, 1000);
    let clock = Date.parse("2026-11-29T12:00:00Z");
    const io = { ...memoryIo(), now: () => clock, sleep: async (ms: number) => void (clock += ms), stackDestroyer: destroyer };
    expect(await runCli(down("--stack", "dev", "--all", "--force", "--yes", "--drain-timeout", "2"), io)).toBe(1);
    expect(io.err.join("")).toContain(`node group ${GROUP} still has instance i-0aaa after 2 min; nothing was deleted`);
    expect(s3Operations()).not.toContain("DeleteObjects");
    expect(destroyer.calls).toEqual([]);
  });

  it("--all --force leaves a shared OTA bucket alone: it is not among the stack's own buckets", async () => {
    const sharedFile = `${world.dir}/outputs-shared-ota.json`;
    writeFileSync(sharedFile, JSON.stringify({ ...STACK_OUTPUTS, otaBucketName: OTA, ownedBucketNames: [ARTIFACTS, DATASETS] }));
    s3.putVersion(OTA, "models/widgets/versions/0000000001/model.onnx", "a release edge boxes run");
    fillArtifacts();
    const io = { ...memoryIo(), stackDestroyer: new BucketDeletingDestroyer(() => s3.endpoint, [ARTIFACTS, DATASETS]) };
    expect(await runCli(["down", "--outputs-file", sharedFile, "--stack", "dev", "--all", "--force", "--yes", "--json"], io)).toBe(0);
    expect(JSON.parse(io.text())).toMatchObject({ destroyed: true, bucketsWithData: [ARTIFACTS], emptied: { [ARTIFACTS]: 4 } });
    expect(s3.versions(OTA)).toHaveLength(1);
    expect(s3.calls.filter((c) => c.bucket === OTA)).toEqual([]);
  });

  it.each([["0"], ["soon"]])("rejects --drain-timeout %s as a usage error (exit 2) before doing anything", async (value) => {
    const before = asg.calls.length;
    const io = { ...memoryIo(), stackDestroyer: destroyer };
    expect(await runCli(down("--stack", "dev", "--all", "--force", "--drain-timeout", value), io)).toBe(2);
    expect(io.err.join("")).toMatch(/--drain-timeout.*must be a number of minutes above 0/);
    expect(asg.calls.length).toBe(before);
  });

  it("--all without confirmation (no terminal, no --yes) refuses with exit 3", async () => {
    const io = { ...memoryIo({ confirm: false }), stackDestroyer: destroyer };
    expect(await runCli(down("--stack", "dev", "--all"), io)).toBe(3);
    expect(destroyer.calls).toEqual([]);
    expect(io.err.join("")).toContain("not confirmed (pass --yes when there is no terminal)");
  });

  it("--all without a stack name is a usage error (exit 2) and changes nothing", async () => {
    const before = asg.calls.length;
    const io = { ...memoryIo(), stackDestroyer: destroyer };
    expect(await runCli(down("--all", "--yes"), io)).toBe(2);
    expect(asg.calls.length).toBe(before);
  });

  it("exits 1 with the service's error when the group does not exist", async () => {
    const file = `${world.dir}/other-group.json`;
    writeFileSync(file, JSON.stringify({ ...STACK_OUTPUTS, autoScalingGroupName: "gone" }));
    const io = memoryIo();
    expect(await runCli(["down", "--outputs-file", file], io)).toBe(1);
    expect(io.err.join("")).toContain("AutoScalingGroup name not found");
  });
});
