import fc from "fast-check";
import { catalogRegions, cheapestSpotPrice, estimateRunCost, knownInstanceTypeNames, priceOf } from "../../catalog";

const typeSubset = fc.subarray(knownInstanceTypeNames(), { minLength: 1 });
const region = fc.constantFrom(...catalogRegions());
// From 36 s up: sub-second runs only test floating-point underflow, not the model.
const hours = fc.double({ min: 0.01, max: 500, noNaN: true });

/** Inputs that have at least one usable price for the capacity. */
function priced(types: string[], r: string, capacity: "spot" | "on-demand"): boolean {
  return types.some((t) => {
    const p = priceOf(t, r);
    return capacity === "spot" ? p?.spotMedianUsdPerHour !== undefined : p !== undefined;
  });
}

describe("estimateRunCost", () => {
  it("prices a debug run on one g4dn.xlarge spot at the us-east-1 median", () => {
    const estimate = estimateRunCost({ instanceTypes: ["g4dn.xlarge"], region: "us-east-1", capacity: "spot", hours: 2 });
    expect(estimate.chosen).toEqual({ instanceType: "g4dn.xlarge", usdPerHour: 0.2039 });
    expect(estimate.estimatedUsd).toBeCloseTo(0.4078, 10);
    expect(estimate.onDemandUsd).toBeCloseTo(1.052, 10);
    expect(estimate.savingUsd).toBeCloseTo(0.6442, 10);
    expect(estimate.savingPercent).toBeCloseTo(61.24, 2);
    expect(estimate.hours).toBe(2);
  });

  it("makes spot cheaper than on-demand for every catalog type with a us-east-1 spot price", () => {
    for (const t of knownInstanceTypeNames()) {
      if (priceOf(t, "us-east-1")?.spotMedianUsdPerHour === undefined) continue;
      const e = estimateRunCost({ instanceTypes: [t], region: "us-east-1", capacity: "spot", hours: 10 });
      expect(e.estimatedUsd).toBeLessThan(e.onDemandUsd);
      expect(e.savingPercent).toBeGreaterThan(0);
    }
  });

  it("keeps saving and saving % consistent with the two totals", () => {
    fc.assert(
      fc.property(typeSubset, region, fc.constantFrom("spot" as const, "on-demand" as const), hours, fc.integer({ min: 1, max: 4 }), (types, r, capacity, h, nodes) => {
        fc.pre(priced(types, r, capacity));
        const e = estimateRunCost({ instanceTypes: types, region: r, capacity, hours: h, nodes });
        expect(e.savingUsd).toBeCloseTo(e.onDemandUsd - e.estimatedUsd, 9);
        expect(e.estimatedUsd).toBeCloseTo(e.chosen.usdPerHour * h * nodes, 9);
        if (e.onDemandUsd > 0) expect(e.savingPercent).toBeCloseTo((100 * e.savingUsd) / e.onDemandUsd, 6);
        if (capacity === "on-demand") {
          expect(e.savingUsd).toBe(0);
          expect(e.savingPercent).toBe(0);
        }
      }),
    );
  });

  it("chooses the cheapest priced type for the capacity", () => {
    fc.assert(
      fc.property(typeSubset, region, fc.constantFrom("spot" as const, "on-demand" as const), (types, r, capacity) => {
        fc.pre(priced(types, r, capacity));
        const e = estimateRunCost({ instanceTypes: types, region: r, capacity, hours: 1 });
        for (const rate of e.perInstance) {
          const candidate = capacity === "spot" ? rate.spotUsdPerHour : rate.onDemandUsdPerHour;
          if (candidate !== undefined) expect(e.chosen.usdPerHour).toBeLessThanOrEqual(candidate);
        }
        expect(e.perInstance.map((p) => p.instanceType)).toContain(e.chosen.instanceType);
      }),
    );
  });

  it("leaves types without a price in the region out of perInstance", () => {
    const e = estimateRunCost({
      instanceTypes: ["g6.xlarge", "g4dn.xlarge", "g6e.xlarge"],
      region: "eu-west-1",
      capacity: "on-demand",
      hours: 1,
    });
    expect(e.perInstance.map((p) => p.instanceType)).toEqual(["g4dn.xlarge"]);
  });

  it("skips a type without spot prices when estimating spot", () => {
    const e = estimateRunCost({ instanceTypes: ["p5.4xlarge", "p5.48xlarge"], region: "us-east-1", capacity: "spot", hours: 1 });
    expect(e.chosen).toEqual({ instanceType: "p5.48xlarge", usdPerHour: 21.1543 });
    expect(e.perInstance.find((p) => p.instanceType === "p5.4xlarge")).toEqual({ instanceType: "p5.4xlarge", onDemandUsdPerHour: 6.88 });
  });

  it("multiplies by the number of nodes", () => {
    const one = estimateRunCost({ instanceTypes: ["p4d.24xlarge"], region: "us-east-1", capacity: "spot", hours: 10 });
    const three = estimateRunCost({ instanceTypes: ["p4d.24xlarge"], region: "us-east-1", capacity: "spot", hours: 10, nodes: 3 });
    expect(three.estimatedUsd).toBeCloseTo(one.estimatedUsd * 3, 9);
    expect(three.savingPercent).toBeCloseTo(one.savingPercent, 9);
  });

  it("throws a clear error when the region has no price for any listed type", () => {
    expect(() => estimateRunCost({ instanceTypes: ["g6.xlarge", "g6.2xlarge"], region: "eu-west-1", capacity: "spot", hours: 1 })).toThrow(
      /no spot price in eu-west-1 for any of the instance types \[g6.xlarge, g6.2xlarge\]/,
    );
    expect(() => estimateRunCost({ instanceTypes: ["p5.4xlarge"], region: "us-east-1", capacity: "spot", hours: 1 })).toThrow(
      /no spot price in us-east-1/,
    );
    expect(() => estimateRunCost({ instanceTypes: [], region: "us-east-1", capacity: "on-demand", hours: 1 })).toThrow(
      /no on-demand price in us-east-1 for any of the instance types \[\(none\)\]/,
    );
  });

  it.each([
    [{ hours: -1 }, /hours must be a finite number ≥ 0/],
    [{ hours: Number.NaN }, /hours must be a finite number ≥ 0/],
    [{ nodes: 0 }, /nodes must be a whole number ≥ 1/],
  ])("rejects %j", (change, message) => {
    expect(() => estimateRunCost({ instanceTypes: ["g4dn.xlarge"], region: "us-east-1", capacity: "spot", hours: 1, ...change })).toThrow(message);
  });
});

describe("cheapestSpotPrice", () => {
  it("is the lowest spot minimum over the listed types in the region", () => {
    expect(cheapestSpotPrice(["g4dn.2xlarge", "g4dn.xlarge"], "us-west-2")).toBe(0.0631);
    expect(cheapestSpotPrice(["p4d.24xlarge"], "us-east-1")).toBe(2.4655);
  });

  it("is undefined when no listed type has a spot price there", () => {
    expect(cheapestSpotPrice(["p5.4xlarge"], "us-east-1")).toBeUndefined();
    expect(cheapestSpotPrice(["g6.xlarge"], "eu-west-1")).toBeUndefined();
    expect(cheapestSpotPrice([], "us-east-1")).toBeUndefined();
  });

  it("never exceeds the median the estimate uses", () => {
    fc.assert(
      fc.property(typeSubset, region, (types, r) => {
        fc.pre(priced(types, r, "spot"));
        const min = cheapestSpotPrice(types, r);
        const e = estimateRunCost({ instanceTypes: types, region: r, capacity: "spot", hours: 1 });
        expect(min).toBeDefined();
        expect(min as number).toBeLessThanOrEqual(e.chosen.usdPerHour);
      }),
    );
  });
});
