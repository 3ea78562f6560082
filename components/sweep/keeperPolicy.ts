/**
 * What the sweep keeper (the scheduled Lambda that starts a sweep's trials, keeps its state and
 * releases its winner; keeper/) may do, as one IAM policy document built from plain values. Pure:
 * no resources, no I/O; every ARN, prefix and name pattern is checked (all problems at once), so
 * no statement can come out with a `*` where a resource belongs, another sweep's prefix or
 * another stack's names.
 *
 * Its size does not grow with the sweep: the trials' groups are matched by their
 * `yolo-train:sweep` tag, and their backstop schedules and roles by one name pattern
 * (sweepNames.ts), never listed one by one (IAM takes at most 10,240 characters of inline policy
 * per role).
 *
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridgescheduler.html
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
 */
import { AWS_PARTITION_PATTERN, isAwsAccountId, isAwsRegion } from "../../runspec/awsPatterns";
import { RUNS_PREFIX, sweepPrefix } from "../../runspec/bucketLayout";
import { INLINE_POLICY_MAX_CHARS } from "../compute/nodeRole";
import {
  ARN_SHAPES,
  arnProblem,
  grantPrefixProblem,
  modelPublishStatements,
  releaseSignStatements,
  throwIfGrantProblems,
  type GrantStatement,
} from "../iam/grantStatements";
import { SWEEP_TAG_KEY } from "./sweepTags";

/** The keeper's policy: plain values (resolve Pulumi outputs first). */
export interface KeeperPolicyInput {
  /** AWS partition, e.g. `aws`. */
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  /** The sweep's id: its prefix `sweeps/<sweepId>/` and the `yolo-train:sweep` tag of its groups. */
  readonly sweepId: string;
  /** The sweep's artifact bucket (manifest, starts, state, winner; the trials' runs). */
  readonly artifactBucketArn: string;
  /** The artifact bucket's customer managed key (SSE-KMS), if any. @default none (SSE-S3) */
  readonly artifactKmsKeyArn?: string;
  /**
   * The name pattern of the trials' backstop schedules (group `default`) and of their roles:
   * `<trialPrefix>-t??-guardrails-backstop-*` (sweepNames.ts). IAM wildcards `?` and `*` only, after a
   * literal head.
   */
  readonly backstopNamePattern: string;
  /** Where the winner is released: the OTA bucket, the model's prefix (`models/<modelName>/`) and the release key. */
  readonly ota: { readonly bucketArn: string; readonly prefix: string; readonly signingKeyArn: string };
  /** The keeper's own log group (ARN without a trailing `:*`). */
  readonly logGroupArn: string;
}

/**
 * A name pattern the policy may use: a literal head of IAM name characters, then `?`s and literal
 * parts, ending with at most one `*`. A leading wildcard, or `*` inside, would widen it to names
 * of other stacks.
 */
export const BACKSTOP_NAME_PATTERN_RULE = /^[A-Za-z0-9][A-Za-z0-9_.-]*(?:\?+[A-Za-z0-9_.-]+)*\*?$/;

export interface KeeperPolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: readonly GrantStatement[];
}

/**
 * The keeper's permissions, and nothing more:
 *
 * - **Read the trials' runs**: `s3:GetObject` on `runs/*` of the artifact bucket (their records, and
 *   the winner's model files it releases). All runs, not each trial's: 256 trials' prefixes would
 *   not fit IAM's policy size limit, and the bucket holds this sweep's runs (the stack's) only.
 * - **Its own sweep's objects**: `s3:GetObject` and `s3:PutObject` on `sweeps/<sweepId>/*` (the
 *   manifest, the starts it writes with `If-None-Match: *`, the state, the winner, the rung records).
 *   No delete, no other sweep.
 * - **Listing**: `s3:ListBucket` on the bucket, limited by `s3:prefix` to `sweeps/<sweepId>/` and
 *   `runs/` (listing the starts; a missing record is then a 404, not a 403).
 * - With an SSE-KMS artifact bucket: `kms:Decrypt` and `kms:GenerateDataKey` on its key.
 * - **Start trials**: `autoscaling:UpdateAutoScalingGroup` on groups of this account and region
 *   whose `yolo-train:sweep` tag is this sweep's id (`autoscaling:ResourceTag/…`), and
 *   `autoscaling:DescribeAutoScalingGroups`, which has no resource-level permissions (`*`). The
 *   keeper cannot tag a group (no `CreateOrUpdateTags`), so it cannot reach any other.
 * - **Move the trials' backstops** when it starts them: `scheduler:GetSchedule` and
 *   `scheduler:UpdateSchedule` (a full replacement, hence the read first) on the schedules named by
 *   the pattern in group `default`, and `iam:PassRole` of the roles named by the pattern, to
 *   EventBridge Scheduler only (`iam:PassedToService`).
 * - **Release the winner**: the grants a run's node role gets for the model's OTA prefix and the
 *   release key (list, get and put under the prefix; `kms:Sign`, `kms:GetPublicKey`).
 * - **Its own log group**: create streams and put events.
 */
