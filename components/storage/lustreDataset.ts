import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ProblemList } from "../../runspec/problems";
import { KEY_PREFIX_PATTERN } from "../../runspec/bucketLayout";
import { autoName, NAME_RULES } from "../naming/physicalNames";

/** Lustre's ports: 988 for the client, 1018-1023 for the servers' replies and among servers. */
export const LUSTRE_PORTS: readonly { readonly from: number; readonly to: number }[] = [
  { from: 988, to: 988 },
  { from: 1018, to: 1023 },
];

/** SCRATCH_2 sizes: 1200 GiB, 2400 GiB, then steps of 2400 GiB. */
export const LUSTRE_SCRATCH_MIN_GIB = 1200;

export interface LustreDatasetArgs {
  /** Bucket holding the dataset. */
  readonly bucketName: pulumi.Input<string>;
  /**
   * Key prefix of the dataset, shown at the file system's root (so at the container's `/data`).
   * "" for the whole bucket, else ending with "/".
   */
  readonly prefix: string;
  /**
   * The one subnet the file system lives in. Pass only this subnet to the node group too:
   * Lustre traffic across Availability Zones is slower and billed.
   */
  readonly subnetId: pulumi.Input<string>;
  /** VPC of that subnet (for the file system's security group). */
  readonly vpcId: pulumi.Input<string>;
  /** Security group of the GPU nodes: the only clients allowed to mount. */
  readonly nodeSecurityGroupId: pulumi.Input<string>;
  /**
   * Capacity in GiB: 1200, 2400, or a multiple of 2400. The minimum, 1200 GiB, costs about
   * $0.14 per GiB-month in us-east-1: about $168 a month, $0.23 an hour, billed per second
   * while the file system exists, whether or not a node trains.
   * @default 1200
   * @see https://aws.amazon.com/fsx/lustre/pricing/
   */
  readonly storageCapacityGiB?: number;
  /**
   * Tags for the file system and its security group.
   * @default no tags
   */
  readonly tags?: Record<string, string>;
}

/**
 * An FSx for Lustre SCRATCH_2 file system linked to a dataset prefix in S3: files appear at
 * once (metadata imported at creation), contents load from S3 on first read, and later S3
 * changes are imported automatically. Scratch: no replication and no backups, which is right
 * for a copy of data whose source of truth stays in S3. Worth it over Mountpoint for datasets
 * of many small files read by many GPUs; for most single-node runs Mountpoint is cheaper.
 * @see https://docs.aws.amazon.com/fsx/latest/LustreGuide/older-deployment-types.html
 */
export class LustreDataset extends pulumi.ComponentResource {
  readonly fileSystemId: pulumi.Output<string>;
  readonly dnsName: pulumi.Output<string>;
  readonly mountName: pulumi.Output<string>;
  readonly subnetId: pulumi.Output<string>;
  readonly securityGroupId: pulumi.Output<string>;

  constructor(name: string, args: LustreDatasetArgs, opts?: pulumi.ComponentResourceOptions) {
    const storageCapacityGiB = resolveLustreDatasetArgs(args);
    super("yolo-train:storage:LustreDataset", name, {}, opts);
    const tags = args.tags;

    const rules = (extra: { securityGroups?: pulumi.Input<pulumi.Input<string>[]> }) =>
      LUSTRE_PORTS.map((p) => ({ protocol: "tcp", fromPort: p.from, toPort: p.to, self: true, ...extra }));
    const securityGroup = new aws.ec2.SecurityGroup(
      autoName(NAME_RULES.securityGroup, `${name}-lustre`),
      {
        description: "FSx for Lustre: Lustre traffic from the GPU nodes and among the file servers only",
        vpcId: args.vpcId,
        ingress: rules({ securityGroups: [args.nodeSecurityGroupId] }).map((r) => ({ ...r, description: "Lustre from GPU nodes and file servers" })),
        egress: rules({ securityGroups: [args.nodeSecurityGroupId] }).map((r) => ({ ...r, description: "Lustre to GPU nodes and file servers" })),
        tags,
      },
      { parent: this },
    );

    const importPath = pulumi.interpolate`s3://${args.bucketName}/${args.prefix}`;
    const fileSystem = new aws.fsx.LustreFileSystem(
      `${name}-fs`,
      {
        deploymentType: "SCRATCH_2",
        storageCapacity: storageCapacityGiB,
        subnetIds: args.subnetId,
        securityGroupIds: [securityGroup.id],
        importPath,
        // Supported on SCRATCH_2 without a data repository association (the provider's docs
        // say PERSISTENT_1 only; the FSx docs on older deployment types list SCRATCH_2 too).
        autoImportPolicy: "NEW_CHANGED_DELETED",
        tags,
      },
      { parent: this },
    );

    this.fileSystemId = fileSystem.id;
    this.dnsName = fileSystem.dnsName;
    this.mountName = fileSystem.mountName;
    this.subnetId = pulumi.output(args.subnetId);
    this.securityGroupId = securityGroup.id;
    this.registerOutputs({
      fileSystemId: this.fileSystemId,
      dnsName: this.dnsName,
      mountName: this.mountName,
      subnetId: this.subnetId,
      securityGroupId: this.securityGroupId,
    });
  }
}

/** Checks the arguments known now; returns the storage capacity. Throws every problem at once. */
export function resolveLustreDatasetArgs(args: LustreDatasetArgs): number {
  const problems = new ProblemList();
  if (typeof args.prefix !== "string" || !KEY_PREFIX_PATTERN.test(args.prefix)) {
    problems.add({ key: "LustreDataset.prefix", value: args.prefix, allowed: '"" (the whole bucket) or a key prefix ending with "/"', fix: 'e.g. "datasets/widgets/"' });
  }
  const capacity = args.storageCapacityGiB ?? LUSTRE_SCRATCH_MIN_GIB;
  if (!Number.isInteger(capacity) || (capacity !== LUSTRE_SCRATCH_MIN_GIB && (capacity < 2400 || capacity % 2400 !== 0))) {
    problems.add({
      key: "LustreDataset.storageCapacityGiB",
      value: args.storageCapacityGiB,
      allowed: "1200, 2400 or a multiple of 2400 (SCRATCH_2 sizes)",
      fix: "use 1200 unless the dataset is larger than about 1 TiB",
    });
  }
  for (const [key, value] of [["subnetId", args.subnetId], ["vpcId", args.vpcId], ["nodeSecurityGroupId", args.nodeSecurityGroupId], ["bucketName", args.bucketName]] as const) {
    if (value === undefined || value === "") {
      problems.add({ key: `LustreDataset.${key}`, value, allowed: "a value", fix: `pass ${key}` });
    }
  }
  problems.throwIfAny("LustreDataset");
  return capacity;
}
