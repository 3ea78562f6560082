import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { InvalidInputError } from "../../runspec/problems";
import { DLAMI_ROOT_DEVICE_NAME, DLAMI_SSM_PARAMETER } from "./dlami";
import type { GpuNodeDatasetMount, GpuNodeGroupArgs } from "./gpuNodeGroupArgs";
import {
  GROUP_METRICS,
  instancesDistributionOf,
  resolveGpuNodeGroupSettings,
  runSpecMismatches,
} from "./gpuNodeGroupPlan";
import { nodeSelfStatements } from "../iam/nodeRolePolicy";
import { renderNodeUserData, type DatasetMountSpec } from "./nodeUserData";
import { autoName, NAME_RULES } from "../naming/physicalNames";

export { DLAMI_SSM_PARAMETER };
export type { GpuNodeDatasetMount, GpuNodeGroupArgs };

/**
 * The GPU node group of one run: a launch template (Deep Learning AMI, IMDSv2, encrypted gp3
 * root, no key pair, user data that mounts the dataset, starts GPU metrics and runs the image)
 * and an Auto Scaling group (min 0, max = nodes, desired = nodes or `initialCapacity`, spot or on-demand over several
 * instance types), with the run's log group. The nodes' role is a {@link NodeRole} the caller
 * grants first; the group adds the node's own permissions, attaches the role's policy and
 * launches nothing before it is attached.
 *
 * @example
 * // One run's nodes on parts a platform team already has (a Fleet, or its pieces).
 * import { GpuNodeGroup, NodeRole } from "yolo-train";
 * import { buildRunSpec } from "yolo-train/runspec";
 *
 * const role = new NodeRole("widgets-gpu-role", { tags });
 * fleet.datasetBucket.grantRead(role, "datasets/widgets/");
 * artifacts.grantReadWrite(role, `runs/${runId}/`);
 * fleet.ota.grantWrite(role, "models/widgets/");
 * fleet.ota.grantSign(role);
 * fleet.image.grantPull(role);
 * const nodes = new GpuNodeGroup("widgets-gpu", {
 *   groupName: `vision-widgets-${runId}`, // the run spec names the same group
 *   instanceTypes: ["g5.xlarge", "g6.xlarge"],
 *   capacity: "spot",
 *   subnetIds: fleet.network.subnetIds,
 *   securityGroupIds: [fleet.network.nodeSecurityGroupId],
 *   imageUri: fleet.image.imageUri,
 *   runSpec, // buildRunSpec(config, { runId, autoScalingGroupName, artifactBucket, otaBucket, … })
 *   datasetMount: { kind: "mountpoint", bucketName: fleet.datasetBucket.bucketName, prefix: "datasets/widgets/" },
 *   role,
 * });
 */
export class GpuNodeGroup extends pulumi.ComponentResource {
  readonly groupName: pulumi.Output<string>;
  readonly groupArn: pulumi.Output<string>;
  readonly launchTemplateId: pulumi.Output<string>;
  readonly roleArn: pulumi.Output<string>;
  readonly roleName: pulumi.Output<string>;
  readonly logGroupName: pulumi.Output<string>;
  readonly instanceProfileArn: pulumi.Output<string>;

