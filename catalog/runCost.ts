import { priceOf } from "./prices";
import type { Capacity } from "./types";

export interface RunCostInput {
  /** Instance types the node group may launch; the estimate uses the cheapest priced one. */
  readonly instanceTypes: readonly string[];
  readonly region: string;
  readonly capacity: Capacity;
  /** Estimated wall-clock hours of one node (from estimateTrainingHours). */
  readonly hours: number;
  /** Nodes running for those hours. @default 1 */
  readonly nodes?: number;
}

/** Hourly rates of one instance type in the requested region. */
export interface InstanceRate {
  readonly instanceType: string;
  readonly onDemandUsdPerHour: number;
  /** Median spot sample; absent when the snapshot has no spot price for the pair. */
  readonly spotUsdPerHour?: number;
}

export interface RunCostEstimate {
  /** Types of the input that have a price in the region, in input order. */
  readonly perInstance: readonly InstanceRate[];
  /** The type the estimate uses and its rate for the requested capacity. */
  readonly chosen: { readonly instanceType: string; readonly usdPerHour: number };
  /** Cost at the requested capacity: usdPerHour × hours × nodes. */
  readonly estimatedUsd: number;
  /** Cost of the same hours on demand, for the chosen type. */
  readonly onDemandUsd: number;
  /** onDemandUsd − estimatedUsd (0 for on-demand capacity). */
  readonly savingUsd: number;
  /** savingUsd as a percentage of onDemandUsd, 0–100. */
  readonly savingPercent: number;
  readonly hours: number;
}

/**
 * Cost of one run from the price snapshot. Spot uses the median spot price over the region's
 * zones (the snapshot's advice for estimates), picking the type with the cheapest median; types
 * without a spot price are then skipped. On-demand picks the cheapest on-demand type. Interrupted
 * spot time that must be redone is not modelled: it is part of `hours` if at all.
 * Throws when no listed type has a usable price in the region.
 */
export function estimateRunCost(input: RunCostInput): RunCostEstimate {
  const nodes = input.nodes ?? 1;
  if (!Number.isFinite(input.hours) || input.hours < 0) {
    throw new Error(`estimateRunCost: hours must be a finite number ≥ 0, got ${input.hours}`);
  }
  if (!Number.isInteger(nodes) || nodes < 1) {
    throw new Error(`estimateRunCost: nodes must be a whole number ≥ 1, got ${nodes}`);
  }

  const perInstance: InstanceRate[] = [];
  for (const instanceType of new Set(input.instanceTypes)) {
    const price = priceOf(instanceType, input.region);
    if (price === undefined) continue;
    perInstance.push({
      instanceType,
      onDemandUsdPerHour: price.onDemandUsdPerHour,
      ...(price.spotMedianUsdPerHour !== undefined ? { spotUsdPerHour: price.spotMedianUsdPerHour } : {}),
    });
  }

  const rateOf = (r: InstanceRate): number | undefined =>
    input.capacity === "spot" ? r.spotUsdPerHour : r.onDemandUsdPerHour;
  let chosen: InstanceRate | undefined;
  for (const r of perInstance) {
    const rate = rateOf(r);
    if (rate === undefined) continue;
    const best = chosen === undefined ? undefined : rateOf(chosen);
    if (best === undefined || rate < best) chosen = r;
  }
  if (chosen === undefined) {
    const listed = input.instanceTypes.join(", ") || "(none)";
    const what = input.capacity === "spot" ? "spot" : "on-demand";
    throw new Error(
      `The price snapshot has no ${what} price in ${input.region} for any of the instance types [${listed}]. ` +
        `Choose another region (see regionsOffering) or other instance types.`,
    );
  }

  const usdPerHour = rateOf(chosen) as number;
  const hoursTimesNodes = input.hours * nodes;
  const estimatedUsd = usdPerHour * hoursTimesNodes;
  const onDemandUsd = chosen.onDemandUsdPerHour * hoursTimesNodes;
  const savingUsd = onDemandUsd - estimatedUsd;
  const savingPercent = input.capacity === "spot" ? (1 - usdPerHour / chosen.onDemandUsdPerHour) * 100 : 0;
  return {
    perInstance,
    chosen: { instanceType: chosen.instanceType, usdPerHour },
    estimatedUsd,
    onDemandUsd,
    savingUsd,
    savingPercent,
    hours: input.hours,
  };
}

/**
 * The lowest spot price ever seen in the snapshot (min over zones) among these types in this
 * region; undefined when none has a spot price. A maxSpotPrice below this would never launch.
 */
export function cheapestSpotPrice(instanceTypes: readonly string[], region: string): number | undefined {
  let cheapest: number | undefined;
  for (const t of instanceTypes) {
    const min = priceOf(t, region)?.spotMinUsdPerHour;
    if (min !== undefined && (cheapest === undefined || min < cheapest)) cheapest = min;
  }
  return cheapest;
}
