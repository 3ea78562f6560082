import { CWAGENT_NAMESPACE } from "../compute/gpuMetrics";
import { AUTO_SCALING_GROUP_NAME_PATTERN } from "../../runspec/schema";
import { TRAINING_METRIC_NAMESPACE } from "../../runspec/trainingMetricNames";
import { AWS_PARTITION_PATTERN, isAwsAccountId, isAwsRegion } from "../../runspec/awsPatterns";
import {
  ARN_SHAPES,
  arnProblem,
  datasetReadStatements,
  grantPrefixProblem,
  imagePullStatements,
  initialWeightsStatements,
  modelPublishStatements,
  parameterReadStatements,
  releaseSignStatements,
  runArtifactStatements,
  throwIfGrantProblems,
  type GrantStatement,
} from "./grantStatements";

/** Namespace of the metrics the run agent publishes itself (epoch progress, images/s, cost). */
export const YOLO_TRAIN_METRIC_NAMESPACE = TRAINING_METRIC_NAMESPACE;

/** What one run's node role may touch; plain values (resolve Pulumi outputs first). */
export interface NodeRolePolicyInput extends NodeSelfInput {
  /** Dataset to read, when the node reads S3 itself (Mountpoint or copy); omit for built-in datasets and FSx. */
  readonly dataset?: { readonly bucketArn: string; readonly prefix: string };
  readonly artifactBucketArn: string;
  /** `runs/<runId>/`: the only place in the artifact bucket the node may read or write. */
  readonly artifactPrefix: string;
  readonly otaBucketArn: string;
  /** This model's prefix in the OTA bucket, e.g. `models/widgets/`. */
  readonly otaPrefix: string;
  /** The KMS key (key ARN, not an alias) that signs OTA manifests. */
  readonly signingKeyArn: string;
  /** The image's ECR repository; omit when the image is elsewhere. */
  readonly ecrRepositoryArn?: string;
  /** The SSM SecureString parameter with the W&B API key; omit when W&B is off. */
  readonly wandbApiKeyParameterArn?: string;
  /** Starting weights in S3 (`model: s3://bucket/key.pt`), as an object ARN: read-only. */
  readonly initialWeightsArn?: string;
}

export type PolicyStatement = GrantStatement;

export interface PolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: readonly PolicyStatement[];
}

/** What a node needs for itself, whatever it trains: plain values (resolve Pulumi outputs first). */
export interface NodeSelfInput {
  /** AWS partition, e.g. `aws`. */
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  /** The node group's physical name: the only group the node may terminate itself in. */
  readonly autoScalingGroupName: string;
  /** The run's log group (bootstrap log, container output). */
  readonly logGroupArn: string;
}

/** Every problem with a policy input, one line each (empty when valid). */
export function nodeRolePolicyProblems(input: NodeRolePolicyInput): string[] {
  return [
    ...nodeSelfProblems(input),
    arnProblem("dataset.bucketArn", input.dataset?.bucketArn, ARN_SHAPES.bucket),
    arnProblem("artifactBucketArn", input.artifactBucketArn, ARN_SHAPES.bucket),
    arnProblem("otaBucketArn", input.otaBucketArn, ARN_SHAPES.bucket),
    arnProblem("signingKeyArn", input.signingKeyArn, ARN_SHAPES.kmsKey),
    arnProblem("ecrRepositoryArn", input.ecrRepositoryArn, ARN_SHAPES.ecrRepository),
    arnProblem("wandbApiKeyParameterArn", input.wandbApiKeyParameterArn, ARN_SHAPES.ssmParameter),
    arnProblem("initialWeightsArn", input.initialWeightsArn, ARN_SHAPES.object),
    input.dataset ? grantPrefixProblem("dataset.prefix", input.dataset.prefix) : undefined,
    // An empty artifact prefix would open the whole bucket: every run's checkpoints and records.
    input.artifactPrefix === "" || grantPrefixProblem("artifactPrefix", input.artifactPrefix) !== undefined
      ? `artifactPrefix ${JSON.stringify(input.artifactPrefix)} must be the run's prefix, "runs/<runId>/"`
      : undefined,
    grantPrefixProblem("otaPrefix", input.otaPrefix),
  ].filter((p): p is string => p !== undefined);
}

