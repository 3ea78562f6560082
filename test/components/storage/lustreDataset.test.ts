import { LustreDataset, resolveLustreDatasetArgs, type LustreDatasetArgs } from "../../../components/storage/lustreDataset";
import { InvalidInputError } from "../../../runspec/problems";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";

const args = (extra: Partial<LustreDatasetArgs> = {}): LustreDatasetArgs => ({
  bucketName: "yolo-train-dev-datasets",
  prefix: "datasets/widgets/",
  subnetId: "subnet-a",
  vpcId: "vpc-1",
  nodeSecurityGroupId: "sg-node",
  tags: { team: "vision" },
  ...extra,
});

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "test" });
});

const one = (type: string, name: string) => runtime.single(type, name);

describe("LustreDataset", () => {
  let dataset: LustreDataset;
  beforeAll(async () => {
    dataset = new LustreDataset("data", args());
    await Promise.all([valueOf(dataset.dnsName), valueOf(dataset.securityGroupId), valueOf(dataset.mountName)]);
  });

  it("creates the cheapest file system: SCRATCH_2 at the 1200 GiB minimum, in one subnet", () => {
    const fs = one("aws:fsx/lustreFileSystem:LustreFileSystem", "data-fs").inputs;
    expect(fs.deploymentType).toBe("SCRATCH_2");
    expect(fs.storageCapacity).toBe(1200);
    expect(fs.subnetIds).toBe("subnet-a");
    expect(fs.tags).toEqual({ team: "vision" });
  });

  it("links the dataset prefix and imports S3 changes automatically", () => {
    const fs = one("aws:fsx/lustreFileSystem:LustreFileSystem", "data-fs").inputs;
    expect(fs.importPath).toBe("s3://yolo-train-dev-datasets/datasets/widgets/");
    expect(fs.autoImportPolicy).toBe("NEW_CHANGED_DELETED");
    expect(fs.exportPath).toBeUndefined();
  });

  it("lets only the GPU nodes and the file servers themselves speak Lustre (TCP 988, 1018-1023)", async () => {
    const sg = one("aws:ec2/securityGroup:SecurityGroup", "data-lustre").inputs;
    expect(sg.vpcId).toBe("vpc-1");
    for (const rules of [sg.ingress, sg.egress]) {
      expect(rules.map((r: any) => [r.protocol, r.fromPort, r.toPort, r.self, r.securityGroups])).toEqual([
        ["tcp", 988, 988, true, ["sg-node"]],
        ["tcp", 1018, 1023, true, ["sg-node"]],
      ]);
      expect(rules.some((r: any) => r.cidrBlocks !== undefined)).toBe(false);
    }
    const fs = one("aws:fsx/lustreFileSystem:LustreFileSystem", "data-fs").inputs;
    expect(fs.securityGroupIds).toEqual([await valueOf(dataset.securityGroupId)]);
  });

  it("exposes what the node group mounts and where it must run", async () => {
    expect(await valueOf(dataset.dnsName)).toMatch(/^fs-.*\.fsx\.us-east-1\.amazonaws\.com$/);
    expect(await valueOf(dataset.mountName)).toBe("abcdefgh");
    expect(await valueOf(dataset.subnetId)).toBe("subnet-a");
    expect(await valueOf(dataset.fileSystemId)).toBe("data-fs-id");
  });

  it("parents its children to the component", () => {
    const component = runtime.ofType("yolo-train:storage:LustreDataset").find((r) => r.name === "data")!;
    expect(runtime.childrenOf(component.urn).map((r) => r.name).sort()).toEqual(["data-fs", "data-lustre"]);
  });

  it.each([[1200], [2400], [4800]])("accepts %i GiB", (capacity) => {
    expect(resolveLustreDatasetArgs(args({ storageCapacityGiB: capacity }))).toBe(capacity);
  });

  it.each<[string, Partial<LustreDatasetArgs>, RegExp]>([
    ["a size SCRATCH_2 does not offer", { storageCapacityGiB: 3600 }, /LustreDataset\.storageCapacityGiB/],
    ["less than the minimum", { storageCapacityGiB: 600 }, /LustreDataset\.storageCapacityGiB/],
    ["a prefix without its slash", { prefix: "datasets/widgets" }, /LustreDataset\.prefix/],
    ["no subnet", { subnetId: "" }, /LustreDataset\.subnetId/],
  ])("refuses %s before creating anything", (_what, change, message) => {
    const before = runtime.resources.length;
    expect(() => new LustreDataset("bad", args(change))).toThrow(message);
    expect(() => new LustreDataset("bad", args(change))).toThrow(InvalidInputError);
    expect(runtime.resources.length).toBe(before);
  });
});
