/**
 * The sweep simulation: N trials on `maxParallel` spot GPUs in simulated time, asynchronous (a
 * freed GPU starts the next pending trial at once), with Poisson spot interruptions, under one
 * stopping policy. Pure and deterministic: no clock, no I/O; the same trials, settings and policy
 * give the same outcome.
 *
 * A trial's life on a GPU:
 *   start (billed startupHours: boot, image pull, dataset and checkpoint fetch)
 *   → epochs of epochHours each; every epoch ends with a checkpoint (durable) and a validation value;
 *     at a rung epoch the value is appended to the rung's ledger and the policy decides
 *   → stop early (tear down at once, no export) or, after maxEpochs, finishHours (final validation,
 *     ONNX export) and done.
 * A spot interruption (rate per GPU-hour, drawn from the trial's own stream) loses the epoch in
 * progress (the work since the last checkpoint) and the instance; the trial keeps its GPU slot
 * (its group's desired capacity stays 1), waits restartWaitHours unbilled for replacement capacity,
 * pays startupHours again and resumes from its checkpoint with its rung entries intact. On resume
 * at a rung epoch ASHA decides again from the ledger, which must give the decision already taken
 * (decideAtRung is idempotent): the simulation throws if it does not.
 *
 * ASHA here is runspec/sweep/asha.ts as built: the same decideAtRung the agents call. What a trial
 * records at a rung is settings.rungValue (rungValue.ts): the rung epoch's value, as the agents
 * record today, or a steadier one (the best so far, the mean of the last 3 epochs).
 */
import { decideAtRung, rungEpochs, type RungDecision, type RungEntry } from "../../runspec/sweep/asha";
import { observedMetric, trueMetric, type SimTrial } from "./learningCurves";
import { exponential, stream } from "./prng";
import { RUNG_VALUE_RULES, rungValue, type RungValueRule } from "./rungValue";

export type PolicyName = "asha" | "full" | "random";

/** How trials stop at rungs. */
export type StoppingPolicy =
  | { readonly kind: "full" }
  | { readonly kind: "asha" }
  /** Continue at rung k with probability continueProbability[k], drawn from a stream of `seed`. */
  | { readonly kind: "random"; readonly continueProbability: readonly number[]; readonly seed: number };

export interface SweepSettings {
  readonly maxEpochs: number;
  readonly minEpochs: number;
  readonly reductionFactor: number;
  readonly maxParallel: number;
  /** Spot interruptions per GPU-hour of a running instance (Poisson). */
  readonly interruptionsPerGpuHour: number;
  /** Unbilled wait for replacement capacity after an interruption. */
  readonly restartWaitHours: number;
  /** Billed per instance start (first start and every restart). */
  readonly startupHours: number;
  /** Billed once per completed trial: final validation and export. */
  readonly finishHours: number;
  /** Spot $ per GPU-hour of the one instance type every trial runs on. */
  readonly usdPerGpuHour: number;
  /** Seed of the interruption streams (per trial, the same under every policy). */
  readonly seed: number;
  /**
   * What a trial records at a rung (rungValue.ts): the metric at the rung epoch ("epoch", what the
   * agents record), the best so far ("best") or the mean of the last 3 epochs ("mean3").
   * @default "epoch"
   */
  readonly rungValue?: RungValueRule;
}

export interface RecordedRung {
  readonly epoch: number;
  /** The value recorded at the rung (settings.rungValue of the observations up to `epoch`). */
  readonly value: number;
  readonly decision: RungDecision;
}

export interface TrialOutcome {
  readonly trialId: string;
  readonly index: number;
  readonly state: "completed" | "stopped-early";
  /** Epochs checkpointed (maxEpochs for a completed trial, the rung epoch for a stopped one). */
  readonly epochsReached: number;
  /** Epochs of GPU work, including the partial epochs interruptions threw away. */
  readonly epochsTrained: number;
  /** Billed GPU-hours: startups, epochs (lost ones too), final validation and export. */
  readonly gpuHours: number;
  /** Billed GPU-hours of epochs only (no startup, no finish). */
  readonly trainingGpuHours: number;
  readonly interruptions: number;
  /** The checkpointed epoch at each interruption, in order (the work since then was lost). */
  readonly interruptedAtEpochs: readonly number[];
  /** Every rung entry this trial recorded, in order, with the decision taken on it. */
  readonly rungs: readonly RecordedRung[];
  /** The last rung epoch it stopped at; null for completed trials. */
  readonly stoppedAtRung: number | null;
  /** Observed metric after maxEpochs; null when stopped early. */
  readonly finalObserved: number | null;
  readonly startedAtHours: number;
  readonly endedAtHours: number;
}

