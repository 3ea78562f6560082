import { CONFIG_KEYS, CONFIG_NAMESPACE } from "../config/keys";
import { checkExperimentConfig } from "../config/parseExperimentConfig";
import type { Problem } from "../runspec/problems";
import type { ExperimentConfig } from "../config/types";

/**
 * `yolo-train launch --set key=value`: the values parsed, merged over the stack file's config and
 * validated as `pulumi up` would validate them (config/loadStackConfig.ts), before anything is
 * deployed. Pure.
 */

export class SetValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SetValueError";
  }
}

/** `epochs=50` → `yolo-train:epochs`: `50`; `aws:region=eu-west-1` keeps its namespace. */
export function parseSetValues(sets: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  const bad: string[] = [];
  for (const set of sets) {
    const eq = set.indexOf("=");
    const key = eq > 0 ? set.slice(0, eq).trim() : "";
    if (key === "" || /\s/.test(key)) {
      bad.push(set);
      continue;
    }
    values[key.includes(":") ? key : `${CONFIG_NAMESPACE}:${key}`] = set.slice(eq + 1);
  }
  if (bad.length > 0) throw new SetValueError(`--set takes key=value (e.g. --set epochs=50 --set aws:region=eu-west-1); not understood: ${bad.join(", ")}`);
  return values;
}

const STRUCTURED: ReadonlySet<string> = new Set(CONFIG_KEYS.filter((k) => k.structured).map((k) => k.key));

/**
 * A `--set` key that names a field inside a structured value, as `pulumi config set --path` does:
 * `ota.bucket`, `ota.promote.min`, `progressive[1].epochs`. Undefined for a whole key.
 */
export function configPath(key: string): Array<string | number> | undefined {
  if (!/[.[]/.test(key)) return undefined;
  const segments: Array<string | number> = [];
  const pattern = /([^.[\]]+)|\[(\d+)\]/g;
  let consumed = 0;
  for (let m = pattern.exec(key); m !== null; m = pattern.exec(key)) {
    const between = key.slice(consumed, m.index);
    if (between !== "" && between !== ".") return undefined;
    segments.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
    consumed = m.index + m[0].length;
  }
  return consumed === key.length && typeof segments[0] === "string" && segments.length > 1 ? segments : undefined;
}

/** True when some `--set` key is a path, so the values must be set with `setAllConfig(…, path: true)`. */
export function setsUsePaths(sets: Readonly<Record<string, string>>): boolean {
  return Object.keys(sets).some((fullKey) => configPath(fullKey.slice(fullKey.indexOf(":") + 1)) !== undefined);
}

/** What Pulumi stores for a value set by path: `true`/`false` as booleans, integers as numbers, the rest as text. */
function pathValue(text: string): unknown {
  if (text === "true" || text === "false") return text === "true";
  return /^-?\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : text;
}

/** Writes `value` at `path` inside `root` (objects and arrays made as needed), as Pulumi's path config does. */
function setAtPath(root: unknown, path: ReadonlyArray<string | number>, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...Array<string | number>];
  if (typeof head === "number") {
    const array = Array.isArray(root) ? [...(root as unknown[])] : [];
    array[head] = setAtPath(array[head], rest, value);
    return array;
  }
  const object = typeof root === "object" && root !== null && !Array.isArray(root) ? { ...(root as Record<string, unknown>) } : {};
  object[head] = setAtPath(object[head], rest, value);
  return object;
}

/**
 * Problems of the merged config (stack file values overridden by `--set`), as `pulumi up` would
 * find them; empty when it is valid. Secret values are placeholders offline, as in `plan`.
 */
export function checkMergedConfig(
  merged: Readonly<Record<string, string>>,
  context: { readonly project: string; readonly stack: string; readonly secretKeys: readonly string[] },
): readonly Problem[] {
  return experimentConfigOf(merged, context).problems;
}

/**
 * The validated config of stack config values (`namespace:key` → text, as a stack file or
 * `pulumi config` holds them), or its problems: what the stack program would read. Pure.
 */
export function experimentConfigOf(
  merged: Readonly<Record<string, string>>,
  context: { readonly project: string; readonly stack: string; readonly secretKeys: readonly string[] },
): { readonly config?: ExperimentConfig; readonly problems: readonly Problem[] } {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, unknown> = {};
  const paths: Array<[Array<string | number>, string]> = [];
  for (const [fullKey, text] of Object.entries(merged)) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    const path = configPath(key);
    if (path !== undefined) paths.push([path, text]);
    else raw[key] = STRUCTURED.has(key) ? parseJsonOrText(text) : text;
  }
  // Fields set by path go into the whole value, as Pulumi merges them into the stack's config.
  for (const [[root, ...rest], text] of paths) raw[root as string] = setAtPath(raw[root as string], rest, pathValue(text));
  const problems: Problem[] = [];
  const region = merged["aws:region"];
  if (region === undefined || region === "") {
    problems.push({ key: "aws:region", value: undefined, allowed: "the AWS region to train in, e.g. us-east-1", fix: "--set aws:region=us-east-1" });
  }
  const secretKeys = context.secretKeys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  const check = checkExperimentConfig(raw, { project: context.project, stack: context.stack, secretKeys, ...(region ? { region } : {}) });
  problems.push(...check.problems);
  return problems.length === 0 && check.config !== undefined ? { config: check.config, problems } : { problems };
}

function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