export function keeperPolicyDocument(input: KeeperPolicyInput): KeeperPolicyDocument {
  let sweepObjects: string | undefined;
  let idProblem: string | undefined;
  try {
    sweepObjects = sweepPrefix(input.sweepId);
  } catch (error) {
    idProblem = `sweepId ${JSON.stringify(input.sweepId)} is not a sweep id: ${(error as Error).message}`;
  }
  throwIfGrantProblems("the sweep keeper its permissions", [
    AWS_PARTITION_PATTERN.test(input.partition) ? undefined : `partition ${JSON.stringify(input.partition)} must be an AWS partition like "aws"`,
    isAwsRegion(input.region) ? undefined : `region ${JSON.stringify(input.region)} must be an AWS region`,
    isAwsAccountId(input.accountId) ? undefined : `accountId ${JSON.stringify(input.accountId)} must be 12 digits`,
    idProblem,
    arnProblem("artifactBucketArn", input.artifactBucketArn, ARN_SHAPES.bucket),
    arnProblem("artifactKmsKeyArn", input.artifactKmsKeyArn, ARN_SHAPES.kmsKey),
    BACKSTOP_NAME_PATTERN_RULE.test(input.backstopNamePattern)
      ? undefined
      : `backstopNamePattern ${JSON.stringify(input.backstopNamePattern)} must be a literal head of A-Z a-z 0-9 _ . - followed by ? wildcards and literal parts, ending with at most one *`,
    arnProblem("ota.bucketArn", input.ota.bucketArn, ARN_SHAPES.bucket),
    input.ota.prefix === "" ? 'ota.prefix "" would open the whole OTA bucket: it must be the model\'s prefix, e.g. "models/widgets/"' : grantPrefixProblem("ota.prefix", input.ota.prefix),
    arnProblem("ota.signingKeyArn", input.ota.signingKeyArn, ARN_SHAPES.kmsKey),
    arnProblem("logGroupArn", input.logGroupArn, ARN_SHAPES.logGroup),
  ]);
  const { partition, region, accountId: account } = input;
  const bucket = input.artifactBucketArn;
  const sweep = sweepObjects!;
  const statements: GrantStatement[] = [
    { Sid: "ReadTrialRuns", Effect: "Allow", Action: ["s3:GetObject"], Resource: `${bucket}/${RUNS_PREFIX}*` },
    { Sid: "ReadWriteOwnSweep", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: `${bucket}/${sweep}*` },
    {
      Sid: "ListOwnSweepAndRuns",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: bucket,
      Condition: { StringLike: { "s3:prefix": [sweep, `${sweep}*`, RUNS_PREFIX, `${RUNS_PREFIX}*`] } },
    },
    ...(input.artifactKmsKeyArn
      ? [{ Sid: "UseArtifactKey", Effect: "Allow" as const, Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: input.artifactKmsKeyArn }]
      : []),
    // DescribeAutoScalingGroups takes no resource-level permissions: "*" is the only resource it accepts.
    { Sid: "DescribeGroups", Effect: "Allow", Action: ["autoscaling:DescribeAutoScalingGroups"], Resource: "*" },
    {
      Sid: "StartOwnTrials",
      Effect: "Allow",
      Action: ["autoscaling:UpdateAutoScalingGroup"],
      Resource: `arn:${partition}:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/*`,
      Condition: { StringEquals: { [`autoscaling:ResourceTag/${SWEEP_TAG_KEY}`]: input.sweepId } },
    },
    {
      Sid: "MoveTrialBackstops",
      Effect: "Allow",
      Action: ["scheduler:GetSchedule", "scheduler:UpdateSchedule"],
      Resource: `arn:${partition}:scheduler:${region}:${account}:schedule/default/${input.backstopNamePattern}`,
    },
    {
      Sid: "PassBackstopRoles",
      Effect: "Allow",
      Action: ["iam:PassRole"],
      Resource: `arn:${partition}:iam::${account}:role/${input.backstopNamePattern}`,
      Condition: { StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" } },
    },
    ...modelPublishStatements(input.ota.bucketArn, input.ota.prefix),
    ...releaseSignStatements(input.ota.signingKeyArn),
    {
      Sid: "WriteOwnLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      // The group (CreateLogStream) and its streams; `:` cannot occur in a group's name, so `:*` reaches no other group.
      Resource: [input.logGroupArn, `${input.logGroupArn}:*`],
    },
  ];
  const document: KeeperPolicyDocument = { Version: "2012-10-17", Statement: statements };
  const size = JSON.stringify(document).replace(/\s/g, "").length;
  if (size > INLINE_POLICY_MAX_CHARS) throw new Error(`the sweep keeper's policy is ${size} characters, more than IAM's ${INLINE_POLICY_MAX_CHARS} for a role's inline policies`);
  return document;
}
