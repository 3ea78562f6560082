/**
 * One round of the sweep keeper (issue 12), with its I/O: read the sweep's manifest, starts, the
 * trials' groups and run records; decide (keeper/keeperRound.ts); claim each start with a
 * conditional write, re-anchor the trial's max-runtime backstop and give its group capacity; write
 * `state.json`; and, once the sweep has ended, release the winner's model over the air (the same
 * publishing as the run agent's, ota/releaseToChannels.ts) and write `winner.json` once.
 *
 * Every decider of a sweep (this keeper, run every minute, and any other) may run at once: a start
 * is claimed with `If-None-Match: *`, so a trial is started once; setting capacity and the backstop
 * again is harmless. One trial whose start fails is logged and retried by the next round; the
 * others go on, and the round reports the failures at its end (so the function's alarm counts them).
 */
import {
  DescribeAutoScalingGroupsCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingClient,
  type AutoScalingGroup,
} from "@aws-sdk/client-auto-scaling";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { GetScheduleCommand, UpdateScheduleCommand, type SchedulerClient } from "@aws-sdk/client-scheduler";
import { mkdtemp, rm } from "fs/promises";
import { tmpdir } from "os";
import { join } from "path";
import { CheckpointTransfer } from "../agent/checkpointUploader";
import { concurrencyLimit } from "../agent/concurrency";
import { readS3Text } from "../agent/s3Text";
import { describeError, type Logger } from "../agent/log";
import { modelRuntime } from "../agent/otaRelease";
import { exportVerdict, parseTrainerResult } from "../agent/trainerResult";
import { layoutFor, type Manifest } from "../ota/manifest";
import { readChannel, readVerifiedManifest, ReleaseError } from "../ota/publisher";
import { modelsPrefixOf, releaseToChannels } from "../ota/releaseToChannels";
import type { ManifestSigner } from "../ota/signature";
import { runObjectKeys, runPrefix, sweepManifestKey, sweepStartsPrefix, sweepStateKey, sweepTrialStartKey, sweepWinnerKey } from "../runspec/bucketLayout";
import { parseStoredRecord, type ReleaseRef, type RunRecord } from "../runspec/runRecord";
import {
  parseSweepManifest,
  parseSweepState,
  parseSweepTrialStart,
  parseSweepWinner,
  SWEEP_WINNER_SCHEMA_VERSION,
  type SweepManifest,
  type SweepManifestTrial,
  type SweepState,
  type SweepTrialStart,
  type SweepWinner,
} from "../runspec/sweep/sweepManifest";
import { decideKeeperRound, utcAtExpression, type GroupState, type KeeperRound } from "./keeperRound";
import { isS3ConditionalConflict, isS3PreconditionFailed } from "../ota/s3Errors";

/** DescribeAutoScalingGroups takes at most 50 group names a call (unless MaxRecords is raised). */
export const DESCRIBE_GROUPS_PER_CALL = 50;
/** S3 reads in flight at once (starts, run records). */
const READS_AT_ONCE = 16;
/** The image size a stack config has unless it sets one (docs/config.md): a result.json and a trial without imgsz trained at it. */
const DEFAULT_IMGSZ = 640;

export interface SweepKeeperDeps {
  readonly s3: S3Client;
  readonly autoScaling: AutoScalingClient;
  readonly scheduler: SchedulerClient;
  /** The signer of the release key the manifest names (`ota.signingKeyId`). */
  readonly signerFor: (keyId: string) => ManifestSigner;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Where the winner's model files are staged while they are digested. @default the OS temp folder */
  readonly scratchDir?: string;
}

export interface KeeperTarget {
  /** The artifact bucket the manifest is in. */
  readonly bucket: string;
  readonly sweepId: string;
}

/** What a round did, as the handler returns it. */
export interface KeeperRoundSummary {
  readonly sweepId: string;
  readonly at: string;
  /** `ended`: the winner was written and the last round found nothing to do; nothing was read further. */
  readonly outcome: "round" | "ended";
  /** Trials this round started (their start claimed here). */
  readonly started: readonly string[];
  /** Started trials whose capacity was set again. */
  readonly repaired: readonly string[];
  readonly done: boolean;
  readonly summary: string;
  /** The winner and its release version, once decided. */
  readonly winner: { readonly trialId: string; readonly version: number | null } | null;
}

