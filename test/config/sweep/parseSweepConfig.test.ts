import { parseExperimentConfig } from "../../../config";
import { checkSweepConfig, parseSweepConfig } from "../../../config/sweep/parseSweepConfig";
import type { ExperimentConfig, StackContext } from "../../../config/types";
import { InvalidInputError, type Problem } from "../../../runspec/problems";

const context: StackContext = { project: "yolo-train", stack: "sweep", region: "us-east-1" };
/** A base that may sweep lr0: a named optimizer (ultralytics' `auto` ignores lr0). */
const base: ExperimentConfig = parseExperimentConfig({ data: "coco128.yaml", epochs: 81, hyperparameters: { optimizer: "SGD" } }, context);

const GOOD = {
  method: "random",
  trials: 12,
  seed: 7,
  space: {
    model: ["yolov8n.pt", "yolov8s.pt"],
    imgsz: [416, 640],
    batch: [16, 32],
    lr0: { min: 0.001, max: 0.02, log: true },
    mosaic: [0.5, 1.0],
  },
  metric: "metrics/mAP50-95(B)",
  direction: "maximize",
  maxParallel: 4,
  asha: { minEpochs: 5, reductionFactor: 3, maxEpochs: 81 },
  budgetUsd: 150,
};

/** The problems of a sweep that must be refused; fails when it passes. */
function problemsOf(raw: unknown, over: ExperimentConfig = base): readonly Problem[] {
  const { plan, problems } = checkSweepConfig(raw, over, context);
  if (plan !== undefined) throw new Error(`expected ${JSON.stringify(raw)} to be refused`);
  expect(problems.length).toBeGreaterThan(0);
  return problems;
}

function problemAt(problems: readonly Problem[], key: string): Problem {
  const found = problems.find((p) => p.key === key);
  if (found === undefined) throw new Error(`no problem at \`${key}\` among: ${problems.map((p) => p.key).join(", ")}`);
  return found;
}

const withSpace = (space: Record<string, unknown>, rest: Record<string, unknown> = {}) => ({ method: "grid", space, ...rest });

describe("parseSweepConfig: a good sweep", () => {
  it("accepts the documented example, filling in nothing it was given", () => {
    const plan = parseSweepConfig(GOOD, base, context);
    expect(plan.method).toBe("random");
    expect(plan.trialCount).toBe(12);
    expect(plan.trials).toHaveLength(12);
    expect(plan.seed).toBe(7);
    expect(plan.maxParallel).toBe(4);
    expect(plan.asha).toEqual({ minEpochs: 5, reductionFactor: 3, maxEpochs: 81, rungs: [5, 15, 45] });
    expect(plan.budgetUsd).toBe(150);
    expect(plan.base).toBe(base);
    expect(Object.isFrozen(plan)).toBe(true);
    expect(Object.isFrozen(plan.trials[0]!.params)).toBe(true);
  });

  it("applies the defaults: metric mAP50-95(B), maximize, maxParallel 2, seed 0, ASHA off, no budget", () => {
    const plan = parseSweepConfig({ method: "random", trials: 3, space: { imgsz: [320, 416, 640] } }, base, context);
    expect(plan).toMatchObject({ metric: "metrics/mAP50-95(B)", direction: "maximize", maxParallel: 2, seed: 0 });
    expect(plan.asha).toBeUndefined();
    expect(plan.budgetUsd).toBeUndefined();
  });

  it("reads values as Pulumi stores them (text), and writes them as the trial configs hold them", () => {
    const plan = parseSweepConfig(
      { method: "grid", space: { imgsz: ["416", "640"], optimizer: ["adamw", "SGD"], cos_lr: ["true", "false"] }, maxParallel: "3", asha: "off" },
      base,
      context,
    );
    expect(plan.space).toEqual([
      { key: "imgsz", kind: "values", values: [416, 640] },
      { key: "optimizer", kind: "values", values: ["AdamW", "SGD"] },
      { key: "cos_lr", kind: "values", values: [true, false] },
    ]);
    expect(plan.maxParallel).toBe(3);
    expect(plan.trials[0]!.config.hyperparameters).toEqual({ optimizer: "AdamW", cos_lr: true });
  });

  it("defaults asha.maxEpochs to the base's epochs, or to the largest swept epochs", () => {
    expect(parseSweepConfig(withSpace({ imgsz: [320, 640] }, { asha: { minEpochs: 3 } }), base, context).asha).toEqual({
      minEpochs: 3,
      reductionFactor: 3,
      maxEpochs: 81,
      rungs: [3, 9, 27],
    });
    expect(parseSweepConfig(withSpace({ epochs: [30, 100] }, { asha: { minEpochs: 4, reductionFactor: 2 } }), base, context).asha?.maxEpochs).toBe(100);
  });
});

