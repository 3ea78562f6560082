/**
 * The scheduled Lambda that re-signs every model's `timestamp.json` (docs/ota.md, "Timestamp"):
 * configuration from the environment ({@link TIMESTAMP_FUNCTION_ENV}), the timestamp key in KMS,
 * the OTA bucket in S3, both clients configured the standard way (so `AWS_ENDPOINT_URL_S3` and
 * `AWS_ENDPOINT_URL_KMS` point them elsewhere). Bundled with esbuild into
 * `dist-lambda/otaTimestamp/index.js` (components/ota/timestampFunctionCode.ts); the handler is
 * `index.handler`.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { isS3BucketName, KMS_KEY_REFERENCE_PATTERN } from "../../runspec/awsPatterns";
import { KmsSigner, readPublicKey } from "../signature";
import { DEFAULT_TIMESTAMP_EXPIRES_HOURS } from "./timestampDocument";
import { TIMESTAMP_FUNCTION_ENV } from "./timestampFunctionEnv";
import { refreshTimestamps, type ModelTimestampFailed, type ModelTimestampSummary } from "./timestampRefresh";

/**
 * Path-style S3 addressing for S3-compatible stores and local fakes (the SDK reads no environment
 * variable for it); the same switch the agent and the CLI take. Not set in AWS.
 */
export const S3_FORCE_PATH_STYLE_ENV = "YOLO_TRAIN_S3_FORCE_PATH_STYLE";

/**
 * The most hours a timestamp may be good for: past a week it no longer tells a frozen view of the
 * bucket from a live one in any useful time. The same bound as the Pulumi component's check.
 */
export const MAX_TIMESTAMP_EXPIRES_HOURS = 168;

/** The function's configuration, read from its environment. */
export interface TimestampFunctionConfig {
  readonly bucket: string;
  readonly modelsPrefix: string;
  readonly keyId: string;
  /** SPKI PEM, each a P-256 public key. */
  readonly releasePublicKeys: readonly string[];
  readonly expiresInHours: number;
  readonly s3ForcePathStyle: boolean;
}

/** Thrown by {@link readTimestampFunctionEnv}: every variable that is missing or invalid, one per line. */
export class TimestampFunctionConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`The timestamp function's environment has ${problems.length} ${problems.length === 1 ? "problem" : "problems"}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "TimestampFunctionConfigError";
  }
}


/**
 * Reads and checks the configuration, reporting every missing or invalid variable at once, each
 * by name, so one failed invocation shows everything to fix.
 */
export function readTimestampFunctionEnv(env: NodeJS.ProcessEnv): TimestampFunctionConfig {
  const problems: string[] = [];
  const names = TIMESTAMP_FUNCTION_ENV;
  const required = (name: string): string | undefined => {
    const value = env[name];
    if (value === undefined || value.trim() === "") problems.push(`${name} is not set`);
    return value?.trim() || undefined;
  };

  const bucket = required(names.bucket);
  if (bucket !== undefined && !isS3BucketName(bucket)) problems.push(`${names.bucket}=${JSON.stringify(bucket)}: must be an S3 bucket name (3-63 characters of a-z, 0-9, '.' and '-')`);

  // Set but possibly empty: "" is a valid prefix (models at the top of the bucket), but an unset
  // variable is a wiring mistake, and guessing would sign timestamps into the wrong folders.
  const modelsPrefix = env[names.modelsPrefix];
  if (modelsPrefix === undefined) problems.push(`${names.modelsPrefix} is not set (set it to "" for models at the top of the bucket)`);
  else if ((modelsPrefix !== "" && !modelsPrefix.endsWith("/")) || modelsPrefix.startsWith("/")) {
    problems.push(`${names.modelsPrefix}=${JSON.stringify(modelsPrefix)}: must be "" or a prefix ending with "/" and not starting with it, e.g. "models/"`);
  }

  const keyId = required(names.keyId);
  if (keyId !== undefined && !KMS_KEY_REFERENCE_PATTERN.test(keyId)) problems.push(`${names.keyId}=${JSON.stringify(keyId)}: must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), an alias ARN, an alias or a key id`);

  const releasePublicKeys = parseReleaseKeys(required(names.releasePublicKeys), names.releasePublicKeys, problems);

  let expiresInHours = DEFAULT_TIMESTAMP_EXPIRES_HOURS;
  const expiresRaw = env[names.expiresHours]?.trim();
  if (expiresRaw !== undefined && expiresRaw !== "") {
    // The function does not know its schedule: that the lifetime outlasts the refresh interval is
    // checked where both are set (the Pulumi component).
    expiresInHours = Number(expiresRaw);
    if (!/^\d+$/.test(expiresRaw) || expiresInHours < 1 || expiresInHours > MAX_TIMESTAMP_EXPIRES_HOURS) {
      problems.push(`${names.expiresHours}=${JSON.stringify(expiresRaw)}: must be a whole number of hours from 1 to ${MAX_TIMESTAMP_EXPIRES_HOURS} (default ${DEFAULT_TIMESTAMP_EXPIRES_HOURS})`);
    }
  }

  const pathStyleRaw = (env[S3_FORCE_PATH_STYLE_ENV] ?? "").trim().toLowerCase();
  if (!["", "true", "false", "1", "0"].includes(pathStyleRaw)) problems.push(`${S3_FORCE_PATH_STYLE_ENV}=${JSON.stringify(env[S3_FORCE_PATH_STYLE_ENV])}: must be "true" or "false"`);

  if (problems.length > 0) throw new TimestampFunctionConfigError(problems);
  return { bucket: bucket!, modelsPrefix: modelsPrefix!, keyId: keyId!, releasePublicKeys, expiresInHours, s3ForcePathStyle: pathStyleRaw === "true" || pathStyleRaw === "1" };
}

function parseReleaseKeys(raw: string | undefined, name: string, problems: string[]): string[] {
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    problems.push(`${name}: is not JSON (${(error as Error).message}); it must be a JSON array of PEM public keys`);
    return [];
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    problems.push(`${name}: must be a non-empty JSON array of PEM public keys (the release keys whose channel memberships count)`);
    return [];
  }
  const keys: string[] = [];
  parsed.forEach((entry: unknown, i) => {
    if (typeof entry !== "string") return problems.push(`${name}[${i}]: must be a PEM string`);
    try {
      readPublicKey(entry);
      keys.push(entry);
    } catch (error) {
      problems.push(`${name}[${i}]: ${(error as Error).message}`);
    }
  });
  return keys;
}

/** Thrown after every model was tried, when some could not be refreshed: the invocation counts as an error in CloudWatch. */
export class TimestampRefreshFailedError extends Error {
  constructor(readonly failed: readonly ModelTimestampFailed[], total: number) {
    super(`${failed.length} of ${total} models' timestamps were not refreshed: ${failed.map((f) => `${f.modelName} (${f.error})`).join("; ")}`);
    this.name = "TimestampRefreshFailedError";
  }
}

