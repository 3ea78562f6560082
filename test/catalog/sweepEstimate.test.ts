import { estimateExperiment } from "../../catalog/experimentEstimate";
import { GPU_VCPU_QUOTAS, estimateSweep, vcpuQuotaOf, type SweepEstimateTrialInput } from "../../catalog/sweepEstimate";
import { parseExperimentConfig } from "../../config";
import type { RawStackConfig } from "../../config/types";

const context = { project: "yolo-train", stack: "sweep", region: "us-east-1" };
const trial = (id: string, raw: RawStackConfig): SweepEstimateTrialInput => ({ id, config: parseExperimentConfig(raw, context) });
/** Nine trials of one config on coco128 (a known size), 81 epochs. */
const nine = Array.from({ length: 9 }, (_, i) => trial(`t0${i + 1}`, { data: "coco128.yaml", epochs: 81, imgsz: 320 + 32 * i }));

describe("estimateSweep", () => {
  it("prices each trial at its experiment's rate and cap", () => {
    const e = estimateSweep({ trials: nine, maxParallel: 3 });
    expect(e.trials).toHaveLength(9);
    nine.forEach(({ config }, i) => {
      const one = estimateExperiment(config);
      expect(e.trials[i]).toEqual({
        id: nine[i]!.id,
        instanceType: one.capacityRates.chosen.instanceType,
        usdPerHour: one.capacityRates.chosen.usdPerHour,
        capacity: "spot",
        capUsd: one.capUsd,
        hours: one.hours,
        estimatedUsd: one.cost!.estimatedUsd,
      });
    });
  });

  it("bounds the most by every trial's max runtime when there is no budget, or the budget is above it", () => {
    const caps = nine.reduce((sum, t) => sum + estimateExperiment(t.config).capUsd, 0);
    expect(estimateSweep({ trials: nine, maxParallel: 3 }).most).toEqual({ usd: caps, binds: "max-runtime", allTrialsToCapUsd: caps });
    expect(estimateSweep({ trials: nine, maxParallel: 3, budgetUsd: caps + 1 }).most).toEqual({ usd: caps, binds: "max-runtime", allTrialsToCapUsd: caps, budgetUsd: caps + 1 });
  });

  it("says the budget binds when it is below every trial run to its max runtime", () => {
    const most = estimateSweep({ trials: nine, maxParallel: 3, budgetUsd: 1 }).most;
    expect(most.binds).toBe("budget");
    expect(most.usd).toBe(1);
    expect(most.allTrialsToCapUsd).toBeGreaterThan(1);
  });

  it("expects ASHA to cost less than running every trial to its end, with n/η^k trials at rung k", () => {
    const e = estimateSweep({ trials: nine, maxParallel: 3, asha: { minEpochs: 3, reductionFactor: 3, maxEpochs: 81 } });
    const toEnd = nine.reduce((sum, t) => sum + estimateExperiment(t.config).cost!.estimatedUsd, 0);
    expect(e.expected!.withoutAshaUsd).toBeCloseTo(toEnd, 9);
    expect(e.expected!.withAshaUsd!).toBeLessThan(toEnd);
    expect(e.expected!.withAshaUsd!).toBeGreaterThan(toEnd / 9); // at least one trial runs to the end
    // Rungs at 3, 9, 27 epochs; 9 trials → 9, 3, 1, then at least one at each later rung and the end.
    expect(e.expected!.rungs).toEqual([
      { epochs: 3, trials: 9 },
      { epochs: 9, trials: 3 },
      { epochs: 27, trials: 1 },
      { epochs: 81, trials: 1 },
    ]);
  });

  it("counts one trial's worth of epochs exactly: one trial, ASHA or not, costs the same", () => {
    const one = [nine[0]!];
    const e = estimateSweep({ trials: one, maxParallel: 1, asha: { minEpochs: 5, reductionFactor: 3, maxEpochs: 81 } });
    expect(e.expected!.withAshaUsd!).toBeCloseTo(e.expected!.withoutAshaUsd, 9);
  });

  it("has no expected cost without ASHA beyond running to the end", () => {
    const e = estimateSweep({ trials: nine, maxParallel: 3 });
    expect(e.expected!.withAshaUsd).toBeUndefined();
    expect(e.expected!.rungs).toEqual([]);
  });

  it("gives only the most when a trial's dataset size is unknown, and says why", () => {
    const e = estimateSweep({ trials: [trial("t01", { data: "pallets" })], maxParallel: 1 });
    expect(e.expected).toBeUndefined();
    expect(e.trials[0]!.estimatedUsd).toBeUndefined();
    expect(e.most.allTrialsToCapUsd).toBeGreaterThan(0);
    expect(e.assumptions.some((a) => a.includes("datasetImages"))).toBe(true);
  });

  it("needs the largest instance type's vCPUs × maxParallel of the G and VT spot quota", () => {
    // The debug stage may launch g4dn.xlarge, 2xlarge or 4xlarge: a node may be the 16-vCPU one.
    const e = estimateSweep({ trials: nine, maxParallel: 3 });
    expect(e.quotas).toEqual([
      { quotaCode: "L-3819A6DF", quotaName: "All G and VT Spot Instance Requests", capacity: "spot", instanceType: "g4dn.4xlarge", vcpusPerNode: 16, nodes: 3, vcpus: 48 },
    ]);
  });

  it("needs no more nodes than the sweep has trials", () => {
    expect(estimateSweep({ trials: nine.slice(0, 2), maxParallel: 8 }).quotas[0]).toMatchObject({ nodes: 2, vcpus: 32 });
  });

  it("names the P quotas: p4d spot, p5 spot, and on-demand P", () => {
    const p4d = estimateSweep({ trials: [trial("t01", { stage: "train" })], maxParallel: 2 }).quotas;
    expect(p4d).toEqual([{ quotaCode: "L-7212CCBC", quotaName: "All P4, P3 and P2 Spot Instance Requests", capacity: "spot", instanceType: "p4d.24xlarge", vcpusPerNode: 96, nodes: 1, vcpus: 96 }]);
    const onDemand = estimateSweep({ trials: [trial("t01", { stage: "train", capacity: "on-demand" }), trial("t02", { stage: "train", capacity: "on-demand", epochs: 50 })], maxParallel: 2 }).quotas;
    expect(onDemand).toEqual([{ quotaCode: "L-417A185B", quotaName: "Running On-Demand P instances", capacity: "on-demand", instanceType: "p4d.24xlarge", vcpusPerNode: 96, nodes: 2, vcpus: 192 }]);
    expect(vcpuQuotaOf("p5.48xlarge", "spot")).toEqual(GPU_VCPU_QUOTAS.p5.spot);
    expect(vcpuQuotaOf("g6e.xlarge", "on-demand")).toEqual({ code: "L-DB2E81BA", name: "Running On-Demand G and VT instances" });
    expect(vcpuQuotaOf("m5.large", "spot")).toBeUndefined();
  });

  it("refuses a maxParallel that is not a whole number ≥ 1", () => {
    expect(() => estimateSweep({ trials: nine, maxParallel: 0 })).toThrow(RangeError);
  });

  it("prices a plan from parseSweepConfig as it is", () => {
    const { parseSweepConfig } = jest.requireActual<typeof import("../../config")>("../../config");
    const base = parseExperimentConfig({ data: "coco128.yaml", epochs: 27, hyperparameters: { optimizer: "SGD" } }, context);
    const plan = parseSweepConfig({ method: "grid", space: { imgsz: [320, 640] }, maxParallel: 4, asha: { minEpochs: 3 }, budgetUsd: 50 }, base, context);
    const e = estimateSweep(plan);
    expect(e.trials.map((t) => t.id)).toEqual(["t01", "t02"]);
    expect(e.expected!.rungs.map((r) => r.epochs)).toEqual([3, 9, 27]);
    expect(e.quotas[0]!.nodes).toBe(2);
  });
});