export interface RungTally {
  readonly epoch: number;
  /** Trials that recorded an entry at this rung. */
  readonly arrivals: number;
  /** Of those, how many continued. */
  readonly promotions: number;
}

export interface SweepOutcome {
  readonly policy: PolicyName;
  readonly trials: readonly TrialOutcome[];
  readonly gpuHours: number;
  readonly trainingGpuHours: number;
  readonly usd: number;
  /** Simulated wall-clock hours from the first start to the last trial's end. */
  readonly wallHours: number;
  readonly interruptions: number;
  readonly rungs: readonly RungTally[];
  /** The rung ledgers as recorded (append order), by rung epoch. */
  readonly ledger: ReadonlyMap<number, readonly RungEntry[]>;
  /** The best completed trial by observed final metric (ties: the earlier trial); null when none completed. */
  readonly winner: { readonly trialId: string; readonly observed: number; readonly trueFinal: number } | null;
  /** Best true final metric among all trials of the sweep, whatever the policy ran. */
  readonly bestPossible: number;
  /** bestPossible − the winner's true final metric; null when no trial completed. */
  readonly regret: number | null;
}

/** An hour of simulated time as an ISO timestamp, for the rung entries' recordedAt (decisions never read it). */
const SIMULATED_EPOCH_MS = Date.UTC(2026, 0, 1);
const isoAt = (hours: number): string => new Date(SIMULATED_EPOCH_MS + Math.round(hours * 3_600_000)).toISOString();

/** What a running trial is busy with until `nextAt`. */
type Milestone = "startup" | "epoch" | "finish";

interface Running {
  readonly trial: SimTrial;
  milestone: Milestone;
  /** What follows a startup: the epoch in progress or the final validation. */
  afterStartup: "epoch" | "finish";
  nextAt: number;
  interruptAt: number;
  /** Start of the current billed stretch (this instance's life). */
  billedSince: number;
  /** When the epoch in progress began (valid while milestone is "epoch"). */
  epochStartedAt: number;
}

interface TrialState {
  epochsReached: number;
  epochsTrained: number;
  gpuHours: number;
  trainingGpuHours: number;
  interruptions: number;
  interruptedAtEpochs: number[];
  rungs: RecordedRung[];
  startedAt: number;
  interruptGaps: { next(): number };
}

/**
 * Runs one sweep under one policy. Trials start in array order as GPUs free up; events at the
 * same simulated time are taken in trial order, so the outcome never depends on anything else.
 */
