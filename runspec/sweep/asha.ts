/**
 * Asynchronous successive halving (ASHA) without a controller: every trial of a sweep decides for
 * itself, at each rung, whether it goes on training, from the rung's record in S3 (issue 12; the
 * record's format is rungRecord.ts, its store agent/sweep/rungStore.ts). The rule is Ray Tune's
 * ASHA scheduler's: a trial continues iff its value is at least as good as the (1 − 1/η) quantile
 * of the values recorded at the rung before it, and the first trials at a rung continue.
 * Pure: no clock, no S3.
 * @see https://arxiv.org/abs/1810.05934 (Li et al., "A System for Massively Parallel Hyperparameter Tuning")
 * @see https://docs.ray.io/en/latest/tune/api/doc/ray.tune.schedulers.AsyncHyperBandScheduler.html
 */

/** Which way the sweep's metric is better: up (mAP) or down (a loss). */
export type Direction = "maximize" | "minimize";

/** One trial's metric at a rung, as recorded. */
export interface RungEntry {
  /** The trial's run id. */
  readonly trialId: string;
  /** The sweep's metric at `epoch`; finite. */
  readonly value: number;
  /** The epoch the value was measured after (at least the rung's epoch). */
  readonly epoch: number;
  /** ISO 8601, when the trial recorded it (for people; decisions use the order of the entries, never clocks). */
  readonly recordedAt: string;
}

/** Throws unless η is a finite number of at least 2: at η = 1 no trial would ever stop, and η < 1 has no meaning. */
function assertReductionFactor(reductionFactor: number): void {
  if (!Number.isFinite(reductionFactor) || reductionFactor < 2) {
    throw new RangeError(`reductionFactor must be a number of at least 2 (η: keep the top 1/η at each rung), got ${reductionFactor}`);
  }
}

/**
 * The rungs' epochs: minEpochs·η^k for k = 0,1,… while < maxEpochs (maxEpochs itself is the end, not a rung).
 * All three must be integers (epochs are whole, and minEpochs·η^k must be one), with
 * 1 ≤ minEpochs < maxEpochs and η ≥ 2; anything else throws a RangeError saying which.
 * @example rungEpochs(1, 3, 27) // [1, 3, 9]
 */
export function rungEpochs(minEpochs: number, reductionFactor: number, maxEpochs: number): number[] {
  assertReductionFactor(reductionFactor);
  if (!Number.isInteger(reductionFactor)) throw new RangeError(`reductionFactor must be a whole number (rungs are at whole epochs), got ${reductionFactor}`);
  if (!Number.isInteger(minEpochs) || minEpochs < 1) throw new RangeError(`minEpochs must be a whole number of at least 1, got ${minEpochs}`);
  if (!Number.isInteger(maxEpochs) || maxEpochs <= minEpochs) throw new RangeError(`maxEpochs must be a whole number above minEpochs (${minEpochs}), got ${maxEpochs}`);
  const epochs: number[] = [];
  for (let epoch = minEpochs; epoch < maxEpochs; epoch *= reductionFactor) epochs.push(epoch);
  return epochs;
}

/** What a trial does at a rung, and why. */
export interface RungDecision {
  /** True: train on to the next rung (or the end). False: stop early. */
  readonly promote: boolean;
  /** The value to match (the quantile of the earlier values), in the metric's own units; null when none were earlier. */
  readonly cutoff: number | null;
  /** How many entries the decision was made against (those recorded before the trial's own). */
  readonly earlier: number;
  /** One line for the log and the run record. */
  readonly reason: string;
}

/**
 * The q-quantile of `values` (0 ≤ q ≤ 1) with linear interpolation between the closest ranks, as
 * numpy's `percentile` does by default. q is given as a fraction num/den so that the rank
 * (n − 1)·num/den is exact whenever it is a whole number: a rounding error there would move the
 * cutoff off a recorded value, and a tie with it must continue.
 */
function quantile(values: readonly number[], num: number, den: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = ((sorted.length - 1) * num) / den;
  const low = Math.floor(rank);
  const lower = sorted[low]!;
  const upper = sorted[Math.min(low + 1, sorted.length - 1)]!;
  return lower + (rank - low) * (upper - lower);
}

/**
 * Asynchronous successive halving, decided by the trial itself (as Ray Tune's ASHA scheduler does): `entries` is the rung's
 * record in append order; the trial's decision depends only on the entries recorded before its own (or before now, when it
 * has none yet): with none earlier it continues (the first trials at a rung continue); otherwise it continues iff its value
 * is at least as good as the (1 − 1/η) quantile of the earlier values (linear interpolation, like numpy's percentile), ties
 * continue. A trial that already has an entry (a resumed trial) gets the same decision again (idempotent).
 *
 * A resumed trial is judged on its recorded value, not on `trial.value`: the stored entry is what
 * every other trial saw, and a re-measured value must not change a decision already taken.
 * Throws a RangeError for a non-finite value (the trial's or a recorded one) or η < 2.
 */
export function decideAtRung(
  entries: readonly RungEntry[],
  trial: { trialId: string; value: number },
  direction: Direction,
  reductionFactor: number,
): RungDecision {
  assertReductionFactor(reductionFactor);
  const own = entries.findIndex((entry) => entry.trialId === trial.trialId);
  const value = own >= 0 ? entries[own]!.value : trial.value;
  if (!Number.isFinite(value)) throw new RangeError(`trial ${trial.trialId}: its metric must be a finite number to be judged at a rung, got ${value}`);
  const earlier = (own >= 0 ? entries.slice(0, own) : entries).map((entry) => entry.value);
  const bad = earlier.find((v) => !Number.isFinite(v));
  if (bad !== undefined) throw new RangeError(`the rung holds a non-finite value (${bad}); it cannot be judged against`);

  if (earlier.length === 0) return { promote: true, cutoff: null, earlier: 0, reason: "first trial at this rung: continues" };

  // Better values are larger when maximizing and smaller when minimizing: the quantile for a minimized
  // metric is the 1/η one (the same as Ray's negating the values and taking 1 − 1/η, by symmetry of
  // linear interpolation).
  const maximize = direction === "maximize";
  const cutoff = maximize ? quantile(earlier, reductionFactor - 1, reductionFactor) : quantile(earlier, 1, reductionFactor);
  const promote = maximize ? value >= cutoff : value <= cutoff;
  const than = maximize ? (promote ? "≥" : "<") : promote ? "≤" : ">";
  const reason =
    `metric ${value} ${than} cutoff ${cutoff} (${direction}; the line of the best 1/${reductionFactor} of ${earlier.length} earlier ` +
    `${earlier.length === 1 ? "entry" : "entries"}): ${promote ? "continues" : "stops early"}`;
  return { promote, cutoff, earlier: earlier.length, reason };
}
