import { IMGSZ } from "../../runspec/limits";
import type { ConfigProblems } from "../checks/context";
import { coerceBoolean, coerceNumber } from "../coercion";
import { RESERVED_TRAIN_ARGS, TRAIN_ARGS } from "../hyperparameters";
import { closestMatch, listWithOr } from "../suggest";
import type { RawStackConfig } from "../types";
import type { SweepDimension, SweepMethod, SweepValue } from "./types";

/*
 * The search space of a sweep (`sweep.space`): which keys may be swept, the shape of each
 * dimension (a list of values, or a numeric range), and how a trial's values go into its config.
 * Whether each value is one the trial's config accepts is the normal checker's call (trials.ts).
 */

/** Stack config keys a sweep may vary; every other dimension is a train argument of `hyperparameters`. */
export const SPACE_KEYS = ["model", "imgsz", "batch", "epochs"] as const;

const RANGE_FIELDS = ["min", "max", "log", "step"] as const;

/** Every name a dimension may have, likeliest first (for "did you mean"). */
function knownDimensions(): string[] {
  return [...SPACE_KEYS, ...Object.keys(TRAIN_ARGS)];
}

/** The config path a dimension sets: `imgsz`, `hyperparameters.lr0`. */
export function configPathOf(key: string): string {
  return (SPACE_KEYS as readonly string[]).includes(key) ? key : `hyperparameters.${key}`;
}

/** Whether the dimension takes numbers, so may be a range. */
function isNumeric(key: string): boolean {
  if (key === "model") return false;
  if ((SPACE_KEYS as readonly string[]).includes(key)) return true;
  const arg = TRAIN_ARGS[key];
  return arg !== undefined && (arg.type === "number" || arg.type === "boolean-or-number");
}

/** Whether the dimension takes whole numbers only (a range of it draws whole numbers). */
export function isWholeNumberDimension(key: string): boolean {
  if (key === "imgsz" || key === "batch" || key === "epochs") return true;
  const arg = TRAIN_ARGS[key];
  return arg?.type === "number" && arg.int === true;
}

/** The base config's input with a trial's values: top-level keys replaced, train arguments merged into `hyperparameters`. */
export function withParams(baseInput: RawStackConfig, params: Readonly<Record<string, SweepValue>>): RawStackConfig {
  const input: Record<string, unknown> = { ...baseInput, hyperparameters: { ...(baseInput.hyperparameters as Record<string, unknown> | undefined) } };
  for (const [key, value] of Object.entries(params)) {
    if ((SPACE_KEYS as readonly string[]).includes(key)) input[key] = value;
    else (input.hyperparameters as Record<string, unknown>)[key] = value;
  }
  return input;
}

/** A dimension as written, shape-checked; list values not yet checked by the trial checker. */
export type DraftDimension =
  | { readonly key: string; readonly kind: "values"; readonly values: readonly SweepValue[] }
  | Extract<SweepDimension, { kind: "range" }>;

const EXAMPLE_SPACE = `e.g. {"imgsz": [416, 640], "lr0": {"min": 0.001, "max": 0.02, "log": true}}`;

/**
 * `sweep.space`: an object of dimensions, each a known key with a non-empty list of plain values, or
 * (random only, numeric keys only) a range `{ min, max, log?, step? }`. Returns the dimensions that
 * pass (so their values can be checked too), and whether every one did.
 */
