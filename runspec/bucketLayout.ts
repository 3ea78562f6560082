/**
 * Where things live in the three buckets: the key prefixes and object keys shared by the
 * components, the run agent, the CLI, the OTA publisher and the node's IAM policy, and the one
 * rule every key prefix must follow. Pure: no resources, no I/O.
 */

/** Datasets live under `datasets/<name>/` in the dataset bucket (`datasets/<name>/data.yaml`). */
export const DATASETS_PREFIX = "datasets/";

/** Each run's checkpoints, status record and exported model live under `runs/<runId>/` in the artifact bucket. */
export const RUNS_PREFIX = "runs/";

/**
 * Each sweep's shared state lives under `sweeps/<sweepId>/` in the artifact bucket: the rung records
 * its trials stop early by (`sweeps/<sweepId>/rungs/<rung>.json`, runspec/sweep/rungRecord.ts).
 */
export const SWEEPS_PREFIX = "sweeps/";

/** Models (files, manifests, channels) live under this prefix in the OTA bucket unless told otherwise. */
export const DEFAULT_MODELS_PREFIX = "models/";

// ---------------------------------------------------------------------------------------------
// The key-prefix rule

/** The longest key prefix accepted (S3 keys may be 1024 bytes; the rest is left for the keys under it). */
export const KEY_PREFIX_MAX_LENGTH = 512;

/**
 * Characters allowed in a prefix segment: S3's "safe" characters without `*` and `'`. IAM reads
 * `*` and `?` as wildcards in resource ARNs (a prefix with one would widen every policy built
 * from it), and `'` would break the shell quoting of the node's bootstrap script.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
 */
const SEGMENT = /^[A-Za-z0-9!_.()-]+$/;

/**
 * THE key-prefix rule, as a pattern: `""` (the whole bucket) or one or more segments of
 * `A-Z a-z 0-9 ! _ . ( ) -`, each followed by `/` (`models/`, `team-a/models/`), without a leading
 * `/`, an empty, `.` or `..` segment, at most {@link KEY_PREFIX_MAX_LENGTH} characters. Safe in IAM
 * resource ARNs, S3 keys and shell. {@link keyPrefixProblem} says what is wrong with a value it
 * refuses; both accept exactly the same values.
 */
export const KEY_PREFIX_PATTERN = new RegExp(String.raw`^(?=[\s\S]{0,${KEY_PREFIX_MAX_LENGTH}}$)(?:(?!\.\.?/)[A-Za-z0-9!_.()-]+/)*$`);

/** The rule in words, for error messages ("it must be …"). */
export const KEY_PREFIX_RULE =
  "a key prefix ending with / (e.g. models/ or team-a/models/): segments of A-Z a-z 0-9 ! _ . ( ) - each followed by /, " +
  `without a leading /, an empty, . or .. segment, at most ${KEY_PREFIX_MAX_LENGTH} characters`;

/**
 * What is wrong with a key prefix (see {@link KEY_PREFIX_PATTERN}), or undefined when it is fine.
 * `""` (the whole bucket) is fine unless `allowEmpty` is false: places that grant access to the
 * prefix must never be handed the whole bucket by accident.
 */
export function keyPrefixProblem(prefix: string, options: { readonly allowEmpty?: boolean } = {}): string | undefined {
  if (prefix.length === 0) return options.allowEmpty === false ? "is empty" : undefined;
  if (prefix.length > KEY_PREFIX_MAX_LENGTH) return `is longer than ${KEY_PREFIX_MAX_LENGTH} characters`;
  if (!prefix.endsWith("/")) return "does not end with /";
  if (prefix.startsWith("/")) return "starts with /";
  for (const segment of prefix.slice(0, -1).split("/")) {
    if (segment === "") return "has an empty segment (//)";
    if (segment === "." || segment === "..") return `has a "${segment}" segment`;
    if (!SEGMENT.test(segment)) return `has a segment "${segment}" with characters outside A-Z a-z 0-9 ! _ . ( ) -`;
  }
  return undefined;
}

/** Throws when `prefix` is not a non-empty key prefix; `what` names it in the message. */
export function assertKeyPrefix(prefix: string, what: string): void {
  const problem = keyPrefixProblem(prefix, { allowEmpty: false });
  if (problem) throw new Error(`${what} ${JSON.stringify(prefix)} ${problem}; it must be ${KEY_PREFIX_RULE}`);
}

// ---------------------------------------------------------------------------------------------
// Prefixes of datasets, runs and models

/** A dataset name or run id: one key segment, starting with a letter or digit. */
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

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

