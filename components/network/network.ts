import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { ProblemList } from "../../runspec/problems";
import { NODE_EGRESS_ALL, networkArgsProblems, s3GatewayServiceName } from "./networkArgs";
import { autoName, fitName, NAME_RULES, physicalName } from "../naming/physicalNames";

/**
 * Longest logical name of the awsx VPC: awsx names its subnets, route tables and routes after it
 * (`<name>-public-1`, …) and writes those names into `Name` tags, which hold 256 characters.
 */
const VPC_NAME_MAX = NAME_RULES.tagValue.maxLength - 32;

export interface NetworkArgs {
  /**
   * An existing VPC to place the GPU nodes in. Given together with `subnetIds`, or not at all.
   * The subnets need a route to the internet (or VPC endpoints for S3, ECR, CloudWatch, SSM).
   * @default a new VPC with one public subnet per availability zone
   */
  readonly vpcId?: pulumi.Input<string>;
  /**
   * Subnets of `vpcId` the nodes may launch in; spread over as many availability zones as
   * possible, since each zone is a separate spot capacity pool. Given together with `vpcId`.
   * @default the new VPC's public subnets
   */
  readonly subnetIds?: pulumi.Input<pulumi.Input<string>[]>;
  /** Tags for every taggable child. @default none */
  readonly tags?: Record<string, string>;
}

interface NetworkData {
  /** The VPC created, or undefined when an existing one was given. */
  readonly vpc: awsx.ec2.Vpc | undefined;
}

/**
 * Where GPU nodes run: an existing VPC and subnets, or a new VPC with a public subnet in every
 * available zone of the region (more zones, more spot capacity pools) and an S3 gateway
 * endpoint (S3 traffic stays on the AWS network and costs nothing per GB). Either way, a node
 * security group with no inbound rules at all: nodes are reached through SSM Session Manager
 * only, and reach S3, ECR, CloudWatch and SSM outbound over HTTPS.
 *
 * No NAT gateway: one bills about $0.045 an hour around the clock for as long as the stack
 * exists (some $33 a month, idle or not) plus $0.045 per GB through it — more than a debug run
 * on a spot T4 costs. Nodes get public IPv4 addresses instead (about $0.005 an hour each, only
 * while a node runs), with nothing listening to the internet.
 */
export class Network extends pulumi.ComponentResource<NetworkData> {
  readonly vpcId: pulumi.Output<string>;
  readonly subnetIds: pulumi.Output<string[]>;
  readonly nodeSecurityGroupId: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const problems = new ProblemList();
    for (const p of networkArgsProblems(args)) problems.add(p);
    problems.throwIfAny(`Network "${name}"`);

    // The VPC is created in `initialize`, which can wait for the list of zones: awsx takes
    // `availabilityZoneNames` as a plain list, and the zones are only known from an invoke.
    super("yolo-train:network:Network", name, { createVpc: args.vpcId === undefined, tags: args.tags }, opts);

    const data = pulumi.output(this.getData());
    if (args.vpcId !== undefined && args.subnetIds !== undefined) {
      this.vpcId = pulumi.output(args.vpcId);
      this.subnetIds = pulumi.output(args.subnetIds) as pulumi.Output<string[]>;
    } else {
      this.vpcId = data.apply((d) => d.vpc!.vpcId);
      this.subnetIds = data.apply((d) => d.vpc!.publicSubnetIds);
    }

    const securityGroup = new aws.ec2.SecurityGroup(
      autoName(NAME_RULES.securityGroup, `${name}-nodes`),
      {
        vpcId: this.vpcId,
        description: "yolo-train GPU nodes: no inbound, all outbound. Reach them with SSM Session Manager.",
        // An explicit empty list removes any inbound rule added outside Pulumi; omitting it would not.
        ingress: [],
        egress: [{ ...NODE_EGRESS_ALL, cidrBlocks: [...NODE_EGRESS_ALL.cidrBlocks] }],
        tags: { ...args.tags, Name: physicalName(NAME_RULES.tagValue, `${name}-nodes`) },
      },
      { parent: this },
    );
    this.nodeSecurityGroupId = securityGroup.id;

    this.registerOutputs({ vpcId: this.vpcId, subnetIds: this.subnetIds, nodeSecurityGroupId: this.nodeSecurityGroupId });
  }

  protected override async initialize(inputs: pulumi.Inputs, _opts?: pulumi.ComponentResourceOptions, name?: string): Promise<NetworkData> {
    const { createVpc, tags } = inputs as { createVpc: boolean; tags?: Record<string, string> };
    if (!createVpc) return { vpc: undefined };

    const [zones, region] = await Promise.all([
      aws.getAvailabilityZones({ state: "available" }, { parent: this }),
      aws.getRegion({}, { parent: this }),
    ]);
    const vpc = new awsx.ec2.Vpc(
      fitName(NAME_RULES.tagValue, `${name}-vpc`, VPC_NAME_MAX),
      {
        // Every zone: each one is another pool of spot capacity for the Auto Scaling group.
        availabilityZoneNames: zones.names,
        subnetStrategy: "Auto",
        subnetSpecs: [{ type: "Public", name: "public" }],
        // A NAT gateway bills every hour the stack exists and per GB, dwarfing a debug run's
        // cost; public subnets with no inbound rules need none.
        natGateways: { strategy: "None" },
        enableDnsHostnames: true,
        enableDnsSupport: true,
        vpcEndpointSpecs: [{ serviceName: s3GatewayServiceName(region.region), vpcEndpointType: "Gateway" }],
        // "Auto" attaches the gateway endpoint to the route tables awsx creates; the default
        // ("Legacy") creates it attached to none, where it does nothing.
        // https://github.com/pulumi/pulumi-awsx/pull/2028
        vpcEndpointStrategy: "Auto",
        tags,
      },
      { parent: this },
    );
    return { vpc };
  }
}
