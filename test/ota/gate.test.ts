import fc from "fast-check";
import { evaluatePromotion, promotionPlan, type PromotionGate, type StableRelease } from "../../ota/gate";

const METRIC = "metrics/mAP50-95(B)";
const gate = (overrides: Partial<PromotionGate> = {}): PromotionGate => ({ metric: METRIC, min: 0.5, requireImprovement: true, ...overrides });
const stable = (value: number | undefined, version = 7): StableRelease => ({ version, metrics: value === undefined ? { "metrics/mAP50(B)": 0.9 } : { [METRIC]: value } });

describe("evaluatePromotion", () => {
  it.each([
    ["below the minimum", gate(), { [METRIC]: 0.49 }, undefined, false, `${METRIC} 0.49 is below the minimum 0.5 (ota.promote.min)`],
    ["at the minimum with no stable release", gate(), { [METRIC]: 0.5 }, undefined, true, `${METRIC} 0.5 meets the minimum 0.5 and there is no stable release yet to improve on`],
    ["better than stable", gate(), { [METRIC]: 0.63 }, stable(0.62), true, `${METRIC} 0.63 meets the minimum 0.5 and improves on stable version 7 (0.62)`],
    ["equal to stable", gate(), { [METRIC]: 0.62 }, stable(0.62), false, `${METRIC} 0.62 does not improve on stable version 7 (0.62) (ota.promote.requireImprovement)`],
    ["worse than stable", gate(), { [METRIC]: 0.6 }, stable(0.62), false, `${METRIC} 0.6 does not improve on stable version 7 (0.62) (ota.promote.requireImprovement)`],
    ["worse than stable without requireImprovement", gate({ requireImprovement: false }), { [METRIC]: 0.6 }, stable(0.62), true, `${METRIC} 0.6 meets the minimum 0.5 (ota.promote.min)`],
    ["better than stable but below the minimum", gate(), { [METRIC]: 0.45 }, stable(0.3), false, `${METRIC} 0.45 is below the minimum 0.5 (ota.promote.min)`],
    [
      "missing the metric",
      gate(),
      { "metrics/mAP50(B)": 0.9 },
      undefined,
      false,
      `the candidate has no ${METRIC} (it has metrics/mAP50(B)), so the gate (ota.promote.metric) cannot judge it`,
    ],
    ["with no metrics at all", gate(), {}, undefined, false, `the candidate has no ${METRIC} (it has no metrics), so the gate (ota.promote.metric) cannot judge it`],
    [
      "against a stable release without the metric",
      gate(),
      { [METRIC]: 0.7 },
      stable(undefined),
      false,
      `stable version 7 has no ${METRIC} to compare with (ota.promote.requireImprovement); promote by hand if the candidate is better`,
    ],
  ])("judges a candidate %s, with the reason", (_name, g, metrics, current, promote, reason) => {
    expect(evaluatePromotion(g, metrics, current)).toEqual({ promote, reason });
  });

  it("never promotes below the minimum, and with requireImprovement never promotes a candidate not strictly better than stable", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.option(fc.double({ min: 0, max: 1, noNaN: true })), fc.boolean(), (value, min, current, requireImprovement) => {
        const decision = evaluatePromotion(gate({ min, requireImprovement }), { [METRIC]: value }, current === null ? undefined : stable(current));
        if (value < min) expect(decision.promote).toBe(false);
        if (requireImprovement && current !== null && value <= current) expect(decision.promote).toBe(false);
        if (value >= min && (!requireImprovement || current === null || value > current)) expect(decision.promote).toBe(true);
        expect(decision.reason.length).toBeGreaterThan(0);
      }),
    );
  });
});

describe("promotionPlan", () => {
  it.each([
    ["candidate", undefined, { kind: "never", reason: "ota.channel is candidate and no gate (ota.promote) is set; promote to stable by hand" }],
    ["stable", undefined, { kind: "always", reason: "ota.channel is stable and no gate (ota.promote) is set" }],
    ["candidate", gate(), { kind: "gated", gate: gate() }],
    // A gate binds even when the channel says stable: stable is quality-gated.
    ["stable", gate(), { kind: "gated", gate: gate() }],
  ] as const)("channel %s with gate %j", (channel, promote, plan) => {
    expect(promotionPlan({ channel, promote })).toEqual(plan);
  });
});
