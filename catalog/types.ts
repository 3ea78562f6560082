/** GPU classes yolo-train can train on, as named in stack config (`gpu`). */
export const GPU_CLASSES = ["t4", "a10g", "l4", "l40s", "a100", "a100-80gb", "h100"] as const;
export type GpuClass = (typeof GPU_CLASSES)[number];

/** One EC2 GPU instance type: the hardware facts the planner and the node bootstrap need. */
export interface InstanceTypeSpec {
  /** EC2 instance type, e.g. `g4dn.xlarge`. */
  readonly name: string;
  readonly gpu: GpuClass;
  /** GPUs per instance. */
  readonly gpus: number;
  /** Memory per GPU, GiB. */
  readonly gpuMemoryGiB: number;
  readonly vcpus: number;
  /** Host memory, GiB. */
  readonly memoryGiB: number;
  /** Total local NVMe instance store, GB (0 when the type has none). */
  readonly nvmeGB: number;
  /** Network bandwidth, Gbit/s ("up to" figures count as their maximum). */
  readonly networkGbps: number;
}

/** Prices of one instance type in one region, from the dated price snapshot. */
export interface InstancePrice {
  readonly instanceType: string;
  readonly region: string;
  readonly onDemandUsdPerHour: number;
  /** Cheapest spot sample over the region's zones; undefined when no zone had a spot price. */
  readonly spotMinUsdPerHour?: number;
  /** Median spot sample over the region's zones; the figure estimates use. */
  readonly spotMedianUsdPerHour?: number;
}

export type Capacity = "spot" | "on-demand";
