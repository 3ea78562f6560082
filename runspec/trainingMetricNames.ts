/**
 * The metric contract between the run agent (which publishes training progress with
 * PutMetricData) and the run dashboard (which graphs it). One place, so both sides name the same
 * series. Every datum carries both {@link TRAINING_METRIC_DIMENSIONS}, in the namespace the node
 * role may write to (components/iam/nodeRolePolicy.ts). It lives with the run spec because the agent
 * is bundled from runspec/, ota/ and agent/ alone (docker/Dockerfile).
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
 */
export const TRAINING_METRIC_NAMESPACE = "YoloTrain";

/** Dimension names of every training datum, in this order: one series per run and group. */
export const TRAINING_METRIC_DIMENSIONS = ["RunId", "AutoScalingGroupName"] as const;
export type TrainingMetricDimension = (typeof TRAINING_METRIC_DIMENSIONS)[number];

/** Metric names and their CloudWatch units. */
export const TRAINING_METRICS = {
  /** Last finished epoch within the current progressive phase (1-based; 0 before the first). */
  epoch: { name: "Epoch", unit: "Count" },
  /** Epochs of the current progressive phase. */
  epochsTotal: { name: "EpochsTotal", unit: "Count" },
  /** Validation mAP50-95 (boxes) after the last epoch, 0..1. */
  mAP50_95: { name: "mAP50-95", unit: "None" },
  /** Validation mAP50 (boxes) after the last epoch, 0..1. */
  mAP50: { name: "mAP50", unit: "None" },
  /** Training throughput of the last epoch. */
  imagesPerSecond: { name: "ImagesPerSecond", unit: "Count/Second" },
  /** Spot interruptions the run has had so far. */
  spotInterruptions: { name: "SpotInterruptions", unit: "Count" },
  /** Trainer launches so far (1 on a run without trouble). */
  attempts: { name: "Attempts", unit: "Count" },
  /** Billed node time × the spec's hourly price, so far. */
  estimatedCostUsd: { name: "EstimatedCostUsd", unit: "None" },
} as const;

export type TrainingMetricKey = keyof typeof TRAINING_METRICS;
export type TrainingMetricName = (typeof TRAINING_METRICS)[TrainingMetricKey]["name"];

/** Every metric name the agent publishes. */
export const TRAINING_METRIC_NAMES: readonly TrainingMetricName[] = Object.values(TRAINING_METRICS).map((m) => m.name);
