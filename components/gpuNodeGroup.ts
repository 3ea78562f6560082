import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Capacity } from "../catalog/types";
import { InvalidInputError } from "../config/problems";
import type { RunSpec } from "../runspec/schema";
import { DLAMI_ROOT_DEVICE_NAME, DLAMI_SSM_PARAMETER } from "./dlami";
import {
  ec2TrustPolicy,
  GROUP_METRICS,
  instancesDistributionOf,
  resolveGpuNodeGroupSettings,
  runSpecMismatches,
} from "./gpuNodeGroupPlan";
import { nodeRolePolicyDocument } from "./nodeRolePolicy";
import { renderNodeUserData, type DatasetMountSpec } from "./nodeUserData";
import { autoName, NAME_RULES } from "./physicalNames";

export { DLAMI_SSM_PARAMETER };

/** How the node reads the dataset; mutually exclusive kinds. */
export type GpuNodeDatasetMount =
  /** Built-in ultralytics dataset: nothing to mount. */
  | { readonly kind: "none" }
  /**
   * Mountpoint for Amazon S3: read-only, lazily fetched, cached on the NVMe instance store.
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/mountpoint.html
   */
  | {
      readonly kind: "mountpoint";
      readonly bucketName: pulumi.Input<string>;
      /** Key prefix shown at `/data`: "" or ending with "/". */
      readonly prefix: string;
      /**
       * The bucket's region.
       * @default the node's region
       */
      readonly bucketRegion?: string;
    }
  /** Copy the prefix onto the instance store before training (`aws s3 sync`). */
  | { readonly kind: "copy"; readonly bucketName: pulumi.Input<string>; readonly prefix: string }
  /** FSx for Lustre linked to the dataset prefix; see `LustreDataset`. */
  | { readonly kind: "fsx-lustre"; readonly dnsName: pulumi.Input<string>; readonly mountName: pulumi.Input<string> };

/** What the node role may touch (see `nodeRolePolicyDocument`). */
export interface GpuNodeAccess {
  /**
   * Bucket the node reads the dataset from (Mountpoint and copy need it; FSx reads S3 itself).
   * @default no dataset bucket access
   */
  readonly datasetBucketArn?: pulumi.Input<string>;
  /**
   * Prefix of the dataset in that bucket.
   * @default `datasetMount.prefix`
   */
  readonly datasetPrefix?: string;
  /** The artifact bucket (checkpoints, run records, exported models). */
  readonly artifactBucketArn: pulumi.Input<string>;
  /** `runs/<runId>/`: the only place in the artifact bucket the node may read or write. */
  readonly artifactPrefix: string;
  /** The OTA bucket the node publishes the signed release to. */
  readonly otaBucketArn: pulumi.Input<string>;
  /** This model's prefix in the OTA bucket, e.g. `models/widgets/`. */
  readonly otaPrefix: string;
  /** ARN of the KMS key that signs OTA manifests (a key ARN, not an alias). */
  readonly signingKeyArn: pulumi.Input<string>;
  /**
   * ECR repository of the training image; the node may pull from it only.
   * @default no ECR access (the image is public or elsewhere)
   */
  readonly ecrRepositoryArn?: pulumi.Input<string>;
  /**
   * SSM SecureString parameter holding the W&B API key.
   * @default no parameter access
   */
  readonly wandbApiKeyParameterArn?: pulumi.Input<string>;
  /**
   * Starting weights in S3 as an object ARN (`arn:aws:s3:::bucket/key.pt`), readable by the node.
   * @default none (pretrained weights come from ultralytics' releases)
   */
  readonly initialWeightsArn?: string;
}

export interface GpuNodeGroupArgs {
  /**
   * Physical name of the Auto Scaling group. Explicit, not auto-named, because the run spec
   * (the node terminates itself in this group) and the node's IAM policy (which allows that for
   * this group only) must name it before the group exists. Include the run id: a new run is then
   * a new group, while `pulumi up` of the same run keeps the group (and, with it, a finished
   * run stays finished).
   */
  readonly groupName: string;
  /**
   * EC2 instance types the group may launch, cheapest first (one override each).
   * @see https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-mixed-instances-groups.html
   */
  readonly instanceTypes: readonly string[];
  /** `spot` (all spot, price-capacity-optimized) or `on-demand` (all on-demand, lowest price). */
  readonly capacity: Capacity;
  /**
   * Highest spot price per instance hour, USD. Spot only.
   * @default the on-demand price
   */
  readonly maxSpotPrice?: number;
  /**
   * Nodes to launch; also the group's maximum size. Each node runs the same run spec.
   * @default 1
   */
  readonly desiredNodes?: number;
  /**
   * Subnets to launch in: public subnets (the node gets a public IP; there is no NAT gateway to
   * pay for). With FSx for Lustre, pass only the file system's subnet.
   */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Security groups of the node (no inbound rules needed: access is through SSM). */
  readonly securityGroupIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The training image, ideally by digest. */
  readonly imageUri: pulumi.Input<string>;
  /** The run spec written to the node; must name `groupName` and `access.artifactPrefix`. */
  readonly runSpec: pulumi.Input<RunSpec>;
  /** How the node reads the dataset. */
  readonly datasetMount: GpuNodeDatasetMount;
  /** ARNs and prefixes for the node role's policy. */
  readonly access: GpuNodeAccess;
  /**
   * Root volume size, GiB (gp3, encrypted, deleted with the instance). Datasets and scratch go
   * to the instance store when the type has one.
   * @default 100
   */
  readonly rootVolumeGiB?: number;
  /**
   * Retention of the run's log group (`/yolo-train/<groupName>`).
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * Tags for every taggable child; instances and volumes also get `yolo-train:stack` and
   * `yolo-train:run-id` for cost allocation.
   * @default no tags
   */
  readonly tags?: Record<string, string>;
}

