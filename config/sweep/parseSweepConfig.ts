import { estimateSweep } from "../../catalog/sweepEstimate";
import { EPOCHS } from "../../runspec/limits";
import { InvalidInputError, type Problem } from "../../runspec/problems";
import { rungEpochs, type Direction } from "../../runspec/sweep/asha";
import { ConfigProblems } from "../checks/context";
import { DETECTION_METRICS } from "../choices";
import { coerceNumber } from "../coercion";
import { configSubject } from "../parseExperimentConfig";
import { closestMatch, listWithOr } from "../suggest";
import type { ExperimentConfig, StackContext } from "../types";
import { SWEEP_METHODS, type SweepMethod, type SweepMetric } from "./input";
import { SWEEP_DEFAULTS, SWEEP_LIMITS } from "./limits";
import { checkSpace } from "./space";
import { checkSpaceValues, checkTrials, spaceSize, trialBaseOf } from "./trials";
import type { AshaSettings, SweepConfig, SweepDimension, SweepPlanInput } from "./types";

/*
 * The `sweep` key's checker (issue 12): the sweep's own settings, its search space, every trial's
 * config through the normal experiment checker, and the budget against the cheapest trial. Every
 * problem at once, each named `sweep.<field>` (`sweep.space.imgsz[1]`, `sweep.asha.minEpochs`).
 */

/** The fields of `sweep`, in the order docs list them. */
export const SWEEP_KEYS = ["method", "trials", "seed", "space", "metric", "direction", "maxParallel", "asha", "budgetUsd"] as const;
const ASHA_KEYS = ["minEpochs", "reductionFactor", "maxEpochs"] as const;
const DIRECTIONS: readonly Direction[] = ["maximize", "minimize"];

/** What {@link checkSweepConfig} found: the plan when there is no problem, else the problems. */
export interface SweepCheck {
  readonly plan?: SweepPlanInput;
  readonly problems: readonly Problem[];
}

/**
 * Checks the `sweep` key over a checked base experiment config and expands it into its trials:
 * what `plan` shows and `estimateSweep` (yolo-train/catalog) prices. Pure: no Pulumi, no I/O.
 *
 * @param raw the `sweep` key's value: a {@link SweepConfigInput} in code, or the stack config's object
 *   (numbers and booleans may be text, as Pulumi stores them)
 * @param base the experiment every trial starts from (parseExperimentConfig's result for the stack)
 * @param context the stack, as the base was checked in (messages name it; `secretKeys` keep values out of them)
 * @throws InvalidInputError naming `Stack config <project>/<stack>` with every problem at once
 */
export function parseSweepConfig(raw: unknown, base: ExperimentConfig, context: StackContext): SweepPlanInput {
  const { plan, problems } = checkSweepConfig(raw, base, context);
  if (plan === undefined) throw new InvalidInputError(configSubject(context), problems);
  return plan;
}

/** Like {@link parseSweepConfig}, but returns the problems instead of throwing, for a caller that adds its own. */
export function checkSweepConfig(raw: unknown, base: ExperimentConfig, context: StackContext): SweepCheck {
  const problems = new ConfigProblems(context.secretKeys);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    problems.add({
      key: "sweep",
      value: raw,
      allowed: "an object { method, space, trials?, seed?, metric?, direction?, maxParallel?, asha?, budgetUsd? } (docs/sweeps.md)",
      fix: `pulumi config set yolo-train:sweep '{"method": "grid", "space": {"imgsz": [416, 640]}}'`,
    });
    return { problems: problems.all };
  }
  const sweep = raw as Record<string, unknown>;
  checkUnknownFields(sweep, problems);

  const method = checkMethod(sweep.method, problems);
  const randomCount = checkTrialCount(sweep, method, problems);
  const seed = checkSeed(sweep, method, problems);
  const space = checkSpace(sweep.space, method, problems);
  const metric = checkMetric(sweep.metric, problems);
  const direction = checkDirection(sweep.direction, problems);
  const maxParallel = checkMaxParallel(sweep.maxParallel, problems);

  // The space's values, one by one, through the normal checker; then its size.
  const trialBase = trialBaseOf(base, context);
  const checked = checkSpaceValues(space.dimensions, trialBase, problems);
  const trialCount = space.complete && method !== undefined ? checkSpaceSize(checked.dimensions, method, randomCount, problems) : undefined;
  const asha = checkAsha(sweep.asha, base, checked.dimensions, problems);
  const budgetUsd = checkBudgetValue(sweep.budgetUsd, problems);

  if (!space.complete || method === undefined || trialCount === undefined) return { problems: problems.all };
  const settings = {
    method,
    trialCount,
    ...(method === "random" ? { seed: seed ?? SWEEP_DEFAULTS.seed } : {}),
    space: checked.dimensions,
  };
  const trials = checkTrials(settings, trialBase, problems, checked.refused);
  if (budgetUsd !== undefined && trials.length > 0) checkBudgetCoversOneTrial(budgetUsd, trials, problems);

  if (problems.any || metric === undefined || direction === undefined || maxParallel === undefined || asha === undefined) {
    return { problems: problems.all };
  }
  const config: SweepConfig = {
    ...settings,
    metric,
    direction,
    maxParallel,
    ...(asha !== "off" ? { asha } : {}),
    ...(budgetUsd !== undefined ? { budgetUsd } : {}),
  };
  return { plan: deepFreeze({ ...config, base, trials }), problems: [] };
}

