/**
 * Real learning curves for the sweep simulation: the per-epoch validation mAP50-95 that the real
 * ultralytics 8.3.40 reported in short CPU runs of a yolov8n on a synthetic shapes dataset,
 * recorded by bench/sweep/recordCurves.py into bench/sweep/curves/*.json (the file says how, with
 * which versions, data, seed and arguments). Tiny runs, not COCO: they show how real curves of
 * the real trainer (its LR schedule, warm-up, mosaic and close_mosaic) rise, cross and wobble,
 * not what mAP a customer dataset reaches.
 *
 * Replay: each recorded configuration (reruns excluded) is one trial; its recorded curve is taken
 * as the trial's true curve, and every seed adds fresh independent noise at each epoch with the sd
 * that reruns of one configuration with other seeds showed at that epoch (smoothed over a few
 * epochs), as a rerun of the sweep would differ. That treats the rerun spread as independent per
 * epoch, which it is not (a seed shifts a stretch of trajectory); the assumption is printed.
 */
import { readFileSync } from "fs";
import { epochHoursFor, type SimTrial } from "./learningCurves";
import { normal, stream, type Random } from "./prng";

/** One recorded training run. */
export interface RecordedTrial {
  readonly id: string;
  /** The configuration this run repeats with another seed (a rerun, for the spread), if any. */
  readonly rerunOf?: string;
  /** The exact ultralytics arguments it was trained with (besides data, project and name). */
  readonly args: Readonly<Record<string, unknown>>;
  /** mAP50-95 after each epoch, epoch 1 first. */
  readonly map5095: readonly number[];
  readonly map50: readonly number[];
  /** Wall-clock seconds the training took on the recording machine. */
  readonly cpuSeconds: number;
}

