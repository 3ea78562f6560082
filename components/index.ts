/**
 * yolo-train's components: the library API for platform teams. Each builds one part of a
 * training experiment on AWS; `TrainingRun` composes them all for one stack.
 */
export { TrainingRun, type TrainingRunArgs } from "./trainingRun";
export { runResourceNames, type RunResourceNames } from "./trainingRunNames";
export {
  NAME_RULES,
  autoName,
  physicalName,
  fitName,
  nameHash,
  nameProblem,
  stackScopedName,
  type NameRule,
  type StackIdentity,
} from "./physicalNames";
export { Network, type NetworkArgs } from "./network";
export { PrivateBucket, type PrivateBucketArgs } from "./privateBucket";
export { DatasetBucket, type DatasetBucketArgs } from "./datasetBucket";
export { ArtifactBucket, type ArtifactBucketArgs } from "./artifactBucket";
export { OtaBucket, type OtaBucketArgs } from "./otaBucket";
export { TimestampFunction, type TimestampFunctionArgs } from "./otaTimestampFunction";
export { LustreDataset, type LustreDatasetArgs } from "./lustreDataset";
export { TrainingImage, type TrainingImageArgs } from "./trainingImage";
export { GpuNodeGroup, type GpuNodeGroupArgs, type GpuNodeAccess, type GpuNodeDatasetMount } from "./gpuNodeGroup";
export { Guardrails, type GuardrailsArgs } from "./guardrails";
export { RunDashboard, type RunDashboardArgs } from "./runDashboard";
export { DATASETS_PREFIX, RUNS_PREFIX, DEFAULT_MODELS_PREFIX, datasetPrefix, runPrefix } from "./bucketLayout";
export { readOnlyStatements, tlsOnlyBucketPolicy, edgeReadPolicyDocument } from "./bucketPolicies";
export { nodeRolePolicyDocument } from "./nodeRolePolicy";
export { renderNodeUserData } from "./nodeUserData";
