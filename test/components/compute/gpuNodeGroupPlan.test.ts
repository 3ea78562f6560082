import type { GpuNodeGroupArgs } from "../../../components/compute/gpuNodeGroup";
import {
  instancesDistributionOf,
  logGroupNameOf,
  resolveGpuNodeGroupSettings,
  runSpecMismatches,
} from "../../../components/compute/gpuNodeGroupPlan";
import type { NodeRole } from "../../../components/compute/nodeRole";
import { ec2TrustPolicy } from "../../../components/iam/trustPolicies";
import { InvalidInputError } from "../../../runspec/problems";
import { parseRunSpec } from "../../../runspec/schema";
import { runSpecDocument } from "../../runspec/experimentConfig";

const runId = "yolov8n-widgets-0123456789";
const spec = parseRunSpec(runSpecDocument({ runId, autoScalingGroupName: `g-${runId}` }));

const args = (extra: Partial<GpuNodeGroupArgs> = {}): GpuNodeGroupArgs => ({
  groupName: `g-${runId}`,
  instanceTypes: ["g5.xlarge"],
  capacity: "spot",
  subnetIds: ["subnet-a"],
  securityGroupIds: ["sg-a"],
  imageUri: "acme/yolo-train:1",
  runSpec: spec,
  datasetMount: { kind: "none" },
  role: { addToPolicy: () => undefined } as unknown as NodeRole,
  ...extra,
});

describe("resolveGpuNodeGroupSettings", () => {
  it("fills in cheap, safe defaults: 1 node, 100 GiB root, 30 days of logs", () => {
    expect(resolveGpuNodeGroupSettings(args())).toEqual({
      groupName: `g-${runId}`,
      instanceTypes: ["g5.xlarge"],
      capacity: "spot",
      desiredNodes: 1,
      initialCapacity: 1,
      rootVolumeGiB: 100,
      logRetentionDays: 30,
      logGroupName: `/yolo-train/g-${runId}`,
      tags: {},
      warnings: [],
    });
    expect(logGroupNameOf("x")).toBe("/yolo-train/x");
  });

  it("gathers every problem into one error naming GpuNodeGroup.<arg>", () => {
    let error: unknown;
    try {
      resolveGpuNodeGroupSettings(args({ instanceTypes: ["G5"], desiredNodes: 1.5, rootVolumeGiB: 20, capacity: "reserved" as never }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems.map((p) => p.key)).toEqual([
      "GpuNodeGroup.instanceTypes",
      "GpuNodeGroup.capacity",
      "GpuNodeGroup.desiredNodes",
      "GpuNodeGroup.rootVolumeGiB",
    ]);
    expect((error as Error).message).toMatch(/^GpuNodeGroup has 4 problems; nothing was created:/);
  });

  it("creates a group that waits at 0 nodes when told (a sweep trial), its maximum still desiredNodes", () => {
    expect(resolveGpuNodeGroupSettings(args({ initialCapacity: 0 }))).toMatchObject({ desiredNodes: 1, initialCapacity: 0 });
    expect(resolveGpuNodeGroupSettings(args({ desiredNodes: 2, initialCapacity: 1 }))).toMatchObject({ desiredNodes: 2, initialCapacity: 1 });
  });

  it.each([-1, 0.5, 2, Number.NaN])("refuses an initial capacity of %s, naming GpuNodeGroup.initialCapacity", (initialCapacity) => {
    expect(() => resolveGpuNodeGroupSettings(args({ initialCapacity }))).toThrow(/GpuNodeGroup\.initialCapacity[\s\S]*a whole number from 0 to desiredNodes \(1\)/);
  });

  it("accepts at most 40 instance types (the mixed instances policy limit)", () => {
    const many = Array.from({ length: 41 }, (_, i) => `g${i}.xlarge`);
    expect(() => resolveGpuNodeGroupSettings(args({ instanceTypes: many }))).toThrow(/1 to 40 distinct/);
    expect(resolveGpuNodeGroupSettings(args({ instanceTypes: many.slice(0, 40) })).instanceTypes).toHaveLength(40);
  });

  it("requires a NodeRole to grant the node's own permissions to", () => {
    expect(() => resolveGpuNodeGroupSettings(args({ role: undefined as unknown as NodeRole }))).toThrow(/GpuNodeGroup\.role[\s\S]*a NodeRole/);
    expect(() => resolveGpuNodeGroupSettings(args({ role: { roleArn: "arn:aws:iam::123456789012:role/r" } as unknown as NodeRole }))).toThrow(
      /GpuNodeGroup\.role.*not a NodeRole/,
    );
  });
});

describe("runSpecMismatches", () => {
  it("finds nothing when the spec names this group", () => {
    expect(runSpecMismatches(spec, args())).toEqual([]);
  });

  it("names a spec for another group, or an invalid spec", () => {
    expect(runSpecMismatches(spec, { ...args(), groupName: "other" }).map((p) => p.key)).toEqual(["GpuNodeGroup.runSpec.autoScalingGroupName"]);
    expect(runSpecMismatches({ ...spec, runId: "BAD" }, args())[0]).toMatchObject({ key: "GpuNodeGroup.runSpec", fix: expect.stringMatching(/runId/) });
  });
});

describe("instancesDistributionOf", () => {
  it.each([
    ["spot", undefined, { onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 0, spotAllocationStrategy: "price-capacity-optimized" }],
    ["spot", 0.75, { onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 0, spotAllocationStrategy: "price-capacity-optimized", spotMaxPrice: "0.75" }],
    ["spot", 3, { onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 0, spotAllocationStrategy: "price-capacity-optimized", spotMaxPrice: "3" }],
    ["on-demand", undefined, { onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 100, onDemandAllocationStrategy: "lowest-price" }],
  ] as const)("buys %s capacity (max spot price %s)", (capacity, price, expected) => {
    expect(instancesDistributionOf(capacity, price)).toEqual(expected);
  });
});

describe("ec2TrustPolicy", () => {
  it("lets EC2, and only EC2, assume the role", () => {
    expect(JSON.parse(ec2TrustPolicy())).toEqual({
      Version: "2012-10-17",
      Statement: [{ Sid: "Ec2AssumeRole", Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    });
  });
});