export function simulateSweep(trials: readonly SimTrial[], settings: SweepSettings, policy: StoppingPolicy): SweepOutcome {
  checkSettings(trials, settings);
  const rungList = rungEpochs(settings.minEpochs, settings.reductionFactor, settings.maxEpochs);
  const rungIndex = new Map(rungList.map((epoch, k) => [epoch, k]));
  const ledger = new Map<number, RungEntry[]>(rungList.map((epoch) => [epoch, []]));
  const tallies = rungList.map((epoch) => ({ epoch, arrivals: 0, promotions: 0 }));

  const states: TrialState[] = trials.map((trial) => {
    const gaps = stream(settings.seed, "interrupt", trial.trialId);
    return {
      epochsReached: 0,
      epochsTrained: 0,
      gpuHours: 0,
      trainingGpuHours: 0,
      interruptions: 0,
      interruptedAtEpochs: [],
      rungs: [],
      startedAt: NaN,
      interruptGaps: { next: () => exponential(gaps, settings.interruptionsPerGpuHour) },
    };
  });
  const outcomes: Array<TrialOutcome | undefined> = trials.map(() => undefined);
  const randomStops = policy.kind === "random" ? trials.map((trial) => stream(policy.seed, "random-stop", trial.trialId)) : [];

  const running: Running[] = [];
  let nextPending = 0;
  const launch = (trial: SimTrial, at: number, afterStartup: "epoch" | "finish"): Running => {
    const state = states[trial.index]!;
    return {
      trial,
      milestone: "startup",
      afterStartup,
      nextAt: at + settings.startupHours,
      interruptAt: at + state.interruptGaps.next(),
      billedSince: at,
      epochStartedAt: NaN,
    };
  };
  const startPending = (at: number): void => {
    while (running.length < settings.maxParallel && nextPending < trials.length) {
      const trial = trials[nextPending++]!;
      states[trial.index]!.startedAt = at;
      running.push(launch(trial, at, "epoch"));
    }
  };
  const end = (slot: Running, at: number, state: "completed" | "stopped-early"): void => {
    const s = states[slot.trial.index]!;
    s.gpuHours += at - slot.billedSince;
    outcomes[slot.trial.index] = Object.freeze({
      trialId: slot.trial.trialId,
      index: slot.trial.index,
      state,
      epochsReached: s.epochsReached,
      epochsTrained: s.epochsTrained,
      gpuHours: s.gpuHours,
      trainingGpuHours: s.trainingGpuHours,
      interruptions: s.interruptions,
      interruptedAtEpochs: Object.freeze([...s.interruptedAtEpochs]),
      rungs: Object.freeze([...s.rungs]),
      stoppedAtRung: state === "stopped-early" ? s.epochsReached : null,
      finalObserved: state === "completed" ? observedMetric(slot.trial, settings.maxEpochs) : null,
      startedAtHours: s.startedAt,
      endedAtHours: at,
    });
    running.splice(running.indexOf(slot), 1);
  };

  /** The policy's decision at a rung the trial has just recorded its entry at. */
  const decide = (trial: SimTrial, epoch: number, value: number): RungDecision => {
    const entries = ledger.get(epoch)!;
    switch (policy.kind) {
      case "asha":
        return decideAtRung(entries, { trialId: trial.trialId, value }, "maximize", settings.reductionFactor);
      case "full":
        return { promote: true, cutoff: null, earlier: entries.length - 1, reason: "full: every trial runs to the end" };
      case "random": {
        const p = policy.continueProbability[rungIndex.get(epoch)!] ?? 1;
        const promote = randomStops[trial.index]!.next() < p;
        return { promote, cutoff: null, earlier: entries.length - 1, reason: `random: continues with probability ${p.toFixed(3)}` };
      }
    }
  };

  startPending(0);
  let now = 0;
  while (running.length > 0) {
    // The next event: the earliest milestone or interruption; ties go to the earlier trial.
    let slot = running[0]!;
    for (const candidate of running) {
      const at = Math.min(candidate.nextAt, candidate.interruptAt);
      const best = Math.min(slot.nextAt, slot.interruptAt);
      if (at < best || (at === best && candidate.trial.index < slot.trial.index)) slot = candidate;
    }
    const trial = slot.trial;
    const state = states[trial.index]!;

    if (slot.interruptAt < slot.nextAt) {
      // Spot interruption: the instance is gone; work since the last checkpoint is lost.
      now = slot.interruptAt;
      state.gpuHours += now - slot.billedSince;
      state.interruptions++;
      state.interruptedAtEpochs.push(state.epochsReached);
      if (slot.milestone === "epoch") {
        state.trainingGpuHours += now - slot.epochStartedAt;
        state.epochsTrained += (now - slot.epochStartedAt) / trial.epochHours;
      }
      const resumeWith = slot.milestone === "startup" ? slot.afterStartup : slot.milestone;
      const replacement = launch(trial, now + settings.restartWaitHours, resumeWith);
      Object.assign(slot, replacement);
      continue;
    }

    now = slot.nextAt;
    switch (slot.milestone) {
      case "startup": {
        checkResumedDecision(trial, state, ledger, policy, settings);
        slot.milestone = slot.afterStartup;
        if (slot.milestone === "epoch") {
          slot.epochStartedAt = now;
          slot.nextAt = now + trial.epochHours;
        } else {
          slot.nextAt = now + settings.finishHours;
        }
        break;
      }
      case "epoch": {
        state.epochsReached++;
        state.epochsTrained++;
        state.trainingGpuHours += now - slot.epochStartedAt;
        const epoch = state.epochsReached;
        const k = rungIndex.get(epoch);
        if (k !== undefined) {
          const observed = Array.from({ length: epoch }, (_, e) => observedMetric(trial, e + 1));
          const value = rungValue(observed, settings.rungValue ?? "epoch");
          ledger.get(epoch)!.push({ trialId: trial.trialId, value, epoch, recordedAt: isoAt(now) });
          const decision = decide(trial, epoch, value);
          state.rungs.push({ epoch, value, decision });
          tallies[k]!.arrivals++;
          if (decision.promote) tallies[k]!.promotions++;
          else {
            end(slot, now, "stopped-early");
            startPending(now);
            break;
          }
        }
        if (epoch === settings.maxEpochs) {
          slot.milestone = "finish";
          slot.nextAt = now + settings.finishHours;
        } else {
          slot.epochStartedAt = now;
          slot.nextAt = now + trial.epochHours;
        }
        break;
      }
      case "finish": {
        end(slot, now, "completed");
        startPending(now);
        break;
      }
    }
  }

  const done = outcomes.map((o, i) => {
    if (o === undefined) throw new Error(`trial ${trials[i]!.trialId} never ended`);
    return o;
  });
  const gpuHours = done.reduce((s, o) => s + o.gpuHours, 0);
  const bestPossible = Math.max(...trials.map((t) => trueMetric(t, settings.maxEpochs)));
  let winner: SweepOutcome["winner"] = null;
  for (const o of done) {
    if (o.finalObserved === null) continue;
    if (winner === null || o.finalObserved > winner.observed) {
      winner = { trialId: o.trialId, observed: o.finalObserved, trueFinal: trueMetric(trials[o.index]!, settings.maxEpochs) };
    }
  }
  return Object.freeze({
    policy: policy.kind,
    trials: Object.freeze(done),
    gpuHours,
    trainingGpuHours: done.reduce((s, o) => s + o.trainingGpuHours, 0),
    usd: gpuHours * settings.usdPerGpuHour,
    wallHours: Math.max(...done.map((o) => o.endedAtHours)),
    interruptions: done.reduce((s, o) => s + o.interruptions, 0),
    rungs: Object.freeze(tallies.map((t) => Object.freeze({ ...t }))),
    ledger,
    winner,
    bestPossible,
    regret: winner === null ? null : bestPossible - winner.trueFinal,
  });
}

