import { FAKE_ACCOUNT_ID, FAKE_REGION } from "../offline/fakeAws";
import {
  AWS_PARTITION_SOURCE,
  CLOUDWATCH_LOG_GROUP_NAME_SOURCE,
  ECR_REPOSITORY_NAME_SOURCE,
  KMS_ALIAS_NAME_SOURCE,
  KMS_KEY_ID_SOURCE,
  S3_BUCKET_NAME_SOURCE,
  SNS_TOPIC_NAME_SOURCE,
} from "../runspec/awsPatterns";

/** Where an ARN pattern expects its resource to live. */
export interface ArnPatternOptions {
  /** @default {@link FAKE_REGION} */
  readonly region?: string;
  /** @default {@link FAKE_ACCOUNT_ID} */
  readonly accountId?: string;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const HEX17 = "[0-9a-f]{17}";
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/**
 * The resource part of a regional service's ARN, as AWS writes it, for the services this
 * package uses; other services take any resource. Names and ids as runspec/awsPatterns.ts has them.
 */
const REGIONAL_RESOURCES: Record<string, string> = {
  kms: `(?:key/${KMS_KEY_ID_SOURCE}|${KMS_ALIAS_NAME_SOURCE})`,
  lambda: "function:[A-Za-z0-9_-]{1,64}(?::(?:\\$LATEST|[A-Za-z0-9_-]{1,128}))?",
  logs: `log-group:${CLOUDWATCH_LOG_GROUP_NAME_SOURCE}(?::\\*)?`,
  sns: `${SNS_TOPIC_NAME_SOURCE}(?::${UUID})?`,
  ssm: "parameter/[A-Za-z0-9_./-]+",
  ecr: `repository/${ECR_REPOSITORY_NAME_SOURCE}`,
  autoscaling: `(?:autoScalingGroup:${UUID}:autoScalingGroupName/[A-Za-z0-9._-]{1,255}|scalingPolicy:${UUID}:autoScalingGroupName/[A-Za-z0-9._-]{1,255}:policyName/.+)`,
  ec2: `(?:launch-template/lt-${HEX17}|security-group/sg-${HEX17}|vpc/vpc-${HEX17}|subnet/subnet-${HEX17}|instance/i-${HEX17})`,
  fsx: `file-system/fs-${HEX17}`,
  scheduler: "schedule/[0-9A-Za-z._-]{1,64}/[0-9A-Za-z._-]{1,64}",
  cloudwatch: "alarm:.{1,255}",
};

/**
 * A regular expression for a realistic ARN of one AWS service in the pretend account and region:
 * `arn:aws:<service>:<region>:<12-digit account>:<resource>`, with the region and account left
 * out where AWS leaves them out (`arn:aws:s3:::bucket`, `arn:aws:iam::<account>:role/name`,
 * budgets, CloudWatch dashboards) and the resource part shaped as AWS shapes it for the services
 * this package uses (a KMS key id is a UUID, a launch template id `lt-` and 17 hex digits).
 *
 * @example
 * expect(await valueOf(run.nodeGroup.groupArn)).toMatch(arnPattern("autoscaling"));
 * expect(await valueOf(bucket.bucketArn)).toMatch(arnPattern("s3"));
 */
export function arnPattern(service: string, options: ArnPatternOptions = {}): RegExp {
  const region = escape(options.region ?? FAKE_REGION);
  const account = escape(options.accountId ?? FAKE_ACCOUNT_ID);
  switch (service) {
    case "s3":
      return new RegExp(`^arn:aws:s3:::${S3_BUCKET_NAME_SOURCE}(?:/.*)?$`);
    case "iam":
      // AWS managed policies live in the account `aws`.
      return new RegExp(`^arn:aws:iam::(?:${account}:(?:role|policy|instance-profile|user|group)|aws:policy)/[\\w+=,.@/-]{1,512}$`);
    case "budgets":
      return new RegExp(`^arn:aws:budgets::${account}:budget/.{1,100}$`);
    case "cloudwatch":
      return new RegExp(`^arn:aws:cloudwatch:(?:${region}:${account}:alarm:.{1,255}|:${account}:dashboard/[A-Za-z0-9_-]{1,255})$`);
    case "apigateway":
      // A Lambda function's invoke ARN: the service in the account's place.
      return new RegExp(`^arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/arn:aws:lambda:${region}:${account}:function:[A-Za-z0-9_-]{1,64}/invocations$`);
    default: {
      if (!/^[a-z0-9-]+$/.test(service)) throw new Error(`arnPattern: ${JSON.stringify(service)} is not an AWS service prefix like "lambda" or "kms"`);
      return new RegExp(`^arn:aws:${escape(service)}:${region}:${account}:${REGIONAL_RESOURCES[service] ?? ".+"}$`);
    }
  }
}

/** The service of an ARN (`arn:aws:<service>:…`), or undefined for text that is not an ARN. */
export function arnService(arn: string): string | undefined {
  return new RegExp(`^arn:${AWS_PARTITION_SOURCE}:([a-z0-9-]+):`).exec(arn)?.[1];
}
