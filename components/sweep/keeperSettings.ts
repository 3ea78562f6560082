/**
 * The pure half of the sweep keeper's resources (sweepKeeper.ts): its defaults and their checks,
 * its schedule's rate and retry, and its failure alarm. No resources, no I/O.
 */
import type { Problem } from "../../runspec/problems";

/** How often the keeper runs a round by default, in minutes. */
export const DEFAULT_KEEPER_EVERY_MINUTES = 1;
/** The most minutes between rounds: a slower keeper leaves a finished trial's slot empty that long. */
export const MAX_KEEPER_EVERY_MINUTES = 60;

/**
 * The function's sizes. A round reads the manifest, the starts and the trials' records and sets a few
 * groups: seconds. Releasing the winner downloads its `best.onnx` and `best.pt` to verify them (and to
 * upload them should S3 refuse the server-side copy), hence the timeout and the ephemeral storage:
 * the largest YOLO weights and their ONNX export together stay well below 2 GiB.
 */
export const KEEPER_FUNCTION_SIZES = Object.freeze({ memoryMb: 512, timeoutSeconds: 300, ephemeralStorageMb: 2048 });

/** Days the keeper's log group keeps its rounds. */
export const KEEPER_LOG_RETENTION_DAYS = 30;

/** Problems with `everyMinutes`, under `key` (`Sweep.keeperEveryMinutes`, `SweepKeeper.everyMinutes`). */
export function keeperEveryMinutesProblems(key: string, everyMinutes: unknown): Problem[] {
  if (everyMinutes === undefined) return [];
  if (typeof everyMinutes === "number" && Number.isInteger(everyMinutes) && everyMinutes >= 1 && everyMinutes <= MAX_KEEPER_EVERY_MINUTES) return [];
  return [
    {
      key,
      value: everyMinutes,
      allowed: `a whole number of minutes from 1 to ${MAX_KEEPER_EVERY_MINUTES} between the keeper's rounds (a finished trial's slot waits up to that long for the next trial)`,
      fix: `e.g. ${DEFAULT_KEEPER_EVERY_MINUTES}, or leave it out for that default`,
    },
  ];
}

/** EventBridge Scheduler rate expression for every `minutes` minutes: `rate(1 minute)`, `rate(5 minutes)`. */
export function keeperRateExpression(minutes: number): string {
  if (!Number.isInteger(minutes) || minutes < 1) throw new RangeError(`keeper rate: minutes must be a whole number from 1; got ${minutes}`);
  return `rate(${minutes} ${minutes === 1 ? "minute" : "minutes"})`;
}

/**
 * Rounds are idempotent and the next one is at most `minutes` away: a round that cannot be delivered
 * within its own interval is dropped rather than retried behind the next (never a backlog of rounds).
 * The schedule's and the function's asynchronous retries alike.
 */
export function keeperRetry(minutes: number): { readonly maximumEventAgeInSeconds: number; readonly maximumRetryAttempts: number } {
  // Scheduler and Lambda both take 60 s as the shortest event age.
  return { maximumEventAgeInSeconds: Math.max(60, minutes * 60), maximumRetryAttempts: 0 };
}

/**
 * An alarm on the keeper's failed rounds (AWS/Lambda `Errors`): one failure is harmless (the next
 * round does the same work), rounds that keep failing stall the sweep: no trial starts, and the
 * winner is not released. Two failed 15-minute windows out of three are news. A trial that runs
 * keeps its own guardrails whatever the keeper does.
 */
export function keeperFailureAlarmSpec<T>(functionName: T) {
  return {
    alarmDescription:
      "yolo-train sweep: the keeper's rounds keep failing. No trial starts and the winner is not released until they succeed; running trials keep their own guardrails. See the keeper's log group.",
    namespace: "AWS/Lambda",
    metricName: "Errors",
    dimensions: { FunctionName: functionName },
    statistic: "Sum",
    period: 900,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
    threshold: 1,
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    // No errors reported is the normal case, not a failure.
    treatMissingData: "notBreaching",
    actionsEnabled: true,
  } as const;
}
