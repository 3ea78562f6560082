import type { RecordedResource } from "../../offline/fakeAws";

/**
 * What some resources cost per month whether or not a GPU runs: the plan shows these so that
 * no default that costs money goes unseen. us-east-1 list prices (AWS pricing pages for KMS,
 * CloudWatch, FSx for Lustre, Lambda, EventBridge Scheduler); storage that grows with use (S3,
 * ECR, logs) is listed by rate. A resource that costs next to nothing but runs on its own (the
 * timestamp function) is listed at $0, so the plan says so rather than leaving it out.
 */
const MONTHLY_USD_BY_TYPE: Record<string, { usd: (r: RecordedResource) => number; what: string }> = {
  "aws:kms/key:Key": { usd: () => 1, what: "KMS key (signing: OTA release, root and timestamp keys), $1/month each" },
  // 4 runs a day (every 6 h) ≤ 60 s at 256 MB on arm64: ≤ 1,800 GB-s and 120 requests a month, inside
  // Lambda's free tier and ≤ $0.03 at list price; the schedule's 120 invocations, the KMS signs
  // ($0.03 per 10,000) and the S3 requests are fractions of a cent.
  "aws:lambda/function:Function": {
    usd: () => 0,
    what: "Lambda function (OTA timestamp refresh, 4 short runs a day) with its schedule, KMS signs and S3 requests: effectively $0 (under $0.03/month at list price)",
  },
  "aws:cloudwatch/dashboard:Dashboard": { usd: () => 3, what: "CloudWatch dashboard, $3/month beyond the 3 free per account" },
  "aws:cloudwatch/metricAlarm:MetricAlarm": { usd: () => 0.1, what: "CloudWatch alarm, $0.10/month each" },
  "aws:fsx/lustreFileSystem:LustreFileSystem": {
    usd: (r) => 0.14 * Number(r.inputs.storageCapacity ?? 1200),
    what: "FSx for Lustre SCRATCH_2, $0.14 per GB-month of capacity",
  },
};

/**
 * The sweep keeper (components/sweep/sweepKeeper.ts): a round every N minutes until `pulumi destroy`.
 * A round is about a second at 512 MB on arm64 (≈ $0.000007), its request ($0.0000002), some ten S3
 * GETs and one PUT (≈ $0.000009): about $0.000016 a round, so about $0.70 a month at one round a
 * minute (43,200 rounds), less where Lambda's free tier applies.
 */
const KEEPER_ROUND_USD = 0.000016;
const MINUTES_PER_MONTH = 43_200;

/** The keeper's minutes between rounds, read off its description (`… one round every 1 min`); undefined for any other function. */
function keeperEveryMinutes(resource: RecordedResource): number | undefined {
  if (resource.type !== "aws:lambda/function:Function") return undefined;
  const match = /^yolo-train sweep keeper .*every (\d+) min/.exec(String(resource.inputs.description ?? ""));
  return match ? Number(match[1]) : undefined;
}

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
    const every = keeperEveryMinutes(resource);
    if (every !== undefined) {
      const what = `Lambda function (sweep keeper, a round every ${every} min, until \`pulumi destroy\`) with its schedule and S3 requests, about $${((MINUTES_PER_MONTH / every) * KEEPER_ROUND_USD).toFixed(2)}/month`;
      const previous = fixed.get("keeper") ?? { what, count: 0, monthlyUsd: 0 };
      fixed.set("keeper", { what, count: previous.count + 1, monthlyUsd: previous.monthlyUsd + (MINUTES_PER_MONTH / every) * KEEPER_ROUND_USD });
      continue;
    }
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
