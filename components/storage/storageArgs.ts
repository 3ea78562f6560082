/**
 * Validation of the storage components' arguments and the defaults they derive. Pure: each
 * function returns every problem it finds (never throws), so a component reports them all at once.
 */
import { KMS_ALIAS_NAME_PATTERN } from "../../runspec/awsPatterns";
import type { Problem } from "../../runspec/problems";
import { KEY_PREFIX_RULE, keyPrefixProblem } from "../../runspec/bucketLayout";
import { NAME_RULES, physicalName } from "../naming/physicalNames";

/** Problems with a whole number of days that must lie in [min, max]; `example` is the fix offered. */
export function daysProblems(key: string, value: number | undefined, min: number, max: number, example = Math.min(Math.max(30, min), max)): Problem[] {
  if (value === undefined || (Number.isInteger(value) && value >= min && value <= max)) return [];
  return [{ key, value, allowed: `a whole number of days from ${min} to ${max}`, fix: `e.g. ${example}` }];
}

/** Problems with a non-empty key prefix argument (the one key-prefix rule, {@link keyPrefixProblem}). */
export function prefixProblems(key: string, value: string | undefined): Problem[] {
  if (value === undefined) return [];
  const problem = keyPrefixProblem(value, { allowEmpty: false });
  return problem ? [{ key, value, allowed: `${KEY_PREFIX_RULE} (this one ${problem})`, fix: 'e.g. "models/"' }] : [];
}

/** KMS alias names: `alias/` then letters, digits, `/ _ -`; `alias/aws/` is reserved for AWS. */
export function kmsAliasProblems(key: string, value: string | undefined): Problem[] {
  if (value === undefined) return [];
  if (KMS_ALIAS_NAME_PATTERN.test(value) && !value.startsWith("alias/aws/")) return [];
  return [
    {
      key,
      value,
      allowed: 'a KMS alias name: "alias/" then letters, digits, / _ - (not under alias/aws/), at most 256 characters',
      fix: 'e.g. "alias/yolo-train/dev/ota-signing"',
    },
  ];
}

/**
 * The default alias of an OTA bucket's key: `alias/yolo-train/<project>/<stack>/<name>` for the
 * signing key, with `/<role>` after it for the root and timestamp keys, so two stacks in one
 * account and region never collide (an alias is unique per account and region). A project, stack
 * or name with characters KMS refuses in alias names (`.`), or too long for 256 characters, gives
 * a cleaned, shortened alias with a hash of the full one (see `physicalName`).
 */
export function defaultSigningKeyAlias(project: string, stack: string, name: string, role?: "root" | "timestamp"): string {
  return physicalName(NAME_RULES.kmsAlias, `alias/yolo-train/${project}/${stack}/${name}${role ? `/${role}` : ""}`);
}