/**
 * A trial resuming right at a rung epoch asks ASHA again, as an agent restarted after the rung
 * would; the ledger must give the decision it already took (else history was lost or re-taken).
 */
function checkResumedDecision(
  trial: SimTrial,
  state: TrialState,
  ledger: ReadonlyMap<number, readonly RungEntry[]>,
  policy: StoppingPolicy,
  settings: SweepSettings,
): void {
  if (policy.kind !== "asha" || state.interruptions === 0) return;
  const last = state.rungs.at(-1);
  if (last === undefined || last.epoch !== state.epochsReached) return;
  const again = decideAtRung(ledger.get(last.epoch)!, { trialId: trial.trialId, value: last.value }, "maximize", settings.reductionFactor);
  if (again.promote !== last.decision.promote || again.cutoff !== last.decision.cutoff) {
    throw new Error(`trial ${trial.trialId} resumed at rung ${last.epoch} with a different decision: ${last.decision.reason} / ${again.reason}`);
  }
}

function checkSettings(trials: readonly SimTrial[], s: SweepSettings): void {
  const problems: string[] = [];
  if (trials.length === 0) problems.push("no trials");
  trials.forEach((t, i) => {
    if (t.index !== i) problems.push(`trial ${t.trialId} has index ${t.index}, expected ${i}`);
    if (t.noise.length < s.maxEpochs) problems.push(`trial ${t.trialId} has observations for ${t.noise.length} epochs, fewer than maxEpochs ${s.maxEpochs}`);
    if (!(t.epochHours > 0)) problems.push(`trial ${t.trialId} has epochHours ${t.epochHours}`);
  });
  if (s.rungValue !== undefined && !RUNG_VALUE_RULES.includes(s.rungValue)) problems.push(`rungValue must be one of ${RUNG_VALUE_RULES.join(", ")}, got ${String(s.rungValue)}`);
  if (!Number.isInteger(s.maxParallel) || s.maxParallel < 1) problems.push(`maxParallel must be a whole number ≥ 1, got ${s.maxParallel}`);
  for (const key of ["interruptionsPerGpuHour", "restartWaitHours", "startupHours", "finishHours", "usdPerGpuHour"] as const) {
    if (!(s[key] >= 0) || !Number.isFinite(s[key])) problems.push(`${key} must be a finite number ≥ 0, got ${s[key]}`);
  }
  if (problems.length > 0) throw new RangeError(`simulateSweep: ${problems.join("; ")}`);
}

/**
 * Random stopping calibrated on an ASHA outcome: continue at rung k with ASHA's promotions/arrivals
 * there. Trials then reach rung k+1 with probability Π_{j≤k} p_j = promotions_k / N, so the expected
 * number of promotions at every rung equals ASHA's.
 */
export function calibrateRandomStopping(asha: SweepOutcome, trialCount: number): number[] {
  if (asha.policy !== "asha") throw new Error(`calibrate on an ASHA outcome, got ${asha.policy}`);
  if (asha.rungs[0] !== undefined && asha.rungs[0].arrivals !== trialCount) {
    throw new Error(`every trial reaches the first rung: ${asha.rungs[0].arrivals} arrivals for ${trialCount} trials`);
  }
  return asha.rungs.map((r) => (r.arrivals === 0 ? 1 : r.promotions / r.arrivals));
}

/** Expected promotions per rung of `trialCount` trials that continue at rung k with probability p[k]. */
export function expectedPromotions(continueProbability: readonly number[], trialCount: number): number[] {
  let reaching = trialCount;
  return continueProbability.map((p) => (reaching *= p));
}
