import { spawn } from "child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import type { RunSpecInput } from "../../../runspec";
import { runSpecDocument } from "../../runspec/experimentConfig";
import { AGENT_BUNDLE, ensureAgentBuilt } from "./agentBuild";
import { AutoScalingFake } from "./autoScalingFake";
import { CloudWatchFake } from "./cloudWatchFake";
import { KmsFake } from "../../ota/fakes/kmsFake";
import { ImdsFake } from "./imdsFake";
import { RunRecordAuditor, type CheckpointFormat, type RunRecord } from "./runRecordAuditor";
import { S3Fake, S3RVER_CREDENTIALS } from "./s3Fake";
import type { S3FaultProxy } from "./s3FaultProxy";
import { readStandInLog, STAND_IN_TRAINER, type StandInEvent } from "./standInCheckpoint";

/** Exit codes of the agent (docs/node-runtime.md). */
export const EXIT = { done: 0, internalError: 70, interrupted: 75, invalidSpec: 64 } as const;

/** How an agent process ended. */
export interface AgentExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly exitedAt: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface WorldOptions {
  /** Overrides of the run spec document (test/runspec/experimentConfig.ts). */
  readonly spec?: Partial<RunSpecInput>;
  /** The spec file's exact text instead (for invalid specs). */
  readonly rawSpec?: string;
  /** The first node's instance id. */
  readonly instanceId?: string;
  /**
   * Whether the auditor checks, at each run record write, that the objects it names are in S3 and
   * whole (holding the write meanwhile). The benchmark turns it off so it times the agent alone.
   * @default true
   */
  readonly auditObjects?: boolean;
  /**
   * What the trainer's checkpoints are, for the auditor: the stand-in's, or real ultralytics ones
   * (test/agent/fakes/realTrainer.ts).
   * @default "stand-in"
   */
  readonly checkpoints?: CheckpointFormat;
  /**
   * Whether S3 keeps object versions, as the artifact bucket does on AWS; off, S3 behaves as a bucket
   * without versioning (and the agent records no version ids).
   * @default true
   */
  readonly versioning?: boolean;
}

export interface AgentRunOptions {
  /** Agent and stand-in environment on top of the world's (STANDIN_*, YOLO_TRAIN_* overrides). */
  readonly env?: Readonly<Record<string, string>>;
  /** A node's scratch disk; each node (agent run) gets a fresh one unless given. */
  readonly scratch?: string;
  /** Kill the agent and fail after this long. */
  readonly timeoutMs?: number;
  /** The node's instance metadata: another node's (see {@link NodeWorld.addConcurrentNode}); the world's by default. */
  readonly imds?: ImdsFake;
}

const FAST_POLLS = {
  YOLO_TRAIN_SPOT_POLL_MS: "100",
  YOLO_TRAIN_GPU_POLL_MS: "100",
  YOLO_TRAIN_WATCH_MS: "100",
} as const;

/** Where one node's agent finds its world: the loopback endpoints and its files. */
export interface AgentEnvironmentOptions {
  /** A folder for the node's (absent) AWS config files. */
  readonly root: string;
  readonly s3Endpoint: string;
  readonly autoScalingEndpoint: string;
  readonly kmsEndpoint: string;
  readonly cloudWatchEndpoint: string;
  readonly imdsEndpoint: string;
  readonly specPath: string;
  readonly scratch: string;
  readonly gpuFile: string;
  readonly standInLogPath: string;
  /** Agent and stand-in environment on top (STANDIN_*, YOLO_TRAIN_* overrides). */
  readonly env?: Readonly<Record<string, string>> | undefined;
}

/** The environment a node's container gives the agent bundle, with the stand-in trainer and fast polls. */
export function agentEnvironment(o: AgentEnvironmentOptions): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? o.root,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: o.s3Endpoint,
    AWS_ENDPOINT_URL_AUTO_SCALING: o.autoScalingEndpoint,
    AWS_ENDPOINT_URL_KMS: o.kmsEndpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH: o.cloudWatchEndpoint,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: o.imdsEndpoint,
    // No shared config or credentials files of whoever runs the tests.
    AWS_CONFIG_FILE: join(o.root, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(o.root, "no-aws-credentials"),
    YOLO_TRAIN_S3_FORCE_PATH_STYLE: "true",
    YOLO_TRAIN_RUN_SPEC: o.specPath,
    YOLO_TRAIN_SCRATCH: o.scratch,
    YOLO_TRAIN_TRAINER: `'${process.execPath}' '${STAND_IN_TRAINER}'`,
    YOLO_TRAIN_GPU_QUERY: `cat '${o.gpuFile}'`,
    ...FAST_POLLS,
    STANDIN_LOG: o.standInLogPath,
    STANDIN_GPU_FILE: o.gpuFile,
    STANDIN_EPOCH_MS: "150",
    ...o.env,
  };
}

