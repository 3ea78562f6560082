import {
  IDLE_GPU_PERCENT,
  IDLE_GPU_PERCENT_RULE,
  IDLE_MINUTES,
  IDLE_MINUTES_RULE,
  MAX_RUNTIME_HOURS_RULE,
  isIdleGpuPercent,
  isIdleMinutes,
  isMaxRuntimeHours,
} from "../../runspec/limits";
import { parseArn } from "../../runspec/awsPatterns";
import { ProblemList } from "../../runspec/problems";
import { CWAGENT_NAMESPACE, GPU_UTILIZATION_METRIC } from "../compute/gpuMetrics";
import { serviceTrustPolicy } from "../iam/trustPolicies";

/**
 * The pure half of the guardrails: validation and defaults, the alarm specs, the backstop
 * time, the budget filter and notifications, and the policy documents. No resources, no I/O;
 * `guardrails.ts` only declares what this computes.
 */

/** A cost allocation tag: the budget counts only costs carrying it. */
export interface CostAllocationTag {
  readonly key: string;
  readonly value: string;
}

/** What the guardrails are asked for, as given (before defaults); `GuardrailsArgs` extends it. */
export interface GuardrailSettingsInput {
  /**
   * Minutes every GPU of the group must stay below `idleGpuPercent` before the group is scaled
   * to zero (training hung). A whole number from 5 to 240 (`IDLE_MINUTES` in runspec/limits.ts).
   * @default 15
   */
  readonly idleMinutes?: number;
  /**
   * GPU utilisation (percent) below which a GPU counts as idle; above 0 and below 100.
   * @default 5
   */
  readonly idleGpuPercent?: number;
  /**
   * Mean GPU utilisation (percent) below which the GPUs count as starved by the data pipeline;
   * only notifies. Must be above `idleGpuPercent`.
   * @default 60
   */
  readonly starvedGpuPercent?: number;
  /**
   * Minutes the GPUs must stay starved before the notification.
   * @default 15
   */
  readonly starvedMinutes?: number;
  /**
   * Hard cap on the run: at launch + this many hours an EventBridge Scheduler one-time schedule
   * sets the group's min and desired capacity to 0, whatever the node is doing. Above 0, at most 720.
   */
  readonly maxRuntimeHours: number;
  /**
   * When the run started; the backstop fires at `launchTime + maxRuntimeHours` (UTC). Read once:
   * later `pulumi up`s of the same run keep the first backstop time.
   * @default the current time
   */
  readonly launchTime?: Date;
  /**
   * Monthly AWS Budgets cost limit in US dollars for costs carrying `costAllocationTag`; alerts at
   * 80 % and 100 % actual and 100 % forecast.
   * @default no budget
   * @see https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-managing-costs.html
   */
  readonly budgetUsd?: number;
  /**
   * Email address subscribed to the alert topic (AWS sends a confirmation mail that must be
   * accepted) and to the budget notifications.
   * @default alerts go to the SNS topic only
   */
  readonly alertEmail?: string;
  /**
   * The tag the budget filters on, e.g. `{ key: "yolo-train:stack", value: "dev" }`. It must be
   * activated as a cost allocation tag in the Billing console, or the budget sees no costs.
   * @see https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html
   */
  readonly costAllocationTag: CostAllocationTag;
}

/** The settings with every default filled in, validated. */
export interface GuardrailSettings {
  readonly idleMinutes: number;
  readonly idleGpuPercent: number;
  readonly starvedGpuPercent: number;
  readonly starvedMinutes: number;
  readonly maxRuntimeHours: number;
  readonly launchTime: Date;
  readonly budgetUsd?: number;
  readonly alertEmail?: string;
  readonly costAllocationTag: CostAllocationTag;
}

/** The defaults; the idle ones are the run's own (runspec/limits.ts), the starved ones this component's. */
export const GUARDRAIL_DEFAULTS = Object.freeze({
  idleMinutes: IDLE_MINUTES.default,
  idleGpuPercent: IDLE_GPU_PERCENT.default,
  starvedGpuPercent: 60,
  starvedMinutes: 15,
});

/** Alarm period, seconds. The CloudWatch agent publishes GPU metrics every 60 s by default. */
export const ALARM_PERIOD_SECONDS = 60;

/** CloudWatch: evaluationPeriods × period may not exceed one day; with 60 s periods, 1440. */
export const MAX_ALARM_MINUTES = 1440;

/** Budget alert thresholds, percent of the monthly limit. */
export const BUDGET_ACTUAL_THRESHOLDS = [80, 100] as const;
export const BUDGET_FORECAST_THRESHOLDS = [100] as const;

