/**
 * yolo-train's components: the library API for platform teams. Each builds one part of a
 * training experiment on AWS; `TrainingRun` composes them all for one stack.
 */
export {
  TrainingRun,
  trainingRunPartConflicts,
  sweepTrialProblems,
  type TrainingRunArgs,
  type TrainingRunSweep,
  type OtaDestination,
  type ResolvedNetwork,
  type ResolvedImage,
  type ResolvedDatasetBucket,
} from "./run/trainingRun";
export { Fleet, fleetArgsProblems, FLEET_COST_TAG_KEY, type FleetArgs } from "./fleet/fleet";
export { Sweep, trialRunConfig, type SweepArgs, type SweepTrialOutput } from "./sweep/sweep";
export { sweepArgsProblems } from "./sweep/sweepArgs";
export { SweepKeeper, sweepKeeperArgsProblems, keeperFunctionArchive, keeperFunctionBundlePath, type SweepKeeperArgs } from "./sweep/sweepKeeper";
export { keeperPolicyDocument, type KeeperPolicyInput, type KeeperPolicyDocument } from "./sweep/keeperPolicy";
export { sweepManifestOf, sweepManifestJson, type SweepManifestInput, type SweepManifestTrialInput } from "./sweep/sweepManifestBody";
export { sweepTrialNaming, type SweepTrialNaming } from "./sweep/sweepNames";
export { renderSweepDashboardBody, sweepDashboardWidgets, type SweepDashboardInput, type SweepDashboardTrial } from "./sweep/sweepDashboardBody";
export { SWEEP_TAG_KEY, TRIAL_TAG_KEY } from "./sweep/sweepTags";
export type { FleetParts, FleetOutputs, NetworkPart, ImagePart, DatasetBucketPart, OtaPart } from "./fleet/fleetParts";
export { NodeRole, sumOfGrants, type NodeRoleArgs } from "./compute/nodeRole";
export {
  type Grantee,
  type GrantableBucket,
  grantDatasetRead,
  grantRunArtifacts,
  grantModelPublish,
  grantReleaseSign,
  grantImagePull,
} from "./iam/grants";
export { runResourceNames, type RunResourceNames } from "./run/trainingRunNames";
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
} from "./naming/physicalNames";
export { Network, type NetworkArgs } from "./network/network";
export { PrivateBucket, type PrivateBucketArgs } from "./storage/privateBucket";
export { DatasetBucket, type DatasetBucketArgs } from "./storage/datasetBucket";
export { ArtifactBucket, type ArtifactBucketArgs } from "./storage/artifactBucket";
export { OtaBucket, type OtaBucketArgs } from "./ota/otaBucket";
export { TimestampFunction, type TimestampFunctionArgs } from "./ota/otaTimestampFunction";
export { LustreDataset, type LustreDatasetArgs } from "./storage/lustreDataset";
export { TrainingImage, type TrainingImageArgs } from "./image/trainingImage";
export { GpuNodeGroup, type GpuNodeGroupArgs, type GpuNodeDatasetMount } from "./compute/gpuNodeGroup";
export { Guardrails, type GuardrailsArgs } from "./guardrails/guardrails";
export { RunDashboard, type RunDashboardArgs } from "./observability/runDashboard";
export { DATASETS_PREFIX, RUNS_PREFIX, DEFAULT_MODELS_PREFIX, datasetPrefix, runPrefix } from "../runspec/bucketLayout";
export { readOnlyStatements, tlsOnlyBucketPolicy, edgeReadPolicyDocument } from "./storage/bucketPolicies";
export { nodeRolePolicyDocument, nodeSelfStatements } from "./iam/nodeRolePolicy";
export { renderNodeUserData } from "./compute/nodeUserData";
