/**
 * Advice on a sweep's early stopping that is not an error: ASHA over the learning-rate schedule.
 *
 * ASHA judges trials by their metric part-way through training. Trials that differ in the
 * learning-rate schedule are then compared at different points of it: ultralytics decays the
 * rate linearly from lr0 over the run's epochs, so a trial with a high lr0 is still training at a
 * high rate at an early rung, often ranks last there, and ends best once the rate has decayed
 * ("short-horizon bias", Wu et al. 2018, https://arxiv.org/abs/1803.02021). Measured on real
 * ultralytics curves in docs/sweeps.md: the trial that ended best of 27 ranked 23rd at epochs 3
 * and 9 of 54 and 17th at epoch 27, and ASHA lost it in every seed. Pure.
 */

/**
 * Train arguments that set the learning-rate schedule (ultralytics 8.3.40 `build_optimizer` and
 * `_setup_scheduler`): the optimizer and its rate, the final rate, the momentum and the warm-up.
 */
export const LEARNING_RATE_SCHEDULE_KEYS: readonly string[] = Object.freeze([
  "lr0",
  "lrf",
  "optimizer",
  "momentum",
  "cos_lr",
  "warmup_epochs",
  "warmup_momentum",
  "warmup_bias_lr",
]);

/** What the advice reads of a sweep: the names of its dimensions and its rungs. */
export interface EarlyStoppingShape {
  readonly dimensions: readonly string[];
  /** null or undefined: early stopping is off. */
  readonly asha?: { readonly rungs: readonly number[]; readonly maxEpochs: number } | null;
}

/**
 * One warning per problem found (none when early stopping is off or the space leaves the
 * learning-rate schedule alone), each saying what to do instead.
 * @example earlyStoppingWarnings({ dimensions: ["lr0", "imgsz"], asha: { rungs: [1, 3, 9], maxEpochs: 27 } })
 */
export function earlyStoppingWarnings(sweep: EarlyStoppingShape): string[] {
  if (!sweep.asha) return [];
  const scheduleKeys = sweep.dimensions.filter((key) => LEARNING_RATE_SCHEDULE_KEYS.includes(key));
  if (scheduleKeys.length === 0) return [];
  const { rungs, maxEpochs } = sweep.asha;
  return [
    `early stopping (asha) ranks trials at epochs ${rungs.join(", ")} of ${maxEpochs}, but the space varies ${scheduleKeys.join(", ")}: ` +
      `a trial with a higher learning rate often ranks low early and best at the end, so ASHA may stop the best trial ` +
      `(on real ultralytics curves the best of 27 trials ranked 23rd at epoch 9 of 54 and ASHA lost it in every seed: docs/sweeps.md, "short-horizon bias"). ` +
      `To tune ${scheduleKeys.join(", ")}, sweep with asha: off, or fix ${scheduleKeys.length === 1 ? "it" : "them"} in the base config and let ASHA sweep the rest.`,
  ];
}
