/**
 * Advice on a sweep's early stopping that is not an error: where ASHA's ranks mislead.
 *
 * ASHA judges trials by their metric part-way through training. Two things make those ranks
 * differ from the final ones on real ultralytics fine-tuning curves (docs/sweeps.md, the recorded
 * sweeps of the benchmark):
 * - **The warm-up.** ultralytics ramps the learning rate (and a high bias rate) over the first
 *   max(warmup_epochs, 100 iterations). Ranks inside it reflect the ramp more than the
 *   configuration: with the learning rate fixed, 68–78 % of trial pairs were ranked the other way
 *   round at epochs 1 and 3 than at the end, 15 % at epoch 9, just after a warm-up of 8.3 epochs;
 *   ASHA kept the best trial in 4–49 of 200 seeds with its first rung in the warm-up, 183 with it
 *   at epoch 9.
 * - **The learning-rate schedule.** Trials that differ in it are compared at different points of
 *   it: ultralytics decays the rate from lr0 over the run, so a trial with a high lr0 ranks low
 *   until late and ends best ("short-horizon bias", Wu et al. 2018,
 *   https://arxiv.org/abs/1803.02021). With lr0 and the optimizer swept, the best of 27 trials
 *   ranked 23rd at epoch 9 of 54 and 17th at epoch 27, and ASHA lost it in every seed at any rung.
 * Pure.
 */
import type { ExperimentConfig } from "../types";

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

/** ultralytics' default `warmup_epochs`. */
const DEFAULT_WARMUP_EPOCHS = 3;
/** ultralytics warms up for at least this many iterations (engine/trainer.py: `max(round(warmup_epochs * nb), 100)`). */
const MIN_WARMUP_ITERATIONS = 100;

/**
 * How many epochs a run's learning-rate warm-up lasts: `warmup_epochs`, or longer when an epoch
 * has fewer than 100 / warmup_epochs iterations (small datasets, large batches). Without the
 * dataset's size (`datasetImages`) or with AutoBatch the iterations are unknown: `warmup_epochs`.
 */
export function warmupEpochsOf(config: Pick<ExperimentConfig, "datasetImages" | "batch" | "hyperparameters">): number {
  const configured = config.hyperparameters.warmup_epochs;
  const warmupEpochs = typeof configured === "number" ? configured : DEFAULT_WARMUP_EPOCHS;
  if (warmupEpochs <= 0) return 0;
  if (config.datasetImages === undefined || !(config.batch >= 1)) return warmupEpochs;
  const iterationsPerEpoch = Math.ceil(config.datasetImages / config.batch);
  return Math.max(warmupEpochs, MIN_WARMUP_ITERATIONS / iterationsPerEpoch);
}

/** What the advice reads of a sweep: the names of its dimensions, its rungs and its trials' configs. */
export interface EarlyStoppingShape {
  readonly space: readonly { readonly key: string }[];
  /** undefined or null: early stopping is off. */
  readonly asha?: { readonly rungs: readonly number[]; readonly maxEpochs: number } | null;
  readonly trials: readonly { readonly config: Pick<ExperimentConfig, "datasetImages" | "batch" | "hyperparameters"> }[];
}

const epochsText = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1));

/**
 * One warning per problem found (none when early stopping is off), each saying what to do instead.
 * @example earlyStoppingWarnings(checkSweepConfig(...).plan)
 */
export function earlyStoppingWarnings(sweep: EarlyStoppingShape): string[] {
  if (!sweep.asha || sweep.asha.rungs.length === 0) return [];
  const { rungs, maxEpochs } = sweep.asha;
  const warnings: string[] = [];

  const warmup = Math.max(0, ...sweep.trials.map((trial) => warmupEpochsOf(trial.config)));
  if (rungs[0]! <= warmup) {
    const past = Math.floor(warmup) + 1;
    warnings.push(
      `early stopping (asha) ranks trials first at epoch ${rungs[0]}, inside the learning-rate warm-up (${epochsText(warmup)} epochs: ` +
        `ultralytics ramps the rate over max(warmup_epochs, 100 iterations)); ranks there reflect the ramp more than the trial, and ASHA may stop the best one ` +
        `(on real ultralytics curves 68–78 % of trial pairs were ranked the other way round in the warm-up, 15 % just after it: docs/sweeps.md). ` +
        `Put the first rung after it: asha.minEpochs ${past} or more` +
        (past < maxEpochs ? "." : `, with more epochs than ${maxEpochs}.`),
    );
  }

  const scheduleKeys = sweep.space.map((d) => d.key).filter((key) => LEARNING_RATE_SCHEDULE_KEYS.includes(key));
  if (scheduleKeys.length > 0) {
    warnings.push(
      `early stopping (asha) ranks trials at epochs ${rungs.join(", ")} of ${maxEpochs}, but the space varies ${scheduleKeys.join(", ")}: ` +
        `a trial with a higher learning rate often ranks low until late and best at the end, so ASHA may stop the best trial ` +
        `(on real ultralytics curves the best of 27 trials ranked 23rd at epoch 9 of 54 and 17th at epoch 27, and ASHA lost it in every seed: docs/sweeps.md, "short-horizon bias"). ` +
        `To tune ${scheduleKeys.join(", ")}, sweep with asha: off, or fix ${scheduleKeys.length === 1 ? "it" : "them"} in the base config and let ASHA sweep the rest.`,
    );
  }
  return warnings;
}