function checkUnknownFields(sweep: Record<string, unknown>, problems: ConfigProblems): void {
  for (const field of Object.keys(sweep)) {
    if ((SWEEP_KEYS as readonly string[]).includes(field) || sweep[field] === undefined) continue;
    const guess = closestMatch(field, SWEEP_KEYS);
    problems.add({
      key: `sweep.${field}`,
      value: sweep[field],
      allowed: `a field of \`sweep\`: ${listWithOr(SWEEP_KEYS)}`,
      fix: guess ? `did you mean \`${guess}\`?` : `remove it: pulumi config rm --path 'yolo-train:sweep.${field}'`,
    });
  }
}

function checkMethod(given: unknown, problems: ConfigProblems): SweepMethod | undefined {
  if ((SWEEP_METHODS as readonly unknown[]).includes(given)) return given as SweepMethod;
  const guess = typeof given === "string" ? closestMatch(given, SWEEP_METHODS) : undefined;
  problems.add({
    key: "sweep.method",
    value: given,
    allowed: "grid (every combination of the space's lists) or random (`trials` draws with `seed`)",
    fix: guess ? `did you mean \`${guess}\`?` : "pulumi config set --path 'yolo-train:sweep.method' random",
  });
  return undefined;
}

/** A whole number in [min, max] (number-like text read as a number); undefined when it is not. */
function wholeNumber(given: unknown, min: number, max: number): number | undefined {
  const n = coerceNumber(given);
  return typeof n === "number" && Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}

/** `trials`: random only, a whole number from 1 to 256. */
function checkTrialCount(sweep: Record<string, unknown>, method: SweepMethod | undefined, problems: ConfigProblems): number | undefined {
  const given = sweep.trials;
  if (method === "grid") {
    if (given !== undefined) {
      problems.add({
        key: "sweep.trials",
        value: coerceNumber(given),
        allowed: "not set with method grid: a grid's trials are every combination of the space's lists",
        fix: "remove it (pulumi config rm --path 'yolo-train:sweep.trials'), or use method random to draw that many",
      });
    }
    return undefined;
  }
  if (method !== "random") return undefined;
  const count = wholeNumber(given, 1, SWEEP_LIMITS.maxTrials);
  if (count === undefined) {
    problems.add({
      key: "sweep.trials",
      value: coerceNumber(given),
      allowed: `for method random, how many trials to draw: a whole number from 1 to ${SWEEP_LIMITS.maxTrials}`,
      fix: "e.g. pulumi config set --path 'yolo-train:sweep.trials' 12",
    });
  }
  return count;
}

/** `seed`: random only, a whole number from 0 to 2^32 − 1; default 0. */
function checkSeed(sweep: Record<string, unknown>, method: SweepMethod | undefined, problems: ConfigProblems): number | undefined {
  const given = sweep.seed;
  if (given === undefined) return undefined;
  if (method === "grid") {
    problems.add({
      key: "sweep.seed",
      value: coerceNumber(given),
      allowed: "not set with method grid: a grid draws nothing at random",
      fix: "remove it, or use method random",
    });
    return undefined;
  }
  const seed = wholeNumber(given, 0, SWEEP_LIMITS.maxSeed);
  if (seed === undefined) {
    problems.add({
      key: "sweep.seed",
      value: coerceNumber(given),
      allowed: `a whole number from 0 to ${SWEEP_LIMITS.maxSeed}: the same seed draws the same trials on every machine`,
      fix: "e.g. 7",
    });
  }
  return seed;
}

