/**
 * The IAM statements each grant hands out, as plain JSON values. Pure: no resources, no I/O.
 * Every builder checks the ARN and prefix it is given (all problems at once), so no statement
 * can come out with a `*` where a resource belongs or with an unscoped prefix. The components'
 * `grant…` methods (`ArtifactBucket.grantReadWrite`, `OtaBucket.grantWrite`, …) call these with
 * their own ARNs; `nodeRolePolicyDocument` is their sum for one run.
 */
import {
  CLOUDWATCH_LOG_GROUP_ARN_PATTERN,
  ECR_REPOSITORY_ARN_PATTERN,
  KMS_KEY_ARN_ANY_ID_PATTERN,
  S3_BUCKET_ARN_PATTERN,
  S3_OBJECT_ARN_PATTERN,
  SSM_PARAMETER_ARN_PATTERN,
} from "../../runspec/awsPatterns";
import { KEY_PREFIX_PATTERN, sweepPrefix } from "../../runspec/bucketLayout";

/** One Allow statement a grant hands out: always with an id and a list of actions. */
export interface GrantStatement {
  readonly Sid: string;
  readonly Effect: "Allow";
  readonly Action: readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

/** The one key-prefix rule (runspec/bucketLayout.ts): IAM needs "" or `…/`, with no wildcard or quote. */
const PREFIX = KEY_PREFIX_PATTERN;

/** One kind of ARN a grant takes: AWS's format (runspec/awsPatterns.ts), and an example for messages. */
export interface ArnShape {
  readonly service: string;
  readonly pattern: RegExp;
  readonly example: string;
}

/**
 * The ARNs grants take. A KMS key ARN may have any key id ({@link KMS_KEY_ARN_ANY_ID_PATTERN}):
 * these ARNs come from the provider, and the offline mocks' logical ids (`key/signing-id`) pass.
 */
export const ARN_SHAPES = {
  bucket: { service: "s3", pattern: S3_BUCKET_ARN_PATTERN, example: "arn:aws:s3:::my-bucket" },
  object: { service: "s3", pattern: S3_OBJECT_ARN_PATTERN, example: "arn:aws:s3:::my-bucket/weights/best.pt" },
  kmsKey: { service: "kms", pattern: KMS_KEY_ARN_ANY_ID_PATTERN, example: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" },
  ecrRepository: { service: "ecr", pattern: ECR_REPOSITORY_ARN_PATTERN, example: "arn:aws:ecr:us-east-1:123456789012:repository/yolo-train" },
  ssmParameter: { service: "ssm", pattern: SSM_PARAMETER_ARN_PATTERN, example: "arn:aws:ssm:us-east-1:123456789012:parameter/yolo-train/wandb-api-key" },
  logGroup: { service: "logs", pattern: CLOUDWATCH_LOG_GROUP_ARN_PATTERN, example: "arn:aws:logs:us-east-1:123456789012:log-group:/yolo-train/run" },
} as const satisfies Record<string, ArnShape>;

/** Why `value` is not an ARN of `shape`'s kind; undefined when it is (or when it is undefined). */
export function arnProblem(name: string, value: string | undefined, shape: ArnShape): string | undefined {
  if (value === undefined || shape.pattern.test(value)) return undefined;
  return `${name} ${JSON.stringify(value)} must be an ARN of ${shape.service} like ${shape.example}`;
}

/** Why `value` is not "" or a key prefix ending with "/"; undefined when it is. */
export function grantPrefixProblem(name: string, value: string): string | undefined {
  return PREFIX.test(value) ? undefined : `${name} ${JSON.stringify(value)} must be "" or a key prefix ending with "/"`;
}

/** Throws one error listing every problem found; does nothing when there is none. */
export function throwIfGrantProblems(what: string, problems: readonly (string | undefined)[]): void {
  const found = problems.filter((p): p is string => p !== undefined);
  if (found.length > 0) {
    throw new Error(
      `Cannot grant ${what}; ${found.length} problem(s):\n` +
        found.map((p) => `  - ${p}`).join("\n") +
        "\nUnder test, mocks must answer with ARNs of AWS's shape: yolo-train/testing (installAwsMocks) does.",
    );
  }
}

const bucketArnProblem = (name: string, value: string): string | undefined => arnProblem(name, value, ARN_SHAPES.bucket);
const keyArnProblem = (name: string, value: string | undefined): string | undefined => arnProblem(name, value, ARN_SHAPES.kmsKey);

/** `s3:ListBucket` limited to keys under a prefix (no condition when the prefix is the whole bucket). */
function listCondition(prefix: string): Pick<GrantStatement, "Condition"> {
  return prefix === "" ? {} : { Condition: { StringLike: { "s3:prefix": [prefix, `${prefix}*`] } } };
}

/** Decrypting objects of a bucket encrypted with a customer managed key (SSE-KMS), through S3 only. */
function bucketKeyStatement(sid: string, keyArn: string, actions: readonly string[]): GrantStatement {
  return { Sid: sid, Effect: "Allow", Action: actions, Resource: keyArn };
}

/**
 * Read the dataset under `prefix`: list it, get its objects. Mountpoint and `aws s3 sync` only
 * read: no PutObject, no DeleteObject. With an SSE-KMS bucket, also `kms:Decrypt` on its key.
 */
export function datasetReadStatements(bucketArn: string, prefix: string, kmsKeyArn?: string): GrantStatement[] {
  throwIfGrantProblems("read on the dataset", [
    bucketArnProblem("dataset.bucketArn", bucketArn),
    grantPrefixProblem("dataset.prefix", prefix),
    keyArnProblem("dataset.kmsKeyArn", kmsKeyArn),
  ]);
  return [
    { Sid: "ListDataset", Effect: "Allow", Action: ["s3:ListBucket"], Resource: bucketArn, ...listCondition(prefix) },
    { Sid: "ReadDataset", Effect: "Allow", Action: ["s3:GetObject"], Resource: `${bucketArn}/${prefix}*` },
    ...(kmsKeyArn ? [bucketKeyStatement("DecryptDataset", kmsKeyArn, ["kms:Decrypt"])] : []),
  ];
}

/**
 * Read and write a run's artifacts under `prefix` (`runs/<runId>/`): checkpoints, results, the
 * status record and the run's lease, overwritten in place, never deleted by the node. Multipart
 * because checkpoints of large models exceed the single-PUT sweet spot. GetObjectVersion: a
 * resume reads the checkpoint version the record names, and falls back to the previous version
 * when that one is corrupt. An empty prefix would open every run's artifacts: refused.
 */
export function runArtifactStatements(bucketArn: string, prefix: string, kmsKeyArn?: string): GrantStatement[] {
  throwIfGrantProblems("read and write on the run's artifacts", [
    bucketArnProblem("artifactBucketArn", bucketArn),
    prefix === "" || !PREFIX.test(prefix) ? `artifactPrefix ${JSON.stringify(prefix)} must be the run's prefix, "runs/<runId>/"` : undefined,
    keyArnProblem("artifact kmsKeyArn", kmsKeyArn),
  ]);
  return [
    { Sid: "ListRunArtifacts", Effect: "Allow", Action: ["s3:ListBucket"], Resource: bucketArn, ...listCondition(prefix) },
    {
      Sid: "ReadWriteRunArtifacts",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      Resource: `${bucketArn}/${prefix}*`,
    },
    ...(kmsKeyArn ? [bucketKeyStatement("EncryptRunArtifacts", kmsKeyArn, ["kms:Decrypt", "kms:GenerateDataKey"])] : []),
  ];
}

/**
 * Read and write one sweep's rung records in the artifact bucket (`sweeps/<sweepId>/`, issue 12):
 * a sweep trial's agent appends its entry with conditional writes (`s3:PutObject` with If-Match /
 * If-None-Match) and reads the entries of every trial; nothing else, no deletes, no other sweep.
 * `s3:ListBucket` (limited to the sweep's prefix) makes S3 answer 404 rather than 403 for a rung
 * no trial has reached yet. The artifact bucket's KMS key, if any, is granted by
 * {@link runArtifactStatements} for the same bucket.
 *
 * A sweep trial's `TrainingRun` (`args.sweep` with `earlyStopping`, as the `Sweep` component makes
 * them) adds these to its node role; a trial that runs to its end gets nothing under `sweeps/`.
 */
export function sweepRungStatements(bucketArn: string, sweepId: string): GrantStatement[] {
  let prefix: string | undefined;
  let idProblem: string | undefined;
  try {
    prefix = sweepPrefix(sweepId);
  } catch (error) {
    idProblem = `sweepId ${JSON.stringify(sweepId)} is not a sweep id: ${(error as Error).message}`;
  }
  throwIfGrantProblems("read and write on the sweep's rung records", [bucketArnProblem("artifactBucketArn", bucketArn), idProblem]);
  const scoped = prefix!;
  return [
    { Sid: "ListSweepRungs", Effect: "Allow", Action: ["s3:ListBucket"], Resource: bucketArn, ...listCondition(scoped) },
    { Sid: "ReadWriteSweepRungs", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: `${bucketArn}/${scoped}*` },
  ];
}

/** Publish releases under one model's `prefix` of the OTA bucket: read the current manifest, write the new one. */
export function modelPublishStatements(bucketArn: string, prefix: string): GrantStatement[] {
  throwIfGrantProblems("publishing to the OTA bucket", [bucketArnProblem("otaBucketArn", bucketArn), grantPrefixProblem("otaPrefix", prefix)]);
  return [
    { Sid: "ListModelReleases", Effect: "Allow", Action: ["s3:ListBucket"], Resource: bucketArn, ...listCondition(prefix) },
    { Sid: "PublishModelRelease", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], Resource: `${bucketArn}/${prefix}*` },
  ];
}

/** Sign release manifests and channel membership with the release key (a key ARN, not an alias). */
export function releaseSignStatements(keyArn: string): GrantStatement[] {
  throwIfGrantProblems("signing with the release key", [keyArnProblem("signingKeyArn", keyArn)]);
  return [{ Sid: "SignModelRelease", Effect: "Allow", Action: ["kms:Sign", "kms:GetPublicKey"], Resource: keyArn }];
}

/** Pull the training image from one ECR repository. */
export function imagePullStatements(repositoryArn: string): GrantStatement[] {
  throwIfGrantProblems("pulling the training image", [arnProblem("ecrRepositoryArn", repositoryArn, ARN_SHAPES.ecrRepository)]);
  return [
    {
      Sid: "PullTrainingImage",
      Effect: "Allow",
      Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
      Resource: repositoryArn,
    },
    // Registry-wide by design: the token only authenticates; the repository grant above authorizes.
    { Sid: "LogInToEcr", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
  ];
}

/**
 * Read the W&B API key's SecureString parameter. It is under the AWS managed key aws/ssm, whose
 * key policy lets callers decrypt through SSM: no kms:Decrypt grant is needed.
 */
export function parameterReadStatements(parameterArn: string): GrantStatement[] {
  throwIfGrantProblems("reading the W&B API key", [arnProblem("wandbApiKeyParameterArn", parameterArn, ARN_SHAPES.ssmParameter)]);
  return [{ Sid: "ReadWandbApiKey", Effect: "Allow", Action: ["ssm:GetParameter"], Resource: parameterArn }];
}

/** One object, read-only: the weights a fine-tune starts from (`arn:aws:s3:::bucket/key.pt`). */
export function initialWeightsStatements(objectArn: string): GrantStatement[] {
  throwIfGrantProblems("reading the initial weights", [arnProblem("initialWeightsArn", objectArn, ARN_SHAPES.object)]);
  return [{ Sid: "ReadInitialWeights", Effect: "Allow", Action: ["s3:GetObject"], Resource: objectArn }];
}
