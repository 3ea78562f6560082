import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { concurrencyLimit } from "../../agent/concurrency";
import { readS3Text } from "../../agent/s3Text";
import { runObjectKeys, runPrefix, sweepManifestKey, sweepStartsPrefix, sweepStateKey, sweepTrialStartKey, sweepWinnerKey } from "../../runspec/bucketLayout";
import { parseStoredRecord, type RunRecord } from "../../runspec/runRecord";
import {
  parseSweepManifest,
  parseSweepState,
  parseSweepTrialStart,
  parseSweepWinner,
  type SweepManifest,
  type SweepState,
  type SweepWinner,
} from "../../runspec/sweep/sweepManifest";
import type { SweepOutputs } from "./sweepOutputs";

/**
 * Reads what a deployed sweep keeps in its artifact bucket (runspec/sweep/sweepManifest.ts): the
 * manifest, the keeper's state, the winner, the trials' starts and every trial's run record. Only
 * the manifest must be readable; anything else that is not is named in `problems` and the rest is
 * still shown.
 */
export interface SweepSnapshot {
  readonly manifest: SweepManifest;
  /** The keeper's last round; null before its first (or when unreadable: see problems). */
  readonly state: SweepState | null;
  readonly winner: SweepWinner | null;
  /** Trials given capacity that have no run record yet, by trial id: when they were started. */
  readonly starts: ReadonlyMap<string, string>;
  /** Every trial's run record by run id; null while it has none (or when unreadable). */
  readonly records: ReadonlyMap<string, RunRecord | null>;
  /** Run records that exist but could not be read, by run id: why. */
  readonly unreadable: ReadonlyMap<string, string>;
  readonly problems: readonly SweepReadProblem[];
}

/** An object that could not be read: its `s3://` address and why. */
export interface SweepReadProblem {
  readonly object: string;
  readonly message: string;
}

/** The stack has no sweep in its artifact bucket: nothing deployed it, or it was torn down. */
export class SweepNotDeployedError extends Error {
  override readonly name = "SweepNotDeployedError";
}

/** GETs and lists at once: a sweep has at most 256 trials; this keeps a poll quick without a burst. */
const READS_AT_ONCE = 8;

/** As `s3ClientFor`: the region from the outputs, path style when asked (S3-compatible stores, tests). */
export function sweepS3Client(outputs: Pick<SweepOutputs, "region">, env: NodeJS.ProcessEnv): S3Client {
  const forcePathStyle = /^(1|true)$/i.test(env.YOLO_TRAIN_S3_FORCE_PATH_STYLE ?? "");
  return new S3Client({ region: outputs.region, ...(forcePathStyle ? { forcePathStyle } : {}) });
}

export async function readSweepSnapshot(s3: S3Client, outputs: Pick<SweepOutputs, "sweepId" | "artifactBucketName" | "origin">): Promise<SweepSnapshot> {
  const bucket = outputs.artifactBucketName;
  const { sweepId } = outputs;
  const where = (key: string): string => `s3://${bucket}/${key}`;
  const limit = concurrencyLimit(READS_AT_ONCE);
  const text = (key: string): Promise<string | null> => limit(() => readS3Text(s3, bucket, key));
  const problems: SweepReadProblem[] = [];
  /** Parses an optional object; an unreadable one becomes a problem and null. */
  const optional = async <T>(key: string, parse: (json: string) => T): Promise<T | null> => {
    const body = await text(key);
    if (body === null) return null;
    try {
      return parse(body);
    } catch (error) {
      problems.push({ object: where(key), message: (error as Error).message });
      return null;
    }
  };

  const manifestKey = sweepManifestKey(sweepId);
  const manifestText = await text(manifestKey);
  if (manifestText === null) {
    throw new SweepNotDeployedError(
      `${outputs.origin} has no deployed sweep: ${where(manifestKey)} does not exist. Deploy it with \`pulumi up\` (check it first with \`yolo-train sweep plan --stack <stack>\`); ` +
        "a sweep whose stack was destroyed has no leaderboard left.",
    );
  }
  let manifest: SweepManifest;
  try {
    manifest = parseSweepManifest(manifestText, sweepId);
  } catch (error) {
    // Not the caller's to fix by a flag: the Sweep component wrote it; say what and where.
    throw new Error(`${where(manifestKey)}: ${(error as Error).message}. Run \`pulumi up\` of the sweep stack again to rewrite it.`);
  }

  const [state, winner, startKeys, recordList] = await Promise.all([
    optional(sweepStateKey(sweepId), (json) => parseSweepState(json, sweepId)),
    optional(sweepWinnerKey(sweepId), (json) => parseSweepWinner(json, sweepId)),
    listKeys(s3, bucket, sweepStartsPrefix(sweepId), limit),
    Promise.all(
      manifest.trials.map(async (trial) => {
        const key = runObjectKeys(runPrefix(trial.runId)).recordKey;
        const body = await text(key);
        if (body === null) return { trial, record: null, why: null };
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch (error) {
          return { trial, record: null, why: `${where(key)} is not JSON: ${(error as Error).message}` };
        }
        const record = parseStoredRecord(json, trial.runId);
        return record !== null
          ? { trial, record, why: null }
          : { trial, record: null, why: `${where(key)} is not a run record of ${trial.runId} (its runId or phase is missing or wrong)` };
      }),
    ),
  ]);

  const records = new Map<string, RunRecord | null>();
  const unreadable = new Map<string, string>();
  for (const { trial, record, why } of recordList) {
    records.set(trial.runId, record);
    if (why !== null) {
      unreadable.set(trial.runId, why);
      problems.push({ object: where(runObjectKeys(runPrefix(trial.runId)).recordKey), message: `trial ${trial.trialId}: ${why}` });
    }
  }
  // Only a started trial without a record needs its start: the record says the rest.
  const listed = new Set(startKeys);
  const starts = new Map<string, string>();
  await Promise.all(
    manifest.trials
      .filter((t) => records.get(t.runId) === null && !unreadable.has(t.runId) && listed.has(sweepTrialStartKey(sweepId, t.trialId)))
      .map(async (t) => {
        const start = await optional(sweepTrialStartKey(sweepId, t.trialId), (json) => parseSweepTrialStart(json, sweepId));
        if (start !== null) starts.set(t.trialId, start.startedAt);
      }),
  );
  return { manifest, state, winner, starts, records, unreadable, problems };
}

async function listKeys(s3: S3Client, bucket: string, prefix: string, limit: <T>(job: () => Promise<T>) => Promise<T>): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await limit(() => s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token })));
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}
