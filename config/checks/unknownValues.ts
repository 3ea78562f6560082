import type { Problem } from "../../runspec/problems";
import type { RawStackConfig } from "../types";

/**
 * Pulumi Outputs and Promises in a config given in code. The training spec (and the run id derived
 * from it) must be known at preview, so most keys must be plain values; a few that naturally come
 * from another resource or stack (`image`, `alertEmail`, `network.vpcId`, `network.subnetIds`,
 * `ota.bucket`, `ota.signingKeyArn`) may be Outputs, which {@link parseExperimentInput} carries on
 * unchecked in `deferred`.
 *
 * No import of @pulumi/pulumi here: the CLI validates configs where Pulumi is not loaded (`yolo-train
 * launch`, and `yolo-train edge` on a small box must not load it).
 */

/**
 * Whether a value is a Pulumi Output: the same test as `pulumi.Output.isInstance` (a `true`
 * `__pulumiOutput` member, which works across copies of @pulumi/pulumi), without loading Pulumi.
 */
export function isPulumiOutput(value: unknown): boolean {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  return (value as { __pulumiOutput?: unknown }).__pulumiOutput === true;
}

/** Whether a value is a Promise or another thenable. */
export function isPromiseLike(value: unknown): boolean {
  if (value instanceof Promise) return true;
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  return typeof (value as { then?: unknown }).then === "function";
}

/** A Pulumi Output or a Promise: a value not known when the config is checked. */
export function isUnknownInput(value: unknown): boolean {
  return isPulumiOutput(value) || isPromiseLike(value);
}

/** How messages name such a value: "a pulumi Output", "a Promise". */
function unknownKind(value: unknown): string {
  return isPulumiOutput(value) ? "a pulumi Output" : "a Promise";
}

/**
 * A value shown as words: `formatProblem` writes "`epochs` is a pulumi Output; …" (JSON of it is
 * nothing, so the message falls back to the words, unquoted; an Output's own toJSON would warn).
 */
class DescribedValue {
  constructor(private readonly text: string) {}
  toJSON(): undefined {
    return undefined;
  }
  toString(): string {
    return this.text;
  }
}

/** An Output or Promise as a problem's `value`. */
export function describedValue(value: unknown): unknown {
  return new DescribedValue(unknownKind(value));
}

/** Whether an Output or Promise is anywhere in a value (plain objects and lists are walked). */
export function containsUnknown(value: unknown): boolean {
  return unknownPaths(value).length > 0;
}

/** The paths of every Output or Promise inside a value (`[]` for the value itself). */
export function unknownPaths(value: unknown, path: readonly PropertyKey[] = [], seen = new Set<object>()): PropertyKey[][] {
  if (isUnknownInput(value)) return [[...path]];
  if (value === null || typeof value !== "object" || seen.has(value)) return [];
  seen.add(value);
  const entries: [PropertyKey, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : Object.keys(value).map((k) => [k, (value as Record<string, unknown>)[k]]);
  return entries.flatMap(([k, v]) => unknownPaths(v, [...path, k], seen));
}

/** A value with every Output or Promise inside it replaced by words, for messages; unchanged when there is none. */
export function shownUnknowns(value: unknown): unknown {
  if (isUnknownInput(value)) return describedValue(value);
  if (!containsUnknown(value)) return value;
  const words = (v: unknown): unknown => {
    if (isUnknownInput(v)) return `<${unknownKind(v)}>`;
    if (v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map(words);
    return Object.fromEntries(Object.keys(v).map((k) => [k, words((v as Record<string, unknown>)[k])]));
  };
  return words(value);
}

/** Keys whose whole value may be an Output or a Promise. */
export const DEFERRABLE_KEYS: readonly string[] = Object.freeze(["image", "alertEmail"]);
/** Fields of object keys that may be Outputs or Promises (`network.subnetIds` also a list of them). */
export const DEFERRABLE_FIELDS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  network: Object.freeze(["vpcId", "subnetIds"]),
  ota: Object.freeze(["bucket", "signingKeyArn"]),
});

/** Every path that may be an Output: `image`, `alertEmail`, `network.vpcId`, … */
export const DEFERRABLE_PATHS: readonly string[] = Object.freeze([
  ...DEFERRABLE_KEYS,
  ...Object.entries(DEFERRABLE_FIELDS).flatMap(([key, fields]) => fields.map((f) => `${key}.${f}`)),
]);

/** The kind of plain value a path takes, for the fix: "pass a plain number". */
const KINDS: Readonly<Record<string, string>> = {
  stage: "string",
  gpu: "string",
  gpusPerNode: "number",
  instanceTypes: "list of instance type names",
  "instanceTypes[]": "string",
  capacity: "string",
  maxSpotPrice: "number",
  model: "string",
  data: "string",
  datasetImages: "number",
  epochs: "number",
  imgsz: "number",
  batch: "number",
  hyperparameters: "object",
  datasetMount: "string",
  maxRuntimeHours: "number",
  idleMinutes: "number",
  idleGpuPercent: "number",
  restartIfCheckpointLost: "boolean",
  budgetUsd: "number",
  alertEmail: "string",
  ota: "object",
  "ota.modelName": "string",
  "ota.channel": "string",
  "ota.promote": "object",
  "ota.promote.metric": "string",
  "ota.promote.min": "number",
  "ota.promote.requireImprovement": "boolean",
  "ota.modelsPrefix": "string",
  network: "object",
  "network.vpcId": "string",
  "network.subnetIds": "list of subnet ids",
  "network.subnetIds[]": "string",
  "ota.bucket": "string",
  "ota.signingKeyArn": "string",
  image: "string",
  progressive: "list of phases",
  "progressive[]": "object",
  "progressive[].imgsz": "number",
  "progressive[].epochs": "number",
  tracking: "object",
  "tracking.mlflowUri": "string",
  "tracking.wandbProject": "string",
  "tracking.wandbApiKey": "string",
};

