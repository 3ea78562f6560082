import { priceOf } from "./prices";
import type { GpuClass, InstanceTypeSpec } from "./types";

/**
 * GPU instance types yolo-train can run on, per GPU class and GPU count.
 *
 * gpus, gpuMemoryGiB, vcpus and memoryGiB match catalog/data/aws-gpu-prices.csv (a test checks it).
 * nvmeGB (total instance store) and networkGbps come from the AWS instance type pages:
 *   g4dn: https://aws.amazon.com/ec2/instance-types/g4/
 *   g5:   https://aws.amazon.com/ec2/instance-types/g5/
 *   g6:   https://aws.amazon.com/ec2/instance-types/g6/
 *   g6e:  https://aws.amazon.com/ec2/instance-types/g6e/
 *   p4d/p4de: https://aws.amazon.com/ec2/instance-types/p4/
 *   p5:   https://aws.amazon.com/ec2/instance-types/p5/
 *   and https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html (accelerated computing specs)
 * "Up to N Gbps" counts as N.
 *
 * Left out on purpose: P3 (V100) is no GPU class of ours and the Deep Learning Base AMI (AL2023)
 * does not support it; p5en (H200) is no GPU class of ours.
 */
export const INSTANCE_TYPES: readonly InstanceTypeSpec[] = Object.freeze(
  (
    [
      // NVIDIA T4, 16 GiB.
      { name: "g4dn.xlarge", gpu: "t4", gpus: 1, gpuMemoryGiB: 16, vcpus: 4, memoryGiB: 16, nvmeGB: 125, networkGbps: 25 },
      { name: "g4dn.2xlarge", gpu: "t4", gpus: 1, gpuMemoryGiB: 16, vcpus: 8, memoryGiB: 32, nvmeGB: 225, networkGbps: 25 },
      { name: "g4dn.4xlarge", gpu: "t4", gpus: 1, gpuMemoryGiB: 16, vcpus: 16, memoryGiB: 64, nvmeGB: 225, networkGbps: 25 },
      { name: "g4dn.12xlarge", gpu: "t4", gpus: 4, gpuMemoryGiB: 16, vcpus: 48, memoryGiB: 192, nvmeGB: 900, networkGbps: 50 },
      // NVIDIA A10G, 24 GB (22.4 GiB usable as EC2 reports it).
      { name: "g5.xlarge", gpu: "a10g", gpus: 1, gpuMemoryGiB: 22.4, vcpus: 4, memoryGiB: 16, nvmeGB: 250, networkGbps: 10 },
      { name: "g5.2xlarge", gpu: "a10g", gpus: 1, gpuMemoryGiB: 22.4, vcpus: 8, memoryGiB: 32, nvmeGB: 450, networkGbps: 10 },
      { name: "g5.4xlarge", gpu: "a10g", gpus: 1, gpuMemoryGiB: 22.4, vcpus: 16, memoryGiB: 64, nvmeGB: 600, networkGbps: 25 },
      { name: "g5.12xlarge", gpu: "a10g", gpus: 4, gpuMemoryGiB: 22.4, vcpus: 48, memoryGiB: 192, nvmeGB: 3800, networkGbps: 40 },
      { name: "g5.48xlarge", gpu: "a10g", gpus: 8, gpuMemoryGiB: 22.4, vcpus: 192, memoryGiB: 768, nvmeGB: 7600, networkGbps: 100 },
      // NVIDIA L4, 24 GB.
      { name: "g6.xlarge", gpu: "l4", gpus: 1, gpuMemoryGiB: 22.4, vcpus: 4, memoryGiB: 16, nvmeGB: 250, networkGbps: 10 },
      { name: "g6.2xlarge", gpu: "l4", gpus: 1, gpuMemoryGiB: 22.4, vcpus: 8, memoryGiB: 32, nvmeGB: 450, networkGbps: 10 },
      { name: "g6.12xlarge", gpu: "l4", gpus: 4, gpuMemoryGiB: 22.4, vcpus: 48, memoryGiB: 192, nvmeGB: 3760, networkGbps: 40 },
      // NVIDIA L40S, 48 GB.
      { name: "g6e.xlarge", gpu: "l40s", gpus: 1, gpuMemoryGiB: 44.7, vcpus: 4, memoryGiB: 32, nvmeGB: 250, networkGbps: 20 },
      { name: "g6e.12xlarge", gpu: "l40s", gpus: 4, gpuMemoryGiB: 44.7, vcpus: 48, memoryGiB: 384, nvmeGB: 3800, networkGbps: 100 },
      // NVIDIA A100 40 GB / 80 GB; 8 × 1000 GB NVMe, 400 Gbps EFA.
      { name: "p4d.24xlarge", gpu: "a100", gpus: 8, gpuMemoryGiB: 40, vcpus: 96, memoryGiB: 1152, nvmeGB: 8000, networkGbps: 400 },
      { name: "p4de.24xlarge", gpu: "a100-80gb", gpus: 8, gpuMemoryGiB: 80, vcpus: 96, memoryGiB: 1152, nvmeGB: 8000, networkGbps: 400 },
      // NVIDIA H100 80 GB.
      { name: "p5.4xlarge", gpu: "h100", gpus: 1, gpuMemoryGiB: 80, vcpus: 16, memoryGiB: 256, nvmeGB: 3840, networkGbps: 100 },
      { name: "p5.48xlarge", gpu: "h100", gpus: 8, gpuMemoryGiB: 80, vcpus: 192, memoryGiB: 2048, nvmeGB: 30720, networkGbps: 3200 },
    ] satisfies InstanceTypeSpec[]
  ).map((spec) => Object.freeze(spec)),
);

const BY_NAME = new Map<string, InstanceTypeSpec>(INSTANCE_TYPES.map((t) => [t.name, t]));

// Ordering reference: every catalog type has a us-east-1 price (a test checks it).
const ORDER_REGION = "us-east-1";

function onDemandInOrderRegion(name: string): number {
  return priceOf(name, ORDER_REGION)?.onDemandUsdPerHour ?? Number.POSITIVE_INFINITY;
}

/**
 * Every catalog type of this GPU class with exactly this many GPUs, cheapest first by
 * us-east-1 on-demand price (ties by name). Empty when AWS has no such combination.
 */
export function instanceTypesFor(gpu: GpuClass, gpusPerNode: number): InstanceTypeSpec[] {
  return INSTANCE_TYPES.filter((t) => t.gpu === gpu && t.gpus === gpusPerNode).sort(
    (a, b) => onDemandInOrderRegion(a.name) - onDemandInOrderRegion(b.name) || a.name.localeCompare(b.name),
  );
}

/** GPU counts per node that exist for this class, ascending (t4 → [1, 4]). */
export function gpuCountsFor(gpu: GpuClass): number[] {
  return [...new Set(INSTANCE_TYPES.filter((t) => t.gpu === gpu).map((t) => t.gpus))].sort((a, b) => a - b);
}

/** The catalog entry for an EC2 instance type name; undefined when it is not a type we run on. */
export function findInstanceType(name: string): InstanceTypeSpec | undefined {
  return BY_NAME.get(name);
}

/** Names of every catalog instance type, in catalog order (by class, then size). */
export function knownInstanceTypeNames(): string[] {
  return INSTANCE_TYPES.map((t) => t.name);
}
