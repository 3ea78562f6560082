/**
 * The recorded real curves of `npm run bench:sweep` (bench/sweep/recordedCurves.ts): the curve
 * file's checks, the rerun spread, and their replay as a simulated sweep. Also that the committed
 * recording itself loads. No timings.
 */
import { mkdtempSync, readdirSync, writeFileSync } from "fs";
import os from "os";
import path from "path";
import { observedMetric, trueMetric } from "../../bench/sweep/learningCurves";
import { loadCurveFile, parseCurveFile, recordedSweep, rerunSpread, sweepTrials } from "../../bench/sweep/recordedCurves";
import { recordedFamily, runSeed, type ExperimentOptions } from "../../bench/sweep/sweepExperiment";

const trial = (id: string, curve: number[], extra: Record<string, unknown> = {}) => ({
  id,
  args: { lr0: 0.01, imgsz: 64, batch: 8, optimizer: "SGD", epochs: curve.length },
  epochs: curve.length,
  "mAP50-95": curve,
  "mAP50": curve.map((x) => Math.min(1, x * 1.5)),
  cpuSeconds: 10 * curve.length,
  ...extra,
});

const file = (trials: unknown[] = [trial("a", [0.1, 0.2, 0.3, 0.35]), trial("b", [0.2, 0.25, 0.28, 0.3]), trial("c", [0.05, 0.15, 0.3, 0.4])]): Record<string, unknown> => ({
  schemaVersion: 1,
  name: "test-curves",
  metric: "metrics/mAP50-95(B)",
  note: "made up for a test",
  ultralytics: "8.3.40",
  torch: "1.13.0",
  seed: 0,
  dataset: { description: "none" },
  trials,
});