/** Thrown at the end of a round in which some trial could not be started or repaired (everything else was done). */
export class KeeperRoundError extends Error {
  override readonly name = "KeeperRoundError";
  constructor(
    readonly failures: readonly string[],
    readonly summary: KeeperRoundSummary,
  ) {
    super(`the sweep keeper's round for ${summary.sweepId} left ${failures.length} trial(s) to the next round: ${failures.join("; ")}`);
  }
}

/** 412 (the key exists) or 409 (another conditional write to it is being decided): either way, another writer has it. */
const isTaken = (error: unknown): boolean => isS3PreconditionFailed(error) || isS3ConditionalConflict(error);

/** Writes a JSON object that must not exist yet; false when another writer got there first. */
async function putNew(s3: S3Client, bucket: string, key: string, value: unknown): Promise<boolean> {
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(value, null, 2), ContentType: "application/json", IfNoneMatch: "*" }));
    return true;
  } catch (error) {
    if (isTaken(error)) return false;
    throw error;
  }
}

/** Reads and checks the manifest; a missing or invalid one is an error naming the key and every problem. */
export async function readSweepManifest(s3: S3Client, target: KeeperTarget): Promise<SweepManifest> {
  const key = sweepManifestKey(target.sweepId);
  const text = await readS3Text(s3, target.bucket, key);
  if (text === null) throw new Error(`s3://${target.bucket}/${key} does not exist: the sweep ${target.sweepId} has no manifest (the Sweep component writes it at pulumi up)`);
  let manifest: SweepManifest;
  try {
    manifest = parseSweepManifest(text, target.sweepId);
  } catch (error) {
    throw new Error(`s3://${target.bucket}/${key}: ${(error as Error).message}`, { cause: error });
  }
  if (manifest.artifactBucket !== target.bucket) {
    throw new Error(`s3://${target.bucket}/${key}: artifactBucket is ${JSON.stringify(manifest.artifactBucket)}, but the keeper reads the sweep from ${JSON.stringify(target.bucket)}; the two must be the same bucket`);
  }
  return manifest;
}

/** Reads an optional contract object; a corrupt one is an error naming its key. */
async function readContract<T>(s3: S3Client, bucket: string, key: string, parse: (text: string) => T): Promise<T | null> {
  const text = await readS3Text(s3, bucket, key);
  if (text === null) return null;
  try {
    return parse(text);
  } catch (error) {
    throw new Error(`s3://${bucket}/${key}: ${(error as Error).message}`, { cause: error });
  }
}

async function readStarts(transfer: CheckpointTransfer, s3: S3Client, manifest: SweepManifest, log: Logger): Promise<Map<string, SweepTrialStart>> {
  const listed = await transfer.listObjects(sweepStartsPrefix(manifest.sweepId));
  const known = new Set(manifest.trials.map((t) => t.trialId));
  const limit = concurrencyLimit(READS_AT_ONCE);
  const starts = await Promise.all(
    listed.map(({ key }) => limit(() => readContract(s3, manifest.artifactBucket, key, (text) => parseSweepTrialStart(text, manifest.sweepId)))),
  );
  const byTrial = new Map<string, SweepTrialStart>();
  for (const start of starts) {
    if (start === null) continue;
    if (!known.has(start.trialId)) log.warn("start-of-unknown-trial", { trialId: start.trialId, note: "not a trial of this sweep's manifest; ignored" });
    else byTrial.set(start.trialId, start);
  }
  return byTrial;
}

