/**
 * Validation and plain settings of the `Network` component. Pure.
 */
import { isAwsRegion } from "../../runspec/awsPatterns";
import type { Problem } from "../../runspec/problems";

export interface NetworkArgsToCheck {
  readonly vpcId?: unknown;
  /** A list (its plain ids are checked), or an output (checked by AWS). */
  readonly subnetIds?: unknown;
}

/**
 * Every problem with the network arguments: `vpcId` and `subnetIds` come together or not at
 * all; ids given as plain strings must look like AWS ids (values from outputs are checked by AWS).
 */
export function networkArgsProblems(args: NetworkArgsToCheck): Problem[] {
  const problems: Problem[] = [];
  const hasVpc = args.vpcId !== undefined;
  const hasSubnets = args.subnetIds !== undefined;
  if (hasVpc && !hasSubnets) {
    problems.push({
      key: "Network.subnetIds",
      value: undefined,
      allowed: "the subnets of vpcId the GPU nodes may use, given together with vpcId",
      fix: 'add subnetIds: ["subnet-…", …], or remove vpcId to create a new network',
    });
  }
  if (hasSubnets && !hasVpc) {
    problems.push({
      key: "Network.vpcId",
      value: undefined,
      allowed: "the VPC the subnetIds belong to, given together with subnetIds",
      fix: 'add vpcId: "vpc-…", or remove subnetIds to create a new network',
    });
  }
  if (typeof args.vpcId === "string" && !/^vpc-[0-9a-f]{8,17}$/.test(args.vpcId)) {
    problems.push({ key: "Network.vpcId", value: args.vpcId, allowed: "a VPC id: vpc- and 8 to 17 hex digits", fix: 'e.g. "vpc-0a1b2c3d4e5f67890"' });
  }
  if (Array.isArray(args.subnetIds)) {
    const bad = args.subnetIds.filter((s) => typeof s === "string" && !/^subnet-[0-9a-f]{8,17}$/.test(s));
    if (args.subnetIds.length === 0) {
      problems.push({ key: "Network.subnetIds", value: [], allowed: "at least one subnet id", fix: "list one subnet per availability zone the nodes may use" });
    } else if (bad.length > 0) {
      problems.push({ key: "Network.subnetIds", value: bad, allowed: "subnet ids: subnet- and 8 to 17 hex digits", fix: 'e.g. ["subnet-0a1b2c3d4e5f67890"]' });
    }
    const strings = args.subnetIds.filter((s): s is string => typeof s === "string");
    const duplicates = strings.filter((s, i) => strings.indexOf(s) !== i);
    if (duplicates.length > 0) {
      problems.push({ key: "Network.subnetIds", value: duplicates, allowed: "each subnet once", fix: "remove the repeated subnet ids" });
    }
  }
  return problems;
}

/** The S3 gateway endpoint's service name in a region. */
export function s3GatewayServiceName(region: string): string {
  if (!isAwsRegion(region)) throw new Error(`${JSON.stringify(region)} is not an AWS region name`);
  return `com.amazonaws.${region}.s3`;
}

/** Egress of the node security group: everything, over IPv4 (S3, ECR, CloudWatch, SSM, pip/PyPI, datasets). */
export const NODE_EGRESS_ALL = { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], description: "All outbound" } as const;
