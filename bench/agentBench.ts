/**
 * `npm run bench:agent`: how fast the run agent moves checkpoints and reacts, on loopback.
 *
 * 1. Upload of a 256 MiB checkpoint to local s3rver (in a separate process, reached directly: the
 *    suite's proxy is left out so neither client pays for it) with the agent's uploader (CheckpointTransfer.uploadFile: SHA-256 digest,
 *    multipart upload with per-part checksums, HEAD check) and with the AWS CLI (`aws s3 cp`),
 *    alternating, several rounds; medians, throughput and the ratio. Every upload is read back and
 *    its SHA-256 compared with the file's.
 * 2. Trainer exit → teardown call: the real agent bundle with the stand-in trainer and the
 *    production poll intervals; the stand-in's exit time against the Auto Scaling fake's call time.
 *    Scenarios (TEARDOWN_SCENARIOS): small files; 64 MiB last.pt, best.pt and ONNX, none durable at
 *    exit; 64 MiB × 4, where the trainer spends 6 s on its final evaluation and export (the watcher
 *    makes the last epoch's last.pt durable meanwhile) and then saves last.pt once more with the same
 *    bytes, so four 64 MiB files pass through the end of the run (that last.pt twice, best.pt, ONNX);
 *    128 MiB last.pt and best.pt.
 * 3. Spot notice → checkpoint durable: the notice is raised just after the trainer wrote a new
 *    checkpoint (so it is not uploaded yet), with the production 5 s IMDS poll; the time until the
 *    request that completed that object in S3 ended, and until the "interrupted" record was written.
 *
 * Settings: BENCH_ROUNDS (default 5 uploads, 3 runs), BENCH_UPLOAD_MIB (256), AWS_CLI (path),
 * BENCH_ONLY (`uploads`, `latencies`, or `teardown` for part 2 alone). Without an AWS CLI, part 1
 * is skipped with a note.
 * Figures only; nothing here passes or fails except a wrong upload.
 */
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { spawn, spawnSync, type ChildProcess } from "child_process";
import { createHash, randomFillSync } from "crypto";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "fs";
import os, { tmpdir } from "os";
import { join } from "path";
import { createInterface } from "readline";
import { Readable } from "stream";
import { createS3Client } from "../agent/awsClients";
import { CheckpointTransfer } from "../agent/checkpointUploader";
import { createLogger } from "../agent/log";
import { NodeWorld } from "../test/agent/fakes/nodeWorld";
import { localS3Client, S3Fake, S3RVER_CREDENTIALS } from "../test/agent/fakes/s3Fake";
import type { StandInEvent } from "../test/agent/fakes/standInCheckpoint";

const MiB = 1024 * 1024;
const BUCKET = "yolo-train-bench-artifacts";
const UPLOAD_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const RUN_ROUNDS = Math.max(1, Math.min(UPLOAD_ROUNDS, 3));
const UPLOAD_MIB = Number(process.env.BENCH_UPLOAD_MIB ?? 256);
/** docs/node-runtime.md defaults: what a node really runs with. */
const PRODUCTION_POLLS = { YOLO_TRAIN_SPOT_POLL_MS: "5000", YOLO_TRAIN_GPU_POLL_MS: "30000", YOLO_TRAIN_WATCH_MS: "2000" };

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const progress = (text: string): void => void process.stderr.write(`${text}\n`);

