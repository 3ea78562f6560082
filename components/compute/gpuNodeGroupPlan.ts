import * as pulumi from "@pulumi/pulumi";
import type { Capacity } from "../../catalog/types";
import { ProblemList } from "../../runspec/problems";
import { AUTO_SCALING_GROUP_NAME_PATTERN, parseRunSpec, type RunSpec } from "../../runspec/schema";
import { DLAMI_MIN_ROOT_VOLUME_GIB } from "./dlami";
import { KEY_PREFIX_PATTERN as DATASET_PREFIX_PATTERN } from "../../runspec/bucketLayout";
import type { GpuNodeGroupArgs } from "./gpuNodeGroupArgs";

/** Retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** A mixed instances policy takes at most 40 instance types. */
export const MAX_INSTANCE_TYPES = 40;
export const MAX_DESIRED_NODES = 10;

/** The group's arguments with every default applied, validated. */
export interface GpuNodeGroupSettings {
  readonly groupName: string;
  readonly instanceTypes: readonly string[];
  readonly capacity: Capacity;
  /** Only for spot; dropped (with a warning) for on-demand. */
  readonly maxSpotPrice?: number;
  readonly desiredNodes: number;
  /** The desired capacity the group is created with: 0 to `desiredNodes`. */
  readonly initialCapacity: number;
  readonly rootVolumeGiB: number;
  readonly logRetentionDays: number;
  readonly logGroupName: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Soft problems, for `pulumi.log.warn`. */
  readonly warnings: readonly string[];
}

/** The run's log group: one per group, so per run. */
export function logGroupNameOf(groupName: string): string {
  return `/yolo-train/${groupName}`;
}

/**
 * Applies defaults and checks every argument whose value is known now, gathering all problems
 * into one {@link InvalidInputError} naming `GpuNodeGroup.<arg>`. Values that are still Pulumi
 * outputs (bucket ARNs, an output run spec) are checked when they resolve.
 */