  constructor(name: string, args: GpuNodeGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    const settings = resolveGpuNodeGroupSettings(args);
    super("yolo-train:compute:GpuNodeGroup", name, {}, opts);
    for (const warning of settings.warnings) pulumi.log.warn(warning, this);

    const runSpec = pulumi.output(args.runSpec).apply((spec) => {
      // An output run spec is checked here, once known; a plain one was checked before super().
      const mismatches = runSpecMismatches(spec, args);
      if (mismatches.length > 0) throw new InvalidInputError("GpuNodeGroup", mismatches);
      return spec;
    });
    const runId = runSpec.apply((spec) => spec.runId);
    const tags = settings.tags;
    const nodeTags = pulumi.all([runId, args.instanceTags ?? {}]).apply(([id, instanceTags]) => ({
      ...tags,
      ...instanceTags,
      Name: settings.groupName,
      // The caller's value wins: a TrainingRun's budget filters on the value it tags with.
      "yolo-train:stack": tags?.["yolo-train:stack"] ?? pulumi.getStack(),
      "yolo-train:run-id": id,
    }));

    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: settings.logGroupName, retentionInDays: settings.logRetentionDays, tags },
      { parent: this },
    );

    const identity = aws.getCallerIdentityOutput({}, { parent: this });
    const partition = aws.getPartitionOutput({}, { parent: this });
    const region = aws.getRegionOutput({}, { parent: this });
    const role = args.role;
    role.addToPolicy(
      pulumi
        .all([partition.partition, region.region, identity.accountId, logGroup.arn])
        .apply(([part, reg, accountId, logGroupArn]) =>
          nodeSelfStatements({ partition: part, region: reg, accountId, autoScalingGroupName: settings.groupName, logGroupArn }),
        ),
    );
    const rolePolicy = role.attachPolicy();

    const ami = aws.ssm.getParameterOutput({ name: DLAMI_SSM_PARAMETER }, { parent: this });
    const userData = pulumi
      .all([runSpec, args.imageUri, logGroup.name, datasetMountSpec(args.datasetMount)])
      .apply(([spec, imageUri, logGroupName, mount]) =>
        Buffer.from(renderNodeUserData({ runSpec: spec, imageUri, logGroupName, datasetMount: mount }), "utf8").toString("base64"),
      );

    const launchTemplate = new aws.ec2.LaunchTemplate(
      autoName(NAME_RULES.launchTemplate, `${name}-lt`),
      {
        description: `yolo-train GPU node of ${settings.groupName}`,
        // The latest AMI at each `up`; a running node keeps the one it booted with.
        imageId: ami.insecureValue,
        iamInstanceProfile: { arn: role.instanceProfileArn },
        // No keyName: shell access is through SSM Session Manager.
        metadataOptions: {
          httpEndpoint: "enabled",
          httpTokens: "required",
          // 2, not 1: the container reaches IMDS through Docker's bridge, one more hop.
          httpPutResponseHopLimit: 2,
          // Nothing reads tags from IMDS (the CloudWatch agent uses ec2:DescribeTags).
          instanceMetadataTags: "disabled",
        },
        blockDeviceMappings: [
          {
            deviceName: DLAMI_ROOT_DEVICE_NAME,
            ebs: { volumeSize: settings.rootVolumeGiB, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" },
          },
        ],
        networkInterfaces: [
          {
            deviceIndex: 0,
            // Public subnets without a NAT gateway: the public IP is the way out to S3, ECR and SSM.
            associatePublicIpAddress: "true",
            deleteOnTermination: "true",
            securityGroups: args.securityGroupIds,
          },
        ],
        // A node that shuts itself down is gone, not a stopped instance still costing its volume.
        instanceInitiatedShutdownBehavior: "terminate",
        userData,
        tagSpecifications: [
          { resourceType: "instance", tags: nodeTags },
          { resourceType: "volume", tags: nodeTags },
        ],
        updateDefaultVersion: true,
        tags,
      },
      { parent: this },
    );

    const group = new aws.autoscaling.Group(
      `${name}-asg`,
      {
        name: settings.groupName,
        vpcZoneIdentifiers: args.subnetIds,
        // minSize 0: the node's own teardown (terminate with ShouldDecrementDesiredCapacity) and
        // the guardrails take the group to 0 without fighting a floor.
        minSize: 0,
        maxSize: settings.desiredNodes,
        // desiredNodes unless told to wait at 0 (a sweep trial, which its keeper starts).
        desiredCapacity: settings.initialCapacity,
        capacityRebalance: settings.capacity === "spot",
        mixedInstancesPolicy: {
          instancesDistribution: instancesDistributionOf(settings.capacity, settings.maxSpotPrice),
          launchTemplate: {
            launchTemplateSpecification: {
              launchTemplateId: launchTemplate.id,
              version: launchTemplate.latestVersion.apply((v) => String(v)),
            },
            overrides: settings.instanceTypes.map((instanceType) => ({ instanceType })),
          },
        },
        enabledMetrics: [...GROUP_METRICS],
        metricsGranularity: "1Minute",
        // Do not block `pulumi up` until a GPU is in service: spot capacity may take a while.
        waitForCapacityTimeout: "0",
        tags: nodeTags.apply((t) => Object.entries(t).map(([key, value]) => ({ key, value, propagateAtLaunch: true }))),
      },
      {
        parent: this,
        // The node scales its own group to 0 when the run ends (and the guardrails may too).
        // A later `pulumi up` must not set desired capacity back and relaunch a finished run.
        ignoreChanges: ["desiredCapacity"],
        // Instances must not boot before their permissions and log group exist.
        dependsOn: [rolePolicy, role.sessionManagerAttachment, logGroup],
      },
    );

    this.groupName = group.name;
    this.groupArn = group.arn;
    this.launchTemplateId = launchTemplate.id;
    this.roleArn = role.roleArn;
    this.roleName = role.roleName;
    this.logGroupName = logGroup.name;
    this.instanceProfileArn = role.instanceProfileArn;
    this.registerOutputs({
      groupName: this.groupName,
      groupArn: this.groupArn,
      launchTemplateId: this.launchTemplateId,
      roleArn: this.roleArn,
      roleName: this.roleName,
      logGroupName: this.logGroupName,
      instanceProfileArn: this.instanceProfileArn,
    });
  }
}

/** The mount with its outputs resolved, as the user data renderer takes it. */
function datasetMountSpec(mount: GpuNodeDatasetMount): pulumi.Output<DatasetMountSpec> {
  switch (mount.kind) {
    case "none":
      return pulumi.output({ kind: "none" as const });
    case "mountpoint":
      return pulumi.output(mount.bucketName).apply((bucketName) => ({
        kind: "mountpoint" as const,
        bucketName,
        prefix: mount.prefix,
        ...(mount.bucketRegion !== undefined ? { bucketRegion: mount.bucketRegion } : {}),
      }));
    case "copy":
      return pulumi.output(mount.bucketName).apply((bucketName) => ({ kind: "copy" as const, bucketName, prefix: mount.prefix }));
    case "fsx-lustre":
      return pulumi
        .all([mount.dnsName, mount.mountName])
        .apply(([dnsName, mountName]) => ({ kind: "fsx-lustre" as const, dnsName, mountName }));
  }
}