export function checkSpace(
  raw: unknown,
  method: SweepMethod | undefined,
  problems: ConfigProblems,
): { readonly dimensions: DraftDimension[]; readonly complete: boolean } {
  if (raw === undefined || raw === null || typeof raw !== "object" || Array.isArray(raw) || Object.keys(raw).length === 0) {
    problems.add({
      key: "sweep.space",
      value: raw,
      allowed: "an object of one or more dimensions: model, imgsz, batch, epochs or a train argument, each a list of values or a range { min, max, log?, step? }",
      fix: EXAMPLE_SPACE,
    });
    return { dimensions: [], complete: false };
  }
  const dimensions: DraftDimension[] = [];
  let ok = true;
  for (const [key, given] of Object.entries(raw as Record<string, unknown>)) {
    if (!checkDimensionKey(key, given, problems)) {
      ok = false;
      continue;
    }
    const dimension = Array.isArray(given) ? checkList(key, given, problems) : checkRange(key, given, method, problems);
    if (dimension === undefined) ok = false;
    else dimensions.push(dimension);
  }
  return { dimensions, complete: ok };
}

/** A dimension's name: a sweepable key or a known, unreserved train argument. */
function checkDimensionKey(key: string, given: unknown, problems: ConfigProblems): boolean {
  const path = `sweep.space.${key}`;
  if ((SPACE_KEYS as readonly string[]).includes(key) || Object.hasOwn(TRAIN_ARGS, key)) return true;
  if (Object.hasOwn(RESERVED_TRAIN_ARGS, key)) {
    problems.add({
      key: path,
      value: given,
      allowed: `a dimension a sweep may vary: ${listWithOr(SPACE_KEYS)} or a train argument that has no key of its own and that the run agent does not set`,
      fix: `${RESERVED_TRAIN_ARGS[key]}; a sweep varies it only as one of ${listWithOr(SPACE_KEYS)}, and every trial shares the base config's other keys`,
    });
    return false;
  }
  const guess = closestMatch(key, knownDimensions());
  problems.add({
    key: path,
    value: given,
    allowed: `${listWithOr(SPACE_KEYS)} or a known ultralytics train argument (docs/config.md#hyperparameters)`,
    fix: guess ? `did you mean \`${guess}\`?` : "remove it, or check the name at https://docs.ultralytics.com/modes/train/#train-settings",
  });
  return false;
}

function checkList(key: string, values: readonly unknown[], problems: ConfigProblems): DraftDimension | undefined {
  const path = `sweep.space.${key}`;
  if (values.length === 0) {
    problems.add({
      key: path,
      value: values,
      allowed: "a non-empty list of values (an empty dimension leaves no trial to run)",
      fix: `list at least one value, e.g. ${key === "imgsz" ? "[416, 640]" : key === "model" ? '["yolov8n.pt", "yolov8s.pt"]' : "two values"}, or remove ${key} from the space`,
    });
    return undefined;
  }
  let ok = true;
  values.forEach((value, i) => {
    if (typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) return;
    ok = false;
    problems.add({
      key: `${path}[${i}]`,
      value,
      allowed: "a plain value: a text, a number or true/false",
      fix: "write each value of the list on its own, e.g. 0.01",
    });
  });
  return ok ? { key, kind: "values", values: values as SweepValue[] } : undefined;
}

