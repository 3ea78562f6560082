/**
 * AWS's naming rules for the resource types this package declares, and how Pulumi's autonaming
 * (`@pulumi/aws` 7) names them when no name is given, written down a second time, independently
 * of components/naming/physicalNames.ts, to check what a program registered under the mocks: a name the
 * program got wrong fails here as it would on a real `pulumi up`, not only in the naming module's
 * own tests.
 *
 * Sources: each service's API reference (limits and characters); the provider's resource
 * overrides (pulumi-aws `provider/resources.go`: `AutoName("name", 64, "-")` for IAM roles and
 * Lambda functions, 255 for alarms, 80 for SNS topics, lower-cased 63 for S3 buckets, 238 plus
 * `alias/` for KMS aliases, and 255 for every other type with a `name`).
 */
import type { RecordedResource } from "../../offline/fakeAws";

/** What Pulumi appends to a logical name: `-` and 7 random hex characters. */
export const PULUMI_AUTONAME_RANDOM = "-0a1b2c3";

export interface AwsNameRule {
  /** The input holding an explicit name. */
  readonly field: string;
  /** Longest name AWS accepts. */
  readonly max: number;
  /** The whole name, as AWS accepts it (length checked apart). */
  readonly pattern: RegExp;
  /** Further refusals: a reason, or undefined. */
  readonly refuse?: (name: string) => string | undefined;
  /** How Pulumi names the resource when `field` is unset; undefined: the name is required. */
  readonly autoname?: { readonly max: number; readonly lowercase?: boolean; readonly prefix?: string };
}

const IAM = /^[\w+=,.@-]+$/;
const PRINTABLE = /^[\x20-\x7e]+$/;
const DEFAULT_AUTONAME = { max: 255 } as const;

export const AWS_NAME_RULES: Readonly<Record<string, AwsNameRule>> = {
  "aws:s3/bucket:Bucket": {
    field: "bucket",
    max: 63,
    pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
    refuse: (n) =>
      n.length < 3
        ? "is shorter than 3 characters"
        : /\.\.|^\d+\.\d+\.\d+\.\d+$/.test(n)
          ? "has two dots in a row or is an IP address"
          : ["xn--", "sthree-", "amzn-s3-demo-"].find((p) => n.startsWith(p)) ??
            ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].find((s) => n.endsWith(s)),
    autoname: { max: 63, lowercase: true },
  },
  "aws:iam/role:Role": { field: "name", max: 64, pattern: IAM, autoname: { max: 64 } },
  "aws:iam/rolePolicy:RolePolicy": { field: "name", max: 128, pattern: IAM, autoname: DEFAULT_AUTONAME },
  "aws:iam/policy:Policy": { field: "name", max: 128, pattern: IAM, autoname: DEFAULT_AUTONAME },
  "aws:iam/instanceProfile:InstanceProfile": { field: "name", max: 128, pattern: IAM, autoname: DEFAULT_AUTONAME },
  "aws:lambda/function:Function": { field: "name", max: 64, pattern: /^[A-Za-z0-9_-]+$/, autoname: { max: 64 } },
  "aws:scheduler/schedule:Schedule": { field: "name", max: 64, pattern: /^[0-9a-zA-Z._-]+$/, autoname: DEFAULT_AUTONAME },
  "aws:sns/topic:Topic": { field: "name", max: 256, pattern: /^[A-Za-z0-9_-]+$/, autoname: { max: 80 } },
  "aws:cloudwatch/metricAlarm:MetricAlarm": { field: "name", max: 255, pattern: PRINTABLE, autoname: DEFAULT_AUTONAME },
  "aws:cloudwatch/dashboard:Dashboard": { field: "dashboardName", max: 255, pattern: /^[A-Za-z0-9_-]+$/ },
  "aws:cloudwatch/logGroup:LogGroup": { field: "name", max: 512, pattern: /^[.\-_/#A-Za-z0-9]+$/, autoname: DEFAULT_AUTONAME },
  "aws:kms/alias:Alias": {
    field: "name",
    max: 256,
    pattern: /^alias\/[A-Za-z0-9/_-]+$/,
    refuse: (n) => (n.startsWith("alias/aws/") ? "is under alias/aws/, which AWS reserves" : undefined),
    autoname: { max: 238, prefix: "alias/" },
  },
  "aws:autoscaling/group:Group": { field: "name", max: 255, pattern: PRINTABLE, autoname: DEFAULT_AUTONAME },
  "aws:autoscaling/policy:Policy": { field: "name", max: 255, pattern: PRINTABLE, autoname: DEFAULT_AUTONAME },
  "aws:ec2/launchTemplate:LaunchTemplate": { field: "name", max: 128, pattern: /^[a-zA-Z0-9().\/_-]{3,}$/, autoname: DEFAULT_AUTONAME },
  "aws:ec2/securityGroup:SecurityGroup": {
    field: "name",
    max: 255,
    pattern: /^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]+$/,
    refuse: (n) => (/^sg-/i.test(n) ? "starts with sg-" : undefined),
    autoname: DEFAULT_AUTONAME,
  },
  "aws:ecr/repository:Repository": {
    field: "name",
    max: 256,
    pattern: /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/,
    refuse: (n) => (n.length < 2 ? "is shorter than 2 characters" : undefined),
    autoname: DEFAULT_AUTONAME,
  },
  "aws:ssm/parameter:Parameter": {
    field: "name",
    max: 1011,
    pattern: /^[A-Za-z0-9_.\-/]+$/,
    refuse: (n) =>
      /^\/?(aws|ssm)/i.test(n)
        ? "starts with aws or ssm"
        : n.split("/").filter((p) => p !== "").length > 15
          ? "has more than 15 levels"
          : undefined,
    autoname: DEFAULT_AUTONAME,
  },
  "aws:budgets/budget:Budget": {
    field: "name",
    max: 100,
    pattern: /^[^:\\]+$/,
    refuse: (n) => (n.includes("/action/") ? "contains /action/" : undefined),
    autoname: DEFAULT_AUTONAME,
  },
};

