import { CWAGENT_NAMESPACE } from "./gpuMetrics";
import { AUTO_SCALING_GROUP_NAME_PATTERN } from "../runspec/schema";
import { TRAINING_METRIC_NAMESPACE } from "../runspec/trainingMetricNames";

/** Namespace of the metrics the run agent publishes itself (epoch progress, images/s, cost). */
export const YOLO_TRAIN_METRIC_NAMESPACE = TRAINING_METRIC_NAMESPACE;

/** What the node role may touch; plain values (resolve Pulumi outputs first). */
export interface NodeRolePolicyInput {
  /** AWS partition, e.g. `aws`. */
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  /** The node group's physical name: the only group the node may terminate itself in. */
  readonly autoScalingGroupName: string;
  /** The run's log group (bootstrap log, container output). */
  readonly logGroupArn: string;
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

export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow";
  readonly Action: readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

export interface PolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: readonly PolicyStatement[];
}

const ARN = /^arn:aws[a-z-]*:/;
const PREFIX = /^(?:[A-Za-z0-9!_.()-][A-Za-z0-9!_.()/-]*\/)?$/;

/** Every problem with a policy input, one line each (empty when valid). */
export function nodeRolePolicyProblems(input: NodeRolePolicyInput): string[] {
  const problems: string[] = [];
  const arn = (name: string, value: string | undefined, service: string, shape?: RegExp): void => {
    if (value === undefined) return;
    if (!ARN.test(value) || !value.includes(`:${service}:`) || (shape && !shape.test(value))) {
      problems.push(`${name} ${JSON.stringify(value)} must be an ARN of ${service}${shape ? ` matching ${shape.source}` : ""}`);
    }
  };
  if (!/^aws[a-z-]*$/.test(input.partition)) problems.push(`partition ${JSON.stringify(input.partition)} must be an AWS partition like "aws"`);
  if (!/^[a-z]{2}(?:-[a-z]+)+-\d+$/.test(input.region)) problems.push(`region ${JSON.stringify(input.region)} must be an AWS region`);
  if (!/^\d{12}$/.test(input.accountId)) problems.push(`accountId ${JSON.stringify(input.accountId)} must be 12 digits`);
  if (!AUTO_SCALING_GROUP_NAME_PATTERN.test(input.autoScalingGroupName)) {
    problems.push(`autoScalingGroupName ${JSON.stringify(input.autoScalingGroupName)} must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-'`);
  }
  arn("logGroupArn", input.logGroupArn.replace(/:\*$/, ""), "logs", /:log-group:[^*:]+$/);
  arn("dataset.bucketArn", input.dataset?.bucketArn, "s3", /^arn:[^:]+:s3:::[a-z0-9.-]+$/);
  arn("artifactBucketArn", input.artifactBucketArn, "s3", /^arn:[^:]+:s3:::[a-z0-9.-]+$/);
  arn("otaBucketArn", input.otaBucketArn, "s3", /^arn:[^:]+:s3:::[a-z0-9.-]+$/);
  arn("signingKeyArn", input.signingKeyArn, "kms", /:key\/[A-Za-z0-9-]+$/);
  arn("ecrRepositoryArn", input.ecrRepositoryArn, "ecr", /:repository\/[a-z0-9._/-]+$/);
  arn("wandbApiKeyParameterArn", input.wandbApiKeyParameterArn, "ssm", /:parameter\/[A-Za-z0-9_.\/-]+$/);
  arn("initialWeightsArn", input.initialWeightsArn, "s3", /^arn:[^:]+:s3:::[a-z0-9.-]+\/[^*]+$/);
  if (input.dataset && !PREFIX.test(input.dataset.prefix)) {
    problems.push(`dataset.prefix ${JSON.stringify(input.dataset.prefix)} must be "" or a key prefix ending with "/"`);
  }
  // An empty artifact prefix would open the whole bucket: every run's checkpoints and records.
  if (input.artifactPrefix === "" || !PREFIX.test(input.artifactPrefix)) {
    problems.push(`artifactPrefix ${JSON.stringify(input.artifactPrefix)} must be the run's prefix, "runs/<runId>/"`);
  }
  if (!PREFIX.test(input.otaPrefix)) problems.push(`otaPrefix ${JSON.stringify(input.otaPrefix)} must be "" or a key prefix ending with "/"`);
  return problems;
}

