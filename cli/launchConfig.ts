import { CONFIG_KEYS, CONFIG_NAMESPACE } from "../config/keys";
import { checkExperimentConfig } from "../config/parseExperimentConfig";
import type { Problem } from "../config/problems";

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
 * Problems of the merged config (stack file values overridden by `--set`), as `pulumi up` would
 * find them; empty when it is valid. Secret values are placeholders offline, as in `plan`.
 */
export function checkMergedConfig(
  merged: Readonly<Record<string, string>>,
  context: { readonly project: string; readonly stack: string; readonly secretKeys: readonly string[] },
): readonly Problem[] {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, unknown> = {};
  for (const [fullKey, text] of Object.entries(merged)) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    raw[key] = STRUCTURED.has(key) ? parseJsonOrText(text) : text;
  }
  const problems: Problem[] = [];
  const region = merged["aws:region"];
  if (region === undefined || region === "") {
    problems.push({ key: "aws:region", value: undefined, allowed: "the AWS region to train in, e.g. us-east-1", fix: "--set aws:region=us-east-1" });
  }
  const secretKeys = context.secretKeys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  const check = checkExperimentConfig(raw, { project: context.project, stack: context.stack, secretKeys, ...(region ? { region } : {}) });
  problems.push(...check.problems);
  return problems;
}

function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
