import type { DataSource, ModelSource } from "../runspec/sources";
import { estimateRunCost, type RunCostEstimate } from "./runCost";
import { datasetImageCount, estimateTrainingHours, type TrainingTimeInput } from "./trainingTime";
import type { Capacity, GpuClass } from "./types";

/**
 * What {@link estimateExperiment} reads of an experiment: the stack config's `ExperimentConfig`
 * is one (declared here so the catalog depends on no config code).
 */
export interface ExperimentEstimateInput {
  readonly region: string;
  /** Instance types the group may use, cheapest first. */
  readonly instanceTypes: readonly string[];
  readonly capacity: Capacity;
  readonly maxRuntimeHours: number;
  readonly gpu: GpuClass;
  readonly gpusPerNode: number;
  readonly modelSource: ModelSource;
  readonly dataSource: DataSource;
  /** Training images per epoch, when known. */
  readonly datasetImages?: number;
  readonly epochs: number;
  readonly imgsz: number;
  readonly progressive?: readonly { readonly imgsz: number; readonly epochs: number }[];
}

/** What one experiment is expected to take and cost: the plan's numbers and a stack output. */
export interface ExperimentEstimate {
  /** Estimated hours from node start to exported model; undefined when the image count is unknown. */
  readonly hours?: number;
  readonly imagesPerSecond?: number;
  /** Cost of `hours` at the chosen capacity; undefined with `hours`. */
  readonly cost?: RunCostEstimate;
  /** The most the run can cost: `maxRuntimeHours` on the chosen instance type at the chosen capacity. */
  readonly capUsd: number;
  readonly capacityRates: RunCostEstimate;
  /** What the estimate assumed, one line each, for people to judge it. */
  readonly assumptions: readonly string[];
}

/** Model size used when the weights come from S3 and their architecture is unknown. */
const ASSUMED_CUSTOM_MODEL = { family: "yolov8", size: "s" } as const;

/**
 * Combines the time model and the cost model for one experiment. Pure. The cap is always
 * known (the max-runtime guardrail bounds the bill); the estimate needs the number of training
 * images, known for ultralytics' built-in datasets or given as `datasetImages`.
 */
export function estimateExperiment(config: ExperimentEstimateInput): ExperimentEstimate {
  const assumptions: string[] = [];
  const capacityRates = estimateRunCost({
    instanceTypes: config.instanceTypes,
    region: config.region,
    capacity: config.capacity,
    hours: config.maxRuntimeHours,
  });
  const capUsd = capacityRates.estimatedUsd;

  const model =
    config.modelSource.kind === "pretrained"
      ? { family: config.modelSource.family, size: config.modelSource.size }
      : ASSUMED_CUSTOM_MODEL;
  if (config.modelSource.kind === "s3") {
    assumptions.push(`weights from S3 are taken to be the size of ${ASSUMED_CUSTOM_MODEL.family}${ASSUMED_CUSTOM_MODEL.size}`);
  }

  const images = imagesPerEpoch(config);
  if (images === undefined) {
    assumptions.push(
      "training images per epoch unknown: set `yolo-train:datasetImages` for a time and cost estimate; " +
        `until then only the cap (maxRuntimeHours ${config.maxRuntimeHours} h) bounds the cost`,
    );
    return { capUsd, capacityRates, assumptions };
  }

  const phases = config.progressive ?? [{ imgsz: config.imgsz, epochs: config.epochs }];
  let hours = 0;
  let imagesPerSecond = 0;
  for (const phase of phases) {
    const input: TrainingTimeInput = {
      model,
      images,
      epochs: phase.epochs,
      imgsz: phase.imgsz,
      gpu: config.gpu,
      gpus: config.gpusPerNode,
    };
    const estimate = estimateTrainingHours(input);
    hours += estimate.hours;
    imagesPerSecond = estimate.imagesPerSecond;
    for (const line of estimate.assumptions) if (!assumptions.includes(line)) assumptions.push(line);
  }
  if (hours > config.maxRuntimeHours) {
    assumptions.push(
      `the estimate (${hours.toFixed(1)} h) exceeds maxRuntimeHours (${config.maxRuntimeHours} h): ` +
        "the backstop will stop the run first; raise maxRuntimeHours or shorten the run",
    );
  }
  const cost = estimateRunCost({
    instanceTypes: config.instanceTypes,
    region: config.region,
    capacity: config.capacity,
    hours: Math.min(hours, config.maxRuntimeHours),
  });
  return { hours, imagesPerSecond, cost, capUsd, capacityRates, assumptions };
}

function imagesPerEpoch(config: ExperimentEstimateInput): number | undefined {
  if (config.datasetImages !== undefined) return config.datasetImages;
  return config.dataSource.kind === "builtin" ? datasetImageCount(config.dataSource.yaml) : undefined;
}