/** The groups' sizes and instances, at most {@link DESCRIBE_GROUPS_PER_CALL} names a call, every page. */
async function describeGroups(autoScaling: AutoScalingClient, names: readonly string[]): Promise<Map<string, GroupState>> {
  const groups = new Map<string, GroupState>();
  for (let i = 0; i < names.length; i += DESCRIBE_GROUPS_PER_CALL) {
    const chunk = names.slice(i, i + DESCRIBE_GROUPS_PER_CALL);
    let token: string | undefined;
    do {
      const page = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: chunk, MaxRecords: DESCRIBE_GROUPS_PER_CALL, NextToken: token }));
      for (const group of page.AutoScalingGroups ?? []) groups.set(group.AutoScalingGroupName ?? "", groupState(group));
      token = page.NextToken;
    } while (token);
  }
  return groups;
}

function groupState(group: AutoScalingGroup): GroupState {
  // A Terminating instance still runs (and bills): the trial has not let go of its slot yet.
  const instances = (group.Instances ?? []).filter((i) => i.LifecycleState !== "Terminated").length;
  return { desiredCapacity: group.DesiredCapacity ?? 0, instances };
}

async function readRecords(s3: S3Client, manifest: SweepManifest, log: Logger): Promise<Map<string, RunRecord | null>> {
  const limit = concurrencyLimit(READS_AT_ONCE);
  const entries = await Promise.all(
    manifest.trials.map((trial) =>
      limit(async (): Promise<[string, RunRecord | null]> => {
        const key = runObjectKeys(runPrefix(trial.runId)).recordKey;
        const text = await readS3Text(s3, manifest.artifactBucket, key);
        if (text === null) return [trial.trialId, null];
        let record: RunRecord | null = null;
        try {
          record = parseStoredRecord(JSON.parse(text), trial.runId);
        } catch {
          record = null;
        }
        // The agent reads such a record as "start afresh"; the keeper as "no record yet".
        if (record === null) log.warn("record-unreadable", { trialId: trial.trialId, key, note: "counted as no record" });
        return [trial.trialId, record];
      }),
    ),
  );
  return new Map(entries);
}

/**
 * Re-anchors the trial's backstop at `start.backstopAt` and gives its group capacity 1, in that
 * order: a trial never trains under a backstop anchored at `pulumi up`. UpdateSchedule replaces the
 * whole schedule, so every field GetSchedule returned is carried over; the expression is written in
 * UTC, so the time zone is UTC whatever it was.
 */
async function giveCapacity(deps: SweepKeeperDeps, trial: SweepManifestTrial, start: SweepTrialStart): Promise<void> {
  const current = await deps.scheduler.send(new GetScheduleCommand({ Name: trial.backstopScheduleName }));
  const target = current.Target;
  if (target?.Arn === undefined || target.RoleArn === undefined || current.FlexibleTimeWindow?.Mode === undefined) {
    throw new Error(`backstop schedule ${trial.backstopScheduleName} has no target or time window to carry over; re-run pulumi up`);
  }
  // Re-anchoring another group's backstop would cut that trial short: the schedule must be this trial's.
  const targetGroup = groupOfInput(target.Input);
  if (targetGroup !== trial.groupName) {
    throw new Error(`backstop schedule ${trial.backstopScheduleName} scales group ${JSON.stringify(targetGroup)}, not the trial's group ${trial.groupName}; the manifest names the wrong schedule`);
  }
  await deps.scheduler.send(
    new UpdateScheduleCommand({
      Name: trial.backstopScheduleName,
      GroupName: current.GroupName,
      ScheduleExpression: utcAtExpression(new Date(start.backstopAt)),
      ScheduleExpressionTimezone: "UTC",
      FlexibleTimeWindow: current.FlexibleTimeWindow,
      Target: target,
      State: "ENABLED",
      Description: current.Description,
      ActionAfterCompletion: current.ActionAfterCompletion,
      KmsKeyArn: current.KmsKeyArn,
      StartDate: current.StartDate,
      EndDate: current.EndDate,
    }),
  );
  deps.log.info("backstop-anchored", { trialId: trial.trialId, schedule: trial.backstopScheduleName, at: start.backstopAt });
  await deps.autoScaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: trial.groupName, MaxSize: 1, DesiredCapacity: 1 }));
  deps.log.info("capacity-set", { trialId: trial.trialId, group: trial.groupName, desiredCapacity: 1 });
}