/** AWS's words for a request its IAM policy does not (yet) allow. */
const ACCESS_DENIED = /AccessDenied|not authorized to perform/i;

/**
 * Runs `refresh` again while it fails only for want of permissions, waiting `delaysMs` between
 * tries. The first run happens during `pulumi up`, seconds after the function's role policy was
 * created; IAM takes a few seconds to apply a new policy everywhere, and a deploy that failed on
 * that would have to be run again by hand. A denial that outlasts the waits is real and reported.
 */
export async function retryWhilePermissionsPropagate(
  refresh: () => Promise<ModelTimestampSummary[]>,
  { delaysMs = [2_000, 4_000, 8_000], sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) }: { delaysMs?: readonly number[]; sleep?: (ms: number) => Promise<void> } = {},
): Promise<ModelTimestampSummary[]> {
  for (let attempt = 0; ; attempt++) {
    let denied: boolean;
    let outcome: ModelTimestampSummary[] | undefined;
    try {
      outcome = await refresh();
      const failed = outcome.filter((s): s is ModelTimestampFailed => "error" in s);
      denied = failed.length > 0 && failed.every((f) => ACCESS_DENIED.test(f.error));
    } catch (error) {
      denied = ACCESS_DENIED.test(`${(error as Error).name} ${(error as Error).message}`);
      if (!denied || attempt >= delaysMs.length) throw error;
    }
    if (!denied || attempt >= delaysMs.length) return outcome!;
    console.log(JSON.stringify({ level: "warn", message: `access denied; retrying in ${delaysMs[attempt]} ms in case the function's new IAM policy is not in effect yet` }));
    await sleep(delaysMs[attempt]!);
  }
}

/**
 * The Lambda handler: refreshes every model's timestamp, logs one JSON line per model, and returns
 * the summaries; throws when the configuration is invalid, or (after trying every model) when any
 * model failed.
 */
export async function handler(): Promise<ModelTimestampSummary[]> {
  const config = readTimestampFunctionEnv(process.env);
  const s3 = new S3Client(config.s3ForcePathStyle ? { forcePathStyle: true } : {});
  try {
    const signer = new KmsSigner({ keyId: config.keyId });
    const summaries = await retryWhilePermissionsPropagate(() =>
      refreshTimestamps({
        s3,
        bucket: config.bucket,
        modelsPrefix: config.modelsPrefix,
        signer,
        releasePublicKeys: config.releasePublicKeys,
        expiresInHours: config.expiresInHours,
        log: (line) => console.log(JSON.stringify({ level: "warn", message: line })),
      }),
    );
    for (const summary of summaries) console.log(JSON.stringify({ level: "error" in summary ? "error" : "info", ...summary }));
    const failed = summaries.filter((s): s is ModelTimestampFailed => "error" in s);
    if (failed.length > 0) throw new TimestampRefreshFailedError(failed, summaries.length);
    return summaries;
  } finally {
    s3.destroy();
  }
}
