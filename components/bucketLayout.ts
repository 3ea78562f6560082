/**
 * Where things live in the three buckets: the key prefixes shared by the components, the run
 * agent, the CLI and the node's IAM policy. Pure: no resources, no I/O.
 */

/** Datasets live under `datasets/<name>/` in the dataset bucket (`datasets/<name>/data.yaml`). */
export const DATASETS_PREFIX = "datasets/";

/** Each run's checkpoints, status record and exported model live under `runs/<runId>/` in the artifact bucket. */
export const RUNS_PREFIX = "runs/";

/** Models (files, manifests, channels) live under this prefix in the OTA bucket unless told otherwise. */
export const DEFAULT_MODELS_PREFIX = "models/";

/**
 * Characters allowed in a prefix segment: S3's "safe" characters without `*`, which IAM reads
 * as a wildcard (a prefix with `*` would widen every policy built from it).
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
 */
const SEGMENT = /^[A-Za-z0-9!_.'()-]+$/;

/** A dataset name or run id: one key segment, starting with a letter or digit. */
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * What is wrong with a key prefix, or undefined when it is fine. A prefix is one or more
 * segments each followed by `/` (`models/`, `team-a/models/`): no leading `/`, no empty, `.`
 * or `..` segment, no `*` or `?`.
 */
export function prefixProblem(prefix: string): string | undefined {
  if (prefix.length === 0) return "is empty";
  if (prefix.length > 512) return "is longer than 512 characters";
  if (!prefix.endsWith("/")) return "does not end with /";
  if (prefix.startsWith("/")) return "starts with /";
  const segments = prefix.slice(0, -1).split("/");
  for (const segment of segments) {
    if (segment === "") return "has an empty segment (//)";
    if (segment === "." || segment === "..") return `has a "${segment}" segment`;
    if (!SEGMENT.test(segment)) return `has a segment "${segment}" with characters outside A-Z a-z 0-9 ! _ . ' ( ) -`;
  }
  return undefined;
}

/** Human description of a valid prefix, for error messages. */
export const PREFIX_RULE =
  "a key prefix ending with / (e.g. models/ or team-a/models/), without a leading /, empty segments, * or ?";

/** Throws when `prefix` is not a valid key prefix; `what` names it in the message. */
export function assertPrefix(prefix: string, what: string): void {
  const problem = prefixProblem(prefix);
  if (problem) throw new Error(`${what} ${JSON.stringify(prefix)} ${problem}; it must be ${PREFIX_RULE}`);
}

function assertIdentifier(value: string, what: string): void {
  if (!IDENTIFIER.test(value) || value.length > 200 || value === "." || value === "..") {
    throw new Error(
      `${what} ${JSON.stringify(value)} is not one key segment; it must start with a letter or digit ` +
        "and use only letters, digits, . _ - (at most 200 characters)",
    );
  }
}

/** The prefix of one dataset in the dataset bucket: `datasets/<name>/`. */
export function datasetPrefix(name: string): string {
  assertIdentifier(name, "dataset name");
  return `${DATASETS_PREFIX}${name}/`;
}

/** The prefix of one run in the artifact bucket: `runs/<runId>/`. */
export function runPrefix(runId: string): string {
  assertIdentifier(runId, "run id");
  return `${RUNS_PREFIX}${runId}/`;
}