/** Pragmatic address check: one `@`, a dot in the domain, no spaces; SES/SNS do the rest. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** An address AWS can send alerts to: one `@`, a dotted domain, at most 254 characters. */
export function isAlertEmail(value: unknown): value is string {
  return typeof value === "string" && value.length <= 254 && EMAIL.test(value);
}

/** A budget limit: a finite amount of US dollars above 0. */
export function isBudgetUsd(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}
/** AWS tag keys: letters, digits, spaces and `_ . : / = + - @`; `$` would break the budget filter. */
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/**
 * Fills defaults and checks every setting; throws one {@link InvalidInputError} listing every
 * problem (keys named `<subject>.<arg>`) before anything is created.
 */
export function resolveGuardrailSettings(
  input: GuardrailSettingsInput,
  subject = "Guardrails",
  now: () => Date = () => new Date(),
): GuardrailSettings {
  const problems = new ProblemList();
  const key = (arg: string) => `${subject}.${arg}`;

  const idleMinutes = input.idleMinutes ?? GUARDRAIL_DEFAULTS.idleMinutes;
  const starvedMinutes = input.starvedMinutes ?? GUARDRAIL_DEFAULTS.starvedMinutes;
  const idleGpuPercent = input.idleGpuPercent ?? GUARDRAIL_DEFAULTS.idleGpuPercent;
  const starvedGpuPercent = input.starvedGpuPercent ?? GUARDRAIL_DEFAULTS.starvedGpuPercent;

  if (!isIdleMinutes(idleMinutes)) {
    problems.add({ key: key("idleMinutes"), value: idleMinutes, allowed: IDLE_MINUTES_RULE, fix: `e.g. ${GUARDRAIL_DEFAULTS.idleMinutes}` });
  }
  if (!Number.isInteger(starvedMinutes) || starvedMinutes < 1 || starvedMinutes > MAX_ALARM_MINUTES) {
    problems.add({
      key: key("starvedMinutes"),
      value: starvedMinutes,
      allowed: `a whole number of minutes from 1 to ${MAX_ALARM_MINUTES} (CloudWatch evaluates at most one day of 1-minute periods)`,
      fix: `e.g. ${GUARDRAIL_DEFAULTS.starvedMinutes}`,
    });
  }
  if (!isIdleGpuPercent(idleGpuPercent)) {
    problems.add({ key: key("idleGpuPercent"), value: idleGpuPercent, allowed: IDLE_GPU_PERCENT_RULE, fix: `e.g. ${GUARDRAIL_DEFAULTS.idleGpuPercent}` });
  }
  if (!isPercent(starvedGpuPercent)) {
    problems.add({ key: key("starvedGpuPercent"), value: starvedGpuPercent, allowed: "a percentage greater than 0 and less than 100", fix: `e.g. ${GUARDRAIL_DEFAULTS.starvedGpuPercent}` });
  }
  if (isIdleGpuPercent(idleGpuPercent) && isPercent(starvedGpuPercent) && starvedGpuPercent <= idleGpuPercent) {
    problems.add({
      key: key("starvedGpuPercent"),
      value: starvedGpuPercent,
      allowed: `greater than idleGpuPercent (${idleGpuPercent}): a starved GPU is busy, just not busy enough`,
      fix: `raise starvedGpuPercent above ${idleGpuPercent}, e.g. ${GUARDRAIL_DEFAULTS.starvedGpuPercent}`,
    });
  }
  if (!isMaxRuntimeHours(input.maxRuntimeHours)) {
    problems.add({ key: key("maxRuntimeHours"), value: input.maxRuntimeHours, allowed: MAX_RUNTIME_HOURS_RULE, fix: "e.g. 2 for a debug run, 72 for a full training" });
  }
  const launchTime = input.launchTime ?? now();
  if (!(launchTime instanceof Date) || Number.isNaN(launchTime.getTime())) {
    problems.add({ key: key("launchTime"), value: String(launchTime), allowed: "a valid Date", fix: "omit it to use the current time" });
  }
  if (input.budgetUsd !== undefined && !isBudgetUsd(input.budgetUsd)) {
    problems.add({ key: key("budgetUsd"), value: input.budgetUsd, allowed: "an amount in US dollars greater than 0", fix: "e.g. 50, or omit it for no budget" });
  }
  if (input.alertEmail !== undefined && !isAlertEmail(input.alertEmail)) {
    problems.add({ key: key("alertEmail"), value: input.alertEmail, allowed: "an email address", fix: "e.g. ml-team@example.com, or omit it" });
  }
  const tag = input.costAllocationTag;
  if (!tag || typeof tag.key !== "string" || !TAG_KEY.test(tag.key) || tag.key.startsWith("aws:")) {
    problems.add({
      key: key("costAllocationTag.key"),
      value: tag?.key,
      allowed: "a user tag key of 1-128 letters, digits, spaces or _ . : / = + - @, not starting with aws:",
      fix: 'e.g. "yolo-train:stack"',
    });
  }
  if (!tag || typeof tag.value !== "string" || !TAG_VALUE.test(tag.value)) {
    problems.add({
      key: key("costAllocationTag.value"),
      value: tag?.value,
      allowed: "a tag value of at most 256 letters, digits, spaces or _ . : / = + - @",
      fix: "e.g. the stack name",
    });
  }
  problems.throwIfAny(subject);

  return {
    idleMinutes,
    idleGpuPercent,
    starvedGpuPercent,
    starvedMinutes,
    maxRuntimeHours: input.maxRuntimeHours,
    launchTime,
    ...(input.budgetUsd !== undefined ? { budgetUsd: input.budgetUsd } : {}),
    ...(input.alertEmail !== undefined ? { alertEmail: input.alertEmail } : {}),
    costAllocationTag: { key: tag.key, value: tag.value },
  };
}

