import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { applyEvent, startRecord, type RunEvent } from "../../../agent/runRecord";
import type { RunRecord } from "../../../runspec/runRecord";
import type { CommandIo } from "../../../cli/commands/operateContext";
import { run } from "../../../cli/yoloTrain";
import { S3Fake, S3RVER_CREDENTIALS } from "../../agent/fakes/s3Fake";

/**
 * What the operating-command tests share: s3rver with the stack's buckets, an outputs file as
 * `pulumi stack output --json` prints it, the standard AWS environment variables pointing the
 * real SDK at the fakes, and an in-memory {@link CommandIo}.
 */
export const RUN_ID = "exp-1";
export const ARTIFACTS = "yolo-artifacts-test";
export const DATASETS = "yolo-datasets-test";
export const GROUP = "yolo-train-nodes-test";
export const LOG_GROUP = "/yolo-train/test/exp-1";
export const NOW = Date.parse("2026-03-01T12:00:00.000Z");

export const STACK_OUTPUTS = {
  runId: RUN_ID,
  region: "us-east-1",
  artifactBucketName: ARTIFACTS,
  artifactPrefix: `runs/${RUN_ID}/`,
  datasetBucketName: DATASETS,
  autoScalingGroupName: GROUP,
  logGroupName: LOG_GROUP,
  otaPublicKeyPem: "[secret]",
  estimate: {
    gpu: "T4",
    capacity: "spot",
    instanceTypes: [
      { instanceType: "g4dn.xlarge", onDemandUsdPerHour: 0.526, spotUsdPerHour: 0.2 },
      { instanceType: "g5.xlarge", onDemandUsdPerHour: 1.006, spotUsdPerHour: 0.4 },
    ],
    chosenInstanceType: { instanceType: "g4dn.xlarge", usdPerHour: 0.2 },
    hours: 2,
    imagesPerSecond: 100,
    estimatedUsd: 0.4,
    onDemandUsd: 1.052,
  },
};

export interface MemoryIo extends CommandIo {
  readonly out: string[];
  readonly err: string[];
  readonly sleeps: number[];
  text(): string;
}

export function memoryIo(options: { cwd?: string; confirm?: boolean; onSleep?: (n: number) => Promise<void> | void; signal?: AbortSignal } = {}): MemoryIo {
  const out: string[] = [];
  const err: string[] = [];
  const sleeps: number[] = [];
  return {
    out,
    err,
    sleeps,
    text: () => out.join(""),
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    setExitCode: () => undefined,
    env: process.env,
    cwd: options.cwd ?? process.cwd(),
    now: () => NOW,
    sleep: async (ms) => {
      sleeps.push(ms);
      await options.onSleep?.(sleeps.length);
    },
    confirm: async () => options.confirm ?? false,
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

/** `run` with argv as a user types it after `yolo-train`. */
export function runCli(args: readonly string[], io: CommandIo): Promise<number> {
  return run(["node", "yolo-train", ...args], io);
}

const ENV_KEYS = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_AUTO_SCALING", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "YOLO_TRAIN_S3_FORCE_PATH_STYLE", "AWS_MAX_ATTEMPTS", "PULUMI_STACK"] as const;

export class OperateWorld {
  private readonly savedEnv = new Map<string, string | undefined>();

  private constructor(
    readonly s3: S3Fake,
    readonly dir: string,
    readonly outputsFile: string,
  ) {}

  static async start(): Promise<OperateWorld> {
    const s3 = await S3Fake.start([ARTIFACTS, DATASETS]);
    const dir = mkdtempSync(join(tmpdir(), "yolo-train-operate-"));
    const outputsFile = join(dir, "outputs.json");
    writeFileSync(outputsFile, JSON.stringify(STACK_OUTPUTS, null, 2));
    const world = new OperateWorld(s3, dir, outputsFile);
    world.setEnv({
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: "us-east-1",
      YOLO_TRAIN_S3_FORCE_PATH_STYLE: "true",
      AWS_MAX_ATTEMPTS: "1",
    });
    return world;
  }

  /** The env a subprocess needs (the test process's plus the fakes'). */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env };
  }

  setEnv(values: Partial<Record<(typeof ENV_KEYS)[number], string | undefined>>): void {
    for (const [key, value] of Object.entries(values)) {
      if (!this.savedEnv.has(key)) this.savedEnv.set(key, process.env[key]);
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }

  async putRecord(record: RunRecord): Promise<void> {
    await this.s3.putObject(ARTIFACTS, `runs/${RUN_ID}/run.json`, JSON.stringify(record));
  }

  async deleteRecord(): Promise<void> {
    const { DeleteObjectCommand } = await import("@aws-sdk/client-s3");
    await this.s3.client.send(new DeleteObjectCommand({ Bucket: ARTIFACTS, Key: `runs/${RUN_ID}/run.json` }));
  }

  async close(): Promise<void> {
    for (const [key, value] of this.savedEnv) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await this.s3.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const T0 = Date.parse("2026-03-01T10:00:00.000Z");

/**
 * A record made by the agent's own reducer: started at T0 on a $0.20/h node, training from
 * T0+60 s, `epoch` of `epochs` done by T0+60 s+`epoch`×60 s, then `end` if given.
 */
export function recordAt(options: { epoch: number; epochs?: number; end?: "completed" | "interrupted" | "hung" | "timed-out" | "failed"; interruptions?: number }): RunRecord {
  const epochs = options.epochs ?? 10;
  let state = startRecord({ runId: RUN_ID, previous: null, atMs: T0, trainingPhases: 1, firstPhaseEpochs: epochs, usdPerHour: 0.2 });
  const events: RunEvent[] = [{ type: "trainer-started", atMs: T0 + 60_000 }];
  for (let e = 1; e <= options.epoch; e++) {
    events.push({
      type: "epoch",
      atMs: T0 + 60_000 + e * 60_000,
      progress: { type: "epoch", phase: 0, phases: 1, epoch: e, epochs, metrics: { "metrics/mAP50(B)": 0.1 * e, "metrics/mAP50-95(B)": 0.05 * e }, losses: {}, imagesPerSecond: 120.5, time: null },
    });
  }
  const endAt = T0 + 60_000 + options.epoch * 60_000;
  if (options.end) events.push({ type: "ended", atMs: endAt, phase: options.end, ...(options.end !== "completed" ? { note: `stopped: ${options.end}` } : {}) });
  for (const event of events) state = applyEvent(state, event);
  return { ...state.record, interruptions: options.interruptions ?? 0 };
}