function nodeSelfProblems(input: NodeSelfInput): (string | undefined)[] {
  return [
    AWS_PARTITION_PATTERN.test(input.partition) ? undefined : `partition ${JSON.stringify(input.partition)} must be an AWS partition like "aws"`,
    isAwsRegion(input.region) ? undefined : `region ${JSON.stringify(input.region)} must be an AWS region`,
    isAwsAccountId(input.accountId) ? undefined : `accountId ${JSON.stringify(input.accountId)} must be 12 digits`,
    AUTO_SCALING_GROUP_NAME_PATTERN.test(input.autoScalingGroupName)
      ? undefined
      : `autoScalingGroupName ${JSON.stringify(input.autoScalingGroupName)} must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-'`,
    arnProblem("logGroupArn", input.logGroupArn.replace(/:\*$/, ""), ARN_SHAPES.logGroup),
  ];
}

/**
 * What every GPU node may do for itself: publish metrics, read its own tags, write its run's
 * logs and terminate itself in its own group. The only `"*"` resources are read-only
 * (`ec2:DescribeTags`) or narrowed by a condition (`cloudwatch:PutMetricData` to two namespaces),
 * because those actions support no resource-level permissions.
 */
export function nodeSelfStatements(input: NodeSelfInput): PolicyStatement[] {
  throwIfGrantProblems("the node its own permissions", nodeSelfProblems(input));
  const { partition, region, accountId } = input;
  const logGroupArn = input.logGroupArn.replace(/:\*$/, "");
  return [
    {
      // PutMetricData supports no resource ARNs; the namespace condition is the fence.
      Sid: "PublishMetrics",
      Effect: "Allow",
      Action: ["cloudwatch:PutMetricData"],
      Resource: "*",
      Condition: { StringEquals: { "cloudwatch:namespace": [CWAGENT_NAMESPACE, YOLO_TRAIN_METRIC_NAMESPACE] } },
    },
    {
      // The CloudWatch agent resolves ${aws:AutoScalingGroupName} from the instance's tags via
      // ec2:DescribeTags, which supports no resource ARNs. Read-only.
      Sid: "ReadOwnTags",
      Effect: "Allow",
      Action: ["ec2:DescribeTags"],
      Resource: "*",
    },
    {
      Sid: "WriteRunLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
      Resource: [logGroupArn, `${logGroupArn}:*`],
    },
    {
      // Teardown: terminate itself with ShouldDecrementDesiredCapacity, in this group only.
      Sid: "TerminateSelfInGroup",
      Effect: "Allow",
      Action: ["autoscaling:TerminateInstanceInAutoScalingGroup"],
      Resource: `arn:${partition}:autoscaling:${region}:${accountId}:autoScalingGroup:*:autoScalingGroupName/${input.autoScalingGroupName}`,
    },
  ];
}

/**
 * The inline policy of one run's GPU node role: the sum of the grants `TrainingRun` makes (the
 * dataset's read, the run's artifacts, the model's OTA prefix, the release key, the image, the
 * W&B parameter, the initial weights) and the node's own permissions. Pure; throws, listing
 * every problem, when the input is invalid. Least privilege: writes are scoped to this run's
 * artifact prefix, this model's OTA prefix, this group and this log group. SSM access (Session
 * Manager) comes from the `AmazonSSMManagedInstanceCore` managed policy, attached separately.
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
 */
export function nodeRolePolicyDocument(input: NodeRolePolicyInput): PolicyDocument {
  const problems = nodeRolePolicyProblems(input);
  if (problems.length > 0) {
    throw new Error(`Cannot build the node role policy; ${problems.length} problem(s):\n` + problems.map((p) => `  - ${p}`).join("\n"));
  }
  const [metrics, tags, logs, terminate] = nodeSelfStatements(input);
  const statements: PolicyStatement[] = [
    ...(input.dataset ? datasetReadStatements(input.dataset.bucketArn, input.dataset.prefix) : []),
    ...runArtifactStatements(input.artifactBucketArn, input.artifactPrefix),
    ...modelPublishStatements(input.otaBucketArn, input.otaPrefix),
    ...releaseSignStatements(input.signingKeyArn),
    ...(input.ecrRepositoryArn ? imagePullStatements(input.ecrRepositoryArn) : []),
    metrics!,
    tags!,
    logs!,
    terminate!,
    ...(input.initialWeightsArn ? initialWeightsStatements(input.initialWeightsArn) : []),
    ...(input.wandbApiKeyParameterArn ? parameterReadStatements(input.wandbApiKeyParameterArn) : []),
  ];
  return { Version: "2012-10-17", Statement: statements };
}