describe("parseSweepConfig: refused sweeps, each problem naming its key", () => {
  // [what is wrong, sweep, key named, a word of what is allowed]
  const cases: [string, unknown, string, RegExp][] = [
    ["not an object", "grid", "sweep", /an object/],
    ["an unknown field, with the one meant", { ...GOOD, maxParalel: 4 }, "sweep.maxParalel", /a field of `sweep`/],
    ["a method other than grid or random", { ...GOOD, method: "bayes" }, "sweep.method", /grid .* or random/],
    ["random without trials", { ...GOOD, trials: undefined }, "sweep.trials", /how many trials to draw/],
    ["random with trials not a positive whole number", { ...GOOD, trials: 0 }, "sweep.trials", /a whole number from 1 to 256/],
    ["random with a fraction of a trial", { ...GOOD, trials: 2.5 }, "sweep.trials", /a whole number from 1 to 256/],
    ["grid with trials", withSpace({ imgsz: [320, 640] }, { trials: 4 }), "sweep.trials", /not set with method grid/],
    ["grid with a seed", withSpace({ imgsz: [320, 640] }, { seed: 1 }), "sweep.seed", /not set with method grid/],
    ["a seed that is not a 32-bit whole number", { ...GOOD, seed: -1 }, "sweep.seed", /from 0 to 4294967295/],
    ["grid with a range", withSpace({ lr0: { min: 0.001, max: 0.01 } }), "sweep.space.lr0", /a grid tries every combination/],
    ["an empty list", withSpace({ imgsz: [] }), "sweep.space.imgsz", /non-empty list/],
    ["no space", { method: "grid" }, "sweep.space", /one or more dimensions/],
    ["a list holding an object", withSpace({ imgsz: [640, { size: 320 }] }), "sweep.space.imgsz[1]", /a plain value/],
    ["imgsz not a multiple of 32", withSpace({ imgsz: [640, 333] }), "sweep.space.imgsz[1]", /a multiple of 32/],
    ["a model that does not exist", withSpace({ model: ["yolov8n.pt", "yolov9z.pt"] }), "sweep.space.model[1]", /yolov8/],
    ["a hyperparameter value out of its range", withSpace({ mosaic: [0.5, 1.5] }), "sweep.space.mosaic[1]", /a number from 0 to 1/],
    ["a value repeated", withSpace({ imgsz: [640, "640"] }), "sweep.space.imgsz[1]", /not already in the list/],
    ["a range whose min is not below its max", { ...GOOD, space: { lr0: { min: 0.02, max: 0.001 } } }, "sweep.space.lr0", /min is below its max/],
    ["a log range from 0", { ...GOOD, space: { lr0: { min: 0, max: 0.01, log: true } } }, "sweep.space.lr0.min", /above 0 in a log range/],
    ["a range end the trial's config refuses", { ...GOOD, space: { lr0: { min: 0.01, max: 2 } } }, "sweep.space.lr0.max", /from 0 to 1/],
    ["a range of a key that takes no numbers", { ...GOOD, space: { optimizer: { min: 1, max: 2 } } }, "sweep.space.optimizer", /has no range/],
    ["an imgsz step that is not a multiple of 32", { ...GOOD, space: { imgsz: { min: 320, max: 640, step: 48 } } }, "sweep.space.imgsz.step", /multiple of 32/],
    ["an unknown hyperparameter, with the one meant", withSpace({ lr: [0.01] }), "sweep.space.lr", /known ultralytics train argument/],
    ["a reserved train argument", withSpace({ data: ["coco8.yaml", "coco128.yaml"] }), "sweep.space.data", /the run agent does not set/],
    ["a metric that is not a detection metric", { ...GOOD, metric: "mAP" }, "sweep.metric", /a detection metric/],
    ["a direction other than maximize or minimize", { ...GOOD, direction: "up" }, "sweep.direction", /maximize .* or minimize/],
    ["maxParallel of 0", { ...GOOD, maxParallel: 0 }, "sweep.maxParallel", /from 1 to 32/],
    ["maxParallel above 32", { ...GOOD, maxParallel: 33 }, "sweep.maxParallel", /from 1 to 32/],
    ["asha.minEpochs not below maxEpochs", { ...GOOD, asha: { minEpochs: 81, maxEpochs: 81 } }, "sweep.asha.minEpochs", /below maxEpochs \(81\)/],
    ["asha.minEpochs above the base's epochs", { ...GOOD, asha: { minEpochs: 100 } }, "sweep.asha.minEpochs", /the trials' epochs/],
    ["asha.reductionFactor below 2", { ...GOOD, asha: { minEpochs: 5, reductionFactor: 1 } }, "sweep.asha.reductionFactor", /at least 2/],
    ["asha without minEpochs", { ...GOOD, asha: { reductionFactor: 3 } }, "sweep.asha.minEpochs", /the first rung/],
    ["asha as true", { ...GOOD, asha: true }, "sweep.asha", /off, or an object/],
    ["a budget of 0", { ...GOOD, budgetUsd: 0 }, "sweep.budgetUsd", /above 0/],
    ["a budget below the cheapest trial", { ...GOOD, budgetUsd: 0.001 }, "sweep.budgetUsd", /cheapest trial run to its end/],
  ];

  it.each(cases)("%s", (_what, raw, key, allowed) => {
    const p = problemAt(problemsOf(raw), key);
    expect(p.allowed).toMatch(allowed);
    expect(p.fix.length).toBeGreaterThan(0);
  });

  it("says how many trials a grid over 256 has", () => {
    const p = problemAt(problemsOf(withSpace({ imgsz: [320, 416, 512, 640], batch: [8, 16, 32, 64], lr0: [0.001, 0.002, 0.004, 0.008, 0.01, 0.02, 0.04, 0.08, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] })), "sweep.space");
    expect(p.allowed).toContain("at most 256 trials; this one has 272 (4 × 4 × 17 = 272)");
  });

  it("refuses more random trials than the space holds", () => {
    const p = problemAt(problemsOf({ method: "random", trials: 5, space: { imgsz: [320, 640], batch: [16, 32] } }), "sweep.trials");
    expect(p.allowed).toMatch(/at most 4: the space holds only 4 distinct trials \(2 × 2 = 4\)/);
  });

  it("names the value a trial's config refuses, with the checker's words and fix", () => {
    const p = problemAt(problemsOf(withSpace({ imgsz: [640, 333] })), "sweep.space.imgsz[1]");
    expect(p).toEqual({ key: "sweep.space.imgsz[1]", value: 333, allowed: "a multiple of 32 between 32 and 2048", fix: "e.g. 320" });
  });

  it("names a value by the rule of another key it breaks (lr0 with optimizer auto)", () => {
    const auto = parseExperimentConfig({ data: "coco128.yaml" }, context);
    const p = problemAt(problemsOf(withSpace({ lr0: [0.001, 0.01] }), auto), "sweep.space.lr0[0]");
    expect(p.allowed).toMatch(/named optimizer/);
  });

  it("names the value that brings another key's rule into play, with the other dimensions at their first values", () => {
    // optimizer auto makes lr0 (at its first value, 0.001) be ignored: auto is the value refused.
    const p = problemAt(problemsOf(withSpace({ optimizer: ["SGD", "auto"], lr0: [0.001, 0.01] })), "sweep.space.optimizer[1]");
    expect(p.value).toBe("auto");
    expect(p.allowed).toMatch(/^a value the trial's config accepts: with it, `hyperparameters.lr0` must be set together with a named optimizer/);
  });

  it("refuses imgsz in the space of a progressive base, naming the value", () => {
    const progressive = parseExperimentConfig({ data: "coco128.yaml", progressive: [{ imgsz: 320, epochs: 10 }, { imgsz: 640, epochs: 20 }] }, context);
    const p = problemAt(problemsOf(withSpace({ imgsz: [640, 960] }), progressive), "sweep.space.imgsz[1]");
    expect(p.allowed).toMatch(/with it, `progressive` must be phases whose last imgsz is the run's `imgsz` \(960\)/);
  });

  it("reports every problem at once", () => {
    const problems = problemsOf({
      method: "random",
      seed: "x",
      space: { imgsz: [640, 333], lr0: { min: 0, max: 0.01, log: true }, lr: [0.1], batch: [] },
      metric: "mAP",
      direction: "up",
      maxParallel: 64,
      asha: { minEpochs: 100, reductionFactor: 1 },
      budgetUsd: -5,
      colour: "blue",
    });
    expect(problems.map((p) => p.key).sort()).toEqual(
      [
        "sweep.colour",
        "sweep.trials",
        "sweep.seed",
        "sweep.space.imgsz[1]",
        "sweep.space.lr0.min",
        "sweep.space.lr",
        "sweep.space.batch",
        "sweep.metric",
        "sweep.direction",
        "sweep.maxParallel",
        "sweep.asha.minEpochs",
        "sweep.asha.reductionFactor",
        "sweep.budgetUsd",
      ].sort(),
    );
  });

  it("throws one InvalidInputError naming the stack, a line per problem", () => {
    let error: unknown;
    try {
      parseSweepConfig({ ...GOOD, method: "bayes", maxParallel: 0 }, base, context);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    const message = (error as InvalidInputError).message;
    expect(message.split("\n")[0]).toBe("Stack config yolo-train/sweep has 2 problems; nothing was created:");
    expect(message).toContain('  - `sweep.method` is "bayes"; it must be grid');
    expect(message).toContain("  - `sweep.maxParallel` is 0; it must be how many trials (nodes) run at once");
  });
});