/**
 * The GPU node group of one run: a launch template (Deep Learning AMI, IMDSv2, encrypted gp3
 * root, no key pair, user data that mounts the dataset, starts GPU metrics and runs the image)
 * and an Auto Scaling group (min 0, desired = max = nodes, spot or on-demand over several
 * instance types), with the node's role, instance profile and log group.
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
    const nodeTags = runId.apply((id) => ({
      ...tags,
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

    const role = new aws.iam.Role(
      autoName(NAME_RULES.iamRole, `${name}-role`),
      { description: `yolo-train GPU node of ${settings.groupName}`, assumeRolePolicy: ec2TrustPolicy(), tags },
      { parent: this },
    );

    const identity = aws.getCallerIdentityOutput({}, { parent: this });
    const partition = aws.getPartitionOutput({}, { parent: this });
    const region = aws.getRegionOutput({}, { parent: this });
    const access = args.access;
    const required = pulumi.all([
      partition.partition,
      region.region,
      identity.accountId,
      logGroup.arn,
      access.artifactBucketArn,
      access.otaBucketArn,
      access.signingKeyArn,
    ]);
    const optional = pulumi.all([access.datasetBucketArn, access.ecrRepositoryArn, access.wandbApiKeyParameterArn]);
    const policy = pulumi
      .all([required, optional])
      .apply(([[part, reg, account, logGroupArn, artifactBucketArn, otaBucketArn, signingKeyArn], [datasetBucketArn, ecrRepositoryArn, wandbArn]]) => {
        const mount = args.datasetMount;
        const datasetPrefix = access.datasetPrefix ?? (mount.kind === "mountpoint" || mount.kind === "copy" ? mount.prefix : "");
        return JSON.stringify(
          nodeRolePolicyDocument({
            partition: part,
            region: reg,
            accountId: account,
            autoScalingGroupName: settings.groupName,
            logGroupArn,
            ...(datasetBucketArn ? { dataset: { bucketArn: datasetBucketArn, prefix: datasetPrefix } } : {}),
            artifactBucketArn,
            artifactPrefix: access.artifactPrefix,
            otaBucketArn,
            otaPrefix: access.otaPrefix,
            signingKeyArn,
            ...(ecrRepositoryArn ? { ecrRepositoryArn } : {}),
            ...(wandbArn ? { wandbApiKeyParameterArn: wandbArn } : {}),
            ...(access.initialWeightsArn ? { initialWeightsArn: access.initialWeightsArn } : {}),
          }),
        );
      });
    const rolePolicy = new aws.iam.RolePolicy(autoName(NAME_RULES.iamRolePolicy, `${name}-policy`), { role: role.name, policy }, { parent: this });
    const ssmCore = new aws.iam.RolePolicyAttachment(
      `${name}-ssm`,
      // Session Manager instead of SSH: no key pair, no inbound port.
      { role: role.name, policyArn: aws.iam.ManagedPolicy.AmazonSSMManagedInstanceCore },
      { parent: this },
    );
    const profile = new aws.iam.InstanceProfile(autoName(NAME_RULES.iamInstanceProfile, `${name}-profile`), { role: role.name, tags }, { parent: this });

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
        iamInstanceProfile: { arn: profile.arn },
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
        desiredCapacity: settings.desiredNodes,
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
        dependsOn: [rolePolicy, ssmCore, logGroup],
      },
    );

    this.groupName = group.name;
    this.groupArn = group.arn;
    this.launchTemplateId = launchTemplate.id;
    this.roleArn = role.arn;
    this.roleName = role.name;
    this.logGroupName = logGroup.name;
    this.instanceProfileArn = profile.arn;
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