function table(title: string, head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [`\n${title}`, line(head), `|${widths.map((w, i) => (i === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...rows.map(line)].join("\n");
}

// ---------------------------------------------------------------- 1. uploads

/** Child mode: local S3 in its own process, so the uploader under test does not share an event loop with the server. */
async function serveS3(): Promise<void> {
  const s3 = await S3Fake.start([BUCKET]);
  process.stdout.write(JSON.stringify({ endpoint: s3.endpoint, direct: s3.directEndpoint }) + "\n");
  const stop = (): void => void s3.close().then(() => process.exit(0));
  process.stdin.on("end", stop).resume();
  process.on("SIGTERM", stop);
}

async function startS3Process(): Promise<{ child: ChildProcess; endpoint: string; direct: string }> {
  const child = spawn(process.execPath, [...process.execArgv, __filename, "--serve-s3"], { stdio: ["pipe", "pipe", "inherit"] });
  const first = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`local S3 process exited ${String(code)}`)));
  });
  const { endpoint, direct } = JSON.parse(first) as { endpoint: string; direct: string };
  return { child, endpoint, direct };
}

function findAwsCli(): string | null {
  // The Debian awscli package (v2) at /usr/bin/aws; a pyenv shim on PATH may be another version.
  for (const candidate of [process.env.AWS_CLI, "/usr/bin/aws", "aws"]) {
    if (!candidate) continue;
    const probe = spawnSync(candidate, ["--version"], { encoding: "utf8" });
    if (probe.status === 0) return candidate;
  }
  return null;
}

function runTimed(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${command} ${args.join(" ")} exited ${String(code)}: ${stderr}`))));
  });
}

async function objectSha256(direct: string, key: string): Promise<string> {
  const client = localS3Client(direct);
  try {
    const answer = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const hash = createHash("sha256");
    for await (const chunk of answer.Body as Readable) hash.update(chunk as Buffer);
    return hash.digest("hex");
  } finally {
    client.destroy();
  }
}

interface UploadFigures {
  readonly agentMs: number[];
  readonly cliMs: number[];
  readonly cliStartupMs: number;
  readonly cliVersion: string;
  readonly partSize: number;
  readonly queueSize: number;
}

