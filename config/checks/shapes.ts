import { z } from "zod";
import { coerceNumber } from "../coercion";
import { KNOWN_KEYS } from "../keys";
import { KEY_RULES, NESTED_WORDING, OBJECT_FIELDS, type KeyRule, type Wording } from "../schema";
import { closestMatch, listWithOr } from "../suggest";
import type { RawStackConfig } from "../types";
import { pathPattern, pathText, valueAt, type ConfigProblems } from "./context";

/** Keys no check knows: a typo, with the closest known key as the fix. */
export function checkUnknownKeys(raw: RawStackConfig, problems: ConfigProblems): void {
  for (const key of Object.keys(raw)) {
    if (KNOWN_KEYS.includes(key) || raw[key] === undefined) continue;
    const guess = closestMatch(key, KNOWN_KEYS);
    problems.add({
      key,
      value: problems.shown(key, [], raw[key]),
      allowed: "a known yolo-train key (docs/config.md lists them)",
      fix: guess
        ? `did you mean \`${guess}\`? pulumi config rm yolo-train:${key}, then set yolo-train:${guess}`
        : `remove it: pulumi config rm yolo-train:${key}`,
    });
  }
}

/**
 * Every key's own rule (config/schema.ts): the value of each key that passes, coerced ("100" →
 * 100), keyed by name; a problem per issue of each key that does not. `deferredPaths` are fields
 * taken out because they are Outputs (`network.vpcId`): their object's other fields are still
 * checked, and the missing field is not a problem.
 */
export function checkShapes(
  plain: Readonly<Record<string, unknown>>,
  problems: ConfigProblems,
  deferredPaths: ReadonlySet<string> = new Set(),
): Record<string, unknown> {
  const parsed: Record<string, unknown> = {};
  for (const [key, rule] of Object.entries(KEY_RULES)) {
    const value = plain[key];
    if (value === undefined) continue;
    const result = schemaWithout(rule.schema, key, deferredPaths).safeParse(value);
    if (result.success) parsed[key] = result.data;
    else for (const issue of result.error.issues) addIssue(problems, key, rule, value, issue);
  }
  return parsed;
}

/** One key's own rule on one value: the problems, none when it passes. */
export function checkKeyShape(key: string, value: unknown, problems: ConfigProblems): unknown {
  const rule = KEY_RULES[key]!;
  const result = rule.schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) addIssue(problems, key, rule, value, issue);
  return undefined;
}

/** An object key's schema with its deferred fields optional: they are checked once known. */
function schemaWithout(schema: KeyRule["schema"], key: string, deferredPaths: ReadonlySet<string>): z.ZodType {
  if (!(schema instanceof z.ZodObject)) return schema;
  const mask: Record<string, true> = {};
  for (const field of Object.keys(schema.shape)) if (deferredPaths.has(`${key}.${field}`)) mask[field] = true;
  return Object.keys(mask).length > 0 ? schema.partial(mask) : schema;
}

function addIssue(problems: ConfigProblems, key: string, rule: Wording, value: unknown, issue: z.core.$ZodIssue): void {
  if (issue.code === "unrecognized_keys") {
    const container = pathPattern(key, issue.path);
    const fields = (Object.hasOwn(OBJECT_FIELDS, container) ? OBJECT_FIELDS[container] : undefined) ?? [];
    for (const field of issue.keys) {
      const path = [...issue.path, field];
      const guess = closestMatch(field, fields);
      problems.add({
        key: pathText(key, path),
        value: problems.shown(key, path, valueAt(value, path)),
        allowed: `a field of \`${pathText(key, issue.path)}\`: ${listWithOr(fields)}`,
        fix: guess ? `did you mean \`${guess}\`?` : "remove it",
      });
    }
    return;
  }
  const wording: Wording =
    issue.path.length === 0
      ? rule
      : (ownWording(pathPattern(key, issue.path)) ?? { allowed: issue.message, fix: "see docs/config.md" });
  const given = valueAt(value, issue.path);
  const guess = wording.choices && typeof given === "string" ? closestMatch(given, wording.choices) : undefined;
  problems.add({
    key: pathText(key, issue.path),
    value: problems.shown(key, issue.path, wording.numeric ? coerceNumber(given) : given),
    allowed: wording.allowed,
    fix: guess ? `did you mean \`${guess}\`?` : typeof wording.fix === "function" ? wording.fix(given) : wording.fix,
  });
}

function ownWording(pattern: string): Wording | undefined {
  return Object.hasOwn(NESTED_WORDING, pattern) ? NESTED_WORDING[pattern] : undefined;
}