/** A grid of at most 256 trials; a random draw of no more trials than the space holds. The trial count, or undefined. */
function checkSpaceSize(
  dimensions: readonly SweepDimension[],
  method: SweepMethod,
  randomCount: number | undefined,
  problems: ConfigProblems,
): number | undefined {
  const size = spaceSize(dimensions);
  const sizes = dimensions.map((d) => (d.kind === "values" ? d.values.length : d.step !== undefined ? Math.floor((d.max - d.min) / d.step + 1e-9) + 1 : "∞"));
  const product = `${sizes.join(" × ")} = ${size}`;
  if (method === "grid") {
    if (size <= SWEEP_LIMITS.maxTrials) return size;
    problems.add({
      key: "sweep.space",
      value: Object.fromEntries(dimensions.map((d, i) => [d.key, sizes[i]])),
      allowed: `a grid of at most ${SWEEP_LIMITS.maxTrials} trials; this one has ${size} (${product})`,
      fix: "list fewer values, or use method random with a number of trials",
    });
    return undefined;
  }
  if (randomCount === undefined) return undefined;
  if (randomCount <= size) return randomCount;
  problems.add({
    key: "sweep.trials",
    value: randomCount,
    allowed: `at most ${size}: the space holds only ${size} distinct trials (${product}), and two equal trials would be the same run`,
    fix: `e.g. ${size}, or add values to the space`,
  });
  return undefined;
}

function checkMetric(given: unknown, problems: ConfigProblems): SweepMetric | undefined {
  return checkChoice("sweep.metric", given, DETECTION_METRICS, SWEEP_DEFAULTS.metric, `a detection metric ultralytics reports per epoch: ${listWithOr(DETECTION_METRICS)}`, problems);
}

function checkDirection(given: unknown, problems: ConfigProblems): Direction | undefined {
  return checkChoice("sweep.direction", given, DIRECTIONS, SWEEP_DEFAULTS.direction, "maximize (a larger metric is better, as mAP) or minimize", problems);
}

/** One of `choices`, `fallback` when left out; else a problem suggesting the closest choice. */
function checkChoice<T extends string>(key: string, given: unknown, choices: readonly T[], fallback: T, allowed: string, problems: ConfigProblems): T | undefined {
  if (given === undefined) return fallback;
  if ((choices as readonly unknown[]).includes(given)) return given as T;
  const guess = typeof given === "string" ? closestMatch(given, choices) : undefined;
  problems.add({ key, value: given, allowed, fix: guess ? `did you mean \`${guess}\`?` : `e.g. ${fallback}, or remove it for that default` });
  return undefined;
}

function checkMaxParallel(given: unknown, problems: ConfigProblems): number | undefined {
  if (given === undefined) return SWEEP_DEFAULTS.maxParallel;
  const { min, max } = SWEEP_LIMITS.maxParallel;
  const n = wholeNumber(given, min, max);
  if (n !== undefined) return n;
  problems.add({
    key: "sweep.maxParallel",
    value: coerceNumber(given),
    allowed: `how many trials (nodes) run at once: a whole number from ${min} to ${max}`,
    fix: `e.g. ${SWEEP_DEFAULTS.maxParallel}; each node counts against the account's GPU vCPU quota`,
  });
  return undefined;
}

/**
 * `asha`: off (left out, `off` or false), or `{ minEpochs, reductionFactor?, maxEpochs? }` with whole
 * numbers 1 ≤ minEpochs < maxEpochs and reductionFactor ≥ 2. maxEpochs defaults to the base's epochs,
 * or the largest `epochs` of the space when it sweeps them. "off", the settings, or undefined when wrong.
 */