/** The prefix of one sweep in the artifact bucket: `sweeps/<sweepId>/`; a sweep id follows the run ids' rule (one key segment). */
export function sweepPrefix(sweepId: string): string {
  assertIdentifier(sweepId, "sweep id");
  return `${SWEEPS_PREFIX}${sweepId}/`;
}

/** The rung record of a sweep's rung k (from 0, the rung at minEpochs·η^k epochs): `sweeps/<sweepId>/rungs/<k>.json`. */
export function rungRecordKey(sweepId: string, rung: number): string {
  if (!Number.isInteger(rung) || rung < 0) throw new Error(`rung ${rung} is not a rung index: it must be a whole number, 0 or more`);
  return `${sweepPrefix(sweepId)}rungs/${rung}.json`;
}

/** The sweep's manifest, written by the `Sweep` component: `sweeps/<sweepId>/sweep.json` (runspec/sweep/sweepManifest.ts). */
export function sweepManifestKey(sweepId: string): string {
  return `${sweepPrefix(sweepId)}sweep.json`;
}

/** A trial's start, written once by whoever gave it capacity: `sweeps/<sweepId>/starts/<trialId>.json`. */
export function sweepTrialStartKey(sweepId: string, trialId: string): string {
  assertIdentifier(trialId, "trial id");
  return `${sweepPrefix(sweepId)}starts/${trialId}.json`;
}

/** The prefix of a sweep's starts, for listing them: `sweeps/<sweepId>/starts/`. */
export function sweepStartsPrefix(sweepId: string): string {
  return `${sweepPrefix(sweepId)}starts/`;
}

/** The keeper's last round: `sweeps/<sweepId>/state.json`. */
export function sweepStateKey(sweepId: string): string {
  return `${sweepPrefix(sweepId)}state.json`;
}

/** The sweep's winner and its release, written once: `sweeps/<sweepId>/winner.json`. */
export function sweepWinnerKey(sweepId: string): string {
  return `${sweepPrefix(sweepId)}winner.json`;
}

/**
 * The prefix of one model's releases in the OTA bucket: `<modelsPrefix><modelName>/`
 * (`models/widgets/`). `modelsPrefix` follows the key-prefix rule (`""` allowed: models at the
 * top of the bucket); `modelName` is one key segment.
 */
export function modelPrefix(modelsPrefix: string, modelName: string): string {
  const problem = keyPrefixProblem(modelsPrefix);
  if (problem) throw new Error(`models prefix ${JSON.stringify(modelsPrefix)} ${problem}; it must be "" or ${KEY_PREFIX_RULE}`);
  assertIdentifier(modelName, "model name");
  return `${modelsPrefix}${modelName}/`;
}

// ---------------------------------------------------------------------------------------------
// One run's objects (docs/node-runtime.md, "Artifact layout")

/** The object keys of one run in the artifact bucket, all under the run's prefix. */
export interface RunObjectKeys {
  /** `<prefix>run.json`: the run record (runspec/runRecord.ts). */
  readonly recordKey: string;
  /** `<prefix>lease.json`: the single-writer lease of the run (agent/runLease.ts). */
  readonly leaseKey: string;
  /** `<prefix>progress.jsonl`: the trainer's progress lines. */
  readonly progressKey: string;
  /** The outputs of a completed run. */
  readonly modelKeys: { readonly best: string; readonly onnx: string; readonly result: string };
  /** `<prefix>checkpoints/phase-<k>/last.pt`: the newest checkpoint of a phase. */
  checkpointKey(phase: number): string;
  /** `<prefix>checkpoints/phase-<k>/best.pt`: the trainer's `best.pt` of a phase, kept durable while the run trains. */
  bestCheckpointKey(phase: number): string;
  /** `<prefix>cache/`: named weights and label caches carried from node to node (agent/runCache.ts). */
  readonly cacheKeyPrefix: string;
}

/** The object keys under a run's prefix (`runs/<runId>/`, the run spec's `artifacts.prefix`). */
export function runObjectKeys(prefix: string): RunObjectKeys {
  return {
    recordKey: `${prefix}run.json`,
    leaseKey: `${prefix}lease.json`,
    progressKey: `${prefix}progress.jsonl`,
    modelKeys: { best: `${prefix}model/best.pt`, onnx: `${prefix}model/best.onnx`, result: `${prefix}model/result.json` },
    checkpointKey: (phase) => `${prefix}checkpoints/phase-${phase}/last.pt`,
    bestCheckpointKey: (phase) => `${prefix}checkpoints/phase-${phase}/best.pt`,
    cacheKeyPrefix: `${prefix}cache/`,
  };
}
