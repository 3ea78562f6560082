/**
 * What a trial records at an ASHA rung: the value decideAtRung judges it on. The rule for promoting
 * (runspec/sweep/asha.ts) is the same under all three; only the number fed to it changes.
 *
 *   epoch  the metric of the rung epoch's validation alone: what the node agent records today
 *          (agent/supervisor.ts, rungMeasurement: the progress line's metric at the rung epoch).
 *   best   the best metric over epochs 1..rung epoch: what ultralytics' best.pt tracks (its
 *          fitness is a mix of mAP50 and mAP50-95; here it is the sweep's metric itself).
 *   mean3  the mean of the last 3 epochs up to the rung epoch (fewer at epochs 1 and 2).
 *
 * The candidates are steadier than one epoch's value: on the recorded real curves the rung at epoch
 * 9 falls in the high-LR, mosaic mid-run dip where reruns of one configuration differ by ~5 points,
 * and a single epoch there decides which trial goes on (docs/sweeps.md, "The benchmark").
 */

export type RungValueRule = "epoch" | "best" | "mean3";

export const RUNG_VALUE_RULES: readonly RungValueRule[] = Object.freeze(["epoch", "best", "mean3"] as const);

/** Epochs mean3 averages over (fewer when the rung comes before them). */
export const MEAN_WINDOW = 3;

/**
 * The value a trial records at a rung under `rule`, from the metric its validation reported after
 * each epoch so far (`observed[e − 1]` after epoch e; the last one is the rung epoch's). Maximized
 * metrics only: "best" is the largest. Throws a RangeError for no epochs or a non-finite value.
 */
export function rungValue(observed: readonly number[], rule: RungValueRule): number {
  if (observed.length === 0) throw new RangeError("rungValue: no epoch observed before the rung");
  const bad = observed.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`rungValue: the metric after epoch ${bad + 1} is ${observed[bad]}, not a finite number`);
  switch (rule) {
    case "epoch":
      return observed.at(-1)!;
    case "best":
      return Math.max(...observed);
    case "mean3": {
      const window = observed.slice(-MEAN_WINDOW);
      return window.reduce((s, v) => s + v, 0) / window.length;
    }
  }
}

/** Parses a rule's name (a flag's value); throws a RangeError naming the allowed ones. */
export function parseRungValueRule(text: string): RungValueRule {
  const rule = RUNG_VALUE_RULES.find((r) => r === text);
  if (rule === undefined) throw new RangeError(`rung value must be one of ${RUNG_VALUE_RULES.join(", ")}, got "${text}"`);
  return rule;
}
