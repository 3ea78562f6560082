import fc from "fast-check";
import { parseExperimentConfig } from "../../../config";
import { experimentInputOf } from "../../../config/sweep/baseInput";
import { parseSweepConfig } from "../../../config/sweep/parseSweepConfig";
import { mulberry32 } from "../../../config/sweep/prng";
import { expandTrials, trialId, trialParameters } from "../../../config/sweep/trials";
import type { SweepConfig, SweepDimension } from "../../../config/sweep/types";
import type { RawStackConfig, StackContext } from "../../../config/types";
import { InvalidInputError } from "../../../runspec/problems";
import { deriveRunId } from "../../../runspec/runId";

const context: StackContext = { project: "yolo-train", stack: "sweep", region: "us-east-1" };
const base = parseExperimentConfig({ data: "coco128.yaml", epochs: 81, hyperparameters: { optimizer: "SGD" } }, context);

const values = (key: string, list: (string | number | boolean)[]): SweepDimension => ({ key, kind: "values", values: list });
const range = (key: string, min: number, max: number, extra: { log?: boolean; step?: number } = {}): SweepDimension => ({
  key,
  kind: "range",
  min,
  max,
  log: extra.log ?? false,
  ...(extra.step !== undefined ? { step: extra.step } : {}),
});
const random = (space: SweepDimension[], trialCount: number, seed = 0) => ({ method: "random" as const, trialCount, seed, space });

describe("mulberry32", () => {
  it("gives the published generator's sequence: the same numbers on every machine", () => {
    const next = mulberry32(7);
    expect([next(), next(), next(), next(), next()]).toEqual([0.011704753153026104, 0.06195825757458806, 0.97690763277933, 0.6990287057124078, 0.5214452685322613]);
  });

  it("stays in [0, 1) for any seed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed) => {
        const next = mulberry32(seed);
        for (let i = 0; i < 20; i++) {
          const x = next();
          expect(x >= 0 && x < 1).toBe(true);
        }
      }),
    );
  });
});

describe("grid trials", () => {
  const space = [values("model", ["yolov8n.pt", "yolov8s.pt"]), values("imgsz", [416, 640]), values("lr0", [0.001, 0.005, 0.01])];

  it("are every combination, the last dimension varying fastest", () => {
    const trials = trialParameters({ method: "grid", trialCount: 12, space });
    expect(trials).toHaveLength(2 * 2 * 3);
    expect(trials.slice(0, 4)).toEqual([
      { model: "yolov8n.pt", imgsz: 416, lr0: 0.001 },
      { model: "yolov8n.pt", imgsz: 416, lr0: 0.005 },
      { model: "yolov8n.pt", imgsz: 416, lr0: 0.01 },
      { model: "yolov8n.pt", imgsz: 640, lr0: 0.001 },
    ]);
    expect(trials[11]).toEqual({ model: "yolov8s.pt", imgsz: 640, lr0: 0.01 });
    expect(new Set(trials.map((t) => JSON.stringify(t))).size).toBe(12);
  });

  it("become trials t01…t12, each the base config with its values and a run id of its own", () => {
    const plan = parseSweepConfig({ method: "grid", space: { model: ["yolov8n.pt", "yolov8s.pt"], imgsz: [416, 640], lr0: [0.001, 0.005, 0.01] } }, base, context);
    expect(plan.trials.map((t) => t.id)).toEqual(["t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t09", "t10", "t11", "t12"]);
    const t05 = plan.trials[4]!;
    expect(t05.params).toEqual({ model: "yolov8n.pt", imgsz: 640, lr0: 0.005 });
    expect(t05.config).toMatchObject({ model: "yolov8n.pt", imgsz: 640, epochs: 81, data: "coco128.yaml", hyperparameters: { optimizer: "SGD", lr0: 0.005 } });
    expect(t05.config).toEqual(parseExperimentConfig({ data: "coco128.yaml", epochs: 81, model: "yolov8n.pt", imgsz: 640, hyperparameters: { optimizer: "SGD", lr0: 0.005 } }, context));
    expect(t05.runId).toBe(deriveRunId(t05.config));
    expect(new Set(plan.trials.map((t) => t.runId)).size).toBe(12);
  });
});

