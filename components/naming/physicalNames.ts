/**
 * Physical names that always fit AWS, whatever the stack and project are called (Pulumi allows
 * 100-character stack names, with upper case, `.` and `_`). Pure: no resources, no I/O.
 *
 * Two ways a resource gets its physical name:
 * - explicitly (`name`, `dashboardName`, …): {@link physicalName} fits it to the service's rule;
 * - by Pulumi's autonaming, from the logical name plus `-` and 7 random hex characters:
 *   {@link autoName} fits the logical name so that the generated name fits.
 *
 * A name that already fits is kept as it is (so existing stacks keep their resources). Any other
 * name is cleaned (lower-cased where the service wants it, refused characters turned into `-`),
 * shortened to a readable head and tail, and given 8 hex characters of the SHA-256 of the whole
 * original name, like the AWS CDK's unique names: the same input always gives the same name, and
 * two inputs that differ anywhere (in the middle of a long name, or only in case) give different
 * names.
 */
import { createHash } from "crypto";
import { S3_BUCKET_RESERVED_PREFIXES, S3_BUCKET_RESERVED_SUFFIXES } from "../../runspec/awsPatterns";

/** Characters Pulumi appends when it names a resource: `-` and 7 random hex characters. */
export const AUTONAME_SUFFIX_LENGTH = 8;

/** Hex characters of SHA-256 that stand for what a shortened or cleaned name left out. */
export const NAME_HASH_LENGTH = 8;

/** What one kind of AWS name must look like. */
export interface NameRule {
  /** e.g. "IAM role name", for messages. */
  readonly what: string;
  /** Longest name AWS accepts (including `fixedPrefix`). */
  readonly maxLength: number;
  /**
   * Longest name Pulumi's autonaming generates for this type, when below `maxLength`
   * (`@pulumi/aws` caps SNS topics at 80, KMS aliases at `alias/` and 238, and every type it has no
   * rule for at 255).
   */
  readonly autonameMaxLength?: number;
  /** One character AWS accepts in the name (a character class, no anchors, no flags). */
  readonly allowed: RegExp;
  /** The service takes lower case only. */
  readonly lowercase?: boolean;
  /** The name must start with a letter or digit. */
  readonly alphanumericStart?: boolean;
  /** `.`, `_` and `-` separate letters and digits: never two in a row, never at either end (ECR). */
  readonly singleSeparators?: boolean;
  /** Beginnings AWS reserves (after `fixedPrefix`), compared without case. */
  readonly reservedPrefixes?: readonly string[];
  /** Endings AWS reserves, compared without case. */
  readonly reservedSuffixes?: readonly string[];
  /** What every name starts with, e.g. `alias/`. */
  readonly fixedPrefix?: string;
}

const IAM_CHARACTERS = /[A-Za-z0-9_+=,.@-]/;

/**
 * The rules of the names this package sets or lets Pulumi generate. Limits are AWS's (see each
 * service's API reference); where a rule is stricter than AWS, it says why.
 */
