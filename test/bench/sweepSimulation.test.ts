/**
 * The deterministic parts of `npm run bench:sweep` (bench/sweep/): seeded curves, the simulated
 * sweep under each stopping policy, interruptions and resumes, random stopping's calibration.
 * No timings: the benchmark's figures are printed, never asserted.
 */
import fc from "fast-check";
import { decideAtRung, rungEpochs } from "../../runspec/sweep/asha";
import { CURVE_FAMILIES, generateSweep, observedMetric, trueMetric, type CurveFamily, type SimTrial } from "../../bench/sweep/learningCurves";
import { stream } from "../../bench/sweep/prng";
import { quantiles, runSeed, summarizeBlock, syntheticFamily, type ExperimentOptions } from "../../bench/sweep/sweepExperiment";
import {
  calibrateRandomStopping,
  expectedPromotions,
  simulateSweep,
  type StoppingPolicy,
  type SweepOutcome,
  type SweepSettings,
} from "../../bench/sweep/sweepSimulation";

const FAMILY: CurveFamily = CURVE_FAMILIES[0]!;
const SETTINGS: SweepSettings = {
  maxEpochs: 81,
  minEpochs: 1,
  reductionFactor: 3,
  maxParallel: 4,
  interruptionsPerGpuHour: 0.1,
  restartWaitHours: 5 / 60,
  startupHours: 0.25,
  finishHours: 0.1,
  usdPerGpuHour: 0.436,
  seed: 1,
};

const sweep = (seed: number, family: CurveFamily = FAMILY, trials = 27): SimTrial[] =>
  generateSweep({ seed, family, trials, maxEpochs: SETTINGS.maxEpochs, images: 10_000, gpu: "a10g" });

/** The comparable part of an outcome (the ledger is a Map; compare it as entries). */
const plain = (o: SweepOutcome): unknown => ({ ...o, ledger: [...o.ledger.entries()] });

const seed = fc.integer({ min: 1, max: 1_000_000 });
const family = fc.constantFrom(...CURVE_FAMILIES);
const minEpochs = fc.constantFrom(1, 3);

describe("the seeded PRNG and curves", () => {
  it("gives the same stream for the same seed and labels, and another for another label", () => {
    const draw = (r: { next(): number }): number[] => Array.from({ length: 5 }, () => r.next());
    expect(draw(stream(7, "noise", 3))).toEqual(draw(stream(7, "noise", 3)));
    expect(draw(stream(7, "noise", 3))).not.toEqual(draw(stream(7, "noise", 4)));
    expect(draw(stream(7, "noise", 3))).not.toEqual(draw(stream(8, "noise", 3)));
  });

  it("generates the same trials for the same seed and family, other trials for another seed", () => {
    expect(sweep(5)).toEqual(sweep(5));
    expect(sweep(5)).not.toEqual(sweep(6));
  });

  it("draws saturating curves that cross: in some sweep a trial behind at epoch 3 ends ahead", () => {
    const strong = CURVE_FAMILIES.find((f) => f.name === "strongly-crossing")!;
    const trials = sweep(1, strong);
    const crossing = trials.some((x) => trials.some((y) => trueMetric(x, 3) < trueMetric(y, 3) && trueMetric(x, 81) > trueMetric(y, 81)));
    expect(crossing).toBe(true);
    for (const t of trials) {
      expect(trueMetric(t, 2)).toBeGreaterThan(trueMetric(t, 1));
      expect(trueMetric(t, 81)).toBeLessThan(t.curve!.a);
      expect(observedMetric(t, 81)).toBeGreaterThanOrEqual(0);
    }
  });

  it("charges bigger models and images more per epoch", () => {
    const trials = sweep(3, FAMILY, 60);
    const cost = (model: string, imgsz: number): number | undefined => trials.find((t) => t.model === model && t.imgsz === imgsz)?.epochHours;
    expect(cost("yolov8m", 640)).toBeGreaterThan(cost("yolov8n", 640)!);
    expect(cost("yolov8s", 800)).toBeGreaterThan(cost("yolov8s", 480)!);
  });
});

