import { isAwsAccountId } from "../../runspec/awsPatterns";
import type { PolicyDocument } from "../storage/bucketPolicies";

/** A role's trust policy: who may assume it (statements without a Resource). */
export interface TrustPolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: readonly Omit<PolicyDocument["Statement"][number], "Resource">[];
}

/**
 * Trust for an AWS service acting for this account only: `aws:SourceAccount` keeps another
 * account's function or schedule from assuming the role (the confused-deputy guard).
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
 */
export function serviceTrustPolicy(servicePrincipal: string, accountId: string): TrustPolicyDocument {
  if (!isAwsAccountId(accountId)) throw new Error(`account id ${JSON.stringify(accountId)} is not 12 digits`);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: servicePrincipal },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": accountId } },
      },
    ],
  };
}

/** Trust policy of the node role: EC2 instances only. */
export function ec2TrustPolicy(): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Sid: "Ec2AssumeRole", Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
  });
}