describe("parseCurveFile", () => {
  it("accepts a well-formed file and keeps each trial's curves and arguments", () => {
    const parsed = parseCurveFile(file(), "x.json");
    expect(parsed.epochs).toBe(4);
    expect(parsed.trials.map((t) => t.id)).toEqual(["a", "b", "c"]);
    expect(parsed.trials[0]!.map5095).toEqual([0.1, 0.2, 0.3, 0.35]);
    expect(parsed.trials[0]!.args.lr0).toBe(0.01);
  });

  it("refuses a malformed file, naming the file and every bad field with what it holds and what is expected", () => {
    const broken = file([trial("a", [0.1, 0.2, 0.3]), trial("b", [0.1, Number.NaN as unknown as number, 1.5]), { ...trial("c", [0.1, 0.2, 0.3]), cpuSeconds: 0 }]);
    broken.metric = "metrics/mAP50(B)";
    let message = "";
    try {
      parseCurveFile(JSON.parse(JSON.stringify(broken)), "curves/bad.json");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("curves/bad.json");
    expect(message).toContain('metric is "metrics/mAP50(B)", expected "metrics/mAP50-95(B)"');
    // NaN becomes null in JSON: the field is named, with its index.
    expect(message).toContain("trials[1].mAP50-95[1] is null, expected a number in [0, 1]");
    expect(message).toContain("trials[1].mAP50-95[2] is 1.5, expected a number in [0, 1]");
    expect(message).toContain("trials[2].cpuSeconds is 0");
    expect(message).toContain("recordCurves.py");
  });

  it("refuses trials of different lengths, a duplicate id, a rerun of nothing and a missing curve", () => {
    const withRerun = { ...trial("r", [0.1, 0.2, 0.3, 0.4]), rerunOf: "zz" };
    const missing = { ...trial("m", [0.1, 0.2, 0.3, 0.4]), "mAP50-95": undefined };
    const raw = file([trial("a", [0.1, 0.2, 0.3, 0.35]), trial("a", [0.1, 0.2, 0.3, 0.35]), trial("b", [0.1, 0.2]), withRerun, missing]);
    expect(() => parseCurveFile(raw, "y.json")).toThrow(/trials\[1\]\.id is "a", expected an id no other trial has/);
    expect(() => parseCurveFile(raw, "y.json")).toThrow(/rerunOf is "zz"/);
    expect(() => parseCurveFile(raw, "y.json")).toThrow(/trials\[4\]\.mAP50-95 is undefined, expected a non-empty array/);
    expect(() => parseCurveFile(raw, "y.json")).toThrow(/trials have 4, 2 epochs/);
    expect(() => parseCurveFile([1, 2], "z.json")).toThrow(/z\.json: not a curve file/);
  });

  it("names the file when it is not JSON at all", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "curves-"));
    const bad = path.join(dir, "truncated.json");
    writeFileSync(bad, '{"schemaVersion": 1, "trials": [');
    expect(() => loadCurveFile(bad)).toThrow(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: cannot read the curve file`));
  });
});

describe("the rerun spread and the replay", () => {
  const withReruns = parseCurveFile(
    file([trial("a", [0.1, 0.2, 0.3, 0.4]), trial("b", [0.2, 0.25, 0.28, 0.3]), { ...trial("a2", [0.12, 0.18, 0.3, 0.42]), rerunOf: "a" }]),
    "r.json",
  );

  it("pools the sd between runs of one configuration over epochs, and is null without reruns", () => {
    // Pairs differ by 0.02, 0.02, 0, 0.02 → sample variances 0.0002, 0.0002, 0, 0.0002 → mean 0.00015.
    expect(rerunSpread(withReruns)!.sd).toBeCloseTo(Math.sqrt(0.00015), 12);
    expect(rerunSpread(withReruns)!.runs).toBe(2);
    // Per epoch, smoothed over ±2 epochs (clipped at the ends).
    const byEpoch = rerunSpread(withReruns)!.byEpoch;
    [0.0004 / 3, 0.00015, 0.00015, 0.0004 / 3].forEach((v, e) => expect(byEpoch[e]).toBeCloseTo(Math.sqrt(v), 12));
    expect(rerunSpread(parseCurveFile(file(), "x.json"))).toBeNull();
  });

  it("replays the configurations (not the reruns) as trials whose true curve is the recording", () => {
    const trials = recordedSweep(withReruns, { seed: 3, replica: 0, noise: 0.01, images: 10_000, gpu: "a10g" });
    expect(sweepTrials(withReruns).map((t) => t.id)).toEqual(["a", "b"]);
    expect(trials.map((t) => t.trialId)).toEqual(["a", "b"]);
    expect(trials.map((t) => t.index)).toEqual([0, 1]);
    expect([1, 2, 3, 4].map((e) => trueMetric(trials[0]!, e))).toEqual([0.1, 0.2, 0.3, 0.4]);
    expect(observedMetric(trials[0]!, 4)).not.toBe(0.4);
    expect(() => trueMetric(trials[0]!, 5)).toThrow(/no recorded value for epoch 5/);
    // Per-epoch sds: no noise where the sd is 0.
    const quiet = recordedSweep(withReruns, { seed: 3, replica: 0, noise: [0, 0.01, 0, 0.01], images: 10_000, gpu: "a10g" });
    expect(Math.abs(quiet[0]!.noise[0]!)).toBe(0);
    expect(quiet[0]!.noise[1]).not.toBe(0);
    expect(() => recordedSweep(withReruns, { seed: 3, replica: 0, noise: [0.01], images: 10_000, gpu: "a10g" })).toThrow(/1 per-epoch sds for 4 epochs/);
    // Same seed, same noise; another replica, other noise on the same truth.
    expect(recordedSweep(withReruns, { seed: 3, replica: 0, noise: 0.01, images: 10_000, gpu: "a10g" })).toEqual(trials);
    const again = recordedSweep(withReruns, { seed: 3, replica: 1, noise: 0.01, images: 10_000, gpu: "a10g" });
    expect(again[0]!.truth).toEqual(trials[0]!.truth);
    expect(again[0]!.noise).not.toEqual(trials[0]!.noise);
    // Equal imgsz: equal epoch costs; twice the imgsz: four times the cost.
    expect(trials[0]!.epochHours).toBeCloseTo(trials[1]!.epochHours, 12);
    const bigger = parseCurveFile(file([trial("a", [0.1, 0.2]), trial("b", [0.1, 0.2], { args: { imgsz: 128 } }), trial("c", [0.1, 0.2])]), "b.json");
    const costs = recordedSweep(bigger, { seed: 1, replica: 0, noise: 0, images: 10_000, gpu: "a10g" }).map((t) => t.epochHours);
    expect(costs[1]! / costs[0]!).toBeCloseTo(4, 12);
  });

  it("measures how a rerun's deviation carries from one epoch to the next", () => {
    // A rerun shifted by a steady offset: its deviations keep their sign and size (correlation 1).
    const shifted = parseCurveFile(file([trial("a", [0.1, 0.2, 0.3, 0.4]), trial("b", [0.2, 0.25, 0.28, 0.3]), { ...trial("a2", [0.12, 0.22, 0.32, 0.42]), rerunOf: "a" }]), "s.json");
    expect(rerunSpread(shifted)!.lag1).toBeCloseTo(1, 12);
    // A rerun that zigzags around the original: its deviations flip sign from epoch to epoch (negative).
    expect(rerunSpread(withReruns)!.lag1).toBeLessThan(0);
  });

  it("replays noise independent per epoch by default, and AR(1)-correlated when asked, the per-epoch sd kept", () => {
    const options = { seed: 5, replica: 0, noise: 0.01, images: 10_000, gpu: "a10g" as const };
    expect(recordedSweep(withReruns, { ...options, noiseCorrelation: 0 })).toEqual(recordedSweep(withReruns, options));
    // Many trials of a long recording: the sample correlation and sd come out near what was asked.
    const long = parseCurveFile(
      file(Array.from({ length: 200 }, (_, i) => trial(`t${i}`, Array.from({ length: 40 }, () => 0.5)))),
      "long.json",
    );
    const lag1 = (rho: number): { corr: number; sd: number } => {
      const noise = recordedSweep(long, { ...options, noiseCorrelation: rho }).map((t) => t.noise);
      const pairs = noise.flatMap((n) => n.slice(1).map((x, e) => [n[e]!, x] as const));
      const sd = Math.sqrt(noise.flat().reduce((s, x) => s + x * x, 0) / noise.flat().length);
      const corr = pairs.reduce((s, [x, y]) => s + x * y, 0) / pairs.length / sd ** 2;
      return { corr, sd };
    };
    expect(lag1(0).corr).toBeCloseTo(0, 1);
    expect(lag1(0.6).corr).toBeCloseTo(0.6, 1);
    expect(lag1(0.6).sd).toBeCloseTo(0.01, 3);
    expect(() => recordedSweep(long, { ...options, noiseCorrelation: 1 })).toThrow(/noiseCorrelation must be a number in \[0, 1\), got 1/);
  });

  it("runs a seed of a recorded family through every policy and the noise floor", () => {
    const family = recordedFamily(parseCurveFile(file(), "x.json"), { noise: 0.001, noiseSource: "assumed", images: 10_000, gpu: "a10g" });
    expect(family.maxEpochs).toBe(4);
    expect(family.trials).toBe(3);
    const options: ExperimentOptions = {
      seeds: 1,
      families: [family],
      minEpochsList: [1],
      sweep: { reductionFactor: 3, maxParallel: 1, interruptionsPerGpuHour: 0, restartWaitHours: 0, startupHours: 0.1, finishHours: 0.1, usdPerGpuHour: 1 },
    };
    const run = runSeed(options, family, 1, 1);
    // Rungs at epochs 1 and 3, one GPU, noise far below the gaps: at epoch 1 a (first) and b (0.2 ≥ 0.1) continue,
    // c (0.05 < 0.167) stops; at epoch 3 a (first) continues and b (0.28 < 0.3) stops. Only a finishes.
    expect(run.runs.asha.completed).toBe(1);
    expect(run.runs.asha.winner).toBe("a");
    expect(run.runs.full.completed).toBe(3);
    // c ends best (0.4) but was behind at epoch 1: ASHA's regret is the gap to it.
    expect(run.bestPossible).toBe(0.4);
    expect(run.runs.asha.regret).toBeCloseTo(0.4 - 0.35, 12);
    expect(run.bestSurvivedRung).toEqual([false, false]);
    expect(run.runs.full.winner).toBe("c");
    expect(run.runs.fullRerun.winner).toBe("c");
  });
});

describe("the committed recording", () => {
  it("loads, with reruns to measure the spread", () => {
    const dir = path.join(__dirname, "..", "..", "bench", "sweep", "curves");
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const curves = loadCurveFile(path.join(dir, f));
      expect(sweepTrials(curves).length).toBeGreaterThanOrEqual(6);
      expect(rerunSpread(curves)).not.toBeNull();
      expect(curves.ultralytics).toBe("8.3.40");
    }
  });
});