describe("simulateSweep", () => {
  it("gives the same outcome for the same seed, under every policy", () => {
    const trials = sweep(11);
    const asha = simulateSweep(trials, SETTINGS, { kind: "asha" });
    const policies: StoppingPolicy[] = [{ kind: "asha" }, { kind: "full" }, { kind: "random", continueProbability: calibrateRandomStopping(asha, trials.length), seed: 11 }];
    for (const policy of policies) {
      expect(plain(simulateSweep(sweep(11), SETTINGS, policy))).toEqual(plain(simulateSweep(trials, SETTINGS, policy)));
    }
  });

  it("runs every trial to maxEpochs under the full policy", () => {
    fc.assert(
      fc.property(seed, family, (s, f) => {
        const outcome = simulateSweep(sweep(s, f), { ...SETTINGS, seed: s }, { kind: "full" });
        expect(outcome.trials.every((t) => t.state === "completed" && t.epochsReached === 81 && t.finalObserved !== null)).toBe(true);
        expect(outcome.winner).not.toBeNull();
        expect(outcome.regret).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 20 },
    );
  });

  it("never runs a trial for more epochs or GPU-hours under ASHA than under full (same curves, same spot events)", () => {
    fc.assert(
      fc.property(seed, family, minEpochs, (s, f, m) => {
        const trials = sweep(s, f);
        const settings = { ...SETTINGS, minEpochs: m, seed: s };
        const asha = simulateSweep(trials, settings, { kind: "asha" });
        const full = simulateSweep(trials, settings, { kind: "full" });
        asha.trials.forEach((t, i) => {
          const f2 = full.trials[i]!;
          expect(t.epochsReached).toBeLessThanOrEqual(f2.epochsReached);
          expect(t.epochsTrained).toBeLessThanOrEqual(f2.epochsTrained + 1e-9);
          expect(t.gpuHours).toBeLessThanOrEqual(f2.gpuHours + 1e-9);
        });
        expect(asha.gpuHours).toBeLessThanOrEqual(full.gpuHours + 1e-9);
        // The first trial at every rung continues, so someone always finishes.
        expect(asha.winner).not.toBeNull();
      }),
      { numRuns: 25 },
    );
  });

  it("decides every ASHA rung with decideAtRung on the ledger in the order trials reached it", () => {
    const trials = sweep(4);
    const outcome = simulateSweep(trials, SETTINGS, { kind: "asha" });
    for (const [epoch, entries] of outcome.ledger) {
      const times = entries.map((e) => e.recordedAt);
      expect(times).toEqual([...times].sort());
      entries.forEach((entry, i) => {
        const recorded = outcome.trials.find((t) => t.trialId === entry.trialId)!.rungs.find((r) => r.epoch === epoch)!;
        expect(recorded.value).toBe(entry.value);
        expect(recorded.decision).toEqual(decideAtRung(entries.slice(0, i + 1), { trialId: entry.trialId, value: entry.value }, "maximize", 3));
      });
    }
    // Trials that stopped early stopped at a rung, having lost that rung's comparison.
    const stopped = outcome.trials.filter((t) => t.state === "stopped-early");
    expect(stopped.length).toBeGreaterThan(0);
    for (const t of stopped) {
      expect(rungEpochs(1, 3, 81)).toContain(t.stoppedAtRung);
      expect(t.rungs.at(-1)!.decision.promote).toBe(false);
    }
  });

  it("resumes an interrupted trial from its checkpoint with every rung entry it had recorded", () => {
    // Frequent interruptions: most trials are interrupted, many after one of their rungs.
    const settings = { ...SETTINGS, interruptionsPerGpuHour: 2 };
    let interruptedAfterARung = 0;
    let resumedAtARung = 0;
    for (const s of [1, 2, 3]) {
      const trials = sweep(s);
      const outcome = simulateSweep(trials, { ...settings, seed: s }, { kind: "asha" });
      const rungs = rungEpochs(1, 3, 81);
      for (const t of outcome.trials) {
        // Exactly one ledger entry per rung the trial reached, no more (no re-recording after a resume), none lost.
        const reached = rungs.filter((e) => e <= t.epochsReached);
        expect(t.rungs.map((r) => r.epoch)).toEqual(reached);
        for (const epoch of reached) expect(outcome.ledger.get(epoch)!.filter((e) => e.trialId === t.trialId)).toHaveLength(1);
        // Progress never goes back: the checkpointed epoch at successive interruptions only grows.
        expect(t.interruptedAtEpochs).toEqual([...t.interruptedAtEpochs].sort((a, b) => a - b));
        expect(t.epochsTrained).toBeGreaterThanOrEqual(t.epochsReached);
        if (t.interruptedAtEpochs.some((e) => e >= rungs[0]!)) interruptedAfterARung++;
        // Interrupted with the checkpoint right at a rung: the resumed trial asked decideAtRung again.
        if (t.interruptedAtEpochs.some((e) => rungs.includes(e))) resumedAtARung++;
      }
      // Resumed ASHA trials re-decided at their rung would throw inside simulateSweep if history were lost.
      expect(outcome.interruptions).toBeGreaterThan(0);
    }
    expect(interruptedAfterARung).toBeGreaterThan(0);
    expect(resumedAtARung).toBeGreaterThan(0);
  });

  it("charges interruptions: lost work and restarts cost GPU-hours, never epochs of progress", () => {
    const trials = sweep(8);
    const calm = simulateSweep(trials, { ...SETTINGS, interruptionsPerGpuHour: 0 }, { kind: "full" });
    const stormy = simulateSweep(trials, { ...SETTINGS, interruptionsPerGpuHour: 1 }, { kind: "full" });
    expect(calm.interruptions).toBe(0);
    expect(stormy.interruptions).toBeGreaterThan(0);
    expect(stormy.gpuHours).toBeGreaterThan(calm.gpuHours);
    expect(stormy.trials.map((t) => t.finalObserved)).toEqual(calm.trials.map((t) => t.finalObserved));
    expect(stormy.winner).toEqual(calm.winner);
  });

  it("keeps at most maxParallel trials on GPUs at any time", () => {
    const outcome = simulateSweep(sweep(9), SETTINGS, { kind: "asha" });
    const events = outcome.trials.flatMap((t) => [
      { at: t.startedAtHours, delta: 1 },
      { at: t.endedAtHours, delta: -1 },
    ]);
    // Ends before starts at the same instant: a freed GPU is handed on at once.
    events.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let busy = 0;
    for (const e of events) {
      busy += e.delta;
      expect(busy).toBeLessThanOrEqual(SETTINGS.maxParallel);
    }
  });
});

describe("random stopping", () => {
  it("is calibrated to ASHA's expected promotions at every rung", () => {
    fc.assert(
      fc.property(seed, minEpochs, (s, m) => {
        const trials = sweep(s);
        const asha = simulateSweep(trials, { ...SETTINGS, minEpochs: m, seed: s }, { kind: "asha" });
        const p = calibrateRandomStopping(asha, trials.length);
        const expected = expectedPromotions(p, trials.length);
        asha.rungs.forEach((r, k) => expect(expected[k]).toBeCloseTo(r.promotions, 9));
      }),
      { numRuns: 20 },
    );
  });

  it("promotes about as many trials as ASHA on average over many draws", () => {
    const trials = sweep(21);
    const asha = simulateSweep(trials, SETTINGS, { kind: "asha" });
    const continueProbability = calibrateRandomStopping(asha, trials.length);
    const draws = 300;
    const totals = asha.rungs.map(() => 0);
    for (let d = 0; d < draws; d++) {
      const random = simulateSweep(trials, SETTINGS, { kind: "random", continueProbability, seed: 1000 + d });
      random.rungs.forEach((r, k) => (totals[k]! += r.promotions));
    }
    asha.rungs.forEach((r, k) => {
      // Binomial-style spread of a mean of 300 draws: well within ±15 % of ASHA's count (or ±0.5 trials).
      expect(Math.abs(totals[k]! / draws - r.promotions)).toBeLessThanOrEqual(Math.max(0.5, 0.15 * r.promotions));
    });
  });

  it("with probability 1 everywhere runs exactly what full runs", () => {
    const trials = sweep(13);
    const full = simulateSweep(trials, SETTINGS, { kind: "full" });
    const random = simulateSweep(trials, SETTINGS, { kind: "random", continueProbability: [1, 1, 1, 1], seed: 13 });
    expect(random.gpuHours).toBe(full.gpuHours);
    expect(random.winner).toEqual(full.winner);
  });
});

describe("the experiment's summary", () => {
  it("takes p10, median and p90 with linear interpolation", () => {
    const q = quantiles([5, 1, 3, 2, 4]);
    expect(q.p10).toBeCloseTo(1.4, 12);
    expect(q.median).toBe(3);
    expect(q.p90).toBeCloseTo(4.6, 12);
    expect(q.n).toBe(5);
    expect(q.mean).toBe(3);
    expect(q.max).toBe(5);
    expect(quantiles([]).n).toBe(0);
  });

  it("counts seeds against the target from the per-seed runs", () => {
    const family = syntheticFamily(FAMILY, { trials: 27, maxEpochs: 81, images: 10_000, gpu: "a10g" });
    const { maxEpochs: _maxEpochs, minEpochs: _minEpochs, seed: _seed, ...sweepSettings } = SETTINGS;
    const options: ExperimentOptions = { seeds: 3, families: [family], minEpochsList: [1], sweep: sweepSettings };
    const seeds = [1, 2, 3].map((s) => runSeed(options, family, 1, s));
    expect(seeds).toEqual([1, 2, 3].map((s) => runSeed(options, family, 1, s)));
    const block = summarizeBlock(family, 1, 3, seeds);
    const row = (name: string) => block.rows.find((r) => r.row === name)!;
    const same = seeds.filter((s) => s.runs.asha.winner === s.runs.full.winner).length;
    expect(row("asha").sameWinner).toBe(same);
    expect(row("full").sameWinner).toBe(3);
    expect(row("full").costRatio.median).toBe(1);
    const close = seeds.filter((s) => s.runs.asha.winnerFinal! >= s.runs.full.winnerFinal! - FAMILY.noise).length;
    expect(row("asha").sameWithinNoise).toBe(close);
    expect(row("asha").sameWithinNoise).toBeGreaterThanOrEqual(same);
    const both = seeds.filter((s) => s.runs.asha.usd / s.runs.full.usd <= 1 / 3 && s.runs.asha.winner === s.runs.full.winner).length;
    expect(row("asha").meetingTarget).toBe(both);
    expect(block.meetsTarget).toBe(both >= 2);
    const better = seeds.filter((s) => (s.runs.asha.regret ?? Infinity) < (s.runs.random.regret ?? Infinity)).length;
    expect(block.ashaVsRandom.better).toBe(better);
    // The floor row: the same true curves, other noise; its agreement counts winners the same way.
    const floorSame = seeds.filter((s) => s.runs.fullRerun.winner === s.runs.full.winner).length;
    expect(row("fullRerun").sameWinner).toBe(floorSame);
    for (const s of seeds) expect(s.runs.fullRerun.gpuHours).toBeGreaterThan(0);
  });

  it("gives a fresh-noise replica the same true curves and other observations", () => {
    const a = generateSweep({ seed: 4, family: FAMILY, trials: 27, maxEpochs: 81, images: 10_000, gpu: "a10g" });
    const b = generateSweep({ seed: 4, family: FAMILY, trials: 27, maxEpochs: 81, images: 10_000, gpu: "a10g", replica: 1 });
    expect(b.map((t) => t.curve)).toEqual(a.map((t) => t.curve));
    expect(b.map((t) => t.epochHours)).toEqual(a.map((t) => t.epochHours));
    expect(b[0]!.noise).not.toEqual(a[0]!.noise);
    // Replica 0 is the sweep as before (the default).
    expect(generateSweep({ seed: 4, family: FAMILY, trials: 27, maxEpochs: 81, images: 10_000, gpu: "a10g", replica: 0 })).toEqual(a);
  });
});

describe("the simulator's own correctness (what a same-winner miss could otherwise be blamed on)", () => {
  /** Trials with recorded-style curves: trial i is worth (i + 1)/100 more than the baseline at every epoch, so curves never cross. */
  const parallelCurves = (n: number, epochs: number): SimTrial[] =>
    Array.from({ length: n }, (_, i) => {
      // Shuffled order of start, so the best is not simply the last or first to reach a rung.
      const rank = (i * 7) % n;
      return Object.freeze({
        index: i,
        trialId: `p${String(i).padStart(2, "0")}`,
        model: "yolov8n" as const,
        imgsz: 640,
        lr0: 0.01,
        curve: null,
        truth: Array.from({ length: epochs }, (_, e) => 0.3 + 0.2 * (1 - Math.exp(-(e + 1) / 5)) + rank / 100),
        noise: Array.from({ length: epochs }, () => 0),
        epochHours: 0.05,
      });
    });

  it("keeps the true best to the end and names it the winner when curves never cross and nothing is noisy, interruptions or not", () => {
    const trials = parallelCurves(27, 81);
    const best = trials.reduce((b, t) => (trueMetric(t, 81) > trueMetric(b, 81) ? t : b));
    for (const settings of [SETTINGS, { ...SETTINGS, interruptionsPerGpuHour: 2 }, { ...SETTINGS, minEpochs: 3, maxParallel: 1 }]) {
      for (const s of [1, 2, 3]) {
        const asha = simulateSweep(trials, { ...settings, seed: s }, { kind: "asha" });
        const full = simulateSweep(trials, { ...settings, seed: s }, { kind: "full" });
        expect(full.winner!.trialId).toBe(best.trialId);
        expect(asha.winner!.trialId).toBe(best.trialId);
        expect(asha.regret).toBe(0);
        // The best trial won every rung comparison, and every rung value is the curve at that rung's epoch.
        const outcome = asha.trials[best.index]!;
        expect(outcome.state).toBe("completed");
        for (const r of outcome.rungs) {
          expect(r.decision.promote).toBe(true);
          expect(r.value).toBe(trueMetric(best, r.epoch));
        }
        // The winner is always a completed trial.
        expect(asha.trials.find((t) => t.trialId === asha.winner!.trialId)!.state).toBe("completed");
        // Cheaper than running everything, but not necessarily ≤ 1/3: a trial is judged only against those that reached the
        // rung before it (Ray's rule, as built), so when better trials keep arriving later, more than 1/η continue.
        expect(asha.gpuHours).toBeLessThan(full.gpuHours);
      }
    }
  });
});
