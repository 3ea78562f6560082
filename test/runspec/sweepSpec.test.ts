import { buildRunSpec, InvalidRunSpecError, parseRunSpec, type RunSpecSweep } from "../../runspec";
import { runSpecDocument } from "./experimentConfig";

/** The run spec's optional `sweep` section (issue 12): a sweep trial's early stopping. */

const SWEEP: RunSpecSweep = { sweepId: "sweep-widgets", trialId: "yolov8n-widgets-0123456789", metric: "metrics/mAP50-95(B)", direction: "maximize", reductionFactor: 3, rungs: [1, 3, 9] };
const TRAIN = { epochs: 27, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} };

function problemsOf(doc: unknown): string[] {
  try {
    parseRunSpec(doc);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRunSpecError);
    return (error as InvalidRunSpecError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error("expected the run spec to be rejected");
}

const withSweep = (sweep: unknown, train: object = TRAIN): unknown => ({ ...runSpecDocument({ train: TRAIN }), train, sweep });

describe("the run spec's sweep section", () => {
  it("is optional, and kept as given when present", () => {
    expect(parseRunSpec(runSpecDocument()).sweep).toBeUndefined();
    expect(parseRunSpec(withSweep(SWEEP)).sweep).toEqual(SWEEP);
  });

  it.each<[string, Partial<Record<keyof RunSpecSweep, unknown>>, RegExp]>([
    ["a sweep id that is not one key segment", { sweepId: "a/b" }, /^sweep\.sweepId: must be 1-48 characters/],
    ["a trial id that is not a run id", { trialId: "Trial_1" }, /^sweep\.trialId: must be 1-48 characters/],
    ["a metric name with spaces", { metric: "map 50" }, /^sweep\.metric: /],
    ["an unknown direction", { direction: "up" }, /^sweep\.direction: must be "maximize" or "minimize"/],
    ["η below 2", { reductionFactor: 1 }, /^sweep\.reductionFactor: must be at least 2/],
    ["no rungs with an η", { rungs: [] }, /^sweep\.reductionFactor: must be null without rungs/],
    ["rungs without an η", { reductionFactor: null }, /^sweep\.reductionFactor: must be a number of at least 2 when there are rungs/],
    ["rungs that are not increasing", { rungs: [3, 3] }, /^sweep\.rungs: must be strictly increasing epochs/],
    ["a rung that is not a whole epoch", { rungs: [1.5] }, /^sweep\.rungs\[0\]: must be an integer/],
    ["a rung at epoch 0", { rungs: [0, 2] }, /^sweep\.rungs\[0\]: must be at least 1/],
  ])("refuses %s, naming the field", (_what, change, message) => {
    expect(problemsOf(withSweep({ ...SWEEP, ...change }))).toEqual([expect.stringMatching(message)]);
  });

  it("refuses rungs at or after train.epochs: the end of training is not a rung", () => {
    expect(problemsOf(withSweep({ ...SWEEP, rungs: [1, 27, 30] }))).toEqual([
      "sweep.rungs[1]: must be less than train.epochs (27): the end of training is not a rung",
      "sweep.rungs[2]: must be less than train.epochs (27): the end of training is not a rung",
    ]);
  });

  it("refuses unknown fields", () => {
    expect(problemsOf(withSweep({ ...SWEEP, minEpochs: 1 }))).toEqual([expect.stringMatching(/^sweep: .*minEpochs/)]);
  });

  it("refuses rungs together with progressive phases: a trial stopped early trains one phase", () => {
    const train = { ...TRAIN, progressive: [{ imgsz: 320, epochs: 10 }, { imgsz: 640, epochs: 17 }] };
    expect(problemsOf(withSweep(SWEEP, train))).toEqual([expect.stringMatching(/^sweep: rungs cannot be combined with train\.progressive/)]);
  });

  it("takes a trial that is not stopped early (no rungs, η null), progressive phases and all: it still tells the agent the sweep releases the model", () => {
    const plain = { ...SWEEP, reductionFactor: null, rungs: [] };
    expect(parseRunSpec(withSweep(plain)).sweep).toEqual(plain);
    const train = { ...TRAIN, progressive: [{ imgsz: 320, epochs: 10 }, { imgsz: 640, epochs: 17 }] };
    expect(parseRunSpec(withSweep(plain, train)).sweep).toEqual(plain);
  });

  it("passes through buildRunSpec", () => {
    const spec = parseRunSpec(withSweep(SWEEP));
    const built = buildRunSpec(
      {
        project: spec.project,
        stack: spec.stack,
        region: spec.region,
        model: spec.model,
        dataSource: { kind: "builtin", yaml: "coco8.yaml" },
        epochs: 27,
        imgsz: 640,
        batch: 16,
        gpusPerNode: 1,
        hyperparameters: {},
        ota: { modelName: spec.ota.modelName, channel: "candidate" },
        maxRuntimeHours: 4,
        idleMinutes: 30,
        idleGpuPercent: 5,
        restartIfCheckpointLost: false,
        tracking: { kind: "off" },
        capacity: "spot",
        sweep: SWEEP,
      },
      {
        runId: spec.runId,
        autoScalingGroupName: spec.autoScalingGroupName,
        artifactBucket: spec.artifacts.bucket,
        otaBucket: spec.ota.bucket,
        otaPrefix: spec.ota.prefix,
        signingKeyId: spec.ota.signingKeyId,
        usdPerHour: 1,
      },
    );
    expect(built.sweep).toEqual(SWEEP);
  });
});
