import { z } from "zod";
import type { Problem } from "../runspec/problems";
import { booleanLike, numberLike, isNumberText } from "./coercion";
import { closestMatch, listWithOr } from "./suggest";

/** The value type of one ultralytics train argument, as ultralytics' own arg checks treat it. */
export type TrainArgType =
  /** A number in [min, max]; `above` = exclusive lower bound. */
  | { readonly type: "number"; readonly int?: boolean; readonly min?: number; readonly above?: number; readonly max?: number }
  | { readonly type: "boolean" }
  /**
   * One of these strings, or (with `orBoolean`) true/false. With `anyCase`, any spelling of a
   * value in upper or lower case is accepted and handed on as the spelling listed here.
   */
  | { readonly type: "choice"; readonly values: readonly string[]; readonly orBoolean?: boolean; readonly anyCase?: boolean }
  /** true/false, or a number in [min, max] (`multi_scale` was a flag; newer releases take a fraction). */
  | { readonly type: "boolean-or-number"; readonly min: number; readonly max: number };

/** One train argument: its value type and ultralytics' default (also the example in messages). */
export type TrainArg = TrainArgType & { readonly example: string | number | boolean };

// ultralytics CFG_FRACTION_KEYS: 0.0 ≤ x ≤ 1.0.
const fraction = (example: number): TrainArg => ({ type: "number", min: 0, max: 1, example });
const nonNegative = (example: number): TrainArg => ({ type: "number", min: 0, example });
const whole = (example: number, min?: number): TrainArg => ({ type: "number", int: true, ...(min !== undefined ? { min } : {}), example });
const flag = (example: boolean): TrainArg => ({ type: "boolean", example });

/**
 * Ultralytics train arguments that may go in `hyperparameters`, with the value checks
 * ultralytics applies (CFG_FRACTION_KEYS, CFG_INT_KEYS, CFG_FLOAT_KEYS, CFG_BOOL_KEYS in
 * `ultralytics/cfg/__init__.py`); `example` is ultralytics' default from `cfg/default.yaml`.
 * Scalars only: list forms (`freeze: [0, 1, 2]`) are not supported through stack config.
 * Listed likeliest first, so a typo's suggestion prefers the common argument.
 * @see https://docs.ultralytics.com/modes/train/#train-settings
 * @see https://docs.ultralytics.com/usage/cfg/#augmentation-settings
 */