/**
 * The inline policy of a GPU node's role: least privilege for one run. Pure; throws when the
 * input is invalid. Writes are scoped to this run's artifact prefix, this model's OTA prefix,
 * this group and this log group; the only `"*"` resources are read-only (`ecr:GetAuthorizationToken`,
 * `ec2:DescribeTags`) or narrowed by a condition (`cloudwatch:PutMetricData` to two namespaces),
 * because those actions support no resource-level permissions. SSM access (Session Manager)
 * comes from the `AmazonSSMManagedInstanceCore` managed policy, attached separately.
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
 */
export function nodeRolePolicyDocument(input: NodeRolePolicyInput): PolicyDocument {
  const problems = nodeRolePolicyProblems(input);
  if (problems.length > 0) {
    throw new Error(`Cannot build the node role policy; ${problems.length} problem(s):\n` + problems.map((p) => `  - ${p}`).join("\n"));
  }
  const { partition, region, accountId } = input;
  const statements: PolicyStatement[] = [];

  if (input.dataset) {
    const { bucketArn, prefix } = input.dataset;
    statements.push(
      { Sid: "ListDataset", Effect: "Allow", Action: ["s3:ListBucket"], Resource: bucketArn, ...listCondition(prefix) },
      // Mountpoint and `aws s3 sync` only read: no PutObject, no DeleteObject.
      { Sid: "ReadDataset", Effect: "Allow", Action: ["s3:GetObject"], Resource: `${bucketArn}/${prefix}*` },
    );
  }

  statements.push(
    {
      Sid: "ListRunArtifacts",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: input.artifactBucketArn,
      ...listCondition(input.artifactPrefix),
    },
    {
      // Checkpoints, results, the status record and the run's lease: overwritten in place, never
      // deleted by the node. Multipart because checkpoints of large models exceed the single-PUT sweet
      // spot. GetObjectVersion: a resume reads the checkpoint version the record names, and falls
      // back to the previous version when that one is corrupt.
      Sid: "ReadWriteRunArtifacts",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      Resource: `${input.artifactBucketArn}/${input.artifactPrefix}*`,
    },
    {
      Sid: "ListModelReleases",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: input.otaBucketArn,
      ...listCondition(input.otaPrefix),
    },
    {
      // Reads the current manifest (version, stable metrics) and publishes the new one.
      Sid: "PublishModelRelease",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
      Resource: `${input.otaBucketArn}/${input.otaPrefix}*`,
    },
    {
      Sid: "SignModelRelease",
      Effect: "Allow",
      Action: ["kms:Sign", "kms:GetPublicKey"],
      Resource: input.signingKeyArn,
    },
  );

  if (input.ecrRepositoryArn) {
    statements.push(
      {
        Sid: "PullTrainingImage",
        Effect: "Allow",
        Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
        Resource: input.ecrRepositoryArn,
      },
      // Registry-wide by design: the token only authenticates; the repository grant above authorizes.
      { Sid: "LogInToEcr", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
    );
  }

  const logGroupArn = input.logGroupArn.replace(/:\*$/, "");
  statements.push(
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
  );

  if (input.initialWeightsArn) {
    // One object, read-only: the weights a fine-tune starts from.
    statements.push({ Sid: "ReadInitialWeights", Effect: "Allow", Action: ["s3:GetObject"], Resource: input.initialWeightsArn });
  }

  if (input.wandbApiKeyParameterArn) {
    // SecureString under the AWS managed key aws/ssm: its key policy lets callers decrypt through
    // SSM, so no kms:Decrypt grant is needed here.
    statements.push({
      Sid: "ReadWandbApiKey",
      Effect: "Allow",
      Action: ["ssm:GetParameter"],
      Resource: input.wandbApiKeyParameterArn,
    });
  }

  return { Version: "2012-10-17", Statement: statements };
}

/** `s3:ListBucket` limited to keys under a prefix (no condition when the prefix is the whole bucket). */
function listCondition(prefix: string): Pick<PolicyStatement, "Condition"> {
  return prefix === "" ? {} : { Condition: { StringLike: { "s3:prefix": [prefix, `${prefix}*`] } } };
}
