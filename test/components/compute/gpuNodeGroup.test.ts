import * as pulumi from "@pulumi/pulumi";
import { DLAMI_SSM_PARAMETER } from "../../../components/compute/dlami";
import { GpuNodeGroup, type GpuNodeGroupArgs } from "../../../components/compute/gpuNodeGroup";
import { datasetReadStatements, imagePullStatements, modelPublishStatements, releaseSignStatements, runArtifactStatements } from "../../../components/iam/grantStatements";
import { NodeRole } from "../../../components/compute/nodeRole";
import { nodeRolePolicyDocument } from "../../../components/iam/nodeRolePolicy";
import { renderNodeUserData } from "../../../components/compute/nodeUserData";
import { InvalidInputError } from "../../../runspec/problems";
import { FAKE_ACCOUNT_ID } from "../../../offline/fakeAws";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";
import { parseRunSpec, type RunSpec } from "../../../runspec/schema";
import { runSpecDocument } from "../../runspec/experimentConfig";

const IMAGE = `${FAKE_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/yolo-train@sha256:${"b".repeat(64)}`;

function specFor(runId: string): RunSpec {
  return parseRunSpec(runSpecDocument({ runId, autoScalingGroupName: `yolo-train-test-${runId}`, artifacts: { bucket: "yolo-train-dev-artifacts", prefix: `runs/${runId}/` } }));
}

const SIGNING_KEY_ARN = `arn:aws:kms:us-east-1:${FAKE_ACCOUNT_ID}:key/0a1b2c3d-1111-2222-3333-444455556666`;
const REPOSITORY_ARN = `arn:aws:ecr:us-east-1:${FAKE_ACCOUNT_ID}:repository/yolo-train`;

/** A node role with what a run grants it (the dataset's read unless `dataset` is false). */
function grantedRole(name: string, runId: string, { dataset = true } = {}): NodeRole {
  const role = new NodeRole(name);
  if (dataset) role.addToPolicy(datasetReadStatements("arn:aws:s3:::yolo-train-dev-datasets", "datasets/widgets/"));
  role.addToPolicy(runArtifactStatements("arn:aws:s3:::yolo-train-dev-artifacts", `runs/${runId}/`));
  role.addToPolicy(modelPublishStatements("arn:aws:s3:::yolo-train-dev-ota", "models/widgets/"));
  role.addToPolicy(releaseSignStatements(SIGNING_KEY_ARN));
  role.addToPolicy(imagePullStatements(REPOSITORY_ARN));
  return role;
}

/** A role-like value for argument checks: registers nothing. */
const UNUSED_ROLE = { addToPolicy: () => undefined } as unknown as NodeRole;

function argsFor(runId: string, extra: Partial<GpuNodeGroupArgs> = {}): GpuNodeGroupArgs {
  return {
    groupName: `yolo-train-test-${runId}`,
    instanceTypes: ["g4dn.xlarge", "g5.xlarge", "g6.xlarge"],
    capacity: "spot",
    subnetIds: ["subnet-a", "subnet-b"],
    securityGroupIds: ["sg-node"],
    imageUri: IMAGE,
    runSpec: specFor(runId),
    datasetMount: { kind: "mountpoint", bucketName: "yolo-train-dev-datasets", prefix: "datasets/widgets/" },
    role: UNUSED_ROLE,
    tags: { team: "vision" },
    ...extra,
  };
}

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "test" });
});

const one = (type: string, name: string) => runtime.single(type, name);

/** Builds the group; a role left out (`UNUSED_ROLE`) is a NodeRole `<name>-role` with the run's grants. */
async function build(name: string, args: GpuNodeGroupArgs): Promise<GpuNodeGroup> {
  const runId = (await valueOf(pulumi.output(args.runSpec))).runId;
  const role = args.role === UNUSED_ROLE ? grantedRole(`${name}-role`, runId) : args.role;
  const group = new GpuNodeGroup(name, { ...args, role });
  await Promise.all([
    valueOf(group.groupArn),
    valueOf(group.launchTemplateId),
    valueOf(group.instanceProfileArn),
    valueOf(group.roleName),
    valueOf(group.logGroupName),
  ]);
  return group;
}