export const TRAIN_ARGS: Readonly<Record<string, TrainArg>> = Object.freeze({
  // Optimisation.
  lr0: fraction(0.01),
  lrf: fraction(0.01),
  momentum: fraction(0.937),
  weight_decay: fraction(0.0005),
  warmup_epochs: nonNegative(3),
  warmup_momentum: fraction(0.8),
  warmup_bias_lr: fraction(0.1),
  /**
   * ultralytics 8.3.40 `build_optimizer` (engine/trainer.py) knows exactly these; it looks a name
   * up in any case ("adamw" is AdamW) except `auto`, which it compares as written ("Auto" then
   * fails at the start of training). So any case is accepted and the spelling listed here is
   * what reaches ultralytics, "auto" included.
   */
  optimizer: { type: "choice", values: ["auto", "SGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSProp"], anyCase: true, example: "AdamW" },
  cos_lr: flag(true),
  nbs: whole(64, 1),
  patience: whole(100, 0),
  close_mosaic: whole(10, 0),
  amp: flag(true),
  seed: whole(0, 0),
  deterministic: flag(true),
  /** Hours; ultralytics then ends training gracefully (validation, final weights) at that time. */
  time: { type: "number", above: 0, example: 1.5 },
  // Loss gains.
  box: nonNegative(7.5),
  cls: nonNegative(0.5),
  dfl: nonNegative(1.5),
  pose: nonNegative(12),
  kobj: nonNegative(1),
  // Augmentation.
  hsv_h: fraction(0.015),
  hsv_s: fraction(0.7),
  hsv_v: fraction(0.4),
  degrees: { type: "number", min: -180, max: 180, example: 10 },
  translate: fraction(0.1),
  scale: fraction(0.5),
  shear: { type: "number", min: -180, max: 180, example: 2 },
  perspective: fraction(0.0005),
  flipud: fraction(0.5),
  fliplr: fraction(0.5),
  bgr: fraction(0.1),
  mosaic: fraction(1),
  mixup: fraction(0.1),
  cutmix: fraction(0.1),
  copy_paste: fraction(0.1),
  copy_paste_mode: { type: "choice", values: ["flip", "mixup"], example: "flip" },
  auto_augment: { type: "choice", values: ["randaugment", "autoaugment", "augmix"], example: "randaugment" },
  erasing: fraction(0.4),
  multi_scale: { type: "boolean-or-number", min: 0, max: 1, example: 0.5 },
  // Data loading and the training loop.
  workers: whole(8, 0),
  cache: { type: "choice", values: ["ram", "disk"], orBoolean: true, example: "disk" },
  /** Share of the training set to use; ultralytics requires 0 < fraction ≤ 1. */
  fraction: { type: "number", above: 0, max: 1, example: 0.5 },
  rect: flag(false),
  single_cls: flag(true),
  freeze: whole(10, 0),
  pretrained: flag(true),
  compile: { type: "choice", values: ["default", "reduce-overhead", "max-autotune-no-cudagraphs"], orBoolean: true, example: true },
  save_period: whole(10),
  dropout: fraction(0.1),
  overlap_mask: flag(true),
  mask_ratio: whole(4, 1),
  profile: flag(false),
  verbose: flag(true),
  // Validation during training.
  val: flag(true),
  plots: flag(true),
  iou: fraction(0.7),
  conf: fraction(0.001),
  max_det: whole(300, 1),
  half: flag(false),
  save_json: flag(false),
});

/**
 * Train arguments a user may not set in `hyperparameters`: they have their own stack config
 * key, or the run agent owns them. Value: where to set it instead, or why not.
 */
export const RESERVED_TRAIN_ARGS: Readonly<Record<string, string>> = Object.freeze({
  epochs: "set the `epochs` key instead: pulumi config set yolo-train:epochs <n>",
  imgsz: "set the `imgsz` key instead: pulumi config set yolo-train:imgsz <n>",
  batch: "set the `batch` key instead: pulumi config set yolo-train:batch <n>",
  data: "set the `data` key instead: pulumi config set yolo-train:data <yaml, s3 URI or dataset name>",
  model: "set the `model` key instead: pulumi config set yolo-train:model <weights>",
  device: "remove it: the run agent passes every GPU of the node (`gpusPerNode`) as the device list",
  project: "remove it: the run agent chooses the output folder it uploads from",
  name: "remove it: the run agent chooses the output folder it uploads from",
  exist_ok: "remove it: the run agent chooses the output folder it uploads from",
  resume: "remove it: the run agent resumes from the last checkpoint in S3 by itself",
  save: "remove it: the run agent needs checkpoints saved to survive spot interruptions",
  task: "remove it: yolo-train trains detection models (task=detect)",
  mode: "remove it: the run agent runs mode=train",
  cfg: "remove it: put each argument in `hyperparameters` instead of a cfg file",
});

/** Every name known to ultralytics' train mode, for suggestions (allowed and reserved). */
const ALL_NAMES = [...Object.keys(TRAIN_ARGS), ...Object.keys(RESERVED_TRAIN_ARGS)];