function checkRange(key: string, given: unknown, method: SweepMethod | undefined, problems: ConfigProblems): DraftDimension | undefined {
  const path = `sweep.space.${key}`;
  if (given === null || typeof given !== "object") {
    problems.add({
      key: path,
      value: given,
      allowed: "a non-empty list of values, or (method random, numbers only) a range { min, max, log?, step? }",
      fix: typeof given === "string" || typeof given === "number" || typeof given === "boolean" ? `a list: [${JSON.stringify(given)}]` : EXAMPLE_SPACE,
    });
    return undefined;
  }
  if (method === "grid") {
    problems.add({
      key: path,
      value: given,
      allowed: "a list of values: a grid tries every combination of lists, and a range has no fixed values to combine",
      fix: `list the values, e.g. ${isWholeNumberDimension(key) ? "[16, 32]" : "[0.001, 0.005, 0.02]"}, or use method random`,
    });
    return undefined;
  }
  if (!isNumeric(key)) {
    problems.add({
      key: path,
      value: given,
      allowed: `a list of values: ${key} does not take numbers, so it has no range`,
      fix: key === "model" ? 'e.g. ["yolov8n.pt", "yolov8s.pt"]' : `e.g. [${JSON.stringify(TRAIN_ARGS[key]?.example ?? "…")}]`,
    });
    return undefined;
  }
  const range = given as Record<string, unknown>;
  let ok = true;
  for (const field of Object.keys(range)) {
    if ((RANGE_FIELDS as readonly string[]).includes(field)) continue;
    ok = false;
    const guess = closestMatch(field, RANGE_FIELDS);
    problems.add({ key: `${path}.${field}`, value: range[field], allowed: `a field of a range: ${listWithOr(RANGE_FIELDS)}`, fix: guess ? `did you mean \`${guess}\`?` : "remove it" });
  }
  const number = (field: "min" | "max" | "step"): number | undefined => {
    const value = coerceNumber(range[field]);
    return typeof value === "number" && Number.isFinite(value) ? value : undefined;
  };
  const min = number("min");
  const max = number("max");
  for (const [field, value] of [["min", min], ["max", max]] as const) {
    if (value !== undefined) continue;
    ok = false;
    problems.add({ key: `${path}.${field}`, value: range[field], allowed: "a number", fix: field === "min" ? "e.g. 0.001" : "e.g. 0.02" });
  }
  const log = coerceBoolean(range.log ?? false);
  if (typeof log !== "boolean") {
    ok = false;
    problems.add({ key: `${path}.log`, value: range.log, allowed: "true or false", fix: "true to draw on a log scale (learning rates), else remove it" });
  }
  if (min !== undefined && max !== undefined && min >= max) {
    ok = false;
    problems.add({
      key: path,
      value: { min, max },
      allowed: `a range whose min is below its max (min ${min}, max ${max})`,
      fix: min === max ? `a single value is a list: [${min}]` : `swap them: {"min": ${max}, "max": ${min}}`,
    });
  }
  if (log === true && min !== undefined && min <= 0) {
    ok = false;
    problems.add({ key: `${path}.min`, value: min, allowed: "above 0 in a log range (the log of 0 or less is undefined)", fix: "e.g. 0.0001, or remove log" });
  }
  const step = checkStep(key, path, range.step, number("step"), problems);
  if (step === null) ok = false;
  if (key === "batch" && min !== undefined && min < 1) {
    ok = false;
    problems.add({
      key: `${path}.min`,
      value: min,
      allowed: "at least 1: a range of batch sizes draws whole numbers (list AutoBatch's -1 or a fraction as values instead)",
      fix: "e.g. 8",
    });
  }
  if (!ok || step === null || min === undefined || max === undefined || typeof log !== "boolean") return undefined;
  return { key, kind: "range", min, max, log, ...(step !== undefined ? { step } : {}) };
}

/** `step`: above 0; whole for whole-number keys; a multiple of 32 for imgsz. Default 32 for imgsz, 1 for whole numbers. null when wrong. */
function checkStep(key: string, path: string, given: unknown, step: number | undefined, problems: ConfigProblems): number | undefined | null {
  const whole = isWholeNumberDimension(key);
  if (given === undefined) return key === "imgsz" ? IMGSZ.multipleOf : whole ? 1 : undefined;
  const valid = step !== undefined && step > 0 && (!whole || Number.isInteger(step)) && (key !== "imgsz" || step % IMGSZ.multipleOf === 0);
  if (valid) return step;
  problems.add({
    key: `${path}.step`,
    value: step ?? given,
    allowed:
      key === "imgsz"
        ? `a multiple of ${IMGSZ.multipleOf} (every imgsz drawn must be one)`
        : whole
          ? `a whole number above 0 (${key} takes whole numbers)`
          : "a number above 0",
    fix: key === "imgsz" ? "e.g. 32, or remove it" : whole ? "e.g. 1, or remove it" : "e.g. 0.001, or remove it for a continuous range",
  });
  return null;
}
