import { costReport } from "../../cli/costReport";
import { parseStackOutputs } from "../../cli/stackOutputs";
import { recordAt, STACK_OUTPUTS } from "./commands/operateHarness";

const estimate = parseStackOutputs(STACK_OUTPUTS, "test").estimate;

describe("costReport", () => {
  it("leaves savings unknown when the stack has no estimate, rather than claiming any", () => {
    const report = costReport(recordAt({ epoch: 2 }), null);
    expect(report).toMatchObject({ instanceType: null, onDemandUsdPerHour: null, onDemandCostUsd: null, savingsUsd: null, savingsPercent: null });
    expect(report.costUsd).toBeGreaterThan(0);
  });

  it("has no cost per epoch and no share before anything is billed or trained", () => {
    const record = { ...recordAt({ epoch: 0 }), billedSeconds: 0, trainingSeconds: 0, estimatedCostUsd: 0 };
    expect(costReport(record, estimate)).toMatchObject({ costPerEpochUsd: null, trainingShare: 0, paidUsdPerHour: null, savingsPercent: null });
  });

  it("savings are on-demand cost minus cost paid, for the same billed seconds", () => {
    const record = { ...recordAt({ epoch: 5 }), billedSeconds: 3600, estimatedCostUsd: 0.2 };
    expect(costReport(record, estimate)).toMatchObject({ onDemandCostUsd: 0.526, savingsUsd: 0.326, savingsPercent: 62, paidUsdPerHour: 0.2, costPerEpochUsd: 0.04 });
  });
});