function describeType(t: TrainArgType): string {
  switch (t.type) {
    case "boolean":
      return "true or false";
    case "choice":
      return `${t.orBoolean ? "true, false, " : ""}${listWithOr(t.values.map((v) => JSON.stringify(v)))}`;
    case "boolean-or-number":
      return `true, false or a number from ${t.min} to ${t.max}`;
    case "number": {
      const kind = t.int ? "a whole number" : "a number";
      const low = t.above !== undefined ? `above ${t.above}` : t.min !== undefined ? `from ${t.min}` : undefined;
      if (low !== undefined && t.max !== undefined) return `${kind} ${low} ${t.above !== undefined ? "up to" : "to"} ${t.max}`;
      if (t.above !== undefined) return `${kind} above ${t.above}`;
      if (t.min !== undefined) return `${kind} ≥ ${t.min}`;
      return kind;
    }
  }
}

function schemaFor(t: TrainArgType): z.ZodType {
  switch (t.type) {
    case "boolean":
      return booleanLike(z.boolean());
    case "choice": {
      const exact = z.enum(t.values as [string, ...string[]]);
      const spelling = new Map(t.values.map((v) => [v.toLowerCase(), v]));
      const choice = t.anyCase ? z.preprocess((v) => (typeof v === "string" ? (spelling.get(v.toLowerCase()) ?? v) : v), exact) : exact;
      return t.orBoolean ? z.union([booleanLike(z.boolean()), choice]) : choice;
    }
    case "boolean-or-number":
      return z.union([booleanLike(z.boolean()), numberLike(z.number().min(t.min).max(t.max))]);
    case "number": {
      let n = t.int ? z.number().int() : z.number();
      if (t.min !== undefined) n = n.min(t.min);
      if (t.above !== undefined) n = n.gt(t.above);
      if (t.max !== undefined) n = n.max(t.max);
      return numberLike(n);
    }
  }
}

const SCHEMAS = new Map<string, z.ZodType>(Object.entries(TRAIN_ARGS).map(([name, t]) => [name, schemaFor(t)]));

/**
 * Checks the `hyperparameters` object: known ultralytics train arguments only, none that has
 * its own key or that the run agent owns, each value of the right type (number-like strings
 * and "true"/"false" are coerced). Returns the coerced object, and the problems found.
 */
export function checkHyperparameters(raw: unknown): {
  readonly value?: Readonly<Record<string, string | number | boolean>>;
  readonly problems: readonly Problem[];
} {
  if (raw === undefined) return { value: {}, problems: [] };
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return {
      problems: [
        {
          key: "hyperparameters",
          value: raw,
          allowed: "an object of ultralytics train arguments, e.g. {\"lr0\": 0.01, \"optimizer\": \"AdamW\"}",
          fix: `pulumi config set --path 'yolo-train:hyperparameters.lr0' 0.01`,
        },
      ],
    };
  }
  const problems: Problem[] = [];
  const value: Record<string, string | number | boolean> = {};
  for (const [name, given] of Object.entries(raw as Record<string, unknown>)) {
    const key = `hyperparameters.${name}`;
    // Own properties only: a name like "constructor" or "__proto__" must not find Object.prototype's.
    const reserved = Object.hasOwn(RESERVED_TRAIN_ARGS, name) ? RESERVED_TRAIN_ARGS[name] : undefined;
    if (reserved !== undefined) {
      problems.push({ key, value: given, allowed: "a train argument that has no key of its own and that the run agent does not set", fix: reserved });
      continue;
    }
    const type = Object.hasOwn(TRAIN_ARGS, name) ? TRAIN_ARGS[name] : undefined;
    const schema = SCHEMAS.get(name);
    if (type === undefined || schema === undefined) {
      const guess = closestMatch(name, ALL_NAMES);
      problems.push({
        key,
        value: given,
        allowed: "a known ultralytics train argument (see docs/config.md#hyperparameters)",
        fix: guess ? `did you mean \`${guess}\`?` : "remove it, or check the name at https://docs.ultralytics.com/modes/train/#train-settings",
      });
      continue;
    }
    const parsed = schema.safeParse(given);
    if (!parsed.success) {
      problems.push({
        key,
        value: typeof given === "string" && isNumberText(given) ? Number(given) : given,
        allowed: describeType(type),
        fix: exampleFor(name, type),
      });
      continue;
    }
    value[name] = parsed.data as string | number | boolean;
  }
  problems.push(...autoOptimizerProblems(raw as Record<string, unknown>, value));
  return problems.length > 0 ? { problems } : { value, problems };
}