function isPercent(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 && value < 100;
}

// ---------------------------------------------------------------------------------------------
// Alarms

/** The metric half of a GPU alarm; the component adds dimensions and actions. */
export interface GpuAlarmSpec {
  readonly namespace: string;
  readonly metricName: string;
  readonly statistic: "Maximum" | "Average";
  readonly period: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly threshold: number;
  readonly comparisonOperator: "LessThanThreshold";
  /** A booting node publishes nothing yet, and an empty group publishes nothing: never idle. */
  readonly treatMissingData: "notBreaching";
  readonly alarmDescription: string;
}

/**
 * Hung training: even the busiest GPU of the group (statistic Maximum over the group's
 * rolled-up series) below the idle threshold for `idleMinutes` consecutive minutes.
 */
export function idleAlarmSpec(s: GuardrailSettings): GpuAlarmSpec {
  return {
    namespace: CWAGENT_NAMESPACE,
    metricName: GPU_UTILIZATION_METRIC,
    statistic: "Maximum",
    period: ALARM_PERIOD_SECONDS,
    evaluationPeriods: s.idleMinutes,
    datapointsToAlarm: s.idleMinutes,
    threshold: s.idleGpuPercent,
    comparisonOperator: "LessThanThreshold",
    treatMissingData: "notBreaching",
    alarmDescription:
      `yolo-train: every GPU of the group below ${s.idleGpuPercent}% for ${s.idleMinutes} min; ` +
      "training looks hung, so the group is scaled to zero.",
  };
}

/** Data pipeline starving the GPUs: the mean GPU below `starvedGpuPercent`; notify only. */
export function starvedAlarmSpec(s: GuardrailSettings): GpuAlarmSpec {
  return {
    namespace: CWAGENT_NAMESPACE,
    metricName: GPU_UTILIZATION_METRIC,
    statistic: "Average",
    period: ALARM_PERIOD_SECONDS,
    evaluationPeriods: s.starvedMinutes,
    datapointsToAlarm: s.starvedMinutes,
    threshold: s.starvedGpuPercent,
    comparisonOperator: "LessThanThreshold",
    treatMissingData: "notBreaching",
    alarmDescription:
      `yolo-train: mean GPU utilisation below ${s.starvedGpuPercent}% for ${s.starvedMinutes} min; ` +
      "the data pipeline is likely starving the GPUs (more workers, a faster dataset mount, or a cache).",
  };
}

// ---------------------------------------------------------------------------------------------
// Max-runtime backstop

/** Launch time + max runtime, rounded up to the whole second (never earlier than the cap). */
export function backstopTime(launchTime: Date, maxRuntimeHours: number): Date {
  const ms = launchTime.getTime() + maxRuntimeHours * 3_600_000;
  return new Date(Math.ceil(ms / 1000) * 1000);
}

/** EventBridge Scheduler one-time expression, `at(yyyy-mm-ddThh:mm:ss)`, read in UTC. */
export function atExpression(when: Date): string {
  return `at(${when.toISOString().slice(0, 19)})`;
}

/** The instant of a UTC `at(...)` expression as an ISO string (`2026-01-01T02:00:00Z`). */
export function parseAtExpression(expression: string): string {
  const match = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(expression);
  if (!match) throw new Error(`not a one-time schedule expression: ${expression}`);
  return `${match[1]}Z`;
}

/** EventBridge Scheduler universal target: the AWS SDK action `autoscaling:updateAutoScalingGroup`. */
export function backstopTargetArn(partition = "aws"): string {
  return `arn:${partition}:scheduler:::aws-sdk:autoscaling:updateAutoScalingGroup`;
}

/** UpdateAutoScalingGroup request: min and desired to 0, whatever the node is doing. */
export function backstopInput(groupName: string): string {
  return JSON.stringify({ AutoScalingGroupName: groupName, MinSize: 0, DesiredCapacity: 0 });
}

