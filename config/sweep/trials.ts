import { InvalidInputError, type Problem } from "../../runspec/problems";
import { canonicalJson, deriveRunId } from "../../runspec/runId";
import { ConfigProblems } from "../checks/context";
import { coerceBoolean, coerceNumber } from "../coercion";
import { checkExperimentConfig, configSubject } from "../parseExperimentConfig";
import type { ExperimentConfig, RawStackConfig, StackContext } from "../types";
import { experimentInputOf, trialCheckContext } from "./baseInput";
import { SWEEP_LIMITS } from "./limits";
import { mulberry32 } from "./prng";
import { configPathOf, isWholeNumberDimension, withParams, type DraftDimension } from "./space";
import type { SweepConfig, SweepDimension, SweepTrial, SweepValue, TrialParameters } from "./types";

/*
 * From a search space to trials: each list value checked by the normal checker against the base
 * config (and written as the trial config holds it), the trials drawn (a grid's every combination,
 * or a seeded random draw), and each trial's config checked and given its run id.
 */

/** One trial drawn: its values, and for list dimensions the index each value has in its list. */
interface Draw {
  readonly params: TrialParameters;
  readonly indexes: Readonly<Record<string, number>>;
}

/** Which drafted values the checker refused: list indexes per dimension, and ranges with a refused end. */
interface RefusedValues {
  readonly listIndexes: Map<string, Set<number>>;
  readonly ranges: Set<string>;
}

/** The base config as input, and the context a trial is checked in. */
export interface TrialBase {
  readonly config: ExperimentConfig;
  readonly input: RawStackConfig;
  readonly context: StackContext;
}

export function trialBaseOf(base: ExperimentConfig, context: Pick<StackContext, "secretKeys">): TrialBase {
  return { config: base, input: experimentInputOf(base), context: trialCheckContext(base, context) };
}

/** The value a checked config holds for a dimension: "640" given → 640, "adamw" → "AdamW". */
function configValue(config: ExperimentConfig, key: string): SweepValue | undefined {
  switch (key) {
    case "model":
      return config.model;
    case "imgsz":
      return config.imgsz;
    case "batch":
      return config.batch;
    case "epochs":
      return config.epochs;
    default:
      return Object.hasOwn(config.hyperparameters, key) ? config.hyperparameters[key] : undefined;
  }
}

const problemId = (p: Problem): string => `${p.key}\u0000${p.allowed}`;

/**
 * Checks each list value, and each end of each range, with the normal checker: the base config with
 * that value and every other dimension at its first value (a range at its min). A problem the value
 * brings in (one the same config without it does not have) is the value's, named by its place in
 * the space: `sweep.space.imgsz[1]`, `sweep.space.lr0.max`. Returns the dimensions with their values
 * as the trial configs hold them, and which values were refused.
 */
export function checkSpaceValues(
  drafts: readonly DraftDimension[],
  base: TrialBase,
  problems: ConfigProblems,
): { dimensions: SweepDimension[]; refused: RefusedValues } {
  const refused: RefusedValues = { listIndexes: new Map(), ranges: new Set() };
  const firsts: Record<string, SweepValue> = {};
  for (const d of drafts) firsts[d.key] = d.kind === "values" ? d.values[0]! : d.min;

  const dimensions = drafts.map((d): SweepDimension => {
    const others = { ...firsts };
    delete others[d.key];
    const reference = new Set(checkExperimentConfig(withParams(base.input, others), base.context).problems.map(problemId));
    const check = (value: SweepValue, place: string): { ok: boolean; value: SweepValue } => {
      const result = checkExperimentConfig(withParams(base.input, { ...others, [d.key]: value }), base.context);
      const brought = result.problems.filter((p) => !reference.has(problemId(p)));
      for (const p of brought) problems.add(valueProblem(d.key, place, value, p));
      const held = result.config !== undefined ? configValue(result.config, d.key) : undefined;
      return { ok: brought.length === 0, value: held ?? plainValue(value) };
    };

    if (d.kind === "range") {
      const min = check(d.min, ".min");
      const max = check(d.max, ".max");
      if (!min.ok || !max.ok) refused.ranges.add(d.key);
      return d;
    }
    const bad = new Set<number>();
    const values = d.values.map((value, i) => {
      const checked = check(value, `[${i}]`);
      if (!checked.ok) bad.add(i);
      return checked.value;
    });
    // Two equal values would be two trials of the same run.
    values.forEach((value, j) => {
      const i = values.findIndex((v) => v === value);
      if (i === j || bad.has(i) || bad.has(j)) return;
      bad.add(j);
      problems.add({
        key: `sweep.space.${d.key}[${j}]`,
        value: d.values[j],
        allowed: `a value not already in the list: it is ${JSON.stringify(value)} again, like [${i}], and two trials of the same values would be the same run`,
        fix: "remove it, or list another value",
      });
    });
    if (bad.size > 0) refused.listIndexes.set(d.key, bad);
    return { key: d.key, kind: "values", values };
  });
  return { dimensions, refused };
}