describe("random trials", () => {
  const space = [values("model", ["yolov8n.pt", "yolov8s.pt"]), range("imgsz", 320, 960), range("lr0", 0.0001, 0.1, { log: true }), range("mosaic", 0, 1)];

  it("are the same for the same seed, call after call", () => {
    expect(trialParameters(random(space, 20, 7))).toEqual(trialParameters(random(space, 20, 7)));
    const a = parseSweepConfig({ method: "random", trials: 6, seed: 7, space: { imgsz: { min: 320, max: 960 }, lr0: { min: 0.001, max: 0.02, log: true } } }, base, context);
    const b = parseSweepConfig({ method: "random", trials: 6, seed: 7, space: { imgsz: { min: 320, max: 960 }, lr0: { min: 0.001, max: 0.02, log: true } } }, base, context);
    expect(a.trials.map((t) => t.runId)).toEqual(b.trials.map((t) => t.runId));
  });

  it("differ with another seed", () => {
    expect(trialParameters(random(space, 20, 7))).not.toEqual(trialParameters(random(space, 20, 8)));
  });

  it("start with the same trials when more are drawn (a sweep can grow)", () => {
    expect(trialParameters(random(space, 30, 3)).slice(0, 10)).toEqual(trialParameters(random(space, 10, 3)));
  });

  it("stay inside a log range, spread over its decades, with 6 significant digits", () => {
    const drawn = trialParameters(random([range("lr0", 0.0001, 0.1, { log: true })], 200, 1)).map((t) => t.lr0 as number);
    for (const x of drawn) {
      expect(x).toBeGreaterThanOrEqual(0.0001);
      expect(x).toBeLessThanOrEqual(0.1);
      expect(Number(x.toPrecision(6))).toBe(x);
    }
    // Log-uniform over three decades: about a third in each.
    for (const [low, high] of [[0.0001, 0.001], [0.001, 0.01], [0.01, 0.1]] as const) {
      const share = drawn.filter((x) => x >= low && x < high).length / drawn.length;
      expect(share).toBeGreaterThan(0.2);
      expect(share).toBeLessThan(0.47);
    }
  });

  it("stay inside any log range, whatever the seed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.double({ min: 1.01, max: 1000, noNaN: true }), (seed, min, ratio) => {
        const max = min * ratio;
        for (const t of trialParameters(random([range("x", min, max, { log: true })], 5, seed))) {
          expect(t.x as number).toBeGreaterThanOrEqual(min);
          expect(t.x as number).toBeLessThanOrEqual(max);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("draw whole numbers on the step's grid: imgsz in steps of 32, epochs in steps of 1", () => {
    const plan = parseSweepConfig({ method: "random", trials: 15, seed: 2, space: { imgsz: { min: 320, max: 640 }, epochs: { min: 10, max: 20 } } }, base, context);
    for (const { params } of plan.trials) {
      expect((params.imgsz as number) % 32).toBe(0);
      expect(params.imgsz as number).toBeGreaterThanOrEqual(320);
      expect(params.imgsz as number).toBeLessThanOrEqual(640);
      expect(Number.isInteger(params.epochs)).toBe(true);
    }
  });

  it("draw each combination at most once, up to the whole space", () => {
    const all = trialParameters(random([values("imgsz", [320, 640]), values("batch", [8, 16, 32])], 6, 11));
    expect(new Set(all.map((t) => JSON.stringify(t))).size).toBe(6);
    expect(() => trialParameters(random([values("imgsz", [320, 640])], 3))).toThrow(RangeError);
  });

  it("snap a stepped real range to min + k·step", () => {
    for (const t of trialParameters(random([range("mosaic", 0.1, 1, { step: 0.3 })], 4, 5))) {
      expect([0.1, 0.4, 0.7, 1]).toContain(t.mosaic);
    }
  });
});

describe("trialId", () => {
  it("pads to two digits, three from 100 trials", () => {
    expect([trialId(0, 12), trialId(11, 12), trialId(0, 100), trialId(99, 256)]).toEqual(["t01", "t12", "t001", "t100"]);
  });
});

describe("expandTrials", () => {
  const sweep = (space: SweepDimension[]): SweepConfig => ({
    method: "grid",
    trialCount: 0,
    space,
    metric: "metrics/mAP50-95(B)",
    direction: "maximize",
    maxParallel: 2,
  });

  it("expands a checked sweep again, as parseSweepConfig did", () => {
    const plan = parseSweepConfig({ method: "random", trials: 4, seed: 9, space: { batch: [8, 16, 32], lr0: { min: 0.001, max: 0.01, log: true } } }, base, context);
    expect(expandTrials(plan, base, context)).toEqual(plan.trials);
  });

  it("refuses every trial a combination of values breaks, naming the dimension and the first trial", () => {
    let error: unknown;
    try {
      expandTrials(sweep([values("optimizer", ["SGD", "auto"]), values("lr0", [0.001, 0.01])]), base, context);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    const problems = (error as InvalidInputError).problems;
    expect(problems.map((p) => p.key)).toEqual(["sweep.space.lr0"]);
    expect(problems[0]!.value).toEqual({ optimizer: "auto", lr0: 0.001 });
    expect(problems[0]!.allowed).toMatch(/^values every trial's config accepts: in 2 trials, t03 the first, `hyperparameters.lr0` is 0.001 and must be set together with a named optimizer/);
  });
});

describe("experimentInputOf", () => {
  const FLEET_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
  const configs: [string, RawStackConfig, StackContext?][] = [
    ["the defaults", {}],
    ["a train stage with another GPU", { stage: "train", gpu: "l4" }],
    ["explicit instance types, on demand", { instanceTypes: ["g5.xlarge", "g5.2xlarge"], capacity: "on-demand" }],
    ["progressive phases and a spot cap", { progressive: [{ imgsz: 320, epochs: 10 }, { imgsz: 640, epochs: 20 }], maxSpotPrice: 0.5 }],
    [
      "everything else",
      {
        data: "s3://datasets/pallets/data.yaml",
        datasetImages: 5000,
        model: "s3://weights/best.pt",
        hyperparameters: { optimizer: "AdamW", lr0: 0.002, cos_lr: true },
        budgetUsd: 100,
        alertEmail: "ml@example.com",
        ota: { modelName: "pallets", channel: "stable", promote: { min: 0.5 }, bucket: "fleet-ota", signingKeyArn: FLEET_KEY, modelsPrefix: "fleet/models/" },
        network: { vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0"] },
        image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train:1.0",
        restartIfCheckpointLost: true,
        idleMinutes: 30,
      },
    ],
    ["MLflow tracking", { tracking: { mlflowUri: "https://mlflow.example.com" } }],
    ["W&B tracking", { tracking: { wandbProject: "pallets", wandbApiKey: "k" } }, { ...context, secretKeys: ["tracking"] }],
  ];

  it.each(configs)("writes back %s so that the checker gives the same config", (_what, raw, ctx = context) => {
    const config = parseExperimentConfig(raw, ctx);
    // The W&B key is a redacted placeholder: the checker needs `tracking` secret, as the sweep's context makes it.
    expect(parseExperimentConfig(experimentInputOf(config), { ...ctx, secretKeys: ["tracking"] })).toEqual(config);
  });
});