export function resolveGpuNodeGroupSettings(args: GpuNodeGroupArgs): GpuNodeGroupSettings {
  const problems = new ProblemList();
  const warnings: string[] = [];
  const key = (k: string) => `GpuNodeGroup.${k}`;

  if (!AUTO_SCALING_GROUP_NAME_PATTERN.test(args.groupName ?? "")) {
    problems.add({
      key: key("groupName"),
      value: args.groupName,
      allowed: "1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
      fix: 'derive it from the stack and run id, e.g. "yolo-train-dev-yolov8n-coco8-3f2a9c0d1e"',
    });
  }

  const types = args.instanceTypes ?? [];
  const badTypes = types.filter((t) => !/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/.test(t));
  const duplicates = types.filter((t, i) => types.indexOf(t) !== i);
  if (types.length === 0 || types.length > MAX_INSTANCE_TYPES || badTypes.length > 0 || duplicates.length > 0) {
    problems.add({
      key: key("instanceTypes"),
      value: args.instanceTypes,
      allowed: `1 to ${MAX_INSTANCE_TYPES} distinct EC2 instance types like "g5.xlarge"` +
        (badTypes.length > 0 ? ` (not: ${badTypes.join(", ")})` : "") +
        (duplicates.length > 0 ? ` (repeated: ${[...new Set(duplicates)].join(", ")})` : ""),
      fix: 'list GPU instance types, cheapest first, e.g. ["g4dn.xlarge", "g5.xlarge"]',
    });
  }

  if (args.capacity !== "spot" && args.capacity !== "on-demand") {
    problems.add({ key: key("capacity"), value: args.capacity, allowed: '"spot" or "on-demand"', fix: 'use "spot" (cheapest) unless interruptions are unacceptable' });
  }

  let maxSpotPrice = args.maxSpotPrice;
  if (maxSpotPrice !== undefined) {
    if (!Number.isFinite(maxSpotPrice) || maxSpotPrice <= 0) {
      problems.add({ key: key("maxSpotPrice"), value: maxSpotPrice, allowed: "a price in US dollars per instance hour, more than 0", fix: "e.g. 1.5, or leave it out to pay up to the on-demand price" });
    } else if (args.capacity === "on-demand") {
      warnings.push(`GpuNodeGroup.maxSpotPrice (${maxSpotPrice}) is ignored: capacity is "on-demand".`);
      maxSpotPrice = undefined;
    }
  }

  const desiredNodes = args.desiredNodes ?? 1;
  if (!Number.isInteger(desiredNodes) || desiredNodes < 1 || desiredNodes > MAX_DESIRED_NODES) {
    problems.add({ key: key("desiredNodes"), value: args.desiredNodes, allowed: `a whole number from 1 to ${MAX_DESIRED_NODES}`, fix: "use 1: one node trains one run (multi-GPU is DDP on that node)" });
  } else if (desiredNodes > 1) {
    warnings.push(`GpuNodeGroup.desiredNodes is ${desiredNodes}: every node runs the same run spec.`);
  }

  const initialCapacity = args.initialCapacity ?? desiredNodes;
  if (args.initialCapacity !== undefined && (!Number.isInteger(initialCapacity) || initialCapacity < 0 || (Number.isInteger(desiredNodes) && initialCapacity > desiredNodes))) {
    problems.add({
      key: key("initialCapacity"),
      value: args.initialCapacity,
      allowed: `a whole number from 0 to desiredNodes (${desiredNodes}): the nodes launched when the group is created`,
      fix: "0 for a group that waits to be given capacity, or leave it out to launch desiredNodes at once",
    });
  }

  checkNonEmptyList(problems, key("subnetIds"), args.subnetIds, "public subnet ids of the VPC", 'e.g. ["subnet-0123456789abcdef0"]; for FSx for Lustre, only the file system\'s subnet');
  checkNonEmptyList(problems, key("securityGroupIds"), args.securityGroupIds, "security group ids", 'e.g. ["sg-0123456789abcdef0"]');

  const rootVolumeGiB = args.rootVolumeGiB ?? 100;
  if (!Number.isInteger(rootVolumeGiB) || rootVolumeGiB < DLAMI_MIN_ROOT_VOLUME_GIB || rootVolumeGiB > 16_384) {
    problems.add({
      key: key("rootVolumeGiB"),
      value: args.rootVolumeGiB,
      allowed: `a whole number of GiB from ${DLAMI_MIN_ROOT_VOLUME_GIB} (the Deep Learning AMI's snapshot) to 16384`,
      fix: "e.g. 100; datasets and scratch go to the instance store, not the root volume",
    });
  }

  const logRetentionDays = args.logRetentionDays ?? 30;
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    problems.add({ key: key("logRetentionDays"), value: args.logRetentionDays, allowed: `one of ${LOG_RETENTION_DAYS.join(", ")}`, fix: "e.g. 30" });
  }

  checkDatasetMount(problems, args);
  checkRunSpecIfKnown(problems, args);

  const tags = args.tags ?? {};
  const badTags = Object.entries(tags).filter(([k, v]) => k.length === 0 || k.length > 128 || k.toLowerCase().startsWith("aws:") || typeof v !== "string" || v.length > 256);
  if (badTags.length > 0 || Object.keys(tags).length > 40) {
    problems.add({
      key: key("tags"),
      value: tags,
      allowed: "at most 40 tags; keys of 1-128 characters not starting with \"aws:\", string values of at most 256 characters",
      fix: badTags.length > 0 ? `fix or remove: ${badTags.map(([k]) => JSON.stringify(k)).join(", ")}` : "remove some tags",
    });
  }

  problems.throwIfAny("GpuNodeGroup");
  return {
    groupName: args.groupName,
    instanceTypes: [...types],
    capacity: args.capacity,
    ...(maxSpotPrice !== undefined ? { maxSpotPrice } : {}),
    desiredNodes,
    initialCapacity,
    rootVolumeGiB,
    logRetentionDays,
    logGroupName: logGroupNameOf(args.groupName),
    tags,
    warnings,
  };
}

function checkNonEmptyList(problems: ProblemList, key: string, value: unknown, what: string, fix: string): void {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    problems.add({ key, value, allowed: `at least one of the ${what}`, fix });
  }
}

