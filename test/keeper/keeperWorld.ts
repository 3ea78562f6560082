import { AutoScalingClient, TerminateInstanceInAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { KMSClient } from "@aws-sdk/client-kms";
import type { S3Client } from "@aws-sdk/client-s3";
import { SchedulerClient } from "@aws-sdk/client-scheduler";
import { createHash } from "crypto";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { createLogger } from "../../agent/log";
import { runKeeperRound, type KeeperRoundSummary, type SweepKeeperDeps } from "../../keeper/sweepKeeper";
import { KmsSigner } from "../../ota/signature";
import { runObjectKeys, runPrefix, sweepManifestKey, sweepStartsPrefix, sweepStateKey, sweepWinnerKey } from "../../runspec/bucketLayout";
import type { SweepManifest, SweepState, SweepTrialStart, SweepWinner } from "../../runspec/sweep/sweepManifest";
import { AutoScalingFake } from "../agent/fakes/autoScalingFake";
import { PASSING_ONNX_EXPORT } from "../agent/fakes/onnxExportFixture";
import { localS3Client, S3Fake, S3RVER_CREDENTIALS } from "../agent/fakes/s3Fake";
import { SchedulerFake } from "../agent/fakes/schedulerFake";
import { KmsFake } from "../ota/fakes/kmsFake";
import { ARTIFACTS, OTA_BUCKET, SIGNING_KEY } from "./sweepFixture";

/** Where `pulumi up` anchored every backstop: long before the keeper starts a trial. */
export const DEPLOYED_AT = "2026-12-01T00:00:00";
export const BACKSTOP_TARGET_ARN = "arn:aws:scheduler:::aws-sdk:autoscaling:updateAutoScalingGroup";
export const BACKSTOP_ROLE_ARN = "arn:aws:iam::111122223333:role/yolo-train-dev-backstop";

const sha256 = (bytes: Buffer | string): string => createHash("sha256").update(bytes).digest("hex");

/**
 * A deployed sweep on loopback, for the keeper: s3rver with the artifact and OTA buckets, the trials'
 * groups (empty) in the Auto Scaling fake, their backstop schedules in the Scheduler fake (as the
 * Guardrails component leaves them), and the release key in the KMS fake.
 */
export class KeeperWorld {
  readonly client: S3Client;
  readonly autoScaling: AutoScalingClient;
  readonly scheduler: SchedulerClient;
  readonly kmsClient: KMSClient;
  readonly scratch: string;
  /** Every keeper log line, parsed. */
  readonly logLines: Array<Record<string, unknown>> = [];

  private constructor(
    readonly s3: S3Fake,
    readonly asg: AutoScalingFake,
    readonly schedulerFake: SchedulerFake,
    readonly kms: KmsFake,
    readonly manifest: SweepManifest,
  ) {
    this.client = localS3Client(s3.endpoint);
    const local = { region: "us-east-1", credentials: S3RVER_CREDENTIALS, maxAttempts: 1 };
    this.autoScaling = new AutoScalingClient({ ...local, endpoint: asg.endpoint });
    this.scheduler = new SchedulerClient({ ...local, endpoint: schedulerFake.endpoint });
    this.kmsClient = new KMSClient({ ...local, endpoint: kms.endpoint });
    this.scratch = mkdtempSync(join(tmpdir(), "yolo-train-keeper-"));
  }

  static async start(manifest: SweepManifest, options: { versioning?: boolean } = {}): Promise<KeeperWorld> {
    const s3 = await S3Fake.start([ARTIFACTS, OTA_BUCKET], { versioning: options.versioning ?? true });
    const asg = await AutoScalingFake.start();
    const schedulerFake = await SchedulerFake.start();
    const kms = await KmsFake.start({ alias: SIGNING_KEY });
    for (const trial of manifest.trials) {
      asg.addGroup(trial.groupName, []);
      schedulerFake.addSchedule({
        Name: trial.backstopScheduleName,
        ScheduleExpression: `at(${DEPLOYED_AT})`,
        ScheduleExpressionTimezone: "UTC",
        FlexibleTimeWindow: { Mode: "OFF" },
        Description: "yolo-train max-runtime backstop",
        Target: {
          Arn: BACKSTOP_TARGET_ARN,
          RoleArn: BACKSTOP_ROLE_ARN,
          Input: JSON.stringify({ AutoScalingGroupName: trial.groupName, MinSize: 0, DesiredCapacity: 0 }),
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
        },
      });
    }
    const world = new KeeperWorld(s3, asg, schedulerFake, kms, manifest);
    await world.writeManifest(manifest);
    return world;
  }

  async writeManifest(manifest: SweepManifest | string): Promise<void> {
    await this.s3.putObject(ARTIFACTS, sweepManifestKey(this.manifest.sweepId), typeof manifest === "string" ? manifest : JSON.stringify(manifest));
  }

  deps(now?: () => Date): SweepKeeperDeps {
    return {
      s3: this.client,
      autoScaling: this.autoScaling,
      scheduler: this.scheduler,
      signerFor: (keyId) => new KmsSigner({ keyId, client: this.kmsClient }),
      log: createLogger((line) => void this.logLines.push(JSON.parse(line) as Record<string, unknown>), "yolo-train-sweep-keeper"),
      scratchDir: this.scratch,
      ...(now ? { now } : {}),
    };
  }

  round(now?: () => Date): Promise<KeeperRoundSummary> {
    return runKeeperRound({ bucket: ARTIFACTS, sweepId: this.manifest.sweepId }, this.deps(now));
  }

  /** Log events of the keeper, in order. */
  events(event: string): Array<Record<string, unknown>> {
    return this.logLines.filter((l) => l.event === event);
  }

  async starts(): Promise<SweepTrialStart[]> {
    const keys = await this.s3.listKeys(ARTIFACTS, sweepStartsPrefix(this.manifest.sweepId));
    return Promise.all(keys.map(async (key) => (await this.s3.getJson<SweepTrialStart>(ARTIFACTS, key))!));
  }

  async state(): Promise<SweepState | undefined> {
    return this.s3.getJson<SweepState>(ARTIFACTS, sweepStateKey(this.manifest.sweepId));
  }

  async winner(): Promise<SweepWinner | undefined> {
    return this.s3.getJson<SweepWinner>(ARTIFACTS, sweepWinnerKey(this.manifest.sweepId));
  }

  /** Groups whose desired capacity is above 0 now. */
  groupsWithCapacity(): string[] {
    return this.manifest.trials.filter((t) => (this.asg.desiredCapacity(t.groupName) ?? 0) > 0).map((t) => t.trialId);
  }

  trial(trialId: string) {
    const trial = this.manifest.trials.find((t) => t.trialId === trialId);
    if (!trial) throw new Error(`no trial ${trialId}`);
    return trial;
  }

  /** A node comes up in the trial's group (the keeper gave it capacity) and its agent writes its first record. */
  async nodeUp(trialId: string, instanceId: string): Promise<void> {
    const trial = this.trial(trialId);
    this.asg.replaceInstance(trial.groupName, undefined, instanceId);
    await this.writeRecord(trialId, { phase: "training" });
  }

  /**
   * The trial's agent ends it as an agent does: the final record first, then its own instance terminated with
   * the group's desired capacity decremented (through the real SDK).
   */
  async trialEnds(trialId: string, record: { phase: string; metrics?: Record<string, number>; estimatedCostUsd?: number }): Promise<void> {
    const trial = this.trial(trialId);
    await this.writeRecord(trialId, record);
    for (const instanceId of this.asg.instances(trial.groupName)) {
      await this.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instanceId, ShouldDecrementDesiredCapacity: true }));
    }
  }

  async writeRecord(trialId: string, record: { phase: string; metrics?: Record<string, number>; estimatedCostUsd?: number }): Promise<void> {
    const trial = this.trial(trialId);
    const keys = runObjectKeys(runPrefix(trial.runId));
    const at = new Date().toISOString();
    await this.s3.putObject(
      ARTIFACTS,
      keys.recordKey,
      JSON.stringify({ runId: trial.runId, epoch: 4, epochs: 4, metrics: {}, estimatedCostUsd: 0, startedAt: at, updatedAt: at, history: [], ...record, artifacts: record.phase === "completed" ? keys.modelKeys : null }),
    );
  }

  /** The model files a completed trial's agent uploads (with their sha256 metadata, as the agent writes them). */
  async uploadModel(trialId: string, metrics: Record<string, number>, extra: Record<string, unknown> = {}): Promise<{ onnx: Buffer; best: Buffer }> {
    const trial = this.trial(trialId);
    const keys = runObjectKeys(runPrefix(trial.runId)).modelKeys;
    const onnx = Buffer.from(`onnx model of ${trialId}\n`.repeat(50));
    const best = Buffer.from(`pytorch weights of ${trialId}\n`.repeat(80));
    const result = JSON.stringify({ status: "completed", best: "weights/best.pt", onnx: "weights/best.onnx", metrics, imgsz: 640, classNames: ["widget"], onnxExport: PASSING_ONNX_EXPORT, ...extra });
    await this.s3.putObject(ARTIFACTS, keys.onnx, onnx, { sha256: sha256(onnx) });
    await this.s3.putObject(ARTIFACTS, keys.best, best, { sha256: sha256(best) });
    await this.s3.putObject(ARTIFACTS, keys.result, result, { sha256: sha256(result) });
    return { onnx, best };
  }

  async close(): Promise<void> {
    for (const client of [this.client, this.autoScaling, this.scheduler, this.kmsClient]) client.destroy();
    await Promise.all([this.asg.close(), this.schedulerFake.close(), this.kms.close()]);
    await this.s3.close();
    rmSync(this.scratch, { recursive: true, force: true });
  }
}