function groupOfInput(input: string | undefined): string | undefined {
  try {
    const parsed = JSON.parse(input ?? "") as { AutoScalingGroupName?: unknown };
    return typeof parsed.AutoScalingGroupName === "string" ? parsed.AutoScalingGroupName : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The winner's release made by an earlier round that ended before writing winner.json: the
 * candidate channel names a release of the winner's run. Found, it is not published a second time.
 */
async function releasedBefore(deps: SweepKeeperDeps, manifest: SweepManifest, trial: SweepManifestTrial): Promise<ReleaseRef | null> {
  const { ota } = manifest;
  const layout = layoutFor(modelsPrefixOf(ota), ota.modelName);
  const candidate = await readChannel(deps.s3, ota.bucket, layout, "candidate");
  const version = candidate?.pointer?.version;
  if (version === undefined) return null;
  let released: Manifest;
  try {
    released = await readVerifiedManifest(deps.s3, ota.bucket, layout, version, await deps.signerFor(ota.signingKeyId).publicKeyPem());
  } catch (error) {
    if (error instanceof ReleaseError) return null;
    throw error;
  }
  if (released.runId !== trial.runId) return null;
  const stable = await readChannel(deps.s3, ota.bucket, layout, "stable");
  const channels = stable?.pointer?.version === version ? ["candidate", "stable"] : ["candidate"];
  deps.log.info("winner-released-before", { sweepId: manifest.sweepId, trialId: trial.trialId, version, channels });
  return { modelName: ota.modelName, version, bucket: ota.bucket, manifestKey: layout.manifest(version), channels, promotion: { promoted: channels.includes("stable"), reason: "released by an earlier round" } };
}

/** The winner's release, or why there is none; throws only when publishing itself failed (tried again next round). */
async function releaseWinner(
  deps: SweepKeeperDeps,
  manifest: SweepManifest,
  trial: SweepManifestTrial,
  record: RunRecord,
): Promise<{ release: ReleaseRef | null; note: string | null }> {
  const { s3, log } = deps;
  const bucket = manifest.artifactBucket;
  const keys = record.artifacts ?? runObjectKeys(runPrefix(trial.runId)).modelKeys;
  const scratch = await mkdtemp(join(deps.scratchDir ?? tmpdir(), "yolo-train-winner-"));
  try {
    const earlier = await releasedBefore(deps, manifest, trial);
    if (earlier !== null) return { release: earlier, note: "released by an earlier round, which ended before it wrote winner.json" };
    const resultText = await readS3Text(s3, bucket, keys.result);
    if (resultText === null) return { release: null, note: `s3://${bucket}/${keys.result} does not exist: the winner's result.json is needed for its release` };
    const parsed = parseTrainerResult(resultText, scratch);
    if (!parsed.ok) return { release: null, note: `s3://${bucket}/${keys.result} cannot be read: ${parsed.problems.join("; ")}` };
    const result = parsed.result;
    const verdict = exportVerdict(result.onnxExport);
    if (!verdict.release) return { release: null, note: `not released: ${verdict.reason}` };

    // The copy's source needs its length and SHA-256: the agent's upload recorded the SHA-256 as
    // metadata; the bytes are read once to prove it, and kept for an upload should S3 refuse the copy.
    const transfer = new CheckpointTransfer(s3, bucket, log);
    const stage = async (key: string, name: string) => {
      const head = await transfer.headObject(key);
      if (head === null) return `s3://${bucket}/${key} does not exist`;
      if (head.sha256 === null) return `s3://${bucket}/${key} has no sha256 metadata: it was not uploaded by a yolo-train agent`;
      const localPath = join(scratch, name);
      const digest = await transfer.downloadFile(key, localPath, head.sha256);
      return { key, length: digest.bytes, sha256: digest.sha256, localPath };
    };
    const [onnx, best] = await Promise.all([stage(keys.onnx, "best.onnx"), stage(keys.best, "best.pt")]);
    if (typeof onnx === "string" || typeof best === "string") return { release: null, note: [onnx, best].filter((p) => typeof p === "string").join("; ") };

    const fromTrial = (value: unknown): number | undefined => (typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined);
    const release = await releaseToChannels(
      {
        ota: manifest.ota,
        runId: trial.runId,
        artifactsBucket: bucket,
        onnx,
        best,
        metrics: result.metrics,
        inputSize: result.imgsz ?? fromTrial(trial.params.imgsz) ?? fromTrial(trial.stackConfig.imgsz) ?? DEFAULT_IMGSZ,
        classNames: result.classNames ?? [],
        runtime: modelRuntime(verdict.export),
      },
      { s3, signer: deps.signerFor(manifest.ota.signingKeyId), log, ...(deps.now ? { now: deps.now } : {}) },
    );
    return { release, note: release.promotion.reason };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Runs one round; see the module comment. */
export async function runKeeperRound(target: KeeperTarget, deps: SweepKeeperDeps): Promise<KeeperRoundSummary> {
  const { s3, log } = deps;
  const now = deps.now ?? (() => new Date());
  const manifest = await readSweepManifest(s3, target);
  const { sweepId, artifactBucket: bucket } = manifest;
  const [state, winner] = await Promise.all([
    readContract(s3, bucket, sweepStateKey(sweepId), (text) => parseSweepState(text, sweepId)),
    readContract(s3, bucket, sweepWinnerKey(sweepId), (text) => parseSweepWinner(text, sweepId)),
  ]);
  if (winner !== null && state?.done === true) {
    log.info("sweep-ended", { sweepId, winner: winner.trialId, version: winner.release?.version ?? null, note: "nothing to do" });
    return { sweepId, at: now().toISOString(), outcome: "ended", started: [], repaired: [], done: true, summary: state.summary, winner: { trialId: winner.trialId, version: winner.release?.version ?? null } };
  }

  const transfer = new CheckpointTransfer(s3, bucket, log);
  const starts = await readStarts(transfer, s3, manifest, log);
  // Groups before records: an agent writes its final record before it gives up its node, so a group
  // found empty here has a record below that says how the trial ended.
  const groups = await describeGroups(deps.autoScaling, manifest.trials.map((t) => t.groupName));
  const records = await readRecords(s3, manifest, log);
  const round = decideKeeperRound({ manifest, starts, records, groups, now: now() });
  for (const trial of round.trials) log.info("trial-status", { sweepId, trialId: trial.trialId, status: trial.status.kind, outcome: trial.status.kind === "finished" ? trial.status.outcome : null, phase: trial.phase, remainingMaxUsd: trial.remainingMaxUsd, why: trial.why });

  const failures: string[] = [];
  const started = await startTrials(deps, bucket, round, failures);
  const repaired: string[] = [];
  await Promise.all(
    round.repair.map(async ({ trial, start }) => {
      try {
        await giveCapacity(deps, trial, start);
        repaired.push(trial.trialId);
        log.info("capacity-repaired", { sweepId, trialId: trial.trialId, startedAt: start.startedAt });
      } catch (error) {
        failures.push(`${trial.trialId}: setting its capacity again failed: ${describeError(error)}`);
        log.error("capacity-repair-failed", { sweepId, trialId: trial.trialId, error: describeError(error), note: "tried again next round" });
      }
    }),
  );

  const newState: SweepState = { ...round.state, started };
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: sweepStateKey(sweepId), Body: JSON.stringify(newState, null, 2), ContentType: "application/json" }));
  log.info("round-decided", { sweepId, started, repaired, waiting: newState.waiting, spentUsd: newState.spentUsd, committedUsd: newState.committedUsd, budgetLeftUsd: newState.budgetLeftUsd, done: newState.done, summary: newState.summary });

  let decided: KeeperRoundSummary["winner"] = winner === null ? null : { trialId: winner.trialId, version: winner.release?.version ?? null };
  if (round.done && winner === null) {
    if (round.winner.kind === "none") log.warn("no-winner", { sweepId, why: round.winner.why });
    else decided = await writeWinner(deps, manifest, round.winner, records.get(round.winner.trialId)!, now);
  }
  const summary: KeeperRoundSummary = { sweepId, at: newState.at, outcome: "round", started, repaired, done: round.done, summary: newState.summary, winner: decided };
  if (failures.length > 0) throw new KeeperRoundError(failures, summary);
  return summary;
}

/** Claims each start, then gives the trial capacity; returns the trials whose start this round claimed. */
async function startTrials(deps: SweepKeeperDeps, bucket: string, round: KeeperRound, failures: string[]): Promise<string[]> {
  const { s3, log } = deps;
  const claimed: string[] = [];
  await Promise.all(
    round.start.map(async ({ trial, start }) => {
      const key = sweepTrialStartKey(start.sweepId, trial.trialId);
      try {
        if (!(await putNew(s3, bucket, key, start))) {
          log.info("start-taken", { sweepId: start.sweepId, trialId: trial.trialId, note: "another round started it" });
          return;
        }
      } catch (error) {
        failures.push(`${trial.trialId}: its start could not be written: ${describeError(error)}`);
        log.error("start-failed", { sweepId: start.sweepId, trialId: trial.trialId, error: describeError(error), note: "tried again next round" });
        return;
      }
      claimed.push(trial.trialId);
      log.info("trial-started", { sweepId: start.sweepId, trialId: trial.trialId, runId: trial.runId, group: trial.groupName, startedAt: start.startedAt, backstopAt: start.backstopAt });
      try {
        await giveCapacity(deps, trial, start);
      } catch (error) {
        failures.push(`${trial.trialId}: started, but giving it capacity failed: ${describeError(error)}`);
        log.error("capacity-failed", { sweepId: start.sweepId, trialId: trial.trialId, error: describeError(error), note: "the next round sets it again (within the start's grace period)" });
      }
    }),
  );
  // In the sweep's order, whatever order the writes finished in.
  const order = round.start.map((s) => s.trial.trialId);
  return claimed.sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

/** Releases the winner and writes `winner.json` once; another round's winner.json is kept. */
async function writeWinner(
  deps: SweepKeeperDeps,
  manifest: SweepManifest,
  decision: { readonly trialId: string; readonly runId: string; readonly value: number; readonly why: string },
  record: RunRecord,
  now: () => Date,
): Promise<KeeperRoundSummary["winner"]> {
  const { s3, log } = deps;
  const trial = manifest.trials.find((t) => t.trialId === decision.trialId)!;
  log.info("winner-decided", { sweepId: manifest.sweepId, trialId: trial.trialId, runId: trial.runId, metric: manifest.metric, value: decision.value, why: decision.why });
  const { release, note } = await releaseWinner(deps, manifest, trial, record);
  if (release === null) log.warn("winner-not-released", { sweepId: manifest.sweepId, trialId: trial.trialId, note });
  else log.info("winner-released", { sweepId: manifest.sweepId, trialId: trial.trialId, version: release.version, manifestKey: release.manifestKey, channels: release.channels, promotion: release.promotion });
  const winner: SweepWinner = {
    schemaVersion: SWEEP_WINNER_SCHEMA_VERSION,
    sweepId: manifest.sweepId,
    trialId: trial.trialId,
    runId: trial.runId,
    metric: manifest.metric,
    value: decision.value,
    decidedAt: now().toISOString(),
    release: release === null ? null : { modelName: release.modelName, version: release.version, manifestKey: release.manifestKey, channels: release.channels },
    releaseNote: note,
  };
  if (!(await putNew(s3, manifest.artifactBucket, sweepWinnerKey(manifest.sweepId), winner))) {
    log.warn("winner-already-written", { sweepId: manifest.sweepId, note: "another round wrote winner.json first; kept" });
    const existing = await readContract(s3, manifest.artifactBucket, sweepWinnerKey(manifest.sweepId), (text) => parseSweepWinner(text, manifest.sweepId));
    return existing === null ? null : { trialId: existing.trialId, version: existing.release?.version ?? null };
  }
  return { trialId: trial.trialId, version: release?.version ?? null };
}