/**
 * What ultralytics' `optimizer: auto` (its default) does to each train argument it overrides,
 * read from `build_optimizer` in ultralytics/engine/trainer.py (8.3.40): it logs "'optimizer=auto'
 * found, ignoring 'lr0=…' and 'momentum=…'", builds SGD(lr 0.01, momentum 0.9) when the run has
 * more than 10,000 iterations (ceil(images / max(batch, nbs)) × epochs), else AdamW(lr
 * round(0.002 × 5 / (4 + classes), 6), beta1 0.9), and sets `warmup_bias_lr` to 0. (During warmup
 * an SGD momentum still ramps towards the given `momentum`; AdamW has no momentum to ramp, so
 * which one applies depends on the data set: not something a user should have to work out.)
 * Every other argument (lrf, weight_decay, warmup_epochs, warmup_momentum, cos_lr, …) still applies.
 */
export const AUTO_OPTIMIZER_OVERRIDES: Readonly<Record<string, string>> = Object.freeze({
  lr0: "ignores lr0 and picks its own optimizer and learning rate",
  momentum: "ignores momentum and picks its own optimizer and momentum",
  warmup_bias_lr: "sets warmup_bias_lr to 0 and picks its own optimizer and learning rate",
});

/** The optimizers a user can name instead of `auto`, likeliest first. */
const NAMED_OPTIMIZERS = ["SGD", "AdamW", "Adam", "Adamax", "NAdam", "RAdam", "RMSProp"] as const;

/**
 * An argument that `optimizer: auto` overrides, set while `optimizer` is left out or `auto`:
 * one problem per such argument. An error, not a warning: the run would train, for hours of
 * GPU time, with a learning rate the user did not choose and nothing would say so but one log
 * line on the node; the fix is one more key. (Config validation also has no warning channel:
 * `plan`, `launch --set` and `pulumi up` all report problems only.) Arguments that failed their
 * own check, or an `optimizer` that did, are left to that problem.
 */
function autoOptimizerProblems(raw: Record<string, unknown>, valid: Record<string, string | number | boolean>): Problem[] {
  const optimizerGiven = Object.hasOwn(raw, "optimizer");
  if (optimizerGiven && valid.optimizer !== "auto") return [];
  const because = optimizerGiven
    ? "`hyperparameters.optimizer` is auto"
    : "`hyperparameters.optimizer` is not set, so ultralytics uses its default `optimizer: auto`";
  const picks =
    "SGD with lr0 0.01 and momentum 0.9 for a run of over 10,000 iterations, else AdamW with lr0 0.002×5/(4+classes) and momentum 0.9";
  const setOptimizer = `set \`hyperparameters.optimizer\` to SGD or AdamW (or ${listWithOr(NAMED_OPTIMIZERS.slice(2))}): pulumi config set --path 'yolo-train:hyperparameters.optimizer' SGD`;
  return Object.keys(AUTO_OPTIMIZER_OVERRIDES)
    .filter((name) => Object.hasOwn(valid, name))
    .map((name) => ({
      key: `hyperparameters.${name}`,
      value: valid[name],
      allowed: `set together with a named optimizer: ${because}, which ${AUTO_OPTIMIZER_OVERRIDES[name]}: ${picks}`,
      fix: `${setOptimizer}; or remove ${name}: pulumi config rm --path 'yolo-train:hyperparameters.${name}'`,
    }));
}

function exampleFor(name: string, arg: TrainArg): string {
  return `e.g. "${name}": ${JSON.stringify(arg.example)}`;
}
