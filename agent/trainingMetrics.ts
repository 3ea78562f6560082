import type { MetricDatum, StandardUnit } from "@aws-sdk/client-cloudwatch";
import { TRAINING_METRICS, type TrainingMetricKey } from "../runspec/trainingMetricNames";
import type { RunRecord } from "../runspec/runRecord";
import type { RunEvent } from "./runRecord";

/**
 * The training metrics the agent publishes (runspec/trainingMetricNames.ts), computed from the
 * run record: pure, no clock, no I/O. The record already folds every event in, so one function
 * turns any record into the full set of datapoints.
 */

/** Ultralytics' keys for the box metrics in `progress.jsonl` and `result.json`. */
export const MAP50_95_KEY = "metrics/mAP50-95(B)";
export const MAP50_KEY = "metrics/mAP50(B)";

/**
 * Whether an event changes what the dashboard shows: an epoch, a trainer (re)start (attempts),
 * and the run's phase changes (end of run, interruption). Clock ticks and checkpoint uploads do
 * not: they would only add cost datapoints at the record's pace.
 */
export function publishesMetrics(event: RunEvent): boolean {
  return event.type === "epoch" || event.type === "trainer-started" || event.type === "uploading" || event.type === "ended";
}

/**
 * The datapoints for a record, stamped `atMs`, with dimensions `RunId` and
 * `AutoScalingGroupName`. Metrics the record does not hold yet (mAP before the first epoch,
 * images/s of a trainer that does not report it) are left out rather than sent as 0.
 */
export function trainingMetricData(record: RunRecord, autoScalingGroupName: string, atMs: number): MetricDatum[] {
  const values: [TrainingMetricKey, number | null | undefined][] = [
    ["epoch", record.epoch],
    ["epochsTotal", record.epochs],
    ["mAP50_95", record.metrics[MAP50_95_KEY]],
    ["mAP50", record.metrics[MAP50_KEY]],
    ["imagesPerSecond", record.imagesPerSecond],
    // An "interrupted" record counts its own interruption only once the next node starts
    // (startRecord); the dashboard should see it now.
    ["spotInterruptions", record.interruptions + (record.phase === "interrupted" ? 1 : 0)],
    ["attempts", record.attempts],
    ["estimatedCostUsd", record.estimatedCostUsd],
  ];
  const timestamp = new Date(atMs);
  const dimensions = [
    { Name: "RunId", Value: record.runId },
    { Name: "AutoScalingGroupName", Value: autoScalingGroupName },
  ];
  return values.flatMap(([key, value]): MetricDatum[] => {
    // CloudWatch rejects NaN and infinities.
    if (typeof value !== "number" || !Number.isFinite(value)) return [];
    const metric = TRAINING_METRICS[key];
    return [{ MetricName: metric.name, Dimensions: dimensions, Timestamp: timestamp, Value: value, Unit: metric.unit as StandardUnit }];
  });
}