function kindOf(key: string, path: readonly PropertyKey[]): string {
  const pattern = key + path.map((p) => (typeof p === "number" ? "[]" : `.${String(p)}`)).join("");
  if (pattern.startsWith("hyperparameters.")) return "value";
  return Object.hasOwn(KINDS, pattern) ? KINDS[pattern]! : "value";
}

function pathName(key: string, path: readonly PropertyKey[]): string {
  return key + path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
}

/** An Output or Promise where a plain value must be: the training spec must be known at preview. */
function refusal(key: string, path: readonly PropertyKey[], value: unknown, allowDeferred: boolean): Problem {
  const name = pathName(key, path);
  const kind = kindOf(key, path);
  const container = path.length === 0 ? DEFERRABLE_FIELDS[key] : undefined;
  if (container !== undefined && allowDeferred) {
    return {
      key: name,
      value: describedValue(value),
      allowed: `an object written out in code: only its fields ${container.map((f) => `${key}.${f}`).join(" and ")} may be Outputs`,
      fix:
        key === "network"
          ? "pass { vpcId: vpc.vpcId, subnetIds: vpc.privateSubnetIds }, each field an Output if need be"
          : "pass { bucket: fleet.bucketName, signingKeyArn: fleet.signingKeyArn, … }, those two fields Outputs if need be",
    };
  }
  return {
    key: name,
    value: describedValue(value),
    allowed:
      `a plain ${kind}: the training spec must be known at preview, before any resource is declared ` +
      `(only ${DEFERRABLE_PATHS.slice(0, -1).join(", ")} and ${DEFERRABLE_PATHS[DEFERRABLE_PATHS.length - 1]} may be Outputs, with parseExperimentInput)`,
    fix: `pass a plain ${kind}, from the stack config or resolved first (e.g. await stackReference.requireOutputValue(…))`,
  };
}

/** A value that may be an Output, given to a function that returns a plain ExperimentConfig. */
function deferNotHere(path: string, value: unknown): Problem {
  const [key, ...fields] = path.split(".");
  return {
    key: path,
    value: shownUnknowns(value),
    allowed: `a plain ${kindOf(key!, fields)} for parseExperimentConfig, which returns a plain ExperimentConfig`,
    fix: `call parseExperimentInput instead: it checks the plain keys now and returns ${path} in \`deferred\`, for the component to check once it is known`,
  };
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !isUnknownInput(value);
}

/** A config with its Outputs and Promises taken out. */
export interface SeparatedInput {
  /** The config without its Outputs and Promises: what the schemas check. Refused keys are left out. */
  readonly plain: Readonly<Record<string, unknown>>;
  /** Paths whose value is an Output or a Promise that may be one: `image`, `network.vpcId`, `ota.bucket`, … */
  readonly deferredPaths: ReadonlySet<string>;
}

/**
 * Takes Outputs and Promises out of a config before any schema sees it. Where a plain value must be,
 * each is a problem naming its path (`epochs`, `ota.promote.min`, `progressive[1].epochs`), and the
 * key is left out of `plain` (given, but not valid). Where one may be (`image`, `network.vpcId`, …),
 * its path is deferred, and a problem only when `allowDeferred` is false (parseExperimentConfig, whose
 * plain ExperimentConfig cannot carry it). Keys no check knows are left as they are: the unknown-key
 * rule names them.
 */
export function separateUnknownInputs(
  raw: RawStackConfig,
  knownKeys: readonly string[],
  allowDeferred: boolean,
  add: (problem: Problem) => void,
): SeparatedInput {
  const plain: Record<string, unknown> = {};
  const deferredPaths = new Set<string>();
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    if (value === undefined || !knownKeys.includes(key)) {
      plain[key] = value;
      continue;
    }
    if (DEFERRABLE_KEYS.includes(key) && isUnknownInput(value)) {
      deferredPaths.add(key);
      if (!allowDeferred) add(deferNotHere(key, value));
      continue;
    }
    let rest: unknown = value;
    const fields = Object.hasOwn(DEFERRABLE_FIELDS, key) ? DEFERRABLE_FIELDS[key]! : [];
    if (isRecord(value) && fields.some((f) => Object.hasOwn(value, f) && containsUnknown(value[f]))) {
      const copy: Record<string, unknown> = { ...value };
      for (const field of fields) {
        if (!Object.hasOwn(copy, field) || !containsUnknown(copy[field])) continue;
        deferredPaths.add(`${key}.${field}`);
        if (!allowDeferred) add(deferNotHere(`${key}.${field}`, copy[field]));
        delete copy[field];
      }
      rest = copy;
    }
    const paths = unknownPaths(rest);
    if (paths.length === 0) {
      plain[key] = rest;
      continue;
    }
    for (const path of paths) {
      let at: unknown = rest;
      for (const step of path) at = (at as Record<PropertyKey, unknown>)[step as string];
      add(refusal(key, path, at, allowDeferred));
    }
  }
  return { plain, deferredPaths };
}
