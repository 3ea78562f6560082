import {
  GPU_CLASSES,
  INSTANCE_TYPES,
  findInstanceType,
  gpuCountsFor,
  instanceTypesFor,
  knownInstanceTypeNames,
  priceOf,
  type GpuClass,
} from "../../catalog";
import { allPrices } from "../../catalog/prices";

// How the price snapshot names each GPU class; P3 (V100) and p5en (H200) are deliberately absent.
const SNAPSHOT_GPU_MODEL: Record<GpuClass, string> = {
  t4: "T4",
  a10g: "A10G",
  l4: "L4",
  l40s: "L40S",
  a100: "A100",
  "a100-80gb": "A100-80GB",
  h100: "H100",
};
const CLASS_OF_MODEL = new Map(Object.entries(SNAPSHOT_GPU_MODEL).map(([cls, model]) => [model, cls as GpuClass]));

describe("instance catalog", () => {
  it("has a catalog entry with matching hardware for every snapshot row of our GPU classes", () => {
    const ourRows = allPrices().filter((row) => CLASS_OF_MODEL.has(row.gpuModel));
    expect(ourRows.length).toBeGreaterThan(60);
    for (const row of ourRows) {
      const spec = findInstanceType(row.instanceType);
      expect(spec).toBeDefined();
      expect({
        name: spec?.name,
        gpu: spec?.gpu,
        gpus: spec?.gpus,
        gpuMemoryGiB: spec?.gpuMemoryGiB,
        vcpus: spec?.vcpus,
        memoryGiB: spec?.memoryGiB,
      }).toEqual({
        name: row.instanceType,
        gpu: CLASS_OF_MODEL.get(row.gpuModel),
        gpus: row.gpuCount,
        gpuMemoryGiB: row.gpuMemoryGiB,
        vcpus: row.vcpus,
        memoryGiB: row.memoryGiB,
      });
    }
  });

  it("lists exactly the types the snapshot prices for our GPU classes", () => {
    const snapshotTypes = new Set(allPrices().filter((r) => CLASS_OF_MODEL.has(r.gpuModel)).map((r) => r.instanceType));
    expect(new Set(knownInstanceTypeNames())).toEqual(snapshotTypes);
  });

  it("leaves out P3 (V100) and p5en (H200)", () => {
    for (const name of ["p3.2xlarge", "p3.8xlarge", "p3.16xlarge", "p5en.48xlarge"]) {
      expect(findInstanceType(name)).toBeUndefined();
    }
    expect(knownInstanceTypeNames().some((n) => n.startsWith("p3.") || n.startsWith("p5en."))).toBe(false);
  });

  it("has a us-east-1 price for every catalog type", () => {
    for (const name of knownInstanceTypeNames()) {
      expect(priceOf(name, "us-east-1")?.onDemandUsdPerHour).toBeGreaterThan(0);
    }
  });

  it("records local NVMe and network bandwidth for every type", () => {
    for (const spec of INSTANCE_TYPES) {
      expect(spec.nvmeGB).toBeGreaterThan(0);
      expect(spec.networkGbps).toBeGreaterThanOrEqual(10);
    }
    expect(findInstanceType("p4d.24xlarge")).toMatchObject({ nvmeGB: 8000, networkGbps: 400 });
    expect(findInstanceType("g4dn.xlarge")).toMatchObject({ nvmeGB: 125, networkGbps: 25 });
  });

  it("has unique names", () => {
    const names = knownInstanceTypeNames();
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("gpuCountsFor", () => {
  it.each<[GpuClass, number[]]>([
    ["t4", [1, 4]],
    ["a10g", [1, 4, 8]],
    ["l4", [1, 4]],
    ["l40s", [1, 4]],
    ["a100", [8]],
    ["a100-80gb", [8]],
    ["h100", [1, 8]],
  ])("offers %s with %j GPUs per node", (gpu, counts) => {
    expect(gpuCountsFor(gpu)).toEqual(counts);
  });
});

describe("instanceTypesFor", () => {
  it.each<[GpuClass, number, string[]]>([
    ["t4", 1, ["g4dn.xlarge", "g4dn.2xlarge", "g4dn.4xlarge"]],
    ["t4", 4, ["g4dn.12xlarge"]],
    ["a10g", 1, ["g5.xlarge", "g5.2xlarge", "g5.4xlarge"]],
    ["a10g", 8, ["g5.48xlarge"]],
    ["l4", 1, ["g6.xlarge", "g6.2xlarge"]],
    ["a100", 8, ["p4d.24xlarge"]],
    ["h100", 1, ["p5.4xlarge"]],
    ["h100", 8, ["p5.48xlarge"]],
  ])("returns %s × %i as %j, cheapest first", (gpu, count, names) => {
    expect(instanceTypesFor(gpu, count).map((t) => t.name)).toEqual(names);
  });

  it("returns nothing for a GPU count AWS does not offer", () => {
    expect(instanceTypesFor("a100", 1)).toEqual([]);
    expect(instanceTypesFor("t4", 8)).toEqual([]);
  });

  it("orders every class and count by us-east-1 on-demand price", () => {
    for (const gpu of GPU_CLASSES) {
      for (const count of gpuCountsFor(gpu)) {
        const prices = instanceTypesFor(gpu, count).map((t) => priceOf(t.name, "us-east-1")?.onDemandUsdPerHour ?? Infinity);
        expect(prices).toEqual([...prices].sort((a, b) => a - b));
        expect(prices.length).toBeGreaterThan(0);
      }
    }
  });
});
