/**
 * Training metric names and values as they travel from the trainer (progress.jsonl, result.json)
 * through the run record into the OTA manifest. Pure: no I/O.
 */

/**
 * A metric name as ultralytics reports it (`metrics/mAP50-95(B)`, `fitness`, `val/box_loss`).
 * Names come from files a trainer wrote and end up as keys of signed JSON, so they are kept to
 * these characters: that also keeps out `__proto__` and friends, which JSON objects carry as own
 * keys but JavaScript objects do not.
 */
export const METRIC_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_./()-]{0,127}$/;
export const METRIC_NAME_RULE = "must be 1-128 characters of A-Z, a-z, 0-9, '_', '.', '/', '(', ')' and '-', starting with a letter or digit";

/**
 * The metrics in a value read from a trainer's file: entries with a valid name and a finite
 * number. The rest is dropped, not an error: ultralytics writes NaN (as null or a string) for
 * metrics it could not compute, and one odd entry must not cost a finished run its release.
 */
export function finiteMetrics(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) return out;
  for (const [name, metric] of Object.entries(value)) {
    if (METRIC_NAME_PATTERN.test(name) && typeof metric === "number" && Number.isFinite(metric)) out[name] = metric;
  }
  return out;
}
