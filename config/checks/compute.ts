import {
  GPU_CLASSES,
  catalogRegions,
  cheapestSpotPrice,
  findInstanceType,
  gpuCountsFor,
  instanceTypesFor,
  knownInstanceTypeNames,
  priceOf,
  regionsOffering,
  type Capacity,
  type GpuClass,
  type InstanceTypeSpec,
} from "../../catalog";
import type { Problem } from "../../runspec/problems";
import { GPU_COUNTS } from "../choices";
import { presetGpuCount, type StagePreset } from "../presets";
import { closestMatch, listWithOr } from "../suggest";
import type { CheckContext, ConfigProblems, ConfigValues } from "./context";

/** GPUs and instance types as far as they are known; `explicit` when `instanceTypes` was set. */
export interface Hardware {
  readonly gpu?: GpuClass;
  readonly gpusPerNode?: number;
  readonly instanceTypes?: readonly string[];
  readonly explicit: boolean;
}

/** The compute part of the config: what runs, on what capacity, at what price cap. */
export interface ComputePart {
  readonly hardware: Hardware;
  readonly capacity?: Capacity;
  readonly maxSpotPrice?: number;
}

/**
 * `gpu`, `gpusPerNode`, `instanceTypes`, `capacity` and `maxSpotPrice` over the stage preset:
 * the GPU counts a class offers on AWS, one GPU group per node group, the types the price catalog
 * lists in the region (cheapest first), and a spot price cap that can be met.
 */
export function checkCompute(
  values: ConfigValues,
  context: CheckContext,
  problems: ConfigProblems,
  preset: StagePreset | undefined,
): ComputePart {
  const capacity = values.resolve<Capacity>("capacity", preset?.capacity);
  let hardware = resolveHardware(values, problems, preset?.gpu, preset?.gpusPerNode);
  hardware = checkRegion(hardware, capacity ?? "spot", context, problems);
  checkMaxSpotPrice(values, context, problems, capacity, hardware.instanceTypes);
  const maxSpotPrice = values.value<number>("maxSpotPrice");
  return { hardware, ...(capacity !== undefined ? { capacity } : {}), ...(maxSpotPrice !== undefined ? { maxSpotPrice } : {}) };
}

function usd(n: number): string {
  return `$${Number(n.toFixed(4))}`;
}

function resolveHardware(
  values: ConfigValues,
  problems: ConfigProblems,
  presetGpu: GpuClass | undefined,
  presetCount: number | undefined,
): Hardware {
  if (values.given("instanceTypes")) return explicitHardware(values, problems);

  const gpu = values.given("gpu") ? values.value<GpuClass>("gpu") : presetGpu;
  const requested = values.given("gpusPerNode") ? values.value<number>("gpusPerNode") : undefined;
  if (gpu === undefined) {
    // The GPU class is invalid (reported): still check the count's own rule.
    if (requested !== undefined && !(GPU_COUNTS as readonly number[]).includes(requested)) {
      problems.add({ key: "gpusPerNode", value: requested, allowed: "1, 4 or 8", fix: "e.g. 1" });
    }
    return { explicit: false };
  }
  const offered = gpuCountsFor(gpu);
  let gpusPerNode: number | undefined;
  if (values.given("gpusPerNode")) {
    if (requested === undefined) return { gpu, explicit: false };
    if (!offered.includes(requested)) {
      problems.add(gpuCountProblem(gpu, requested, offered));
      return { gpu, explicit: false };
    }
    gpusPerNode = requested;
  } else {
    gpusPerNode = presetCount !== undefined ? presetGpuCount(presetCount, offered) : undefined;
  }
  if (gpusPerNode === undefined) return { gpu, explicit: false };
  return { gpu, gpusPerNode, instanceTypes: instanceTypesFor(gpu, gpusPerNode).map((t) => t.name), explicit: false };
}

function gpuCountProblem(gpu: GpuClass, requested: number, offered: readonly number[]): Problem {
  const nearest = [...offered].sort((a, b) => Math.abs(a - requested) - Math.abs(b - requested) || a - b)[0];
  const others = (GPU_COUNTS as readonly number[]).includes(requested)
    ? GPU_CLASSES.filter((g) => gpuCountsFor(g).includes(requested))
    : [];
  return {
    key: "gpusPerNode",
    value: requested,
    allowed: `a GPU count per node that ${gpu} offers on AWS: ${listWithOr(offered)}`,
    fix:
      `e.g. ${nearest}` +
      (others.length > 0 ? `, or a gpu with ${requested} per node: ${listWithOr(others)}` : ""),
  };
}

