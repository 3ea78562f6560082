/**
 * Bucket and IAM policy documents for the storage components, rendered as plain JSON values.
 * Pure: no resources, no I/O. Every function checks the ARN and prefix it is given, so no
 * document can come out with a `*` resource or an unscoped prefix.
 */
import { S3_BUCKET_ARN_PATTERN } from "../../runspec/awsPatterns";
import { assertKeyPrefix } from "../../runspec/bucketLayout";

/** One statement of an IAM or bucket policy, as AWS reads it. */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny";
  readonly Principal?: "*" | { readonly [kind: string]: string | readonly string[] };
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: { readonly [operator: string]: { readonly [key: string]: string | readonly string[] } };
}

/** An IAM or bucket policy document. */
export interface PolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: readonly PolicyStatement[];
}

/** A general purpose bucket's ARN in any partition (`arn:aws:s3:::name`), as runspec/awsPatterns.ts has it. */
function assertBucketArn(bucketArn: string): void {
  if (!S3_BUCKET_ARN_PATTERN.test(bucketArn)) {
    throw new Error(`bucket ARN ${JSON.stringify(bucketArn)} is not an S3 bucket ARN like arn:aws:s3:::my-bucket`);
  }
}

/**
 * Denies every request to the bucket and its objects that does not use TLS, whoever makes it.
 * A Deny with Principal `*` is not "public" for Block Public Access, which only weighs Allows.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html#transit
 */
export function tlsOnlyStatement(bucketArn: string): PolicyStatement {
  assertBucketArn(bucketArn);
  return {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: "s3:*",
    Resource: [bucketArn, `${bucketArn}/*`],
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}

/** The bucket policy of every private bucket: TLS only. */
export function tlsOnlyBucketPolicy(bucketArn: string): PolicyDocument {
  return { Version: "2012-10-17", Statement: [tlsOnlyStatement(bucketArn)] };
}

export interface ReadOnlyOptions {
  /**
   * Also allow reading older versions of the objects (`s3:GetObjectVersion`).
   * @default false
   */
  readonly objectVersions?: boolean;
  /**
   * Prefix for the statement ids, so statements for several buckets can share one policy.
   * @default "Read"
   */
  readonly sidPrefix?: string;
}

/**
 * Read-only access to the objects under one prefix of a bucket: get the objects under
 * `<prefix>*`, and list the bucket only for keys under that prefix (`s3:prefix` condition).
 * The GPU node role gets these for `datasets/` of the dataset bucket.
 *
 * When the bucket is encrypted with a customer managed KMS key, readers also need
 * `kms:Decrypt` on that key; that statement is not included here.
 */
export function readOnlyStatements(bucketArn: string, prefix: string, options: ReadOnlyOptions = {}): PolicyStatement[] {
  assertBucketArn(bucketArn);
  assertKeyPrefix(prefix, "prefix");
  const sid = options.sidPrefix ?? "Read";
  if (!/^[A-Za-z0-9]+$/.test(sid)) throw new Error(`statement id prefix ${JSON.stringify(sid)} must be alphanumeric`);
  const getActions = options.objectVersions ? ["s3:GetObject", "s3:GetObjectVersion"] : ["s3:GetObject"];
  return [
    { Sid: `${sid}Objects`, Effect: "Allow", Action: getActions, Resource: `${bucketArn}/${prefix}*` },
    {
      Sid: `${sid}ListPrefix`,
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: bucketArn,
      // `*` in StringLike matches zero or more characters, so listing the prefix itself is allowed.
      Condition: { StringLike: { "s3:prefix": [`${prefix}*`] } },
    },
  ];
}

/**
 * The IAM policy for edge devices: read the models (current and earlier versions, for rollback)
 * under `modelsPrefix` of the OTA bucket, and list that prefix. Nothing else: no writes, no
 * other prefix, no other bucket.
 */
export function edgeReadPolicyDocument(bucketArn: string, modelsPrefix: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: readOnlyStatements(bucketArn, modelsPrefix, { objectVersions: true, sidPrefix: "ReadModels" }),
  };
}