function checkDatasetMount(problems: ProblemList, args: GpuNodeGroupArgs): void {
  const mount = args.datasetMount;
  const kinds = ["none", "mountpoint", "copy", "fsx-lustre"];
  if (!mount || !kinds.includes(mount.kind)) {
    problems.add({ key: "GpuNodeGroup.datasetMount.kind", value: mount?.kind, allowed: kinds.map((k) => `"${k}"`).join(", "), fix: '"none" for a built-in dataset, else how the node reads the dataset' });
  } else if ((mount.kind === "mountpoint" || mount.kind === "copy") && !DATASET_PREFIX_PATTERN.test(mount.prefix)) {
    problems.add({ key: "GpuNodeGroup.datasetMount.prefix", value: mount.prefix, allowed: '"" (the whole bucket) or a key prefix ending with "/"', fix: 'e.g. "datasets/widgets/"' });
  }
  if (args.role === undefined || typeof (args.role as { addToPolicy?: unknown }).addToPolicy !== "function") {
    problems.add({
      key: "GpuNodeGroup.role",
      value: args.role === undefined ? undefined : "(not a NodeRole)",
      allowed: "a NodeRole, with the run's grants made to it",
      fix: "create a NodeRole, grant it what the run reads and writes (e.g. artifacts.grantReadWrite(role, prefix)), then pass it",
    });
  }
}

/** A run spec given as a plain object is checked now; an output one when it resolves. */
function checkRunSpecIfKnown(problems: ProblemList, args: GpuNodeGroupArgs): void {
  if (args.runSpec === undefined || pulumi.Output.isInstance(args.runSpec) || isPromiseLike(args.runSpec)) return;
  for (const problem of runSpecMismatches(args.runSpec as unknown, args)) problems.add(problem);
}

/**
 * Problems between the run spec and the group's own arguments: the spec must name this group
 * (the node terminates itself in it, the only group IAM allows).
 */
export function runSpecMismatches(runSpec: unknown, args: Pick<GpuNodeGroupArgs, "groupName">): Array<{ key: string; value: unknown; allowed: string; fix: string }> {
  let spec: RunSpec;
  try {
    spec = parseRunSpec(runSpec);
  } catch (error) {
    return [{ key: "GpuNodeGroup.runSpec", value: "(see below)", allowed: "a valid run spec", fix: (error as Error).message.replace(/\n\s*/g, " ") }];
  }
  const found = [];
  if (spec.autoScalingGroupName !== args.groupName) {
    found.push({ key: "GpuNodeGroup.runSpec.autoScalingGroupName", value: spec.autoScalingGroupName, allowed: `this group's name, ${JSON.stringify(args.groupName)}`, fix: "build the run spec with the same group name" });
  }
  return found;
}

function isPromiseLike(value: unknown): boolean {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/**
 * How the group buys capacity. Spot: all spot, price-capacity-optimized over every listed type
 * (AWS picks the pools least likely to be interrupted among the cheap ones). On-demand: all
 * on-demand, cheapest type first.
 * @see https://docs.aws.amazon.com/autoscaling/ec2/userguide/allocation-strategies.html
 */
export function instancesDistributionOf(capacity: Capacity, maxSpotPrice?: number): {
  onDemandBaseCapacity: number;
  onDemandPercentageAboveBaseCapacity: number;
  onDemandAllocationStrategy?: string;
  spotAllocationStrategy?: string;
  spotMaxPrice?: string;
} {
  if (capacity === "on-demand") {
    return { onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 100, onDemandAllocationStrategy: "lowest-price" };
  }
  return {
    onDemandBaseCapacity: 0,
    onDemandPercentageAboveBaseCapacity: 0,
    spotAllocationStrategy: "price-capacity-optimized",
    ...(maxSpotPrice !== undefined ? { spotMaxPrice: maxSpotPrice.toFixed(4).replace(/0+$/, "").replace(/\.$/, "") } : {}),
  };
}

/** Group metrics worth their (zero) cost: the dashboard and the status command read them. */
export const GROUP_METRICS = [
  "GroupDesiredCapacity",
  "GroupInServiceInstances",
  "GroupPendingInstances",
  "GroupTerminatingInstances",
  "GroupTotalInstances",
  "GroupMinSize",
  "GroupMaxSize",
] as const;
