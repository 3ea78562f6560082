import type { RecordedResource } from "../../offline/fakeAws";

/**
 * What some resources cost per month whether or not a GPU runs: the plan shows these so that
 * no default that costs money goes unseen. us-east-1 list prices (AWS pricing pages for KMS,
 * CloudWatch, FSx for Lustre); storage that grows with use (S3, ECR, logs) is listed by rate.
 */
const MONTHLY_USD_BY_TYPE: Record<string, { usd: (r: RecordedResource) => number; what: string }> = {
  "aws:kms/key:Key": { usd: () => 1, what: "KMS key (signing), $1/month each" },
  "aws:cloudwatch/dashboard:Dashboard": { usd: () => 3, what: "CloudWatch dashboard, $3/month beyond the 3 free per account" },
  "aws:cloudwatch/metricAlarm:MetricAlarm": { usd: () => 0.1, what: "CloudWatch alarm, $0.10/month each" },
  "aws:fsx/lustreFileSystem:LustreFileSystem": {
    usd: (r) => 0.14 * Number(r.inputs.storageCapacity ?? 1200),
    what: "FSx for Lustre SCRATCH_2, $0.14 per GB-month of capacity",
  },
};

/** Usage-priced storage worth naming: it costs nothing until data is written. */
const USAGE_PRICED: Record<string, string> = {
  "aws:s3/bucket:Bucket": "S3 bucket: $0.023 per GB-month stored",
  "aws:ecr/repository:Repository": "ECR repository: $0.10 per GB-month of images (the lifecycle policy keeps the last 10)",
  "aws:cloudwatch/logGroup:LogGroup": "CloudWatch Logs: $0.50 per GB ingested, $0.03 per GB-month kept",
};

export interface StandingCost {
  readonly what: string;
  readonly count: number;
  readonly monthlyUsd: number;
}

/** Fixed monthly costs of the planned resources, and the usage-priced ones. Pure. */
export function standingCosts(resources: readonly RecordedResource[]): { fixed: StandingCost[]; usage: string[] } {
  const fixed = new Map<string, StandingCost>();
  const usage = new Set<string>();
  for (const resource of resources) {
    const price = MONTHLY_USD_BY_TYPE[resource.type];
    if (price) {
      const previous = fixed.get(resource.type) ?? { what: price.what, count: 0, monthlyUsd: 0 };
      fixed.set(resource.type, { what: price.what, count: previous.count + 1, monthlyUsd: previous.monthlyUsd + price.usd(resource) });
    }
    const rate = USAGE_PRICED[resource.type];
    if (rate) usage.add(rate);
  }
  return { fixed: [...fixed.values()], usage: [...usage] };
}