/** A problem the checker found with one value of the space, named by the value's place in the space. */
function valueProblem(dimension: string, place: string, value: SweepValue, p: Problem): Problem {
  const own = p.key === configPathOf(dimension);
  return {
    key: `sweep.space.${dimension}${place}`,
    value: own ? p.value : value,
    allowed: own ? p.allowed : `a value the trial's config accepts: with it, \`${p.key}\` must be ${p.allowed}`,
    fix: p.fix,
  };
}

/** A value as given, with number- and boolean-like text read as such (when the checker could not say). */
function plainValue(value: SweepValue): SweepValue {
  const n = coerceNumber(value);
  if (typeof n === "number") return n;
  const b = coerceBoolean(value);
  return typeof b === "boolean" ? b : value;
}

/** How many distinct trials the space holds: the product of its lists' and stepped ranges' sizes; Infinity with a continuous range. */
export function spaceSize(dimensions: readonly SweepDimension[]): number {
  return dimensions.reduce((size, d) => size * dimensionSize(d), 1);
}

function dimensionSize(d: SweepDimension): number {
  if (d.kind === "values") return d.values.length;
  return d.step !== undefined ? stepCount(d.min, d.max, d.step) : Number.POSITIVE_INFINITY;
}

function stepCount(min: number, max: number, step: number): number {
  return Math.floor((max - min) / step + 1e-9) + 1;
}

/**
 * The trials' parameter values, in trial order. Grid: every combination of the lists, the first
 * dimension varying slowest and the last fastest (as nested loops in the order written). Random:
 * `trialCount` draws from mulberry32(seed), each dimension in the order written: a list value
 * uniformly, a range uniformly (on a log scale with `log`), snapped to `min + k·step` with a step,
 * reals kept to 6 significant digits; a draw equal to an earlier trial is drawn again. Pure and
 * deterministic: the same sweep gives the same trials on every machine.
 * Throws a RangeError when a random sweep asks for more trials than its space has.
 */
export function trialParameters(sweep: Pick<SweepConfig, "method" | "trialCount" | "seed" | "space">): TrialParameters[] {
  return draws(sweep).map((d) => d.params);
}

function draws(sweep: Pick<SweepConfig, "method" | "trialCount" | "seed" | "space">): Draw[] {
  return sweep.method === "grid" ? gridDraws(sweep.space) : randomDraws(sweep.space, sweep.trialCount, sweep.seed ?? 0);
}

function gridDraws(space: readonly SweepDimension[]): Draw[] {
  const lists = space.map((d) => (d.kind === "values" ? d.values : []));
  const total = lists.reduce((n, l) => n * l.length, 1);
  const result: Draw[] = [];
  for (let t = 0; t < total; t++) {
    // Trial t in mixed radix, the last dimension the lowest digit.
    let rest = t;
    const indexes: Record<string, number> = {};
    for (let k = space.length - 1; k >= 0; k--) {
      const size = lists[k]!.length;
      indexes[space[k]!.key] = rest % size;
      rest = Math.floor(rest / size);
    }
    const params: Record<string, SweepValue> = {};
    for (let k = 0; k < space.length; k++) params[space[k]!.key] = lists[k]![indexes[space[k]!.key]!]!;
    result.push({ params, indexes });
  }
  return result;
}

function randomDraws(space: readonly SweepDimension[], count: number, seed: number): Draw[] {
  const size = spaceSize(space);
  if (count > size) throw new RangeError(`the space holds ${size} distinct trials; ${count} were asked for`);
  const next = mulberry32(seed);
  const seen = new Set<string>();
  const result: Draw[] = [];
  // Redraws of duplicates end: the space holds at least `count` distinct trials. The cap is a safety net.
  for (let attempt = 0; result.length < count && attempt < count * 10_000; attempt++) {
    const params: Record<string, SweepValue> = {};
    const indexes: Record<string, number> = {};
    for (const d of space) {
      if (d.kind === "values") {
        const i = Math.min(d.values.length - 1, Math.floor(next() * d.values.length));
        indexes[d.key] = i;
        params[d.key] = d.values[i]!;
      } else {
        params[d.key] = drawFromRange(d, next(), isWholeNumberDimension(d.key));
      }
    }
    const id = canonicalJson(params);
    if (seen.has(id)) continue;
    seen.add(id);
    result.push({ params, indexes });
  }
  if (result.length < count) throw new RangeError(`could draw only ${result.length} distinct trials of ${count}`);
  return result;
}