export interface CurveFile {
  readonly name: string;
  readonly note: string;
  readonly ultralytics: string;
  readonly torch: string;
  readonly seed: number;
  readonly dataset: Readonly<Record<string, unknown>>;
  readonly trials: readonly RecordedTrial[];
  /** Epochs every trial has (all the same). */
  readonly epochs: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks a parsed curve file and returns it typed; throws one Error naming every bad field (with
 * its path, what it holds and what is expected) and `source`, so a hand-edited or truncated
 * recording is refused before it skews a figure.
 */
export function parseCurveFile(raw: unknown, source: string): CurveFile {
  const problems: string[] = [];
  const bad = (path: string, value: unknown, expected: string): void => {
    problems.push(`${path} is ${JSON.stringify(value) ?? String(value)}, expected ${expected}`);
  };
  if (!isObject(raw)) throw new Error(`${source}: not a curve file: expected a JSON object with schemaVersion 1, got ${JSON.stringify(raw)?.slice(0, 60)}`);
  if (raw.schemaVersion !== 1) bad("schemaVersion", raw.schemaVersion, "1");
  if (raw.metric !== "metrics/mAP50-95(B)") bad("metric", raw.metric, '"metrics/mAP50-95(B)"');
  for (const key of ["name", "note", "ultralytics", "torch"] as const) {
    if (typeof raw[key] !== "string" || raw[key] === "") bad(key, raw[key], "a non-empty string");
  }
  if (!Number.isInteger(raw.seed)) bad("seed", raw.seed, "a whole number");
  if (!isObject(raw.dataset)) bad("dataset", raw.dataset, "an object describing the dataset");
  const trials: RecordedTrial[] = [];
  if (!Array.isArray(raw.trials) || raw.trials.length < 2) bad("trials", Array.isArray(raw.trials) ? `${raw.trials.length} trial(s)` : raw.trials, "an array of at least 2 trials");
  else {
    const ids = new Set<string>();
    raw.trials.forEach((t: unknown, i: number) => {
      const at = `trials[${i}]`;
      if (!isObject(t)) return bad(at, t, "an object");
      const before = problems.length;
      if (typeof t.id !== "string" || t.id === "") bad(`${at}.id`, t.id, "a non-empty string");
      else if (ids.has(t.id)) bad(`${at}.id`, t.id, "an id no other trial has");
      else ids.add(t.id);
      if (t.rerunOf !== undefined && typeof t.rerunOf !== "string") bad(`${at}.rerunOf`, t.rerunOf, "a trial id, or absent");
      if (!isObject(t.args)) bad(`${at}.args`, t.args, "the ultralytics arguments, an object");
      const series = (key: "mAP50-95" | "mAP50"): number[] => {
        const v = t[key];
        if (!Array.isArray(v) || v.length === 0) {
          bad(`${at}.${key}`, v, "a non-empty array of numbers in [0, 1], one per epoch");
          return [];
        }
        v.forEach((x: unknown, e: number) => {
          if (typeof x !== "number" || !Number.isFinite(x) || x < 0 || x > 1) bad(`${at}.${key}[${e}]`, x, "a number in [0, 1]");
        });
        return v as number[];
      };
      const map5095 = series("mAP50-95");
      const map50 = series("mAP50");
      if (map5095.length > 0 && map50.length > 0 && map5095.length !== map50.length) {
        bad(`${at}.mAP50`, `${map50.length} epochs`, `as many epochs as mAP50-95 (${map5095.length})`);
      }
      if (t.epochs !== map5095.length) bad(`${at}.epochs`, t.epochs, `the length of mAP50-95 (${map5095.length})`);
      if (typeof t.cpuSeconds !== "number" || !(t.cpuSeconds > 0)) bad(`${at}.cpuSeconds`, t.cpuSeconds, "a number of seconds > 0");
      if (problems.length === before) {
        trials.push({
          id: t.id as string,
          ...(typeof t.rerunOf === "string" ? { rerunOf: t.rerunOf } : {}),
          args: t.args as Record<string, unknown>,
          map5095,
          map50,
          cpuSeconds: t.cpuSeconds as number,
        });
      }
    });
    for (const t of trials) {
      if (t.rerunOf !== undefined && !trials.some((o) => o.id === t.rerunOf && o.rerunOf === undefined)) {
        problems.push(`trials "${t.id}".rerunOf is "${t.rerunOf}", expected the id of a recorded trial that is not itself a rerun`);
      }
    }
    const lengths = new Set(trials.map((t) => t.map5095.length));
    if (lengths.size > 1) problems.push(`trials have ${[...lengths].join(", ")} epochs: every trial must have the same number (the sweep's maxEpochs)`);
  }
  if (problems.length > 0) throw new Error(`${source}: bad curve file (re-record it with bench/sweep/recordCurves.py): ${problems.join("; ")}`);
  return {
    name: raw.name as string,
    note: raw.note as string,
    ultralytics: raw.ultralytics as string,
    torch: raw.torch as string,
    seed: raw.seed as number,
    dataset: raw.dataset as Record<string, unknown>,
    trials,
    epochs: trials[0]!.map5095.length,
  };
}

/** Reads and checks a curve file (bench/sweep/curves/*.json). */
export function loadCurveFile(path: string): CurveFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`${path}: cannot read the curve file: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseCurveFile(raw, path);
}

/** The configurations a sweep would have tried: the recorded trials that are not reruns. */
export const sweepTrials = (file: CurveFile): RecordedTrial[] => file.trials.filter((t) => t.rerunOf === undefined);

/** How much reruns of one configuration with other seeds differ. */
export interface RerunSpread {
  /** Root of the mean variance over every epoch and group. */
  readonly sd: number;
  /**
   * Per epoch (index e − 1), smoothed: the root of the mean variance over the epochs within
   * ±SPREAD_WINDOW of e and every group. The spread is far from constant: mid-run (high LR,
   * mosaic) reruns differ by several points, in the last epochs (LR decayed, close_mosaic) by ~1.
   */
  readonly byEpoch: readonly number[];
  /**
   * Correlation of a run's deviation from its group's mean at one epoch with its deviation at the
   * next, pooled over runs and epochs: 0 if reruns differ epoch by epoch independently, near 1 if a
   * seed shifts whole stretches of the trajectory.
   */
  readonly lag1: number;
  /** Configurations run more than once, and the runs among them. */
  readonly groups: number;
  readonly runs: number;
}

/** Half-width of the epoch window the per-epoch spread is smoothed over (2–3 runs per epoch are few). */
export const SPREAD_WINDOW = 2;

/**
 * The sample variance across each group of runs of one configuration (the original and its reruns)
 * at each epoch, pooled over groups; null when no configuration was run twice.
 */
export function rerunSpread(file: CurveFile): RerunSpread | null {
  const groups = sweepTrials(file)
    .map((t) => [t, ...file.trials.filter((r) => r.rerunOf === t.id)])
    .filter((g) => g.length > 1);
  if (groups.length === 0) return null;
  const variance = Array.from({ length: file.epochs }, (_, e) => {
    let sum = 0;
    for (const group of groups) {
      const xs = group.map((t) => t.map5095[e]!);
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      sum += xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1);
    }
    return sum / groups.length;
  });
  const meanOf = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const byEpoch = variance.map((_, e) => Math.sqrt(meanOf(variance.slice(Math.max(0, e - SPREAD_WINDOW), e + SPREAD_WINDOW + 1))));
  const pairs: Array<[number, number]> = [];
  for (const group of groups) {
    const means = Array.from({ length: file.epochs }, (_, e) => meanOf(group.map((t) => t.map5095[e]!)));
    for (const t of group) {
      const deviation = t.map5095.map((x, e) => x - means[e]!);
      for (let e = 0; e + 1 < file.epochs; e++) pairs.push([deviation[e]!, deviation[e + 1]!]);
    }
  }
  return { sd: Math.sqrt(meanOf(variance)), byEpoch, lag1: correlation(pairs), groups: groups.length, runs: groups.reduce((s, g) => s + g.length, 0) };
}

/** Pearson's correlation of the pairs; 0 when either side does not vary. */
function correlation(pairs: ReadonlyArray<readonly [number, number]>): number {
  const n = pairs.length;
  const mx = pairs.reduce((s, [x]) => s + x, 0) / n;
  const my = pairs.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

export interface RecordedSweepOptions {
  readonly seed: number;
  /** 0: the sweep itself; k ≥ 1: the same curves with other noise (a rerun of the whole sweep, for the noise floor). */
  readonly replica: number;
  /** sd of the noise added to the recorded values (mAP50-95): one for every epoch, or per epoch (index e − 1). */
  readonly noise: number | readonly number[];
  /**
   * Correlation of one trial's noise from one epoch to the next (AR(1), each epoch's sd kept): 0 =
   * independent per epoch; above 0, a seed shifts a stretch of the trajectory, as real reruns do
   * (rerunSpread's lag1). A steadier rung value (the mean of 3 epochs) gains less from averaging then.
   * @default 0
   */
  readonly noiseCorrelation?: number;
  /** Training images per epoch and the GPU the epoch cost is computed for. */
  readonly images: number;
  readonly gpu: Parameters<typeof epochHoursFor>[3];
}

/** n standard normals, each correlated `rho` with the one before (AR(1)); at rho 0 exactly the independent draws. */
function correlatedNormals(random: Random, n: number, rho: number): number[] {
  const out: number[] = [];
  for (let e = 0; e < n; e++) {
    const z = normal(random);
    out.push(e === 0 || rho === 0 ? z : rho * out[e - 1]! + Math.sqrt(1 - rho * rho) * z);
  }
  return out;
}

/**
 * The recorded configurations as the trials of one simulated sweep. Epoch cost: a yolov8n epoch at
 * imgsz 640 from the catalog's time model, times (the trial's imgsz / the median trial's)², as
 * compute grows with pixels. Not the recorded seconds: those were taken on 2 CPUs shared with other
 * work and vary by 2× between identical runs.
 */
export function recordedSweep(file: CurveFile, options: RecordedSweepOptions): SimTrial[] {
  const configs = sweepTrials(file);
  const imgszOf = (t: RecordedTrial): number => (typeof t.args.imgsz === "number" ? t.args.imgsz : 640);
  const sorted = configs.map(imgszOf).sort((a, b) => a - b);
  const median = (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
  const base = epochHoursFor("yolov8n", 640, options.images, options.gpu);
  const { noise } = options;
  if (typeof noise !== "number" && noise.length < file.epochs) throw new RangeError(`noise: ${noise.length} per-epoch sds for ${file.epochs} epochs`);
  const sdAt = (e: number): number => (typeof noise === "number" ? noise : noise[e]!);
  const rho = options.noiseCorrelation ?? 0;
  if (!(rho >= 0 && rho < 1)) throw new RangeError(`noiseCorrelation must be a number in [0, 1), got ${rho}`);
  return configs.map((t, index) => {
    const random = stream(options.seed, file.name, "noise", options.replica, index);
    const imgsz = imgszOf(t);
    const lr0 = typeof t.args.lr0 === "number" ? t.args.lr0 : 0.01;
    return Object.freeze({
      index,
      trialId: t.id,
      model: "yolov8n" as const,
      imgsz,
      lr0,
      curve: null,
      truth: Object.freeze([...t.map5095]),
      noise: Object.freeze(correlatedNormals(random, t.map5095.length, rho).map((z, e) => sdAt(e) * z)),
      epochHours: base * (imgsz / median) ** 2,
    });
  });
}
