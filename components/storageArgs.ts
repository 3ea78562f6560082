/**
 * Validation of the storage components' arguments and the defaults they derive. Pure: each
 * function returns every problem it finds (never throws), so a component reports them all at once.
 */
import type { Problem } from "../config/problems";
import { PREFIX_RULE, prefixProblem } from "./bucketLayout";

/**
 * Longest component name that still gives a valid bucket name: Pulumi auto-names a bucket
 * `<name>-<7 random characters>`, and bucket names have at most 63 characters.
 */
export const MAX_BUCKET_COMPONENT_NAME = 55;

/**
 * Problems with a component name that becomes the prefix of an auto-named S3 bucket: lowercase
 * letters, digits and hyphens (no dots: they break TLS for virtual-hosted addressing), starting
 * with a letter or digit, at most {@link MAX_BUCKET_COMPONENT_NAME} characters.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
 */
export function bucketNameProblems(key: string, name: string): Problem[] {
  const reserved = ["xn--", "sthree-", "amzn-s3-demo-"].find((p) => name.startsWith(p));
  if (/^[a-z0-9][a-z0-9-]*$/.test(name) && name.length <= MAX_BUCKET_COMPONENT_NAME && !reserved) return [];
  return [
    {
      key,
      value: name,
      allowed:
        `lowercase letters, digits and hyphens, starting with a letter or digit, at most ${MAX_BUCKET_COMPONENT_NAME} ` +
        "characters, not starting with xn--, sthree- or amzn-s3-demo- (it becomes the bucket name's prefix)",
      fix: 'e.g. "yolo-datasets"',
    },
  ];
}

/** Problems with a whole number of days that must lie in [min, max]; `example` is the fix offered. */
export function daysProblems(key: string, value: number | undefined, min: number, max: number, example = Math.min(Math.max(30, min), max)): Problem[] {
  if (value === undefined || (Number.isInteger(value) && value >= min && value <= max)) return [];
  return [{ key, value, allowed: `a whole number of days from ${min} to ${max}`, fix: `e.g. ${example}` }];
}

/** Problems with a key prefix argument (see {@link prefixProblem}). */
export function prefixProblems(key: string, value: string | undefined): Problem[] {
  if (value === undefined) return [];
  const problem = prefixProblem(value);
  return problem ? [{ key, value, allowed: `${PREFIX_RULE} (this one ${problem})`, fix: 'e.g. "models/"' }] : [];
}

/** KMS alias names: `alias/` then letters, digits, `/ _ -`; `alias/aws/` is reserved for AWS. */
export function kmsAliasProblems(key: string, value: string | undefined): Problem[] {
  if (value === undefined) return [];
  if (/^alias\/[A-Za-z0-9/_-]{1,250}$/.test(value) && !value.startsWith("alias/aws/")) return [];
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
 * The default alias of the OTA signing key: `alias/yolo-train/<project>/<stack>/<name>`, so two
 * stacks in one account and region never collide (an alias is unique per account and region).
 * Characters KMS does not allow in alias names (e.g. `.`) become `-`.
 */
export function defaultSigningKeyAlias(project: string, stack: string, name: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, "-");
  return `alias/yolo-train/${clean(project)}/${clean(stack)}/${clean(name)}`.slice(0, 256);
}