/** One value of a range from u in [0, 1). */
function drawFromRange(d: Extract<SweepDimension, { kind: "range" }>, u: number, whole: boolean): number {
  let x: number;
  if (d.step !== undefined && !d.log) {
    const count = stepCount(d.min, d.max, d.step);
    x = d.min + Math.min(count - 1, Math.floor(u * count)) * d.step;
  } else {
    x = d.log ? Math.exp(Math.log(d.min) + u * (Math.log(d.max) - Math.log(d.min))) : d.min + u * (d.max - d.min);
    if (d.step !== undefined) {
      const k = Math.min(stepCount(d.min, d.max, d.step) - 1, Math.max(0, Math.round((x - d.min) / d.step)));
      x = d.min + k * d.step;
    }
  }
  x = whole ? Math.round(x) : Number(x.toPrecision(SWEEP_LIMITS.significantDigits));
  return Math.min(d.max, Math.max(d.min, x));
}

/** `t01` … `t12`; `t001` … from 100 trials on. */
export function trialId(index: number, count: number): string {
  return `t${String(index + 1).padStart(Math.max(2, String(count).length), "0")}`;
}

/**
 * Checks every trial's config (the base with the trial's values) with the normal checker and gives it
 * its run id. A problem of a trial that holds no value already refused is named by the dimension its
 * key belongs to (`sweep.space.lr0`), else `sweep.space`, once per rule with the first trial it
 * occurs in. Trials whose values were refused one by one are left to those problems.
 */
export function checkTrials(
  sweep: Pick<SweepConfig, "method" | "trialCount" | "seed" | "space">,
  base: TrialBase,
  problems: ConfigProblems,
  refused: RefusedValues = { listIndexes: new Map(), ranges: new Set() },
): SweepTrial[] {
  const all = draws(sweep);
  const trials: SweepTrial[] = [];
  const groups = new Map<string, { problem: Problem; dimension?: string; id: string; params: TrialParameters; count: number }>();
  const byRunId = new Map<string, string>();
  all.forEach((draw, index) => {
    const id = trialId(index, all.length);
    const holdsRefused =
      Object.entries(draw.indexes).some(([key, i]) => refused.listIndexes.get(key)?.has(i) === true) ||
      Object.keys(draw.params).some((key) => refused.ranges.has(key));
    if (holdsRefused) return;
    const result = checkExperimentConfig(withParams(base.input, draw.params), base.context);
    if (result.config === undefined) {
      for (const p of result.problems) {
        const dimension = sweep.space.find((d) => configPathOf(d.key) === p.key)?.key;
        const group = `${dimension ?? ""}\u0000${problemId(p)}`;
        const seen = groups.get(group);
        if (seen !== undefined) seen.count += 1;
        else groups.set(group, { problem: p, ...(dimension !== undefined ? { dimension } : {}), id, params: draw.params, count: 1 });
      }
      return;
    }
    const runId = deriveRunId(result.config);
    const twin = byRunId.get(runId);
    if (twin !== undefined) {
      problems.add({
        key: "sweep.space",
        value: draw.params,
        allowed: `trials that are different runs: ${twin} and ${id} are both run ${runId}`,
        fix: "remove the values that make them the same",
      });
    }
    byRunId.set(runId, id);
    trials.push({ id, params: draw.params, config: result.config, runId });
  });
  for (const { problem: p, dimension, id, params, count } of groups.values()) {
    const where = count === 1 ? `trial ${id}` : `${count} trials, ${id} the first`;
    problems.add({
      key: dimension !== undefined ? `sweep.space.${dimension}` : "sweep.space",
      value: params,
      allowed: `values every trial's config accepts: in ${where}, \`${p.key}\` is ${JSON.stringify(p.value) ?? String(p.value)} and must be ${p.allowed}`,
      fix: p.fix,
    });
  }
  return trials;
}

/**
 * The trials of a checked sweep over a checked base config: each the base with the trial's values,
 * checked by the normal checker (parseExperimentConfig), with its id (`t01` …) and run id. Pure and
 * deterministic. `parseSweepConfig` returns them already; this is for a `SweepConfig` kept or built
 * in code. Throws {@link InvalidInputError} with every trial's problems at once.
 */
export function expandTrials(sweep: SweepConfig, base: ExperimentConfig, context: StackContext): readonly SweepTrial[] {
  const problems = new ConfigProblems(context.secretKeys);
  const trials = checkTrials(sweep, trialBaseOf(base, context), problems);
  if (problems.any) throw new InvalidInputError(configSubject(context), problems.all);
  return Object.freeze(trials);
}
