/**
 * What a trial records at an ASHA rung in the sweep simulation (bench/sweep/rungValue.ts): the rung
 * epoch's metric (as the agents record today), the best so far, or the mean of the last 3 epochs;
 * decideAtRung judges whichever it is, unchanged. No timings.
 */
import { decideAtRung } from "../../runspec/sweep/asha";
import { CURVE_FAMILIES, generateSweep, observedMetric, type SimTrial } from "../../bench/sweep/learningCurves";
import { MEAN_WINDOW, parseRungValueRule, RUNG_VALUE_RULES, rungValue, type RungValueRule } from "../../bench/sweep/rungValue";
import { runBlock, syntheticFamily, type ExperimentOptions } from "../../bench/sweep/sweepExperiment";
import { simulateSweep, type SweepOutcome, type SweepSettings } from "../../bench/sweep/sweepSimulation";

/** A fine-tuning curve like the recorded real ones: near its final level at once, a mid-run dip (full LR, mosaic), the best at the end. */
const DIPPING = [0.7, 0.72, 0.45, 0.5, 0.6, 0.66, 0.7, 0.74, 0.78];
/** A steady trial: never dips, ends below the dipping one. */
const STEADY = [0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6];

const curveTrial = (index: number, trialId: string, truth: readonly number[], noise: readonly number[] = truth.map(() => 0)): SimTrial =>
  Object.freeze({ index, trialId, model: "yolov8n" as const, imgsz: 640, lr0: 0.01, curve: null, truth, noise, epochHours: 0.05 });

const SETTINGS: SweepSettings = {
  maxEpochs: 9,
  minEpochs: 3,
  reductionFactor: 3,
  // One GPU: the steady trial reaches the rung first and sets the cutoff the dipping one is judged against.
  maxParallel: 1,
  interruptionsPerGpuHour: 0,
  restartWaitHours: 0,
  startupHours: 0.1,
  finishHours: 0.1,
  usdPerGpuHour: 1,
  seed: 1,
};

const plain = (o: SweepOutcome): unknown => ({ ...o, ledger: [...o.ledger.entries()] });

describe("rungValue", () => {
  it("takes the rung epoch's value under epoch, the best so far under best, the mean of the last 3 under mean3", () => {
    // The rung at epoch 3 falls in the dip.
    const upToDip = DIPPING.slice(0, 3);
    expect(rungValue(upToDip, "epoch")).toBe(0.45);
    expect(rungValue(upToDip, "best")).toBe(0.72);
    expect(rungValue(upToDip, "mean3")).toBeCloseTo((0.7 + 0.72 + 0.45) / 3, 12);
    // Later, only the last MEAN_WINDOW epochs count.
    expect(MEAN_WINDOW).toBe(3);
    expect(rungValue(DIPPING.slice(0, 6), "mean3")).toBeCloseTo((0.5 + 0.6 + 0.66) / 3, 12);
    expect(rungValue(DIPPING.slice(0, 6), "best")).toBe(0.72);
  });

  it("averages what there is at epochs 1 and 2 under mean3", () => {
    expect(rungValue([0.3], "mean3")).toBe(0.3);
    expect(rungValue([0.3, 0.5], "mean3")).toBeCloseTo(0.4, 12);
    for (const rule of RUNG_VALUE_RULES) expect(rungValue([0.3], rule)).toBe(0.3);
  });

  it("refuses no epochs, a non-finite value and an unknown rule's name", () => {
    expect(() => rungValue([], "best")).toThrow(/no epoch observed/);
    expect(() => rungValue([0.3, NaN, 0.4], "mean3")).toThrow(/after epoch 2 is NaN/);
    expect(parseRungValueRule("mean3")).toBe("mean3");
    expect(() => parseRungValueRule("median")).toThrow(/one of epoch, best, mean3, got "median"/);
  });
});

