/**
 * The IAM statements each grant hands out, as plain JSON values. Pure: no resources, no I/O.
 * Every builder checks the ARN and prefix it is given (all problems at once), so no statement
 * can come out with a `*` where a resource belongs or with an unscoped prefix. The components'
 * `grant…` methods (`ArtifactBucket.grantReadWrite`, `OtaBucket.grantWrite`, …) call these with
 * their own ARNs; `nodeRolePolicyDocument` is their sum for one run.
 */
import { KEY_PREFIX_PATTERN } from "../../runspec/bucketLayout";

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
const ARN = /^arn:aws[a-z-]*:/;
const BUCKET_ARN = /^arn:[^:]+:s3:::[a-z0-9.-]+$/;

/** Why `value` is not an ARN of `service` (matching `shape`); undefined when it is. */
export function arnProblem(name: string, value: string | undefined, service: string, shape?: RegExp): string | undefined {
  if (value === undefined) return undefined;
  if (ARN.test(value) && value.includes(`:${service}:`) && (!shape || shape.test(value))) return undefined;
  return `${name} ${JSON.stringify(value)} must be an ARN of ${service}${shape ? ` matching ${shape.source}` : ""}`;
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

const bucketArnProblem = (name: string, value: string): string | undefined => arnProblem(name, value, "s3", BUCKET_ARN);
const keyArnProblem = (name: string, value: string | undefined): string | undefined =>
  arnProblem(name, value, "kms", /:key\/[A-Za-z0-9-]+$/);

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
  throwIfGrantProblems("pulling the training image", [arnProblem("ecrRepositoryArn", repositoryArn, "ecr", /:repository\/[a-z0-9._/-]+$/)]);
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
  throwIfGrantProblems("reading the W&B API key", [
    arnProblem("wandbApiKeyParameterArn", parameterArn, "ssm", /:parameter\/[A-Za-z0-9_.\/-]+$/),
  ]);
  return [{ Sid: "ReadWandbApiKey", Effect: "Allow", Action: ["ssm:GetParameter"], Resource: parameterArn }];
}

/** One object, read-only: the weights a fine-tune starts from (`arn:aws:s3:::bucket/key.pt`). */
export function initialWeightsStatements(objectArn: string): GrantStatement[] {
  throwIfGrantProblems("reading the initial weights", [arnProblem("initialWeightsArn", objectArn, "s3", /^arn:[^:]+:s3:::[a-z0-9.-]+\/[^*]+$/)]);
  return [{ Sid: "ReadInitialWeights", Effect: "Allow", Action: ["s3:GetObject"], Resource: objectArn }];
}