describe("GpuNodeGroup (spot, Mountpoint dataset, ECR image)", () => {
  const runId = "yolov8n-widgets-0123456789";
  const groupName = `yolo-train-test-${runId}`;
  let group: GpuNodeGroup;
  beforeAll(async () => {
    group = await build("spot", argsFor(runId, { role: grantedRole("spot-role", runId) }));
  });

  it("exposes the group's name and ARN, the template, role, profile and log group", async () => {
    expect(await valueOf(group.groupName)).toBe(groupName);
    expect(await valueOf(group.groupArn)).toMatch(new RegExp(`:autoScalingGroupName/${groupName}$`));
    expect(await valueOf(group.launchTemplateId)).toBe("spot-lt-id");
    expect(await valueOf(group.roleArn)).toMatch(/^arn:aws:iam::123456789012:role\//);
    expect(await valueOf(group.roleName)).toBe("spot-role-0a1b2c3");
    expect(await valueOf(group.instanceProfileArn)).toMatch(/:instance-profile\//);
    expect(await valueOf(group.logGroupName)).toBe(`/yolo-train/${groupName}`);
  });

  it("requires IMDSv2 with a hop limit of 2 for the container", () => {
    expect(one("aws:ec2/launchTemplate:LaunchTemplate", "spot-lt").inputs.metadataOptions).toEqual({
      httpEndpoint: "enabled",
      httpTokens: "required",
      httpPutResponseHopLimit: 2,
      instanceMetadataTags: "disabled",
    });
  });

  it("has no key pair and terminates on shutdown", () => {
    const lt = one("aws:ec2/launchTemplate:LaunchTemplate", "spot-lt").inputs;
    expect(lt.keyName).toBeUndefined();
    expect(lt.instanceInitiatedShutdownBehavior).toBe("terminate");
  });

  it("boots the Deep Learning AMI from its public SSM parameter", () => {
    expect(one("aws:ec2/launchTemplate:LaunchTemplate", "spot-lt").inputs.imageId).toBe("ami-0dla0base0gpu0al23");
    expect(runtime.cloud.invokes.filter((i) => i.token === "aws:ssm/getParameter:getParameter").map((i) => i.inputs.name)).toContain(DLAMI_SSM_PARAMETER);
    expect(runtime.cloud.unknownInvokes).toEqual([]);
  });

  it("gives the node an encrypted gp3 root volume, deleted with it", () => {
    expect(one("aws:ec2/launchTemplate:LaunchTemplate", "spot-lt").inputs.blockDeviceMappings).toEqual([
      { deviceName: "/dev/xvda", ebs: { volumeSize: 100, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } },
    ]);
  });

  it("gives the node a public IP and the node security groups", () => {
    expect(one("aws:ec2/launchTemplate:LaunchTemplate", "spot-lt").inputs.networkInterfaces).toEqual([
      { deviceIndex: 0, associatePublicIpAddress: "true", deleteOnTermination: "true", securityGroups: ["sg-node"] },
    ]);
  });

  it("uses the instance profile of a role only EC2 may assume", async () => {
    const lt = one("aws:ec2/launchTemplate:LaunchTemplate", "spot-lt").inputs;
    expect(lt.iamInstanceProfile).toEqual({ arn: await valueOf(group.instanceProfileArn) });
    expect(one("aws:iam/instanceProfile:InstanceProfile", "spot-role-profile").inputs.role).toBe("spot-role-0a1b2c3");
    const trust = JSON.parse(one("aws:iam/role:Role", "spot-role").inputs.assumeRolePolicy);
    expect(trust.Statement).toEqual([{ Sid: "Ec2AssumeRole", Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }]);
  });

  it("attaches the node policy built for this group, run, log group and account", () => {
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "spot-role-policy").inputs.policy);
    const bySid = (doc: { Statement: { Sid: string }[] }) => [...doc.Statement].sort((a, b) => a.Sid.localeCompare(b.Sid));
    expect(bySid(policy)).toEqual(
      bySid(nodeRolePolicyDocument({
        partition: "aws",
        region: "us-east-1",
        accountId: FAKE_ACCOUNT_ID,
        autoScalingGroupName: groupName,
        logGroupArn: `arn:aws:logs:us-east-1:${FAKE_ACCOUNT_ID}:log-group:/yolo-train/${groupName}`,
        dataset: { bucketArn: "arn:aws:s3:::yolo-train-dev-datasets", prefix: "datasets/widgets/" },
        artifactBucketArn: "arn:aws:s3:::yolo-train-dev-artifacts",
        artifactPrefix: `runs/${runId}/`,
        otaBucketArn: "arn:aws:s3:::yolo-train-dev-ota",
        otaPrefix: "models/widgets/",
        signingKeyArn: SIGNING_KEY_ARN,
        ecrRepositoryArn: REPOSITORY_ARN,
      }) as unknown as { Statement: { Sid: string }[] }),
    );
    const terminate = policy.Statement.find((s: any) => s.Sid === "TerminateSelfInGroup");
    expect(terminate.Resource).toBe(`arn:aws:autoscaling:us-east-1:${FAKE_ACCOUNT_ID}:autoScalingGroup:*:autoScalingGroupName/${groupName}`);
    expect(one("aws:iam/rolePolicy:RolePolicy", "spot-role-policy").inputs.role).toBe("spot-role-0a1b2c3");
  });

  it("attaches AmazonSSMManagedInstanceCore for Session Manager", () => {
    expect(one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "spot-role-ssm").inputs).toMatchObject({
      role: "spot-role-0a1b2c3",
      policyArn: "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    });
  });

  it("creates the run's log group with 30 days of retention", () => {
    expect(one("aws:cloudwatch/logGroup:LogGroup", "spot-logs").inputs).toMatchObject({ name: `/yolo-train/${groupName}`, retentionInDays: 30, tags: { team: "vision" } });
  });

  it("passes user data that decodes to the rendered bootstrap", () => {
    const userData = one("aws:ec2/launchTemplate:LaunchTemplate", "spot-lt").inputs.userData;
    const script = Buffer.from(userData, "base64").toString("utf8");
    expect(script).toBe(
      renderNodeUserData({
        runSpec: specFor(runId),
        imageUri: IMAGE,
        logGroupName: `/yolo-train/${groupName}`,
        datasetMount: { kind: "mountpoint", bucketName: "yolo-train-dev-datasets", prefix: "datasets/widgets/" },
      }),
    );
  });

  it("tags instances and volumes with the stack and run id for cost allocation", () => {
    const expected = { team: "vision", Name: groupName, "yolo-train:stack": "test", "yolo-train:run-id": runId };
    expect(one("aws:ec2/launchTemplate:LaunchTemplate", "spot-lt").inputs.tagSpecifications).toEqual([
      { resourceType: "instance", tags: expected },
      { resourceType: "volume", tags: expected },
    ]);
    const asgTags = one("aws:autoscaling/group:Group", "spot-asg").inputs.tags;
    expect(asgTags).toEqual(Object.entries(expected).map(([key, value]) => ({ key, value, propagateAtLaunch: true })));
  });

  it("names the group explicitly and sizes it min 0, desired = max = 1", () => {
    const asg = one("aws:autoscaling/group:Group", "spot-asg").inputs;
    expect(asg.name).toBe(groupName);
    expect(asg.minSize).toBe(0);
    expect(asg.maxSize).toBe(1);
    expect(asg.desiredCapacity).toBe(1);
    expect(asg.vpcZoneIdentifiers).toEqual(["subnet-a", "subnet-b"]);
    expect(asg.waitForCapacityTimeout).toBe("0");
  });

  it("buys all-spot, price-capacity-optimized, over every instance type, with capacity rebalancing", () => {
    const asg = one("aws:autoscaling/group:Group", "spot-asg").inputs;
    expect(asg.capacityRebalance).toBe(true);
    expect(asg.mixedInstancesPolicy.instancesDistribution).toEqual({
      onDemandBaseCapacity: 0,
      onDemandPercentageAboveBaseCapacity: 0,
      spotAllocationStrategy: "price-capacity-optimized",
    });
    expect(asg.mixedInstancesPolicy.launchTemplate).toEqual({
      launchTemplateSpecification: { launchTemplateId: "spot-lt-id", version: "1" },
      overrides: [{ instanceType: "g4dn.xlarge" }, { instanceType: "g5.xlarge" }, { instanceType: "g6.xlarge" }],
    });
  });

  it("enables the group metrics the dashboard reads", () => {
    const asg = one("aws:autoscaling/group:Group", "spot-asg").inputs;
    expect(asg.enabledMetrics).toEqual(expect.arrayContaining(["GroupDesiredCapacity", "GroupInServiceInstances"]));
    expect(asg.metricsGranularity).toBe("1Minute");
  });

  it("ignores desired capacity after creation, so a finished run is not relaunched", () => {
    expect(one("aws:autoscaling/group:Group", "spot-asg").ignoreChanges).toEqual(["desiredCapacity"]);
  });

  it("creates the group only after the node's policy, SSM attachment and log group", () => {
    const deps = one("aws:autoscaling/group:Group", "spot-asg").dependencies;
    for (const [type, name] of [
      ["aws:iam/rolePolicy:RolePolicy", "spot-role-policy"],
      ["aws:iam/rolePolicyAttachment:RolePolicyAttachment", "spot-role-ssm"],
      ["aws:cloudwatch/logGroup:LogGroup", "spot-logs"],
    ] as const) {
      expect(deps).toContain(one(type, name).urn);
    }
  });

  it("parents its children to the component, and the role's to the NodeRole", () => {
    const childrenOf = (type: string, name: string): string[] => {
      const component = runtime.ofType(type).find((r) => r.name === name)!;
      return runtime.childrenOf(component.urn).map((r) => `${r.type}::${r.name}`).sort();
    };
    expect(childrenOf("yolo-train:compute:GpuNodeGroup", "spot")).toEqual(
      ["aws:autoscaling/group:Group::spot-asg", "aws:cloudwatch/logGroup:LogGroup::spot-logs", "aws:ec2/launchTemplate:LaunchTemplate::spot-lt"].sort(),
    );
    expect(childrenOf("yolo-train:compute:NodeRole", "spot-role")).toEqual(
      [
        "aws:iam/instanceProfile:InstanceProfile::spot-role-profile",
        "aws:iam/role:Role::spot-role",
        "aws:iam/rolePolicy:RolePolicy::spot-role-policy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment::spot-role-ssm",
      ].sort(),
    );
  });
});

describe("GpuNodeGroup variants", () => {
  it("buys all on-demand at the lowest price, without rebalancing, ignoring a spot price with a warning", async () => {
    const warn = jest.spyOn(pulumi.log, "warn").mockImplementation(async () => undefined);
    const runId = "yolov8n-widgets-1111111111";
    await build("ondemand", argsFor(runId, { capacity: "on-demand", maxSpotPrice: 2 }));
    const asg = one("aws:autoscaling/group:Group", "ondemand-asg").inputs;
    expect(asg.capacityRebalance).toBe(false);
    expect(asg.mixedInstancesPolicy.instancesDistribution).toEqual({
      onDemandBaseCapacity: 0,
      onDemandPercentageAboveBaseCapacity: 100,
      onDemandAllocationStrategy: "lowest-price",
    });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/maxSpotPrice \(2\) is ignored/), expect.anything());
    warn.mockRestore();
  });

  it("caps the spot price when maxSpotPrice is set", async () => {
    const runId = "yolov8n-widgets-2222222222";
    await build("capped", argsFor(runId, { maxSpotPrice: 1.25 }));
    expect(one("aws:autoscaling/group:Group", "capped-asg").inputs.mixedInstancesPolicy.instancesDistribution.spotMaxPrice).toBe("1.25");
  });

  it("sizes the group to desiredNodes and the root volume to rootVolumeGiB", async () => {
    const warn = jest.spyOn(pulumi.log, "warn").mockImplementation(async () => undefined);
    const runId = "yolov8n-widgets-3333333333";
    await build("two", argsFor(runId, { desiredNodes: 2, rootVolumeGiB: 200, logRetentionDays: 7 }));
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/desiredNodes is 2: every node runs the same run spec/), expect.anything());
    warn.mockRestore();
    const asg = one("aws:autoscaling/group:Group", "two-asg").inputs;
    expect([asg.minSize, asg.desiredCapacity, asg.maxSize]).toEqual([0, 2, 2]);
    expect(one("aws:ec2/launchTemplate:LaunchTemplate", "two-lt").inputs.blockDeviceMappings[0].ebs.volumeSize).toBe(200);
    expect(one("aws:cloudwatch/logGroup:LogGroup", "two-logs").inputs.retentionInDays).toBe(7);
  });

  it("mounts FSx for Lustre from outputs and grants no dataset bucket access", async () => {
    const runId = "yolov8n-widgets-4444444444";
    await build(
      "fsx",
      argsFor(runId, {
        subnetIds: ["subnet-a"],
        datasetMount: { kind: "fsx-lustre", dnsName: pulumi.output("fs-1.fsx.us-east-1.amazonaws.com"), mountName: pulumi.output("abcdefgh") },
        role: grantedRole("fsx-role", runId, { dataset: false }),
      }),
    );
    const script = Buffer.from(one("aws:ec2/launchTemplate:LaunchTemplate", "fsx-lt").inputs.userData, "base64").toString("utf8");
    expect(script).toContain("readonly FSX_DNS_NAME='fs-1.fsx.us-east-1.amazonaws.com'");
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "fsx-role-policy").inputs.policy);
    expect(policy.Statement.map((s: any) => s.Sid)).not.toContain("ReadDataset");
  });

  it("accepts the run spec as an output", async () => {
    const runId = "yolov8n-widgets-5555555555";
    await build("output-spec", argsFor(runId, { runSpec: pulumi.output(specFor(runId)) }));
    const tags = one("aws:ec2/launchTemplate:LaunchTemplate", "output-spec-lt").inputs.tagSpecifications[0].tags;
    expect(tags["yolo-train:run-id"]).toBe(runId);
  });

  it.each<[string, Partial<GpuNodeGroupArgs>, RegExp]>([
    ["a group name with a colon", { groupName: "a:b" }, /GpuNodeGroup\.groupName/],
    ["no instance types", { instanceTypes: [] }, /GpuNodeGroup\.instanceTypes/],
    ["a repeated instance type", { instanceTypes: ["g5.xlarge", "g5.xlarge"] }, /repeated: g5\.xlarge/],
    ["zero nodes", { desiredNodes: 0 }, /GpuNodeGroup\.desiredNodes/],
    ["a root volume smaller than the AMI", { rootVolumeGiB: 50 }, /GpuNodeGroup\.rootVolumeGiB.*75/],
    ["a retention CloudWatch does not offer", { logRetentionDays: 10 }, /GpuNodeGroup\.logRetentionDays/],
    ["no subnets", { subnetIds: [] }, /GpuNodeGroup\.subnetIds/],
    ["a negative spot price", { maxSpotPrice: -1 }, /GpuNodeGroup\.maxSpotPrice/],
    ["a Mountpoint prefix without its slash", { datasetMount: { kind: "mountpoint", bucketName: "b", prefix: "datasets/widgets" } }, /GpuNodeGroup\.datasetMount\.prefix/],
    ["a run spec naming another group", { groupName: "yolo-train-test-other" }, /GpuNodeGroup\.runSpec\.autoScalingGroupName/],
    ["a tag key in the aws: namespace", { tags: { "aws:cost": "x" } }, /GpuNodeGroup\.tags/],
  ])("refuses %s before creating anything", (_what, change, message) => {
    const before = runtime.resources.length;
    const runId = "yolov8n-widgets-6666666666";
    expect(() => new GpuNodeGroup("bad", argsFor(runId, change))).toThrow(message);
    expect(() => new GpuNodeGroup("bad", argsFor(runId, change))).toThrow(InvalidInputError);
    expect(runtime.resources.length).toBe(before);
  });

  it("refuses a role that is not a NodeRole, with the other problems, before creating anything", () => {
    const runId = "yolov8n-widgets-7777777777";
    const before = runtime.resources.length;
    expect(() => new GpuNodeGroup("bad2", argsFor(runId, { role: undefined as unknown as NodeRole, instanceTypes: [] }))).toThrow(
      /2 problems[\s\S]*GpuNodeGroup\.instanceTypes[\s\S]*GpuNodeGroup\.role/,
    );
    expect(runtime.resources.length).toBe(before);
  });

  it("refuses a grant once the group has attached the role's policy", async () => {
    const runId = "yolov8n-widgets-8888888888";
    const role = grantedRole("late-role", runId);
    await build("late", argsFor(runId, { role }));
    expect(() => role.addToPolicy(releaseSignStatements(SIGNING_KEY_ARN))).toThrow(/NodeRole "late-role": its policy is already attached[\s\S]*before creating the group/);
  });

});
