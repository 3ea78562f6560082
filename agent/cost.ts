/** The run record's cost estimate: billed time at the spec's hourly price (no storage or transfer). */
export function estimateCostUsd(billedSeconds: number, usdPerHour: number): number {
  return Math.round((Math.max(0, billedSeconds) / 3600) * usdPerHour * 10_000) / 10_000;
}
