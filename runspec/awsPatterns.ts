/**
 * AWS's own formats, once: region names, partitions, account ids, S3 bucket names, KMS key ids
 * and aliases, the ECR registry host, and the ARNs this package reads or grants on (S3 buckets and
 * objects, KMS keys and aliases, ECR repositories, SSM parameters, CloudWatch Logs log groups,
 * Lambda functions, IAM roles and policies, SNS topics, Auto Scaling groups). The stack config,
 * the components' policy builders, the OTA tools, the CLI, the offline mocks and `yolo-train/testing`
 * all check against these. Pure: no I/O, no dependencies.
 *
 * Each format is an anchored `…_PATTERN`; the building blocks other patterns are made of are also
 * exported as `…_SOURCE` strings (no anchors, no groups) for composing. ARN patterns have named
 * groups: `partition`, `region`, `account` where the ARN has them, and the resource's own parts
 * (`bucket`, `keyId`, `repository`, …): `PATTERN.exec(arn)?.groups?.region`.
 *
 * Where a check takes a value that AWS (or a test's mock) produced, not one a person typed, the
 * `…_ANY_ID` variants accept any KMS key id of letters, digits and `-` in a key ARN: they guard
 * against wiring mistakes (an alias, another service's ARN, a wildcard), and the offline mocks'
 * logical ids (`key/signing-id`) pass them. Everything else follows AWS's documented format.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html (ARN format)
 */

const whole = (source: string): RegExp => new RegExp(`^${source}$`);
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// ---------------------------------------------------------------------------------------------
// Partition, region, account

/**
 * A partition: `aws`, or `aws-` and lower-case words: `aws-cn` (China), `aws-us-gov` (GovCloud
 * (US)), `aws-eusc` (European Sovereign Cloud), `aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f`.
 * The shape rather than the list, so that a partition AWS adds later is not refused.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
 * @see https://github.com/aws/aws-sdk-js-v3/blob/main/packages/util-endpoints/src/lib/aws/partitions.json
 */
export const AWS_PARTITION_SOURCE = "aws(?:-[a-z]+)*";
export const AWS_PARTITION_PATTERN = whole(AWS_PARTITION_SOURCE);

/**
 * A Region code: a 2-letter area (4 for `eusc`), one or more lower-case words, and a number:
 * `us-east-1`, `ap-southeast-5`, `il-central-1`, `us-gov-west-1`, `cn-northwest-1`,
 * `us-isob-east-1`, `eusc-de-east-1`. The union of the AWS SDKs' per-partition `regionRegex`
 * (which allow any number, `\d+`), as a shape, so that opt-in and new Regions are accepted.
 * @see https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html
 * @see https://github.com/aws/aws-sdk-js-v3/blob/main/packages/util-endpoints/src/lib/aws/partitions.json
 */
export const AWS_REGION_SOURCE = "[a-z]{2,4}(?:-[a-z]+)+-\\d+";
export const AWS_REGION_PATTERN = whole(AWS_REGION_SOURCE);

/**
 * An AWS account id: 12 digits, without hyphens (leading zeros are part of it).
 * @see https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-identifiers.html
 */
export const AWS_ACCOUNT_ID_SOURCE = "\\d{12}";
export const AWS_ACCOUNT_ID_PATTERN = whole(AWS_ACCOUNT_ID_SOURCE);

/** Whether `value` is a Region code ({@link AWS_REGION_PATTERN}). */
export function isAwsRegion(value: string): boolean {
  return AWS_REGION_PATTERN.test(value);
}

/** Whether `value` is an AWS account id: 12 digits ({@link AWS_ACCOUNT_ID_PATTERN}). */
export function isAwsAccountId(value: string): boolean {
  return AWS_ACCOUNT_ID_PATTERN.test(value);
}

/**
 * The partition a Region belongs to, by the Region prefixes of the AWS SDKs' partition table:
 * `cn-…` is `aws-cn`, `us-gov-…` `aws-us-gov`, `eusc-…` `aws-eusc`, `us-iso-…`, `us-isob-…`,
 * `eu-isoe-…` and `us-isof-…` the ISO partitions, any other Region `aws`.
 * @see https://github.com/aws/aws-sdk-js-v3/blob/main/packages/util-endpoints/src/lib/aws/partitions.json
 */