/** One name a resource gets on AWS and what is wrong with it. */
export interface NameCheck {
  readonly type: string;
  readonly logicalName: string;
  /** The physical name, with `0a1b2c3` standing for Pulumi's random characters; undefined when Pulumi would refuse to make one. */
  readonly physical: string | undefined;
  readonly problems: readonly string[];
}

/** The physical name of `resource` as AWS would see it, checked against {@link AWS_NAME_RULES}. */
export function checkPhysicalName(resource: Pick<RecordedResource, "type" | "name" | "inputs">): NameCheck | undefined {
  const rule = AWS_NAME_RULES[resource.type];
  if (!rule) return undefined;
  const problems: string[] = [];
  const explicit = resource.inputs[rule.field];
  const namePrefix = resource.inputs.namePrefix;
  let physical: string | undefined;
  if (typeof explicit === "string") {
    physical = explicit;
  } else if (typeof namePrefix === "string") {
    // Terraform appends a 26-character unique id to a name prefix.
    physical = `${namePrefix}${"0".repeat(26)}`;
  } else if (rule.autoname) {
    const logical = rule.autoname.lowercase ? resource.name.toLowerCase() : resource.name;
    const generated = `${logical}${PULUMI_AUTONAME_RANDOM}`;
    if (generated.length > rule.autoname.max) {
      problems.push(`Pulumi refuses: name '${logical}-' plus 7 random chars is longer than maximum length ${rule.autoname.max}`);
    } else {
      physical = `${rule.autoname.prefix ?? ""}${generated}`;
    }
  } else {
    problems.push(`has no ${rule.field}, and Pulumi does not name this type`);
  }
  if (physical !== undefined) {
    if (physical.length > rule.max) problems.push(`${JSON.stringify(physical)} is ${physical.length} characters, more than AWS's ${rule.max}`);
    if (!rule.pattern.test(physical)) problems.push(`${JSON.stringify(physical)} does not match ${String(rule.pattern)}`);
    const refused = rule.refuse?.(physical);
    if (refused !== undefined) problems.push(`${JSON.stringify(physical)} ${refused}`);
  }
  return { type: resource.type, logicalName: resource.name, physical, problems };
}

/** Tag values AWS refuses: longer than 256 characters. */
export function tagProblems(resource: Pick<RecordedResource, "type" | "name" | "inputs">): string[] {
  const tags = resource.inputs.tags;
  const entries: [string, unknown][] = Array.isArray(tags)
    ? tags.map((t: { key: string; value: unknown }) => [t.key, t.value])
    : tags && typeof tags === "object"
      ? Object.entries(tags)
      : [];
  return entries
    .filter(([key, value]) => key.length > 128 || (typeof value === "string" && value.length > 256))
    .map(([key, value]) => `${resource.type} ${resource.name}: tag ${key} is too long (${String(value).length} characters)`);
}
