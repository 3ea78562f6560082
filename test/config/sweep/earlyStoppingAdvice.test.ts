/**
 * The plan's advice on early stopping (config/sweep/earlyStoppingAdvice.ts): ASHA ranks trials
 * part-way through training, and on real ultralytics curves those ranks mislead inside the
 * learning-rate warm-up and between trials with different learning-rate schedules
 * (docs/sweeps.md, the recorded sweeps). The plan says so; it never refuses the sweep.
 */
import { earlyStoppingWarnings, LEARNING_RATE_SCHEDULE_KEYS, warmupEpochsOf } from "../../../config/sweep/earlyStoppingAdvice";

type TrialConfig = Parameters<typeof warmupEpochsOf>[0];
const config = (over: Partial<TrialConfig> = {}): TrialConfig => ({ batch: 16, hyperparameters: {}, ...over });
const sweepOf = (keys: string[], asha: { rungs: number[]; maxEpochs: number } | null, configs: TrialConfig[] = [config()]) => ({
  space: keys.map((key) => ({ key })),
  asha,
  trials: configs.map((c) => ({ config: c })),
});
const AFTER_WARMUP = { rungs: [5, 15, 45], maxEpochs: 81 };

describe("the warm-up's length", () => {
  it("is warmup_epochs (ultralytics' 3 by default) when an epoch has enough iterations, or the dataset's size is unknown", () => {
    expect(warmupEpochsOf(config())).toBe(3);
    expect(warmupEpochsOf(config({ hyperparameters: { warmup_epochs: 5 } }))).toBe(5);
    expect(warmupEpochsOf(config({ datasetImages: 10_000 }))).toBe(3);
    expect(warmupEpochsOf(config({ datasetImages: 96, batch: -1 }))).toBe(3);
  });

  it("lasts at least 100 iterations, so more epochs on a small dataset, as ultralytics' trainer does", () => {
    // 96 images at batch 8: 12 iterations an epoch, 100 iterations take 8.3 epochs (the recorded sweeps).
    expect(warmupEpochsOf(config({ datasetImages: 96, batch: 8 }))).toBeCloseTo(100 / 12, 10);
    expect(warmupEpochsOf(config({ datasetImages: 96, batch: 8, hyperparameters: { warmup_epochs: 0 } }))).toBe(0);
  });
});

describe("early stopping advice", () => {
  it("warns when the first rung falls inside the warm-up, naming its length and the minEpochs that clears it", () => {
    const [warning, ...more] = earlyStoppingWarnings(sweepOf(["imgsz", "mosaic"], { rungs: [1, 3, 9, 27], maxEpochs: 54 }, [config({ datasetImages: 96, batch: 8 })]));
    expect(more).toEqual([]);
    expect(warning).toMatch(/^early stopping \(asha\) ranks trials first at epoch 1, inside the learning-rate warm-up \(8\.3 epochs: /);
    expect(warning).toContain("ASHA may stop the best one");
    expect(warning).toContain("Put the first rung after it: asha.minEpochs 9 or more.");
  });

  it("takes the longest warm-up of the trials (a trial with a larger batch has fewer iterations an epoch)", () => {
    const trials = [config({ datasetImages: 400, batch: 8 }), config({ datasetImages: 400, batch: 32 })];
    // 400 / 32 = 13 iterations an epoch: 100 iterations take 7.7 epochs; at batch 8 the warm-up is 3 epochs.
    expect(earlyStoppingWarnings(sweepOf(["batch"], { rungs: [6, 18], maxEpochs: 54 }, trials))[0]).toContain("asha.minEpochs 8 or more");
    expect(earlyStoppingWarnings(sweepOf(["batch"], { rungs: [8, 24], maxEpochs: 54 }, trials))).toEqual([]);
  });

  it("warns when ASHA ranks trials that differ in the learning-rate schedule, naming the rungs, the keys and what to do", () => {
    const [warning, ...more] = earlyStoppingWarnings(sweepOf(["imgsz", "lr0", "optimizer"], AFTER_WARMUP));
    expect(more).toEqual([]);
    expect(warning).toMatch(/^early stopping \(asha\) ranks trials at epochs 5, 15, 45 of 81, but the space varies lr0, optimizer: /);
    expect(warning).toContain("ASHA may stop the best trial");
    expect(warning).toContain("sweep with asha: off, or fix them in the base config and let ASHA sweep the rest");
  });

  it("gives both warnings when both apply", () => {
    expect(earlyStoppingWarnings(sweepOf(["lr0"], { rungs: [1, 3, 9], maxEpochs: 27 }))).toHaveLength(2);
  });

  it("says nothing when early stopping is off, or when its rungs come after the warm-up over a space that leaves the schedule alone", () => {
    expect(earlyStoppingWarnings(sweepOf(["lr0", "momentum"], null))).toEqual([]);
    expect(earlyStoppingWarnings({ space: [{ key: "lr0" }], trials: [{ config: config() }] })).toEqual([]);
    expect(earlyStoppingWarnings(sweepOf(["model", "imgsz", "batch", "mosaic"], AFTER_WARMUP))).toEqual([]);
  });

  it("counts every argument of the optimizer and its schedule, and only those", () => {
    for (const key of LEARNING_RATE_SCHEDULE_KEYS) {
      expect(earlyStoppingWarnings(sweepOf([key], AFTER_WARMUP))).toHaveLength(1);
    }
    expect([...LEARNING_RATE_SCHEDULE_KEYS].sort()).toEqual(["cos_lr", "lr0", "lrf", "momentum", "optimizer", "warmup_bias_lr", "warmup_epochs", "warmup_momentum"]);
  });
});