/** Retry for up to a day; a missed backstop is a bill that keeps running. */
export const BACKSTOP_RETRY_POLICY = { maximumEventAgeInSeconds: 86_400, maximumRetryAttempts: 185 } as const;

// ---------------------------------------------------------------------------------------------
// ARNs and policy documents

// The ARN format lives with AWS's other formats (runspec/awsPatterns.ts); re-exported for guardrails.ts.
export { parseArn, type ArnParts } from "../../runspec/awsPatterns";

/**
 * Only CloudWatch alarms and AWS Budgets of this account may publish to the alert topic.
 * Account and region come from the topic's own ARN.
 * @see https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
 * @see https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
 */
export function alertTopicPolicy(topicArn: string): string {
  const { partition, region, account } = parseArn(topicArn);
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "CloudWatchAlarmsPublish",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: "sns:Publish",
        Resource: topicArn,
        Condition: {
          StringEquals: { "aws:SourceAccount": account },
          ArnLike: { "aws:SourceArn": `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
        },
      },
      {
        Sid: "BudgetsPublish",
        Effect: "Allow",
        Principal: { Service: "budgets.amazonaws.com" },
        Action: "sns:Publish",
        Resource: topicArn,
        Condition: {
          StringEquals: { "aws:SourceAccount": account },
          ArnLike: { "aws:SourceArn": `arn:${partition}:budgets::${account}:*` },
        },
      },
    ],
  });
}

/** Trust: EventBridge Scheduler, acting for schedules of this account only. */
export function schedulerTrustPolicy(accountId: string): string {
  return JSON.stringify(serviceTrustPolicy("scheduler.amazonaws.com", accountId));
}

/** The backstop may update this one group and nothing else. */
export function schedulerRolePolicy(groupArn: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "autoscaling:UpdateAutoScalingGroup", Resource: groupArn }],
  });
}

// ---------------------------------------------------------------------------------------------
// Budget

/**
 * AWS Budgets `TagKeyValue` filter value for a user tag: `user:<key>$<value>`. The tag counts
 * only once it is activated as a cost allocation tag in the Billing console (and costs from
 * before activation are not tagged).
 * @see https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html
 */
export function costAllocationFilterValue(tag: CostAllocationTag): string {
  return `user:${tag.key}$${tag.value}`;
}

/** The fixed part of a monthly AWS Budgets cost budget over the costs carrying `tag`. */
export function monthlyTagBudget(
  limitUsd: number,
  tag: CostAllocationTag,
): { budgetType: "COST"; timeUnit: "MONTHLY"; limitAmount: string; limitUnit: "USD"; costFilters: { name: string; values: string[] }[] } {
  return {
    budgetType: "COST",
    timeUnit: "MONTHLY",
    limitAmount: String(limitUsd),
    limitUnit: "USD",
    costFilters: [{ name: "TagKeyValue", values: [costAllocationFilterValue(tag)] }],
  };
}

export interface BudgetNotificationSpec {
  readonly comparisonOperator: "GREATER_THAN";
  readonly notificationType: "ACTUAL" | "FORECASTED";
  readonly threshold: number;
  readonly thresholdType: "PERCENTAGE";
  readonly subscriberSnsTopicArns?: string[];
  readonly subscriberEmailAddresses?: string[];
}

/** 80 % and 100 % of actual spend, and 100 % forecast, to the topic and to the email if any. */
export function budgetNotifications(topicArn: string, alertEmail?: string): BudgetNotificationSpec[] {
  return budgetNotificationsTo({
    subscriberSnsTopicArns: [topicArn],
    ...(alertEmail !== undefined ? { subscriberEmailAddresses: [alertEmail] } : {}),
  });
}

/** The same thresholds, to email only: a fleet's budget, which has no alert topic of its own. */
export function emailBudgetNotifications(alertEmail: string): BudgetNotificationSpec[] {
  return budgetNotificationsTo({ subscriberEmailAddresses: [alertEmail] });
}

function budgetNotificationsTo(to: Pick<BudgetNotificationSpec, "subscriberSnsTopicArns" | "subscriberEmailAddresses">): BudgetNotificationSpec[] {
  const notify = (notificationType: "ACTUAL" | "FORECASTED", threshold: number): BudgetNotificationSpec => ({
    comparisonOperator: "GREATER_THAN",
    notificationType,
    threshold,
    thresholdType: "PERCENTAGE",
    ...to,
  });
  return [
    ...BUDGET_ACTUAL_THRESHOLDS.map((t) => notify("ACTUAL", t)),
    ...BUDGET_FORECAST_THRESHOLDS.map((t) => notify("FORECASTED", t)),
  ];
}