function explicitHardware(values: ConfigValues, problems: ConfigProblems): Hardware {
  const names = values.value<string[]>("instanceTypes");
  if (names === undefined) return { explicit: true };
  // A repeated name is harmless: keep the first.
  const unique = [...new Set(names)];
  const specs: InstanceTypeSpec[] = [];
  unique.forEach((name) => {
    const i = names.indexOf(name);
    const spec = findInstanceType(name);
    if (spec !== undefined) {
      specs.push(spec);
      return;
    }
    const guess = closestMatch(name, knownInstanceTypeNames());
    problems.add({
      key: `instanceTypes[${i}]`,
      value: name,
      allowed: "an instance type in the GPU catalog (docs/config.md#instancetypes lists them)",
      fix: guess ? `did you mean \`${guess}\`?` : "remove it, or use `gpu` and `gpusPerNode` instead",
    });
  });
  const groups = new Map<string, string[]>();
  for (const s of specs) {
    const group = `${s.gpu} ×${s.gpus}`;
    groups.set(group, [...(groups.get(group) ?? []), s.name]);
  }
  if (groups.size > 1) {
    problems.add({
      key: "instanceTypes",
      value: names,
      allowed:
        "instance types of one GPU class with one GPU count per node (DDP starts one worker per GPU, " +
        "so a replacement node must have the same devices)",
      fix: `keep one group: ${[...groups].map(([group, types]) => `${types.join(", ")} (${group})`).join("; or ")}`,
    });
    return { explicit: true };
  }
  if (specs.length !== unique.length) return { explicit: true };
  const first = specs[0]!;
  const gpu = values.value<GpuClass>("gpu");
  if (gpu !== undefined && gpu !== first.gpu) {
    problems.add({
      key: "gpu",
      value: gpu,
      allowed: `${first.gpu}, the GPU of \`instanceTypes\`, or unset`,
      fix: "remove it: `instanceTypes` decides the GPU (pulumi config rm yolo-train:gpu)",
    });
  }
  const gpusPerNode = values.value<number>("gpusPerNode");
  if (gpusPerNode !== undefined && gpusPerNode !== first.gpus) {
    problems.add({
      key: "gpusPerNode",
      value: gpusPerNode,
      allowed: `${first.gpus}, the GPU count of \`instanceTypes\`, or unset`,
      fix: "remove it: `instanceTypes` decides the GPU count (pulumi config rm yolo-train:gpusPerNode)",
    });
  }
  return { gpu: first.gpu, gpusPerNode: first.gpus, instanceTypes: unique, explicit: true };
}

/** Keeps the types the price catalog lists in the region, cheapest first; problems when none (or, explicit, not all) are. */
function checkRegion(hardware: Hardware, capacity: Capacity, context: CheckContext, problems: ConfigProblems): Hardware {
  const region = context.region;
  const types = hardware.instanceTypes;
  if (region === undefined || types === undefined) return hardware;
  const regions = catalogRegions();
  if (!regions.includes(region)) {
    problems.add({
      key: "aws:region",
      value: region,
      allowed: `a region in the GPU price catalog: ${listWithOr(regions)}`,
      fix: "pulumi config set aws:region us-east-1",
    });
    return { ...hardware, instanceTypes: undefined };
  }
  const offered = types.filter((t) => priceOf(t, region) !== undefined);
  if (hardware.explicit && offered.length < types.length) {
    const missing = types.filter((t) => !offered.includes(t));
    const everywhere = regions.filter((r) => types.every((t) => regionsOffering(t).includes(r)));
    problems.add({
      key: "instanceTypes",
      value: types,
      allowed:
        `instance types offered in ${region} (price catalog); not offered there: ` +
        missing.map((t) => `${t} (offered in ${listWithOr(regionsOffering(t))})`).join(", "),
      fix:
        `remove ${listWithOr(missing)}` +
        (everywhere.length > 0 ? `, or choose a region among ${listWithOr(everywhere)}` : ""),
    });
    return { ...hardware, instanceTypes: undefined };
  }
  if (offered.length === 0) {
    const n = hardware.gpusPerNode!;
    const elsewhere = regions.filter((r) => types.some((t) => regionsOffering(t).includes(r)));
    const otherGpus = GPU_CLASSES.filter(
      (g) => g !== hardware.gpu && instanceTypesFor(g, n).some((t) => priceOf(t.name, region) !== undefined),
    );
    problems.add({
      key: "gpu",
      value: hardware.gpu,
      allowed:
        `a GPU class offered in ${region} with ${n} per node; none of ${listWithOr(types)} is (price catalog)`,
      fix:
        (elsewhere.length > 0 ? `choose a region among ${listWithOr(elsewhere)} (pulumi config set aws:region ${elsewhere[0]})` : "choose another region") +
        (otherGpus.length > 0 ? `, or another gpu with ${n} per node there: ${listWithOr(otherGpus)}` : ", or another gpu"),
    });
    return { ...hardware, instanceTypes: undefined };
  }
  const rate = (t: string): number => {
    const price = priceOf(t, region)!;
    return capacity === "on-demand" ? price.onDemandUsdPerHour : (price.spotMedianUsdPerHour ?? price.onDemandUsdPerHour);
  };
  // Array.prototype.sort is stable: equal prices keep the catalog's order.
  return { ...hardware, instanceTypes: [...offered].sort((a, b) => rate(a) - rate(b)) };
}

function checkMaxSpotPrice(
  values: ConfigValues,
  context: CheckContext,
  problems: ConfigProblems,
  capacity: Capacity | undefined,
  types: readonly string[] | undefined,
): void {
  const max = values.value<number>("maxSpotPrice");
  if (max === undefined) return;
  if (capacity === "on-demand") {
    problems.add({
      key: "maxSpotPrice",
      value: max,
      allowed: "unset when `capacity` is on-demand (it caps spot prices only)",
      fix: "pulumi config rm yolo-train:maxSpotPrice, or set capacity to spot",
    });
    return;
  }
  const region = context.region;
  if (capacity !== "spot" || region === undefined || types === undefined || types.length === 0) return;
  const cheapest = cheapestSpotPrice(types, region);
  if (cheapest === undefined || max >= cheapest) return;
  const medians = types
    .map((t) => priceOf(t, region)?.spotMedianUsdPerHour)
    .filter((p): p is number => p !== undefined);
  const typical = medians.length > 0 ? Math.min(...medians) : cheapest;
  problems.add({
    key: "maxSpotPrice",
    value: max,
    allowed:
      `at least ${usd(cheapest)} per hour, the cheapest spot price of ${listWithOr(types)} in ${region} ` +
      "in the price catalog; below it no spot capacity would ever be granted",
    fix: `e.g. ${Math.ceil(typical * 100) / 100} (the typical spot price there), or remove it`,
  });
}