export function awsPartitionOfRegion(region: string): string {
  const prefixes: ReadonlyArray<readonly [string, string]> = [
    ["cn-", "aws-cn"],
    ["us-gov-", "aws-us-gov"],
    ["eusc-", "aws-eusc"],
    ["us-iso-", "aws-iso"],
    ["us-isob-", "aws-iso-b"],
    ["eu-isoe-", "aws-iso-e"],
    ["us-isof-", "aws-iso-f"],
  ];
  return prefixes.find(([prefix]) => region.startsWith(prefix))?.[1] ?? "aws";
}

// ---------------------------------------------------------------------------------------------
// ARNs in general

/** The parts of an ARN: `arn:<partition>:<service>:<region>:<account>:<resource>` (region and account may be empty). */
export interface ArnParts {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  /** Everything after the fifth `:` (`role/name`, `log-group:name`, `bucket/key`). */
  readonly resource: string;
}

/**
 * Splits an ARN into its parts (it does not check each part: use the service's pattern for that).
 * @throws Error `not an ARN: …` when `arn` does not start with `arn:` or has fewer than six parts.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
 */
export function parseArn(arn: string): ArnParts {
  const parts = arn.split(":");
  if (parts.length < 6 || parts[0] !== "arn") throw new Error(`not an ARN: ${arn}`);
  return {
    partition: parts[1]!,
    service: parts[2]!,
    region: parts[3]!,
    account: parts[4]!,
    resource: parts.slice(5).join(":"),
  };
}

/** `arn:<partition>:<service>:<region>:<account>:`, each as a named group. */
const regionalArn = (service: string): string =>
  `arn:(?<partition>${AWS_PARTITION_SOURCE}):${service}:(?<region>${AWS_REGION_SOURCE}):(?<account>${AWS_ACCOUNT_ID_SOURCE}):`;

// ---------------------------------------------------------------------------------------------
// S3

/** Beginnings S3 refuses in a general purpose bucket's name. */
export const S3_BUCKET_RESERVED_PREFIXES: readonly string[] = Object.freeze(["xn--", "sthree-", "amzn-s3-demo-"]);

