/**
 * The plan's advice on early stopping (config/sweep/earlyStoppingAdvice.ts): ASHA ranks trials
 * part-way through training, and trials that differ in their learning-rate schedule are then
 * ranked by where their schedule is, not by where they end (docs/sweeps.md, the fine-tuning
 * recording). The plan says so; it never refuses the sweep.
 */
import { earlyStoppingWarnings, LEARNING_RATE_SCHEDULE_KEYS } from "../../../config/sweep/earlyStoppingAdvice";

const ASHA = { rungs: [1, 3, 9], maxEpochs: 27 };

describe("early stopping advice", () => {
  it("warns when ASHA ranks trials that differ in the learning-rate schedule, naming the rungs, the keys and what to do", () => {
    const [warning, ...more] = earlyStoppingWarnings({ dimensions: ["imgsz", "lr0", "optimizer"], asha: ASHA });
    expect(more).toEqual([]);
    expect(warning).toMatch(/^early stopping \(asha\) ranks trials at epochs 1, 3, 9 of 27, but the space varies lr0, optimizer: /);
    expect(warning).toContain("ASHA may stop the best trial");
    expect(warning).toContain("docs/sweeps.md");
    expect(warning).toContain("sweep with asha: off, or fix them in the base config and let ASHA sweep the rest");
  });

  it("says nothing when early stopping is off, or when the space leaves the schedule alone", () => {
    expect(earlyStoppingWarnings({ dimensions: ["lr0", "momentum"], asha: null })).toEqual([]);
    expect(earlyStoppingWarnings({ dimensions: ["lr0"] })).toEqual([]);
    expect(earlyStoppingWarnings({ dimensions: ["model", "imgsz", "batch", "mosaic"], asha: ASHA })).toEqual([]);
  });

  it("counts every argument of the optimizer and its schedule, and only those", () => {
    for (const key of LEARNING_RATE_SCHEDULE_KEYS) {
      expect(earlyStoppingWarnings({ dimensions: [key], asha: ASHA })).toHaveLength(1);
    }
    expect([...LEARNING_RATE_SCHEDULE_KEYS].sort()).toEqual(["cos_lr", "lr0", "lrf", "momentum", "optimizer", "warmup_bias_lr", "warmup_epochs", "warmup_momentum"]);
  });
});
