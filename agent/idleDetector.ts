/**
 * Hung-training detection: the busiest GPU below `idleGpuPercent` for `idleAfterMs` without a
 * break. Pure; the agent feeds it samples only while training runs (see docs/node-runtime.md).
 */
export interface IdleLimits {
  readonly idleGpuPercent: number;
  readonly idleAfterMs: number;
}

export interface IdleState {
  /** Time of the first idle sample of the current idle stretch; null when not idle. */
  readonly idleSinceMs: number | null;
}

export interface GpuSample {
  readonly atMs: number;
  /** Utilisation per GPU in percent; null when the query failed (missing data is not idle). */
  readonly utilisation: readonly number[] | null;
}

export interface IdleVerdict {
  readonly state: IdleState;
  readonly idle: boolean;
  readonly idleForMs: number;
  readonly hung: boolean;
}

export const NOT_IDLE: IdleState = { idleSinceMs: null };

export function observeGpu(state: IdleState, sample: GpuSample, limits: IdleLimits): IdleVerdict {
  const values = sample.utilisation;
  const idle = values !== null && values.length > 0 && Math.max(...values) < limits.idleGpuPercent;
  if (!idle) return { state: NOT_IDLE, idle: false, idleForMs: 0, hung: false };
  const since = state.idleSinceMs ?? sample.atMs;
  const idleForMs = Math.max(0, sample.atMs - since);
  return { state: { idleSinceMs: since }, idle: true, idleForMs, hung: idleForMs >= limits.idleAfterMs };
}

/** `nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits` output → one number per GPU; null when none parse. */
export function parseGpuUtilisation(stdout: string): number[] | null {
  const values = stdout
    .split(/\r?\n/)
    .map((line) => line.trim().replace(/\s*%$/, ""))
    .filter((line) => line !== "")
    .map(Number)
    .filter((n) => Number.isFinite(n));
  return values.length > 0 ? values : null;
}
