/**
 * The contract floor (no Pulumi, no I/O): the run spec the stack hands the GPU node, the run
 * record the node writes back, the bucket layout with its one key-prefix rule, the run's limits,
 * the metric names, AWS's region and ARN formats, the Problem type every layer reports input
 * problems with, and a sweep's rung records with the early-stopping rule that reads them. Every
 * other folder may import from here; nothing here imports from them.
 */
export * from "./schema";
export * from "./build";
export * from "./runId";
export * from "./metrics";
export * from "./trainingMetricNames";
export * from "./sources";
export * from "./bucketLayout";
export * from "./limits";
export * from "./awsPatterns";
export * from "./problems";
export * from "./runRecord";
export * from "./sweep/asha";
export * from "./sweep/rungRecord";
export * from "./sweep/trialScheduler";
export * from "./sweep/sweepManifest";
