import { checkMergedConfig } from "../../cli/launchConfig";
import { AUTO_OPTIMIZER_OVERRIDES, InvalidInputError, checkHyperparameters, formatProblem, parseExperimentConfig } from "../../config";

// ultralytics' default `optimizer: auto` ignores lr0 and momentum and zeroes warmup_bias_lr
// (build_optimizer in ultralytics/engine/trainer.py): setting them without a named optimizer is refused.

const context = { project: "yolo-train", stack: "dev", region: "us-east-1" };

function errorOf(raw: Record<string, unknown>): InvalidInputError {
  try {
    parseExperimentConfig(raw, context);
  } catch (e) {
    if (e instanceof InvalidInputError) return e;
    throw e;
  }
  throw new Error("expected parseExperimentConfig to throw");
}

describe("hyperparameters that ultralytics' optimizer: auto overrides", () => {
  it("are exactly lr0, momentum and warmup_bias_lr", () => {
    expect(Object.keys(AUTO_OPTIMIZER_OVERRIDES).sort()).toEqual(["lr0", "momentum", "warmup_bias_lr"]);
  });

  it.each([
    ["lr0 with no optimizer", { lr0: 0.005 }, ["hyperparameters.lr0"]],
    ["lr0 with optimizer auto", { lr0: 0.005, optimizer: "auto" }, ["hyperparameters.lr0"]],
    ["lr0 as text with no optimizer", { lr0: "0.005" }, ["hyperparameters.lr0"]],
    ["lr0 with optimizer AUTO (any case is auto)", { lr0: 0.005, optimizer: "AUTO" }, ["hyperparameters.lr0"]],
    ["momentum with no optimizer", { momentum: 0.9 }, ["hyperparameters.momentum"]],
    ["momentum with optimizer auto", { momentum: 0.9, optimizer: "auto" }, ["hyperparameters.momentum"]],
    ["warmup_bias_lr with no optimizer", { warmup_bias_lr: 0.05 }, ["hyperparameters.warmup_bias_lr"]],
    ["lr0 and momentum with no optimizer", { momentum: 0.9, cos_lr: true, lr0: 0.005 }, ["hyperparameters.lr0", "hyperparameters.momentum"]],
    ["lr0 at ultralytics' own default, still ignored", { lr0: 0.01 }, ["hyperparameters.lr0"]],
  ])("refuses %s", (_, hyperparameters, keys) => {
    const { value, problems } = checkHyperparameters(hyperparameters);
    expect(value).toBeUndefined();
    expect(problems.map((p) => p.key).sort()).toEqual(keys);
  });

  it.each([
    ["lr0 with SGD", { lr0: 0.005, optimizer: "SGD" }],
    ["lr0 with AdamW", { lr0: 0.001, optimizer: "AdamW" }],
    ["lr0 with adamw (ultralytics reads any case)", { lr0: 0.001, optimizer: "adamw" }],
    ["momentum with SGD", { momentum: 0.9, optimizer: "SGD" }],
    ["momentum with RMSProp", { momentum: 0.9, optimizer: "RMSProp" }],
    ["every override with Adam", { lr0: 0.001, momentum: 0.9, warmup_bias_lr: 0.05, optimizer: "Adam" }],
    ["auto with no override", { optimizer: "auto", lrf: 0.1, weight_decay: 0.001, warmup_momentum: 0.5, cos_lr: true }],
    ["no optimizer and no override", { lrf: 0.1, warmup_epochs: 1 }],
  ])("accepts %s", (_, hyperparameters) => {
    expect(checkHyperparameters(hyperparameters).problems).toEqual([]);
  });

  it.each([
    ["sgd", "SGD"],
    ["adamw", "AdamW"],
    ["RMSPROP", "RMSProp"],
    ["Auto", "auto"],
    ["AdamW", "AdamW"],
  ])("hands optimizer %j on as ultralytics spells it, %j", (given, spelt) => {
    expect(checkHyperparameters({ optimizer: given }).value).toEqual({ optimizer: spelt });
  });

  it("names the key, the value, what auto does instead and the fix", () => {
    const [problem] = checkHyperparameters({ lr0: "0.005" }).problems;
    expect(problem).toEqual({
      key: "hyperparameters.lr0",
      value: 0.005,
      allowed:
        "set together with a named optimizer: `hyperparameters.optimizer` is not set, so ultralytics uses its default `optimizer: auto`, " +
        "which ignores lr0 and picks its own optimizer and learning rate: SGD with lr0 0.01 and momentum 0.9 for a run of over 10,000 iterations, " +
        "else AdamW with lr0 0.002×5/(4+classes) and momentum 0.9",
      fix:
        "set `hyperparameters.optimizer` to SGD or AdamW (or Adam, Adamax, NAdam, RAdam or RMSProp): pulumi config set --path 'yolo-train:hyperparameters.optimizer' SGD; " +
        "or remove lr0: pulumi config rm --path 'yolo-train:hyperparameters.lr0'",
    });
    expect(formatProblem(problem!)).toMatch(/^`hyperparameters\.lr0` is 0\.005; it must be set together with a named optimizer: .+\. Fix: set `hyperparameters\.optimizer` to SGD or AdamW/);
  });

  it("says when optimizer was set to auto rather than left out", () => {
    const [problem] = checkHyperparameters({ optimizer: "auto", momentum: 0.95 }).problems;
    expect(problem).toMatchObject({ key: "hyperparameters.momentum", value: 0.95 });
    expect(problem!.allowed).toContain("`hyperparameters.optimizer` is auto, which ignores momentum");
    expect(problem!.fix).toContain("or remove momentum: pulumi config rm --path 'yolo-train:hyperparameters.momentum'");
  });

  it("leaves a value that fails its own check, or an invalid optimizer, to that problem alone", () => {
    expect(checkHyperparameters({ lr0: 1.5 }).problems.map((p) => p.key)).toEqual(["hyperparameters.lr0"]);
    expect(checkHyperparameters({ lr0: 1.5 }).problems[0]!.allowed).toBe("a number from 0 to 1");
    expect(checkHyperparameters({ lr0: 0.005, optimizer: "lion" }).problems.map((p) => p.key)).toEqual(["hyperparameters.optimizer"]);
  });

  it("is reported with every other problem of the stack config at once, and nothing is created", () => {
    const error = errorOf({ imgsz: 650, hyperparameters: { lr0: 0.005, momentum: 0.9, mosaic: "yes" } });
    expect(error.problems.map((p) => p.key).sort()).toEqual(["hyperparameters.lr0", "hyperparameters.momentum", "hyperparameters.mosaic", "imgsz"]);
    expect(error.message).toMatch(/^Stack config yolo-train\/dev has 4 problems; nothing was created:/);
    expect(error.message).toContain("  - `hyperparameters.lr0` is 0.005; it must be set together with a named optimizer");
  });

  it("passes once the optimizer is named, keeping the value", () => {
    const config = parseExperimentConfig({ hyperparameters: { lr0: "0.005", optimizer: "sgd" } }, context);
    expect(config.hyperparameters).toEqual({ lr0: 0.005, optimizer: "SGD" });
  });

  it("applies to `yolo-train launch --set hyperparameters.lr0=…` as to the stack file", () => {
    const launch = { project: "yolo-train", stack: "dev", secretKeys: [] };
    const problems = checkMergedConfig({ "aws:region": "us-east-1", "yolo-train:hyperparameters.lr0": "0.005" }, launch);
    expect(problems).toEqual([expect.objectContaining({ key: "hyperparameters.lr0", value: 0.005 })]);
    const merged = { "aws:region": "us-east-1", "yolo-train:hyperparameters": '{"optimizer":"SGD"}', "yolo-train:hyperparameters.lr0": "0.005" };
    expect(checkMergedConfig(merged, launch)).toEqual([]);
  });
});