/**
 * One training run's world on loopback: s3rver behind a fault proxy, an IMDSv2, an Auto Scaling
 * endpoint, a stand-in trainer and a GPU query that reads a file. {@link NodeWorld.runAgent}
 * starts the real agent bundle as a subprocess, as a node would.
 */
export class NodeWorld {
  readonly bucket: string;
  readonly prefix: string;
  readonly groupName: string;
  readonly specPath: string;
  /** What `YOLO_TRAIN_GPU_QUERY` prints (`cat` of this file); the stand-in keeps it current. */
  readonly gpuFile: string;
  /** The stand-in's journal, shared by every node of this run (it counts starts in it). */
  readonly standInLogPath: string;
  private nodes = 0;
  private readonly extraImds: ImdsFake[] = [];

  private constructor(
    readonly root: string,
    readonly spec: RunSpecInput,
    readonly s3: S3Fake,
    readonly proxy: S3FaultProxy,
    readonly imds: ImdsFake,
    readonly asg: AutoScalingFake,
    readonly auditor: RunRecordAuditor,
    rawSpec: string | undefined,
    /** Signs OTA manifests under the spec's `ota.signingKeyId` (its alias). */
    readonly kms: KmsFake,
    /** Receives the agent's training metrics (PutMetricData). */
    readonly cloudWatch: CloudWatchFake,
  ) {
    this.bucket = spec.artifacts.bucket;
    this.prefix = spec.artifacts.prefix;
    this.groupName = spec.autoScalingGroupName;
    this.specPath = join(root, "run-spec.json");
    writeFileSync(this.specPath, rawSpec ?? JSON.stringify(spec, null, 2));
    this.gpuFile = join(root, "gpu-utilisation");
    writeFileSync(this.gpuFile, "0\n");
    this.standInLogPath = join(root, "stand-in.jsonl");
  }