describe("the simulated sweep under each rung value", () => {
  const trials = [curveTrial(0, "steady", STEADY), curveTrial(1, "dipping", DIPPING)];
  const run = (rule: RungValueRule): SweepOutcome => simulateSweep(trials, { ...SETTINGS, rungValue: rule }, { kind: "asha" });

  it("judges a trial in its mid-run dip by the dip under epoch: it stops, and the worse steady trial wins", () => {
    const outcome = run("epoch");
    const dipping = outcome.trials[1]!;
    expect(dipping.rungs.map((r) => [r.epoch, r.value])).toEqual([[3, 0.45]]);
    expect(dipping.rungs[0]!.decision).toMatchObject({ promote: false, cutoff: 0.6 });
    expect(dipping.state).toBe("stopped-early");
    expect(outcome.winner!.trialId).toBe("steady");
    expect(outcome.regret).toBeCloseTo(0.78 - 0.6, 12);
  });

  it("judges it by its pre-dip best under best: it goes on and wins", () => {
    const outcome = run("best");
    const dipping = outcome.trials[1]!;
    expect(dipping.rungs.map((r) => [r.epoch, r.value])).toEqual([[3, 0.72]]);
    expect(dipping.rungs[0]!.decision).toMatchObject({ promote: true, cutoff: 0.6 });
    // The ledger holds the value judged, entered at the rung's epoch, and decideAtRung as built gives the decision.
    const entries = outcome.ledger.get(3)!;
    expect(entries.map((e) => [e.trialId, e.value, e.epoch])).toEqual([
      ["steady", 0.6, 3],
      ["dipping", 0.72, 3],
    ]);
    expect(dipping.rungs[0]!.decision).toEqual(decideAtRung(entries, { trialId: "dipping", value: 0.72 }, "maximize", 3));
    expect(dipping.state).toBe("completed");
    expect(outcome.winner!.trialId).toBe("dipping");
    expect(outcome.regret).toBe(0);
  });

  it("judges it by the mean of epochs 1–3 under mean3", () => {
    const outcome = run("mean3");
    expect(outcome.trials[1]!.rungs[0]!.value).toBeCloseTo((0.7 + 0.72 + 0.45) / 3, 12);
    expect(outcome.trials[0]!.rungs[0]!.value).toBeCloseTo(0.6, 12);
  });

  it("records mean3 of the noisy observations at rungs at epochs 1 and 2", () => {
    const noisy = [curveTrial(0, "a", [0.3, 0.4, 0.5, 0.6], [0.01, -0.02, 0, 0]), curveTrial(1, "b", [0.35, 0.38, 0.5, 0.55], [-0.01, 0.03, 0, 0])];
    const outcome = simulateSweep(noisy, { ...SETTINGS, maxEpochs: 4, minEpochs: 1, reductionFactor: 2, rungValue: "mean3" }, { kind: "full" });
    for (const [i, t] of noisy.entries()) {
      const rungs = outcome.trials[i]!.rungs;
      expect(rungs.map((r) => r.epoch)).toEqual([1, 2]);
      expect(rungs[0]!.value).toBe(observedMetric(t, 1));
      expect(rungs[1]!.value).toBeCloseTo((observedMetric(t, 1) + observedMetric(t, 2)) / 2, 12);
    }
  });

  it("records the rung epoch's value when no rule is set, exactly as under epoch", () => {
    const sweep = generateSweep({ seed: 2, family: CURVE_FAMILIES[0]!, trials: 27, maxEpochs: 81, images: 10_000, gpu: "a10g" });
    const settings: SweepSettings = { ...SETTINGS, maxEpochs: 81, minEpochs: 1, maxParallel: 4, interruptionsPerGpuHour: 0.1 };
    const unset = simulateSweep(sweep, settings, { kind: "asha" });
    expect(plain(simulateSweep(sweep, { ...settings, rungValue: "epoch" }, { kind: "asha" }))).toEqual(plain(unset));
    for (const t of unset.trials) for (const r of t.rungs) expect(r.value).toBe(observedMetric(sweep[t.index]!, r.epoch));
  });

  it("refuses an unknown rung value in the settings", () => {
    expect(() => simulateSweep(trials, { ...SETTINGS, rungValue: "median" as RungValueRule }, { kind: "asha" })).toThrow(/rungValue must be one of epoch, best, mean3, got median/);
  });
});

describe("the experiment under a rung value", () => {
  it("runs the block's ASHA with the rule asked for and labels the block with it", () => {
    const family = syntheticFamily(CURVE_FAMILIES[0]!, { trials: 9, maxEpochs: 27, images: 10_000, gpu: "a10g" });
    const options: ExperimentOptions = { seeds: 1, families: [family], minEpochsList: [1], sweep: { ...SETTINGS, maxParallel: 4, rungValue: "best" } };
    const block = runBlock(options, family, 1);
    expect(block.rungValue).toBe("best");
    expect(runBlock({ ...options, sweep: { ...options.sweep, rungValue: undefined } }, family, 1).rungValue).toBe("epoch");
    // The same seed's ASHA run under "best" records the best observation so far at every rung.
    const trials = family.sweep(1, 0);
    const outcome = simulateSweep(trials, { ...options.sweep, maxEpochs: 27, minEpochs: 1, seed: 1 }, { kind: "asha" });
    for (const t of outcome.trials) {
      for (const r of t.rungs) expect(r.value).toBe(Math.max(...Array.from({ length: r.epoch }, (_, e) => observedMetric(trials[t.index]!, e + 1))));
    }
    expect(block.seeds[0]!.runs.asha.winner).toBe(outcome.winner!.trialId);
  });
});
