/** The run spec contract between the stack and the GPU node (no Pulumi, no I/O). */
export * from "./schema";
export * from "./build";
export * from "./runId";
export * from "./metrics";
export * from "./trainingMetricNames";