export const NAME_RULES = {
  /** @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (no dots: they break TLS for virtual-hosted addressing) */
  s3Bucket: {
    what: "S3 bucket name",
    maxLength: 63,
    allowed: /[a-z0-9-]/,
    lowercase: true,
    alphanumericStart: true,
    reservedPrefixes: S3_BUCKET_RESERVED_PREFIXES,
    reservedSuffixes: S3_BUCKET_RESERVED_SUFFIXES,
  },
  /** @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html */
  iamRole: { what: "IAM role name", maxLength: 64, allowed: IAM_CHARACTERS },
  iamRolePolicy: { what: "IAM inline policy name", maxLength: 128, allowed: IAM_CHARACTERS },
  iamPolicy: { what: "IAM managed policy name", maxLength: 128, allowed: IAM_CHARACTERS },
  iamInstanceProfile: { what: "IAM instance profile name", maxLength: 128, allowed: IAM_CHARACTERS },
  /** @see https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html */
  lambdaFunction: { what: "Lambda function name", maxLength: 64, allowed: /[A-Za-z0-9_-]/ },
  /** @see https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html */
  schedule: { what: "EventBridge Scheduler schedule name", maxLength: 64, allowed: /[A-Za-z0-9_.-]/ },
  /** @see https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html */
  snsTopic: { what: "SNS topic name", maxLength: 256, autonameMaxLength: 80, allowed: /[A-Za-z0-9_-]/ },
  /** @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html (printable ASCII) */
  metricAlarm: { what: "CloudWatch alarm name", maxLength: 255, allowed: /[ -~]/ },
  /** @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html */
  dashboard: { what: "CloudWatch dashboard name", maxLength: 255, allowed: /[A-Za-z0-9_-]/ },
  /** @see https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html */
  logGroup: { what: "CloudWatch Logs log group name", maxLength: 512, autonameMaxLength: 255, allowed: /[A-Za-z0-9_.\/#-]/ },
  /** @see https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html */
  kmsAlias: { what: "KMS alias name", maxLength: 256, autonameMaxLength: 244, allowed: /[A-Za-z0-9\/_-]/, fixedPrefix: "alias/", reservedPrefixes: ["aws/"] },
  /** AWS allows 255 characters of almost anything; the run spec (runspec/schema.ts) takes 128 of these. */
  autoScalingGroup: { what: "Auto Scaling group name", maxLength: 128, allowed: /[A-Za-z0-9._-]/, alphanumericStart: true },
  /** @see https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScalingPolicy.html */
  autoScalingPolicy: { what: "Auto Scaling policy name", maxLength: 255, allowed: /[ -~]/ },
  /** @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html */
  launchTemplate: { what: "EC2 launch template name", maxLength: 128, allowed: /[A-Za-z0-9().\/_-]/ },
  /** @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html */
  securityGroup: {
    what: "EC2 security group name",
    maxLength: 255,
    allowed: /[A-Za-z0-9 ._\-:\/()#,@[\]+=&;{}!$*]/,
    reservedPrefixes: ["sg-"],
  },
  /** @see https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html (no `/` namespaces here) */
  ecrRepository: {
    what: "ECR repository name",
    maxLength: 256,
    autonameMaxLength: 255,
    allowed: /[a-z0-9._-]/,
    lowercase: true,
    alphanumericStart: true,
    singleSeparators: true,
  },
  /** @see https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html */
  ssmParameter: { what: "SSM parameter name", maxLength: 1011, allowed: /[A-Za-z0-9_.\/-]/, reservedPrefixes: ["aws", "ssm", "/aws", "/ssm"] },
  /** @see https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Budget.html */
  budget: { what: "AWS Budgets budget name", maxLength: 100, allowed: /[^:\\]/ },
  /** Tag values (e.g. `Name`, the cost allocation tag): the characters every tagging service accepts. */
  tagValue: { what: "tag value", maxLength: 256, allowed: /[A-Za-z0-9 _.:\/=+@-]/ },
} as const satisfies Record<string, NameRule>;

/** The first {@link NAME_HASH_LENGTH} hex characters of the SHA-256 of `text`. */
export function nameHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, NAME_HASH_LENGTH);
}

/** Longest logical name whose autonamed physical name (`<logical>-<7 random>`) fits `rule`. */
export function autoNameLimit(rule: NameRule): number {
  return Math.min(rule.maxLength, rule.autonameMaxLength ?? rule.maxLength) - AUTONAME_SUFFIX_LENGTH;
}

/** An explicit physical name that fits `rule`: `name` itself when it does, else cleaned, shortened and hashed. */
export function physicalName(rule: NameRule, name: string): string {
  return fitName(rule, name, rule.maxLength);
}

/**
 * A logical name for a resource Pulumi names: `<result>-<7 random hex>` fits `rule`. The same
 * `name` when that already holds, so the resource (its URN) does not change.
 */
export function autoName(rule: NameRule, name: string): string {
  // Pulumi appends `-<random>`: "sg" alone is a fine name, "sg-1a2b3c4" is reserved.
  return fitName(rule, name, autoNameLimit(rule), "-");
}

/**
 * `name` fitted into `limit` characters of `rule`: unchanged when it fits, else the cleaned name's
 * head and tail with the hash of the whole `name` (`<head>-<tail>-<hash>`). Deterministic.
 * `followedBy` is what will be appended to the result, so a reserved prefix is checked with it.
 */
export function fitName(rule: NameRule, name: string, limit: number, followedBy = ""): string {
  const fixed = rule.fixedPrefix ?? "";
  const room = limit - fixed.length;
  if (room < NAME_HASH_LENGTH) throw new RangeError(`fitName: ${limit} characters leave no room for a ${rule.what}`);
  const body = name.startsWith(fixed) ? name.slice(fixed.length) : name;
  const clean = cleanBody(rule, body);
  const reserved = (text: string): boolean => reservedPrefixOf(rule, text) !== undefined || reservedSuffixOf(rule, text) !== undefined;
  if (clean === body && clean.length > 0 && clean.length <= room && !reserved(clean + followedBy)) return fixed + clean;
  const hash = nameHash(name);
  const keptRoom = room - NAME_HASH_LENGTH - 1;
  let kept = shorten(clean, keptRoom);
  // The hash follows a `-`, so a head of "sg" or "sthree" would make a reserved name.
  if (kept !== "" && reserved(`${kept}-`)) kept = shorten(`x-${clean}`, keptRoom);
  return fixed + (kept === "" ? hash : `${kept}-${hash}`);
}

/** Why `physical` is not a valid name under `rule`; undefined when it is. */
export function nameProblem(rule: NameRule, physical: string): string | undefined {
  const fixed = rule.fixedPrefix ?? "";
  if (physical.length === 0) return "is empty";
  if (physical.length > rule.maxLength) return `is ${physical.length} characters long, more than ${rule.maxLength}`;
  if (!physical.startsWith(fixed)) return `does not start with ${fixed}`;
  const body = physical.slice(fixed.length);
  if (body === "") return `has nothing after ${fixed}`;
  const refused = [...new Set(Array.from(body).filter((c) => !rule.allowed.test(c)))];
  if (refused.length > 0) return `has characters AWS refuses: ${refused.map((c) => JSON.stringify(c)).join(" ")}`;
  if (rule.lowercase && body !== body.toLowerCase()) return "has upper case";
  if (rule.alphanumericStart && !/^[A-Za-z0-9]/.test(body)) return "does not start with a letter or digit";
  if (rule.singleSeparators && /[._-]{2}|^[._-]|[._-]$/.test(body)) return "has two separators in a row, or one at an end";
  const reserved = reservedPrefixOf(rule, body);
  if (reserved !== undefined) return `starts with ${reserved}, which AWS reserves`;
  const reservedEnd = reservedSuffixOf(rule, body);
  if (reservedEnd !== undefined) return `ends with ${reservedEnd}, which AWS reserves`;
  return undefined;
}

/** Why the name Pulumi generates from logical name `logical` would not fit `rule`; undefined when it fits. */
export function autoNameProblem(rule: NameRule, logical: string): string | undefined {
  const limit = autoNameLimit(rule);
  if (logical.length > limit) {
    return `${logical.length} characters plus ${AUTONAME_SUFFIX_LENGTH} random ones is longer than ${limit + AUTONAME_SUFFIX_LENGTH}`;
  }
  return nameProblem(rule, `${logical}-0a1b2c3`);
}

/** A project and stack: what makes account-wide names unique per stack. */
export interface StackIdentity {
  readonly project: string;
  readonly stack: string;
}

/**
 * `name` qualified with the project and stack (`<project>-<stack>-<name>`), for names that are
 * unique per account and region (dashboards, Auto Scaling groups, log groups, parameters,
 * aliases); unchanged when it already starts with `<project>-<stack>` (the stack program names
 * its `TrainingRun` so). Fit the result with {@link physicalName}.
 */
export function stackScopedName(name: string, identity: StackIdentity): string {
  const scope = `${identity.project}-${identity.stack}`;
  return name === scope || name.startsWith(`${scope}-`) ? name : `${scope}-${name}`;
}

function reservedPrefixOf(rule: NameRule, body: string): string | undefined {
  const lower = body.toLowerCase();
  return rule.reservedPrefixes?.find((p) => lower.startsWith(p.toLowerCase()));
}

function reservedSuffixOf(rule: NameRule, body: string): string | undefined {
  const lower = body.toLowerCase();
  return rule.reservedSuffixes?.find((s) => lower.endsWith(s.toLowerCase()));
}

/** The name with every character the rule refuses replaced, its case and edges fixed. */
function cleanBody(rule: NameRule, body: string): string {
  let clean = rule.lowercase ? body.toLowerCase() : body;
  clean = Array.from(clean, (c) => (rule.allowed.test(c) ? c : "-")).join("");
  if (rule.singleSeparators) clean = clean.replace(/[._-]{2,}/g, "-").replace(/^[._-]+|[._-]+$/g, "");
  if (rule.alphanumericStart) clean = clean.replace(/^[^A-Za-z0-9]+/, "");
  return clean;
}

/**
 * At most `room` characters of `text`: all of it when it fits, else its head and its tail joined
 * by `-`, each cut trimmed back to a letter or digit.
 */
function shorten(text: string, room: number): string {
  if (text.length <= room) return text.replace(/[^A-Za-z0-9]+$/, "");
  if (room < 3) return text.slice(0, Math.max(room, 0)).replace(/[^A-Za-z0-9]+$/, "");
  const tailLength = Math.floor((room - 1) / 2);
  const head = text.slice(0, room - 1 - tailLength).replace(/[^A-Za-z0-9]+$/, "");
  const tail = text.slice(text.length - tailLength).replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
  return [head, tail].filter((part) => part !== "").join("-");
}