  static async start(options: WorldOptions = {}): Promise<NodeWorld> {
    await ensureAgentBuilt();
    const spec = runSpecDocument({ train: { epochs: 4, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} }, ...options.spec });
    const root = mkdtempSync(join(tmpdir(), "yolo-train-node-"));
    // The artifact bucket keeps versions on AWS (ArtifactBucket): the agent records and reads them.
    const s3 = await S3Fake.start([spec.artifacts.bucket, spec.ota.bucket], { versioning: options.versioning ?? true });
    const proxy = s3.proxy;
    const imds = await ImdsFake.start({ instanceId: options.instanceId ?? "i-0a1b2c3d4e5f60001" });
    const asg = await AutoScalingFake.start();
    asg.addGroup(spec.autoScalingGroupName, [imds.instanceId]);
    const auditor = new RunRecordAuditor(proxy, s3, spec.artifacts.bucket, spec.artifacts.prefix, options.auditObjects ?? true, options.checkpoints ?? "stand-in");
    const kms = await KmsFake.start({ alias: spec.ota.signingKeyId });
    const cloudWatch = await CloudWatchFake.start();
    return new NodeWorld(root, spec, s3, proxy, imds, asg, auditor, options.rawSpec, kms, cloudWatch);
  }

  /**
   * The next node of this run: a new instance in the group in place of the current one (which EC2
   * reclaimed, or which terminated itself), with no spot notice pending.
   */
  replaceNode(instanceId: string): void {
    this.asg.replaceInstance(this.groupName, this.imds.instanceId, instanceId);
    this.imds.clearSpotNotice();
    this.imds.instanceId = instanceId;
  }

  /**
   * A second instance of the run's group at the same time as the current one (capacity rebalancing,
   * an Auto Scaling health replacement, a `pulumi up` racing a slow shutdown): its own instance
   * metadata; the group's desired capacity rises with it, as Auto Scaling's does while both run.
   */
  async addConcurrentNode(instanceId: string): Promise<ImdsFake> {
    const imds = await ImdsFake.start({ instanceId });
    this.extraImds.push(imds);
    this.asg.replaceInstance(this.groupName, undefined, instanceId);
    return imds;
  }

  /** Starts the agent bundle as a node's container would; resolves when it exits. */
  runAgent(options: AgentRunOptions = {}): AgentRun {
    this.nodes += 1;
    const node = this.nodes;
    const scratch = options.scratch ?? join(this.root, `node-${node}-scratch`);
    mkdirSync(scratch, { recursive: true });
    const env = agentEnvironment({
      root: this.root,
      s3Endpoint: this.proxy.endpoint,
      autoScalingEndpoint: this.asg.endpoint,
      kmsEndpoint: this.kms.endpoint,
      cloudWatchEndpoint: this.cloudWatch.endpoint,
      imdsEndpoint: (options.imds ?? this.imds).endpoint,
      specPath: this.specPath,
      scratch,
      gpuFile: this.gpuFile,
      standInLogPath: this.standInLogPath,
      env: options.env,
    });
    return new AgentRun(node, env, join(this.root, `node-${node}-agent`), options.timeoutMs ?? 45_000, this.standInLogPath);
  }

  /** The run record as S3 holds it now. */
  async record(): Promise<RunRecord | undefined> {
    return this.s3.getJson<RunRecord>(this.bucket, `${this.prefix}run.json`);
  }

  /** Every key in the artifact and OTA buckets, sorted (the agent may write only under the run's prefix). */
  async allKeys(): Promise<string[]> {
    const artifact = await this.s3.listKeys(this.bucket);
    const ota = await this.s3.listKeys(this.spec.ota.bucket);
    return [...artifact, ...ota.map((k) => `ota:${k}`)];
  }

  async object(relativeKey: string): Promise<Buffer | undefined> {
    return this.s3.getObject(this.bucket, `${this.prefix}${relativeKey}`);
  }

  standInEvents(): StandInEvent[] {
    return readStandInLog(this.standInLogPath);
  }

  /** Stand-in trainer processes still alive now (the agent should have stopped every one). */
  liveTrainers(): number[] {
    const pids = new Set(this.standInEvents().filter((e) => e.event === "start").map((e) => e.pid));
    return [...pids].filter((pid) => isAlive(pid));
  }

  /**
   * Stand-in trainers still alive after `graceMs`: a process the agent killed may take a moment to
   * be gone (reaped by init once the agent, its parent, exits).
   */
  async survivingTrainers(graceMs = 1000): Promise<number[]> {
    const deadline = Date.now() + graceMs;
    for (;;) {
      const live = this.liveTrainers();
      if (live.length === 0 || Date.now() > deadline) return live;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async close(): Promise<void> {
    for (const pid of this.liveTrainers()) process.kill(pid, "SIGKILL");
    await Promise.all([this.imds.close(), ...this.extraImds.map((imds) => imds.close()), this.asg.close(), this.kms.close(), this.cloudWatch.close()]);
    await this.s3.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A running agent process. */
export class AgentRun {
  readonly exit: Promise<AgentExit>;
  readonly pid: number | undefined;
  private stdout = "";
  private stderr = "";

  constructor(
    readonly node: number,
    env: Record<string, string>,
    logPrefix: string,
    timeoutMs: number,
    private readonly standInLogPath: string,
  ) {
    const child = spawn(process.execPath, [AGENT_BUNDLE], { env, stdio: ["ignore", "pipe", "pipe"] });
    this.pid = child.pid;
    const outFile = createWriteStream(`${logPrefix}.stdout`);
    const errFile = createWriteStream(`${logPrefix}.stderr`);
    child.stdout.on("data", (chunk: Buffer) => {
      this.stdout += chunk.toString();
      outFile.write(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      this.stderr += chunk.toString();
      errFile.write(chunk);
    });
    this.exit = new Promise<AgentExit>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`agent (node ${node}) still running after ${timeoutMs} ms\n--- stderr ---\n${this.stderr.slice(-4000)}\n--- stdout ---\n${this.stdout.slice(-4000)}`));
      }, timeoutMs);
      child.on("error", reject);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        outFile.end();
        errFile.end();
        resolve({ code, signal, exitedAt: Date.now(), stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Output so far, for assertion messages. */
  get output(): string {
    return `--- agent node ${this.node} stderr ---\n${this.stderr.slice(-6000)}\n--- stdout ---\n${this.stdout.slice(-6000)}`;
  }

  /** Resolves once the agent's stdout so far satisfies `ready` (polled), or rejects after `timeoutMs`. */
  async waitForStdout(ready: (stdout: string) => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready(this.stdout)) {
      if (Date.now() > deadline) throw new Error(`the agent's stdout did not show what was awaited within ${timeoutMs} ms\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Resolves with the first stand-in event that matches (polling its journal), or rejects after `timeoutMs`. */
  async waitForStandIn(match: (event: StandInEvent) => boolean, timeoutMs = 30_000): Promise<StandInEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = readStandInLog(this.standInLogPath).find(match);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching stand-in event within ${timeoutMs} ms\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Alive and not a zombie (exited, waiting to be reaped). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}