/** Endings S3 refuses in a general purpose bucket's name (access point, Object Lambda, Multi-Region Access Point, directory bucket and table bucket names). */
export const S3_BUCKET_RESERVED_SUFFIXES: readonly string[] = Object.freeze(["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]);

/** Lookaheads that bound a check to the rest of the name: a name's characters, up to where they stop. */
const BUCKET_CHAR = "[a-z0-9.-]";
const BUCKET_END = `(?!${BUCKET_CHAR})`;

/**
 * A general purpose bucket's name, with every rule of the S3 User Guide: 3-63 characters of
 * lower-case letters, digits, `.` and `-`; a letter or digit at each end; no two adjacent periods;
 * not an IP address (`192.168.5.4`); none of the {@link S3_BUCKET_RESERVED_PREFIXES} and
 * {@link S3_BUCKET_RESERVED_SUFFIXES}. The lookaheads stop where the name's characters stop, so
 * the source composes into ARNs and `s3://` URIs (followed by `/`, `:` or the end).
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
 */
export const S3_BUCKET_NAME_SOURCE =
  `(?!${S3_BUCKET_RESERVED_PREFIXES.map(escapeRegExp).join("|")})` +
  `(?!${BUCKET_CHAR}*\\.\\.)` +
  `(?!(?:\\d+\\.){3}\\d+${BUCKET_END})` +
  `(?!${BUCKET_CHAR}*(?:${S3_BUCKET_RESERVED_SUFFIXES.map(escapeRegExp).join("|")})${BUCKET_END})` +
  `[a-z0-9]${BUCKET_CHAR}{1,61}[a-z0-9]${BUCKET_END}`;
export const S3_BUCKET_NAME_PATTERN = whole(S3_BUCKET_NAME_SOURCE);

/** Whether `name` is a general purpose S3 bucket name ({@link S3_BUCKET_NAME_PATTERN}). */
export function isS3BucketName(name: string): boolean {
  return S3_BUCKET_NAME_PATTERN.test(name);
}

/**
 * A general purpose bucket's ARN: `arn:<partition>:s3:::<bucket>` (no Region, no account).
 * Groups: `partition`, `bucket`.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-arn-format.html
 */
export const S3_BUCKET_ARN_PATTERN = whole(`arn:(?<partition>${AWS_PARTITION_SOURCE}):s3:::(?<bucket>${S3_BUCKET_NAME_SOURCE})`);

/**
 * One object's ARN: `arn:<partition>:s3:::<bucket>/<key>`, the key without `*` or `?` (IAM reads
 * both as wildcards in a resource ARN, which would name more than one object). Groups:
 * `partition`, `bucket`, `key`.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-arn-format.html
 */
export const S3_OBJECT_ARN_PATTERN = whole(`arn:(?<partition>${AWS_PARTITION_SOURCE}):s3:::(?<bucket>${S3_BUCKET_NAME_SOURCE})/(?<key>[^*?]+)`);

// ---------------------------------------------------------------------------------------------
// KMS

/**
 * A KMS key id as KMS makes them: a UUID (`1234abcd-12ab-34cd-56ef-1234567890ab`), or `mrk-` and
 * 32 hex digits for a multi-Region key.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id-key-id
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-overview.html
 */
export const KMS_KEY_ID_SOURCE = "(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})";
export const KMS_KEY_ID_PATTERN = whole(KMS_KEY_ID_SOURCE);

/**
 * An alias name: `alias/` then letters, digits, `/`, `_` and `-`, 256 characters in all. Names
 * under `alias/aws/` are AWS managed keys' (they can be named, not created).
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/alias-create.html
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html
 */
export const KMS_ALIAS_NAME_SOURCE = "alias/[A-Za-z0-9/_-]{1,250}";
export const KMS_ALIAS_NAME_PATTERN = whole(KMS_ALIAS_NAME_SOURCE);

/**
 * A key ARN: `arn:<partition>:kms:<region>:<account>:key/<key id>`, the key id as KMS makes them
 * ({@link KMS_KEY_ID_PATTERN}). Groups: `partition`, `region`, `account`, `keyId`.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id-key-ARN
 */
export const KMS_KEY_ARN_PATTERN = whole(`${regionalArn("kms")}key/(?<keyId>${KMS_KEY_ID_SOURCE})`);

/**
 * A key ARN with any key id of letters, digits and `-` (see the module comment): for ARNs the
 * provider or a mock hands over. Groups as {@link KMS_KEY_ARN_PATTERN}.
 */
export const KMS_KEY_ARN_ANY_ID_PATTERN = whole(`${regionalArn("kms")}key/(?<keyId>[A-Za-z0-9-]+)`);

/**
 * An alias ARN: `arn:<partition>:kms:<region>:<account>:alias/<name>`. Groups: `partition`,
 * `region`, `account`, `aliasName` (with its `alias/`).
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id-alias-ARN
 */
export const KMS_ALIAS_ARN_PATTERN = whole(`${regionalArn("kms")}(?<aliasName>${KMS_ALIAS_NAME_SOURCE})`);

/** Source of a key ARN or alias ARN without groups, for {@link KMS_KEY_REFERENCE_PATTERN}. */
const kmsArnSource = (keyId: string): string =>
  `arn:${AWS_PARTITION_SOURCE}:kms:${AWS_REGION_SOURCE}:${AWS_ACCOUNT_ID_SOURCE}:(?:key/${keyId}|${KMS_ALIAS_NAME_SOURCE})`;

/**
 * Anything KMS takes as a `KeyId` for signing: a key ARN, an alias ARN, an alias name or a key id.
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html#KMS-Sign-request-KeyId
 */
export const KMS_KEY_REFERENCE_PATTERN = whole(`(?:${kmsArnSource(KMS_KEY_ID_SOURCE)}|${KMS_ALIAS_NAME_SOURCE}|${KMS_KEY_ID_SOURCE})`);

/** {@link KMS_KEY_REFERENCE_PATTERN}, with a key ARN's key id as {@link KMS_KEY_ARN_ANY_ID_PATTERN}'s. */
export const KMS_KEY_REFERENCE_ANY_ID_PATTERN = whole(`(?:${kmsArnSource("[A-Za-z0-9-]+")}|${KMS_ALIAS_NAME_SOURCE}|${KMS_KEY_ID_SOURCE})`);

/** What a KMS `KeyId` names, as {@link parseKmsKeyReference} reads it. */
export type KmsKeyReference =
  | { readonly kind: "key-arn"; readonly partition: string; readonly region: string; readonly account: string; readonly keyId: string }
  | { readonly kind: "alias-arn"; readonly partition: string; readonly region: string; readonly account: string; readonly aliasName: string }
  | { readonly kind: "alias"; readonly aliasName: string }
  | { readonly kind: "key-id"; readonly keyId: string };

/**
 * Reads a KMS `KeyId` (see {@link KMS_KEY_REFERENCE_PATTERN}); undefined when it is none of the
 * four. `anyKeyId` takes a key ARN's key id as {@link KMS_KEY_ARN_ANY_ID_PATTERN} does.
 */
export function parseKmsKeyReference(text: string, options: { readonly anyKeyId?: boolean } = {}): KmsKeyReference | undefined {
  const key = (options.anyKeyId ? KMS_KEY_ARN_ANY_ID_PATTERN : KMS_KEY_ARN_PATTERN).exec(text)?.groups;
  if (key) return { kind: "key-arn", partition: key.partition!, region: key.region!, account: key.account!, keyId: key.keyId! };
  const alias = KMS_ALIAS_ARN_PATTERN.exec(text)?.groups;
  if (alias) return { kind: "alias-arn", partition: alias.partition!, region: alias.region!, account: alias.account!, aliasName: alias.aliasName! };
  if (KMS_ALIAS_NAME_PATTERN.test(text)) return { kind: "alias", aliasName: text };
  if (KMS_KEY_ID_PATTERN.test(text)) return { kind: "key-id", keyId: text };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// ECR

/**
 * A repository name: lower-case components separated by `.`, `_` or `-`, namespaced by `/`
 * (`yolo-train`, `team/yolo-train`), 2 to 256 characters.
 * @see https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html#ECR-CreateRepository-request-repositoryName
 */
export const ECR_REPOSITORY_NAME_SOURCE = "(?=[a-z0-9._/-]{2,256}(?![a-z0-9._/-]))(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*";
export const ECR_REPOSITORY_NAME_PATTERN = whole(ECR_REPOSITORY_NAME_SOURCE);

/**
 * A private registry's host: `<account>.dkr.ecr.<region>.amazonaws.com` (`.com.cn` in the China
 * Regions; `dkr.ecr-fips` for the FIPS endpoints). Groups: `account`, `region`.
 * @see https://docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html
 * @see https://docs.aws.amazon.com/general/latest/gr/ecr.html
 */
export const ECR_REGISTRY_HOST_PATTERN = whole(
  `(?<account>${AWS_ACCOUNT_ID_SOURCE})\\.dkr\\.ecr(?:-fips)?\\.(?<region>${AWS_REGION_SOURCE})\\.amazonaws\\.com(?:\\.cn)?`,
);

/**
 * A repository ARN: `arn:<partition>:ecr:<region>:<account>:repository/<name>`. Groups:
 * `partition`, `region`, `account`, `repository`.
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html#amazonelasticcontainerregistry-resources-for-iam-policies
 */
export const ECR_REPOSITORY_ARN_PATTERN = whole(`${regionalArn("ecr")}repository/(?<repository>${ECR_REPOSITORY_NAME_SOURCE})`);

// ---------------------------------------------------------------------------------------------
// SSM, CloudWatch Logs, Lambda

/**
 * A Parameter Store parameter's ARN: `arn:<partition>:ssm:<region>:<account>:parameter/<name>`,
 * a hierarchical name's leading `/` left out (`/yolo-train/key` is `parameter/yolo-train/key`).
 * Names are letters, digits, `_`, `.`, `-` and `/`. Groups: `partition`, `region`, `account`, `name`.
 * @see https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html#awssystemsmanager-resources-for-iam-policies
 */
export const SSM_PARAMETER_ARN_PATTERN = whole(`${regionalArn("ssm")}parameter/(?<name>[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,1010})`);

/**
 * A log group's name: 1-512 characters of letters, digits, `_`, `-`, `/`, `.` and `#`.
 * @see https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
 */
export const CLOUDWATCH_LOG_GROUP_NAME_SOURCE = "[A-Za-z0-9_/.#-]{1,512}";
export const CLOUDWATCH_LOG_GROUP_NAME_PATTERN = whole(CLOUDWATCH_LOG_GROUP_NAME_SOURCE);

/**
 * A log group's ARN without the `:*` that CloudWatch Logs adds for its streams:
 * `arn:<partition>:logs:<region>:<account>:log-group:<name>`. Groups: `partition`, `region`,
 * `account`, `logGroup`.
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html#amazoncloudwatchlogs-resources-for-iam-policies
 */
export const CLOUDWATCH_LOG_GROUP_ARN_PATTERN = whole(`${regionalArn("logs")}log-group:(?<logGroup>${CLOUDWATCH_LOG_GROUP_NAME_SOURCE})`);

/**
 * An unqualified Lambda function ARN (no version or alias): `arn:<partition>:lambda:<region>:<account>:function:<name>`,
 * the name 1-64 letters, digits, `-` and `_`. Groups: `partition`, `region`, `account`, `functionName`.
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html#lambda-CreateFunction-request-FunctionName
 */
export const LAMBDA_FUNCTION_ARN_PATTERN = whole(`${regionalArn("lambda")}function:(?<functionName>[A-Za-z0-9_-]{1,64})`);

// ---------------------------------------------------------------------------------------------
// IAM, SNS, Auto Scaling

/** An IAM path (`/` or `/team/ci/`): printable ASCII, each segment ended by `/`, captured with the name. */
const IAM_PATH = "/(?:[!-.0-~]+/)*";
const IAM_NAME = "[A-Za-z0-9_+=,.@-]";

/**
 * An IAM role's ARN: `arn:<partition>:iam::<account>:role<path><name>` (no Region), the name
 * 1-64 characters of letters, digits and `_+=,.@-`. Groups: `partition`, `account`, `roleName`.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
 */
export const IAM_ROLE_ARN_PATTERN = whole(
  `arn:(?<partition>${AWS_PARTITION_SOURCE}):iam::(?<account>${AWS_ACCOUNT_ID_SOURCE}):role${IAM_PATH}(?<roleName>${IAM_NAME}{1,64})`,
);

/**
 * A managed policy's ARN: `arn:<partition>:iam::<account>:policy<path><name>`, the account `aws`
 * for AWS managed policies, the name 1-128 characters of letters, digits and `_+=,.@-`. Groups:
 * `partition`, `account`, `policyName`.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html
 */
export const IAM_POLICY_ARN_PATTERN = whole(
  `arn:(?<partition>${AWS_PARTITION_SOURCE}):iam::(?<account>${AWS_ACCOUNT_ID_SOURCE}|aws):policy${IAM_PATH}(?<policyName>${IAM_NAME}{1,128})`,
);

/**
 * A topic's name: 1-256 letters, digits, `-` and `_`; a FIFO topic's ends in `.fifo`.
 * @see https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html#API_CreateTopic_RequestParameters
 */
export const SNS_TOPIC_NAME_SOURCE = "(?:[A-Za-z0-9_-]{1,251}\\.fifo|[A-Za-z0-9_-]{1,256})";

/**
 * A topic's ARN: `arn:<partition>:sns:<region>:<account>:<name>`. Groups: `partition`, `region`,
 * `account`, `topicName`.
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html#amazonsns-resources-for-iam-policies
 */
export const SNS_TOPIC_ARN_PATTERN = whole(`${regionalArn("sns")}(?<topicName>${SNS_TOPIC_NAME_SOURCE})`);

/**
 * An Auto Scaling group's ARN:
 * `arn:<partition>:autoscaling:<region>:<account>:autoScalingGroup:<uuid>:autoScalingGroupName/<name>`,
 * the name 1-255 characters. Groups: `partition`, `region`, `account`, `groupId`, `groupName`.
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html#amazonec2autoscaling-resources-for-iam-policies
 * @see https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html
 */
export const AUTO_SCALING_GROUP_ARN_PATTERN = whole(
  `${regionalArn("autoscaling")}autoScalingGroup:(?<groupId>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):autoScalingGroupName/(?<groupName>.{1,255})`,
);
