/**
 * The GPU catalog: instance types per GPU class, a dated price snapshot, and the time and cost
 * model the plan shows before anything is launched. Pure data and functions; the only I/O is
 * reading the bundled price CSV once, when this module loads.
 */
export * from "./types";
export { instanceTypesFor, gpuCountsFor, findInstanceType, knownInstanceTypeNames, INSTANCE_TYPES } from "./instanceTypes";
export { priceOf, catalogRegions, regionsOffering, allPrices, parsePriceCsv, PRICE_SNAPSHOT } from "./prices";
export {
  estimateTrainingHours,
  datasetImageCount,
  knownDatasetNames,
  REFERENCE_POINT,
  GPU_SPEED_VS_RTX3090,
  MODEL_GFLOPS,
  type ModelFamily,
  type ModelSize,
  type TrainingTimeInput,
  type TrainingTimeEstimate,
} from "./trainingTime";
export { estimateRunCost, cheapestSpotPrice, type RunCostInput, type RunCostEstimate, type InstanceRate } from "./runCost";
export {
  estimateSweep,
  vcpuQuotaOf,
  GPU_VCPU_QUOTAS,
  type SweepEstimate,
  type SweepEstimateInput,
  type TrialEstimate,
  type SweepCostBound,
  type SweepExpectedCost,
  type VcpuQuotaNeed,
} from "./sweepEstimate";
