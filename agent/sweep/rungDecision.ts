import type { RunSpecSweep } from "../../runspec/schema";
import { decideAtRung, type RungEntry } from "../../runspec/sweep/asha";
import type { RungOutcome } from "../../runspec/runRecord";

/**
 * A sweep trial's decision at one rung (issue 12): its entry goes into the rung's record in S3
 * (agent/sweep/rungStore.ts), and ASHA (`decideAtRung`) decides on the entries as stored, so a
 * resumed trial that recorded the rung before gets the same decision again.
 */

/** The rung records of the trial's sweep; main.ts binds them to `recordAtRung`/`readRung` and the artifact bucket. */
export interface RungAccess {
  /** Appends the trial's entry unless it has one; the rung's entries as stored after it. */
  record(rung: number, rungEpoch: number, entry: RungEntry): Promise<readonly RungEntry[]>;
  /** The rung's entries as stored ([] when no trial reached it yet). */
  read(rung: number, rungEpoch: number): Promise<readonly RungEntry[]>;
}

/** What the trial measured at a rung: the epoch of the progress line and the sweep's metric there (undefined when missing or not finite). */
export interface RungMeasurement {
  readonly rung: number;
  readonly epoch: number;
  readonly value: number | undefined;
}

/** The decision and ASHA's reason, for the log and the stop note. */
export interface RungVerdict {
  readonly outcome: RungOutcome;
  readonly reason: string;
  /** True when the metric was missing and the trial was judged as the worst value. */
  readonly missingMetric: boolean;
}

/** The index of the rung at `epoch` (a rung epoch of the sweep), or -1. */
export function rungAt(sweep: RunSpecSweep, epoch: number): number {
  return sweep.rungs.indexOf(epoch);
}

/**
 * Records the measurement and decides. A missing metric is judged as the worst possible value: it
 * is not written to the rung (a made-up value would move every later trial's cutoff), so the trial
 * continues only when it is first at the rung, and stops otherwise. A trial that already has an
 * entry is judged on it (idempotent), whatever it measured now. Throws when S3 fails (after the
 * store's retries): the caller decides what that means for training.
 */
export async function decideRung(access: RungAccess, sweep: RunSpecSweep, measured: RungMeasurement, recordedAt: string): Promise<RungVerdict> {
  const rungEpoch = sweep.rungs[measured.rung];
  if (rungEpoch === undefined) throw new RangeError(`rung ${measured.rung} is not one of the sweep's ${sweep.rungs.length} rungs`);
  // The run spec's schema gives every spec with rungs an η.
  const reductionFactor = sweep.reductionFactor;
  if (reductionFactor === null) throw new RangeError("the sweep has rungs but no reductionFactor");
  const trialId = sweep.trialId;
  const measuredValue = measured.value !== undefined && Number.isFinite(measured.value) ? measured.value : undefined;
  const entries =
    measuredValue !== undefined
      ? await access.record(measured.rung, rungEpoch, { trialId, value: measuredValue, epoch: measured.epoch, recordedAt })
      : await access.read(measured.rung, rungEpoch);
  const own = entries.find((entry) => entry.trialId === trialId);
  const worst = sweep.direction === "maximize" ? -Number.MAX_VALUE : Number.MAX_VALUE;
  const value = own?.value ?? measuredValue ?? worst;
  const decision = decideAtRung(entries, { trialId, value }, sweep.direction, reductionFactor);
  return {
    outcome: { rung: measured.rung, epoch: own?.epoch ?? measured.epoch, value, promote: decision.promote, cutoff: decision.cutoff, earlier: decision.earlier },
    reason: decision.reason,
    missingMetric: own === undefined && measuredValue === undefined,
  };
}