function checkAsha(
  given: unknown,
  base: ExperimentConfig,
  dimensions: readonly SweepDimension[],
  problems: ConfigProblems,
): AshaSettings | "off" | undefined {
  if (given === undefined || given === false || given === "off" || given === "false") return "off";
  if (given === null || typeof given !== "object" || Array.isArray(given)) {
    problems.add({
      key: "sweep.asha",
      value: given,
      allowed: "off, or an object { minEpochs, reductionFactor?, maxEpochs? } to stop the trials outside the best 1/reductionFactor at each rung",
      fix: `e.g. {"minEpochs": 5, "reductionFactor": 3}`,
    });
    return undefined;
  }
  const asha = given as Record<string, unknown>;
  let ok = true;
  for (const field of Object.keys(asha)) {
    if ((ASHA_KEYS as readonly string[]).includes(field) || asha[field] === undefined) continue;
    ok = false;
    const guess = closestMatch(field, ASHA_KEYS);
    problems.add({ key: `sweep.asha.${field}`, value: asha[field], allowed: `a field of \`sweep.asha\`: ${listWithOr(ASHA_KEYS)}`, fix: guess ? `did you mean \`${guess}\`?` : "remove it" });
  }
  const minEpochs = wholeNumber(asha.minEpochs, 1, EPOCHS.max);
  if (minEpochs === undefined) {
    ok = false;
    problems.add({
      key: "sweep.asha.minEpochs",
      value: coerceNumber(asha.minEpochs),
      allowed: "the first rung: a whole number of epochs of at least 1 that every trial trains before it can be stopped",
      fix: "e.g. 5",
    });
  }
  const reductionFactor = asha.reductionFactor === undefined ? SWEEP_DEFAULTS.reductionFactor : wholeNumber(asha.reductionFactor, 2, 1_000);
  if (reductionFactor === undefined) {
    ok = false;
    problems.add({
      key: "sweep.asha.reductionFactor",
      value: coerceNumber(asha.reductionFactor),
      allowed: "η, a whole number of at least 2: at each rung the best 1/η of the trials go on (at 1 none would ever stop)",
      fix: `e.g. ${SWEEP_DEFAULTS.reductionFactor}, or remove it for that default`,
    });
  }
  const defaultMax = largestEpochs(base, dimensions);
  const maxEpochs = asha.maxEpochs === undefined ? defaultMax : wholeNumber(asha.maxEpochs, EPOCHS.min, EPOCHS.max);
  if (maxEpochs === undefined) {
    ok = false;
    problems.add({
      key: "sweep.asha.maxEpochs",
      value: coerceNumber(asha.maxEpochs),
      allowed: `the end of the schedule: a whole number of epochs from ${EPOCHS.min} to ${EPOCHS.max}`,
      fix: `e.g. ${defaultMax}, or remove it for the trials' epochs`,
    });
  }
  if (minEpochs !== undefined && maxEpochs !== undefined && minEpochs >= maxEpochs) {
    ok = false;
    problems.add({
      key: "sweep.asha.minEpochs",
      value: minEpochs,
      allowed: `below maxEpochs (${maxEpochs}${asha.maxEpochs === undefined ? ", the trials' epochs" : ""}): rungs lie between them, and at ${minEpochs} there would be none`,
      fix: `e.g. ${Math.max(1, Math.floor(maxEpochs / 9))}, or turn ASHA off (asha: off)`,
    });
  }
  if (!ok || minEpochs === undefined || reductionFactor === undefined || maxEpochs === undefined) return undefined;
  return { minEpochs, reductionFactor, maxEpochs, rungs: rungEpochs(minEpochs, reductionFactor, maxEpochs) };
}

/** The base's epochs, or the largest epochs the space sweeps. */
function largestEpochs(base: ExperimentConfig, dimensions: readonly SweepDimension[]): number {
  const epochs = dimensions.find((d) => d.key === "epochs");
  if (epochs === undefined) return base.epochs;
  const values = epochs.kind === "values" ? epochs.values.filter((v): v is number => typeof v === "number") : [epochs.max];
  return values.length > 0 ? Math.max(...values) : base.epochs;
}

function checkBudgetValue(given: unknown, problems: ConfigProblems): number | undefined {
  if (given === undefined) return undefined;
  const n = coerceNumber(given);
  if (typeof n === "number" && Number.isFinite(n) && n > 0) return n;
  problems.add({
    key: "sweep.budgetUsd",
    value: n,
    allowed: "an amount in USD above 0: no trial starts once spent + committed cost would pass it",
    fix: "e.g. 150, or remove it to be bounded by every trial's max runtime only",
  });
  return undefined;
}

/** A budget below what the cheapest trial is estimated to cost to its end could never finish one trial, so never name a winner. */
function checkBudgetCoversOneTrial(budgetUsd: number, trials: SweepPlanInput["trials"], problems: ConfigProblems): void {
  const estimate = estimateSweep({ trials, maxParallel: 1 });
  let cheapest: { id: string; usd: number } | undefined;
  for (const t of estimate.trials) {
    if (t.estimatedUsd !== undefined && (cheapest === undefined || t.estimatedUsd < cheapest.usd)) cheapest = { id: t.id, usd: t.estimatedUsd };
  }
  if (cheapest === undefined || budgetUsd >= cheapest.usd) return;
  problems.add({
    key: "sweep.budgetUsd",
    value: budgetUsd,
    allowed: `at least the estimated cost of the cheapest trial run to its end ($${cheapest.usd.toFixed(2)}, trial ${cheapest.id}): a budget below it never finishes a trial, so never names a winner`,
    fix: `e.g. ${Math.ceil(cheapest.usd * Math.min(trials.length, 3))}, or shrink the trials (fewer epochs, a smaller model)`,
  });
}

/** Freezes an object and everything reachable from it (the trials' configs already are). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