async function benchUploads(aws: string): Promise<UploadFigures> {
  const cliVersion = spawnSync(aws, ["--version"], { encoding: "utf8" }).stdout.trim();
  const work = mkdtempSync(join(tmpdir(), "yolo-train-bench-"));
  const file = join(work, "last.pt");
  progress(`writing a ${UPLOAD_MIB} MiB checkpoint of random bytes…`);
  const fd = openSync(file, "w");
  const block = Buffer.alloc(8 * MiB);
  const fileHash = createHash("sha256");
  for (let written = 0; written < UPLOAD_MIB * MiB; written += block.length) {
    randomFillSync(block);
    fileHash.update(block);
    writeSync(fd, block);
  }
  closeSync(fd);
  const fileSha = fileHash.digest("hex");

  const s3 = await startS3Process();
  const config = join(work, "aws-config");
  writeFileSync(config, "[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n");
  const cliEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: work,
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: join(work, "no-credentials"),
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_PAGER: "",
  };
  // The agent's client, configured as on a node: endpoint and credentials from the environment.
  process.env.AWS_ENDPOINT_URL_S3 = s3.direct;
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  const client = createS3Client({ region: "us-east-1", s3ForcePathStyle: true });
  const transfer = new CheckpointTransfer(client, BUCKET, createLogger(() => undefined));

  const agentMs: number[] = [];
  const cliMs: number[] = [];
  const agentOnce = async (): Promise<void> => {
    const started = performance.now();
    await transfer.uploadFile({ path: file, key: "bench/agent/last.pt" });
    agentMs.push(performance.now() - started);
    const got = await objectSha256(s3.direct, "bench/agent/last.pt");
    if (got !== fileSha) throw new Error(`agent upload is wrong: sha256 ${got}, file ${fileSha}`);
  };
  const cliOnce = async (): Promise<void> => {
    cliMs.push(await runTimed(aws, ["s3", "cp", file, `s3://${BUCKET}/bench/cli/last.pt`, "--endpoint-url", s3.direct, "--only-show-errors"], cliEnv));
    const got = await objectSha256(s3.direct, "bench/cli/last.pt");
    if (got !== fileSha) throw new Error(`AWS CLI upload is wrong: sha256 ${got}, file ${fileSha}`);
  };
  try {
    progress("warming up both uploaders…");
    await agentOnce();
    await cliOnce();
    agentMs.length = 0;
    cliMs.length = 0;
    for (let round = 1; round <= UPLOAD_ROUNDS; round++) {
      // Alternate who goes first, so neither always gets the warmer page cache.
      if (round % 2) {
        await agentOnce();
        await cliOnce();
      } else {
        await cliOnce();
        await agentOnce();
      }
      progress(`upload round ${round}/${UPLOAD_ROUNDS}: agent ${seconds(agentMs.at(-1)!)}, aws s3 cp ${seconds(cliMs.at(-1)!)}`);
    }
    const startup: number[] = [];
    for (let i = 0; i < 3; i++) startup.push(await runTimed(aws, ["--version"], cliEnv));
    return { agentMs, cliMs, cliStartupMs: median(startup), cliVersion, partSize: transfer.partSize, queueSize: transfer.queueSize };
  } finally {
    client.destroy();
    s3.child.stdin?.end();
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- 2. trainer exit → teardown

function exitOf(events: readonly StandInEvent[]): StandInEvent {
  const exit = events.find((e) => e.event === "exit" && e.code === 0);
  if (!exit) throw new Error(`the stand-in did not finish: ${JSON.stringify(events.slice(-3))}`);
  return exit;
}

/** What the stand-in leaves at the end of a run whose exit → teardown time is measured. */
interface TeardownScenario {
  readonly label: string;
  readonly checkpointMiB: number;
  /** best.onnx; the stand-in's 4 KiB when absent. */
  readonly onnxMiB?: number;
  /** Final evaluation and export after the last epoch (STANDIN_FINAL_MS). */
  readonly finalMs?: number;
  /** last.pt saved again, same bytes, just before the trainer exits (STANDIN_RESAVE_LAST). */
  readonly resaveLast?: boolean;
}

const TEARDOWN_SCENARIOS: readonly TeardownScenario[] = [
  { label: "6 MiB last.pt, best.pt", checkpointMiB: 6 },
  { label: "64 MiB last.pt, best.pt, ONNX; none durable at exit", checkpointMiB: 64, onnxMiB: 64 },
  { label: "64 MiB × 4: last.pt durable before exit and saved again, best.pt, ONNX", checkpointMiB: 64, onnxMiB: 64, finalMs: 6000, resaveLast: true },
  { label: "128 MiB last.pt, best.pt", checkpointMiB: 128 },
];

async function benchTeardown(scenario: TeardownScenario): Promise<number[]> {
  const latencies: number[] = [];
  for (let round = 1; round <= RUN_ROUNDS; round++) {
    const world = await NodeWorld.start({ auditObjects: false, spec: { train: { epochs: 3, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } } });
    try {
      const agent = world.runAgent({
        env: {
          ...PRODUCTION_POLLS,
          STANDIN_EPOCH_MS: "700",
          STANDIN_CHECKPOINT_BYTES: String(scenario.checkpointMiB * MiB),
          ...(scenario.onnxMiB !== undefined ? { STANDIN_ONNX_BYTES: String(scenario.onnxMiB * MiB) } : {}),
          ...(scenario.finalMs !== undefined ? { STANDIN_FINAL_MS: String(scenario.finalMs) } : {}),
          ...(scenario.resaveLast ? { STANDIN_RESAVE_LAST: "1" } : {}),
        },
        timeoutMs: 120_000,
      });
      const exit = await agent.exit;
      if (exit.code !== 0) throw new Error(`agent exited ${String(exit.code)}\n${agent.output}`);
      const call = world.asg.calls.find((c) => c.action === "TerminateInstanceInAutoScalingGroup");
      if (!call) throw new Error("no teardown call");
      latencies.push(call.at - exitOf(world.standInEvents()).at);
      progress(`trainer exit → teardown, ${scenario.label}, run ${round}/${RUN_ROUNDS}: ${seconds(latencies.at(-1)!)}`);
    } finally {
      await world.close();
    }
  }
  return latencies;
}

// ---------------------------------------------------------------- 3. spot notice → checkpoint durable

interface SpotFigures {
  readonly seenMs: number[];
  readonly durableMs: number[];
  readonly recordMs: number[];
}

async function benchSpot(checkpointMiB: number): Promise<SpotFigures> {
  const figures: SpotFigures = { seenMs: [], durableMs: [], recordMs: [] };
  for (let round = 1; round <= RUN_ROUNDS; round++) {
    const world = await NodeWorld.start({ auditObjects: false, spec: { train: { epochs: 50, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } } });
    try {
      const agent = world.runAgent({
        env: { ...PRODUCTION_POLLS, STANDIN_EPOCH_MS: "1500", STANDIN_CHECKPOINT_BYTES: String(checkpointMiB * MiB) },
        timeoutMs: 120_000,
      });
      // Right after a new last.pt: the agent has not uploaded it yet.
      await agent.waitForStandIn((e) => e.event === "checkpoint" && e.epoch === 2, 60_000);
      world.imds.triggerSpotNotice();
      const noticeAt = world.imds.spotNoticeTimes.triggeredAt!;
      const exit = await agent.exit;
      if (exit.code !== 75) throw new Error(`agent exited ${String(exit.code)}\n${agent.output}`);
      const record = await world.record();
      const key = record?.checkpoint?.key;
      if (!key) throw new Error("the interrupted record names no checkpoint");
      const written = world.standInEvents().filter((e) => e.event === "checkpoint").at(-1)!;
      if (record!.checkpoint!.sha256 !== written.sha256) throw new Error(`the record names epoch ${String(record!.checkpoint!.epoch)}, not the newest (${String(written.epoch)})`);
      // The request that made the object whole: a single PUT, or the CompleteMultipartUpload POST.
      const completing = world.proxy.requests.filter(
        (r) => r.key === key && r.status === 200 && ((r.method === "PUT" && !/uploadId=/.test(r.query)) || (r.method === "POST" && /uploadId=/.test(r.query))),
      );
      const durableAt = Math.max(...completing.map((r) => r.endedAt ?? 0));
      const recordAt = world.auditor.versions.find((v) => v.record.phase === "interrupted")?.at ?? NaN;
      figures.seenMs.push((world.imds.spotNoticeTimes.firstServedAt ?? NaN) - noticeAt);
      figures.durableMs.push(durableAt - noticeAt);
      figures.recordMs.push(recordAt - noticeAt);
      progress(`spot notice → durable, ${checkpointMiB} MiB checkpoint, run ${round}/${RUN_ROUNDS}: ${seconds(figures.durableMs.at(-1)!)}`);
    } finally {
      await world.close();
    }
  }
  return figures;
}

// ---------------------------------------------------------------- report

async function main(): Promise<void> {
  if (process.argv.includes("--serve-s3")) return serveS3();
  if (!existsSync(join(__dirname, "..", "node_modules", "s3rver"))) throw new Error("run npm ci first");

  const only = process.env.BENCH_ONLY;
  const out: string[] = [];
  out.push(`yolo-train agent benchmark — ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs`);
  if (only === undefined || only === "uploads") {
    const aws = findAwsCli();
    if (aws === null) out.push("\nUploads: skipped, no AWS CLI found (apt-get install -y awscli, or set AWS_CLI).");
    else out.push(reportUploads(await benchUploads(aws)));
  }
  if (only === undefined || only === "latencies" || only === "teardown") {
    const teardowns: Array<{ scenario: TeardownScenario; ms: number[] }> = [];
    for (const scenario of TEARDOWN_SCENARIOS) teardowns.push({ scenario, ms: await benchTeardown(scenario) });
    const spot = only === "teardown" ? null : { small: await benchSpot(6), large: await benchSpot(128) };
    out.push(reportLatencies(teardowns, spot));
  }
  process.stdout.write(out.join("\n") + "\n");
}

const all = (xs: readonly number[]): string => xs.map((x) => (x / 1000).toFixed(2)).join(", ");
const range = (xs: readonly number[]): string => `${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)} s`;

function reportUploads(uploads: UploadFigures): string {

  const agent = median(uploads.agentMs);
  const cli = median(uploads.cliMs);
  const rate = (ms: number): string => `${((UPLOAD_MIB / ms) * 1000).toFixed(0)} MiB/s`;
  const out: string[] = [];
  out.push(
    table(
      `Upload of a ${UPLOAD_MIB} MiB checkpoint to local s3rver (own process, direct), median of ${UPLOAD_ROUNDS} rounds after a warm-up`,
      ["uploader", "median", "throughput", "rounds (s)"],
      [
        [`agent CheckpointTransfer.uploadFile (${uploads.partSize / MiB} MiB parts × ${uploads.queueSize}, SHA-256 digest + HEAD check)`, seconds(agent), rate(agent), all(uploads.agentMs)],
        [`${uploads.cliVersion.split(" ")[0]} s3 cp (wall time, includes CLI start-up)`, seconds(cli), rate(cli), all(uploads.cliMs)],
        [`aws s3 cp minus CLI start-up (${seconds(uploads.cliStartupMs)}, median of \`aws --version\`)`, seconds(cli - uploads.cliStartupMs), rate(cli - uploads.cliStartupMs), ""],
      ],
    ),
  );
  out.push(`ratio aws-cli / agent: ${(cli / agent).toFixed(2)} (wall), ${((cli - uploads.cliStartupMs) / agent).toFixed(2)} (without CLI start-up); > 1 means the agent is faster`);
  return out.join("\n");
}

function reportLatencies(teardowns: ReadonlyArray<{ scenario: TeardownScenario; ms: number[] }>, spot: { small: SpotFigures; large: SpotFigures } | null): string {
  const out: string[] = [];
  const rows = teardowns.map(({ scenario, ms }) => ["trainer exit → TerminateInstanceInAutoScalingGroup", scenario.label, seconds(median(ms)), range(ms), all(ms), "< 5 s"]);
  if (spot !== null) {
    const { small, large } = spot;
    const seen = [...small.seenMs, ...large.seenMs];
    rows.push(
      ["spot notice → agent reads it (IMDS poll)", "", seconds(median(seen)), range(seen), all(seen), ""],
      ["spot notice → newest checkpoint durable in S3", "6 MiB", seconds(median(small.durableMs)), range(small.durableMs), all(small.durableMs), "≪ 120 s"],
      ["spot notice → newest checkpoint durable in S3", "128 MiB", seconds(median(large.durableMs)), range(large.durableMs), all(large.durableMs), "≪ 120 s"],
      ["spot notice → \"interrupted\" record written", "128 MiB", seconds(median(large.recordMs)), range(large.recordMs), all(large.recordMs), ""],
    );
  }
  out.push(
    table(
      `Latencies of the real agent (production polls: spot ${PRODUCTION_POLLS.YOLO_TRAIN_SPOT_POLL_MS} ms, watch ${PRODUCTION_POLLS.YOLO_TRAIN_WATCH_MS} ms), median and range of ${RUN_ROUNDS} runs`,
      ["from → to", "files", "median", "range", "runs (s)", "target"],
      rows,
    ),
  );
  out.push(
    "\nNotes: trainer exit → teardown includes the final checkpoint, best.pt, ONNX and result uploads, the OTA release (S3-side copies of the model, manifest, signature, channel) and the final record." +
      "\nSpot latencies start when the notice appears in IMDS; up to one 5 s poll passes before the agent sees it." +
      "\nThese runs use the suite's S3 proxy (in this process), which checks every part's checksum as S3 would; the lifecycle suite's record auditor only notes record writes here (it does not hold them to verify objects).",
  );
  return out.join("\n");
}

main().then(
  () => {
    if (!process.argv.includes("--serve-s3")) process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`bench:agent failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
