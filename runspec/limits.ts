/**
 * Every range and default of a run's limits and training numbers, once: the stack config checks
 * and documents them (config/schema.ts, config/keys.ts), the components check them
 * (components/guardrails/guardrailPlan.ts), and the run spec checks them again on the node
 * (runspec/schema.ts). Each error message is derived from these numbers. Pure: no I/O.
 * (The starved-GPU notification is the Guardrails component's alone: components/guardrails/guardrailPlan.ts.)
 */

/**
 * Minutes every GPU must stay below {@link IDLE_GPU_PERCENT} during training before the run
 * counts as hung (stopped by the agent, and the group scaled to zero by the idle alarm). Whole
 * minutes, 5 to 240 as docs/config.md documents it, for the stack config, the Guardrails
 * component and the run spec alike (CloudWatch itself would evaluate up to 1440 one-minute periods).
 */
export const IDLE_MINUTES = Object.freeze({ min: 5, max: 240, default: 15 });

/** The idle threshold: percent GPU utilisation, strictly between `above` and `below`. */
export const IDLE_GPU_PERCENT = Object.freeze({ above: 0, below: 100, default: 5 });

/**
 * The hard cap on a run, hours: more than `above`, at most `max` (30 days). No default here: each
 * stage preset sets its own (config/presets.ts).
 */
export const MAX_RUNTIME_HOURS = Object.freeze({ above: 0, max: 720 });

/** Launches of one run (first start plus resumes after interruptions) before the agent gives up. */
export const MAX_ATTEMPTS = Object.freeze({ min: 1, max: 100, default: 3 });

/** Whether a run whose checkpoint is lost trains again from the starting weights, unless told. */
export const RESTART_IF_CHECKPOINT_LOST_DEFAULT = false;

/** Training epochs (of the run, or of one progressive phase). */
export const EPOCHS = Object.freeze({ min: 1, max: 10_000, default: 100 });

/** Training image size in pixels: a multiple of `multipleOf` from `min` to `max`. */
export const IMGSZ = Object.freeze({ min: 32, max: 2048, multipleOf: 32, default: 640 });

// The rules in words, for "it must be …" messages and the docs.

export const IDLE_MINUTES_RULE = `a whole number of minutes from ${IDLE_MINUTES.min} to ${IDLE_MINUTES.max}`;
export const IDLE_GPU_PERCENT_RULE = `a percentage above ${IDLE_GPU_PERCENT.above} and below ${IDLE_GPU_PERCENT.below}`;
export const MAX_RUNTIME_HOURS_RULE = `a number of hours above ${MAX_RUNTIME_HOURS.above}, at most ${MAX_RUNTIME_HOURS.max} (${MAX_RUNTIME_HOURS.max / 24} days)`;
export const EPOCHS_RULE = `a whole number from ${EPOCHS.min} to ${EPOCHS.max}`;
export const IMGSZ_RULE = `a multiple of ${IMGSZ.multipleOf} between ${IMGSZ.min} and ${IMGSZ.max}`;

/** Whether `value` is a whole number of idle minutes in range. */
export function isIdleMinutes(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= IDLE_MINUTES.min && value <= IDLE_MINUTES.max;
}

/** Whether `value` is an idle threshold in range. */
export function isIdleGpuPercent(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value > IDLE_GPU_PERCENT.above && value < IDLE_GPU_PERCENT.below;
}

/** Whether `value` is a max runtime in range. */
export function isMaxRuntimeHours(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value > MAX_RUNTIME_HOURS.above && value <= MAX_RUNTIME_HOURS.max;
}
