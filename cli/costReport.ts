import type { RunRecord } from "../runspec/runRecord";
import type { EstimateOutput } from "./stackOutputs";
import { formatDuration, usd, usdPerHourPaid } from "./runStatus";

/** What `yolo-train cost` shows: the run's spend against on-demand. Pure. */
export interface CostReport {
  readonly runId: string;
  readonly phase: string;
  readonly billedSeconds: number;
  readonly trainingSeconds: number;
  /** trainingSeconds / billedSeconds, 0–1: the share of paid time the trainer ran (the rest: boot, restore, upload). */
  readonly trainingShare: number;
  readonly instanceType: string | null;
  readonly costUsd: number;
  /** Rate paid: costUsd over billed hours; null before any billed second. */
  readonly paidUsdPerHour: number | null;
  readonly onDemandUsdPerHour: number | null;
  /** The billed hours at the on-demand rate of the chosen type. */
  readonly onDemandCostUsd: number | null;
  readonly savingsUsd: number | null;
  readonly savingsPercent: number | null;
  /** costUsd over epochs done; null before the first epoch. */
  readonly costPerEpochUsd: number | null;
  readonly epoch: number;
}

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;
const round1 = (x: number): number => Math.round(x * 10) / 10;

export function costReport(record: RunRecord, estimate: EstimateOutput | null): CostReport {
  const chosen = estimate?.chosenInstanceType?.instanceType ?? null;
  const onDemandUsdPerHour = chosen === null ? null : (estimate?.instanceTypes.find((r) => r.instanceType === chosen)?.onDemandUsdPerHour ?? null);
  const onDemandCostUsd = onDemandUsdPerHour === null ? null : round4((record.billedSeconds / 3600) * onDemandUsdPerHour);
  const savingsUsd = onDemandCostUsd === null ? null : round4(onDemandCostUsd - record.estimatedCostUsd);
  const savingsPercent = onDemandCostUsd === null || savingsUsd === null || onDemandCostUsd === 0 ? null : round1((savingsUsd / onDemandCostUsd) * 100);
  return {
    runId: record.runId,
    phase: record.phase,
    billedSeconds: record.billedSeconds,
    trainingSeconds: record.trainingSeconds,
    trainingShare: record.billedSeconds > 0 ? round4(Math.min(1, record.trainingSeconds / record.billedSeconds)) : 0,
    instanceType: chosen,
    costUsd: record.estimatedCostUsd,
    paidUsdPerHour: usdPerHourPaid(record),
    onDemandUsdPerHour,
    onDemandCostUsd,
    savingsUsd,
    savingsPercent,
    costPerEpochUsd: record.epoch > 0 ? round4(record.estimatedCostUsd / record.epoch) : null,
    epoch: record.epoch,
  };
}

export function renderCostReport(c: CostReport): string {
  const rows: Array<[string, string]> = [
    ["run", `${c.runId} (${c.phase})`],
    ["billed", `${formatDuration(c.billedSeconds)} (${c.billedSeconds} s)`],
    ["training", `${formatDuration(c.trainingSeconds)} (${c.trainingSeconds} s), ${Math.round(c.trainingShare * 100)}% of billed time`],
    ["paid", `${usd(c.costUsd)}${c.paidUsdPerHour !== null ? ` at ${usd(c.paidUsdPerHour)}/h` : ""}${c.instanceType ? ` on ${c.instanceType}` : ""}`],
    ["on-demand", c.onDemandCostUsd !== null && c.onDemandUsdPerHour !== null ? `${usd(c.onDemandCostUsd)} at ${usd(c.onDemandUsdPerHour)}/h for the same billed time` : "unknown (no on-demand rate in the stack estimate)"],
    ["savings", c.savingsUsd !== null ? `${usd(c.savingsUsd)}${c.savingsPercent !== null ? ` (${c.savingsPercent}%)` : ""}` : "unknown"],
    ["per epoch", c.costPerEpochUsd !== null ? `${usd(c.costPerEpochUsd)} over ${c.epoch} epochs` : "no epoch finished yet"],
  ];
  return rows.map(([k, v]) => `${k.padEnd(10)} ${v}`).join("\n") + "\n";
}
