#!/usr/bin/env node
// The `yolo-train` command: `plan` (cli/plan.ts) and `edge pull|rollback|status`, the puller an
// edge box runs from a timer (docs/edge.md). Exit codes of `edge`: see EXIT_HELP.
import * as fs from "fs";
import * as path from "path";
import { Command, CommanderError, Option } from "commander";
import {
  EXIT_CODES,
  EdgeError,
  EdgeUsageError,
  HttpModelSource,
  S3ModelSource,
  VerificationRefusedError,
  pullModel,
  rollback,
  status,
  type BoxRuntime,
  type EdgeStatus,
  type ModelSource,
  type PullResult,
  type RollbackResult,
} from "../ota/edge";
import { DEFAULT_MODELS_PREFIX } from "../runspec/bucketLayout";
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_TRANSFER_LIMITS } from "../ota/edge/modelSource";
import { formatProblem, type Problem } from "../runspec/problems";
import type { ModelRuntime } from "../ota/manifest";
import { planCommand } from "./plan";
import { costCommand } from "./commands/cost";
import { downCommand } from "./commands/down";
import { launchCommand } from "./commands/launch";
import { logsCommand } from "./commands/logs";
import { processIo, type CommandIo } from "./commands/operateContext";
import { statusCommand } from "./commands/status";
import { registerOtaCommands } from "./ota";
import { registerSweepCommands } from "./commands/sweep";

const EXIT_HELP = `
Exit codes:
  0  installed, already up to date, or done
  1  unexpected error (a bug: please report it with the message)
  ${EXIT_CODES.usage}  usage: a wrong option, an unreadable or unsuitable key file, a folder holding another model, nothing to roll back
  ${EXIT_CODES.refused}  refused: the release failed verification (unsigned, tampered, signed with another key, older than installed,
     expired, wrong length or sha256); nothing was installed and the current model still runs
  ${EXIT_CODES.source}  source unreachable or too slow (--idle-timeout, --min-rate), or a key missing there (channel, manifest, file); nothing changed; retry later
  ${EXIT_CODES.local}  local I/O error in --dest (disk full, permissions, another pull holds the lock); nothing changed
  ${EXIT_CODES.incompatible}  incompatible: the release verifies but needs a higher ONNX opset than this box runs (--max-opset,
     --onnxruntime); nothing was downloaded and the current model still runs; upgrade the box's ONNX Runtime
  ${EXIT_CODES.stale}  stale view (--root-key only): the signed timestamp expired, was replayed, or says the channel is newer than
     the pointer served, or the root of trust expired: a frozen mirror, cache or bucket; nothing was installed.
     \`edge status\` exits ${EXIT_CODES.stale} too while the last view was stale or its timestamp has expired`;

interface PullFlags {
  model: string;
  channel: string;
  publicKey?: string;
  rootKey?: string;
  dest: string;
  bucket?: string;
  prefix: string;
  region?: string;
  baseUrl?: string;
  urlQuery?: string;
  maxOpset?: string;
  onnxruntime?: string;
  idleTimeout: string;
  minRate: string;
  deadlineBase: string;
  json?: boolean;
  quiet?: boolean;
}

interface DestFlags {
  dest: string;
  json?: boolean;
}

/**
 * The version of the installed yolo-train: its package.json, found upward from this file (cli/
 * when run with tsx, dist/cli/ when installed).
 */
export function packageVersion(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "yolo-train" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // no package.json here
    }
    if (path.dirname(dir) === dir) return "unknown";
  }
}

/** The whole command tree; `run` parses argv with it. */
export function yoloTrainProgram(io: CommandIo = processIo()): Command {
  const program = new Command("yolo-train")
    .description("Train YOLO detectors on AWS spot GPUs, and deliver the models to edge boxes.")
    .version(packageVersion(), "-V, --version", "print the version of yolo-train")
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({ writeOut: (t) => io.stdout(t), writeErr: (t) => io.stderr(t) })
    .addHelpText("after", `\nExit codes: 0 done; 1 unexpected error (a bug: please report it); ${EXIT_CODES.usage} usage error (a wrong option or argument, an invalid\nconfig, no stack named, no Pulumi CLI); each command's --help lists the codes it adds.`);
  // Settings copied (exitOverride, output): a usage error of `plan` exits 2 too, not through commander's process.exit(1).
  program.addCommand(planCommand("plan").copyInheritedSettings(program));
  // Operating a run (launch, status, cost, logs, down): output through `io`, so tests run them in-process.
  for (const command of [launchCommand(io), statusCommand(io), costCommand(io), logsCommand(io), downCommand(io)]) {
    program.addCommand(command.copyInheritedSettings(program).configureOutput({ writeOut: (t) => io.stdout(t), writeErr: (t) => io.stderr(t) }));
  }
  registerOtaCommands(program, io);
  registerSweepCommands(program, io);

  const edge = program
    .command("edge")
    .description("On an edge box: install signed models from the OTA bucket, roll back, show what runs.")
    .addHelpText("after", EXIT_HELP);

  edge
    .command("pull")
    .summary("install the channel's newer, verified release into --dest")
    .description(
      "Install the channel's release into --dest if it is newer than anything installed there and verifies with the pinned key: " +
        "signature, model, version, expiry, then each file's length and sha256 while downloading. Atomic: the current model runs until the new one is complete.",
    )
    .requiredOption("--model <name>", "model name (the stack's ota.modelName)")
    .option("--channel <name>", "channel to follow", "stable")
    .addOption(
      new Option("--root-key <file>", "pinned root key, PEM (the stack output otaRootPublicKeyPem): follows key rotation and revocation, and refuses a frozen view (exit 7)").conflicts("publicKey"),
    )
    .addOption(new Option("--public-key <file>", "pinned release key, PEM (the stack output otaPublicKeyPem): the older way, no rotation and no timestamp check").conflicts("rootKey"))
    .requiredOption("--dest <dir>", "destination folder, one per model; the model runs from <dir>/current/model.onnx")
    .addOption(new Option("--bucket <name>", "read from this S3 bucket (stack output otaBucketName) with the standard AWS credentials").conflicts(["baseUrl", "urlQuery"]))
    .addOption(new Option("--prefix <prefix>", "models prefix in the bucket (not the stack output otaPrefix, which ends with the model name)").default(DEFAULT_MODELS_PREFIX).conflicts("baseUrl"))
    .addOption(new Option("--region <region>", "AWS region of the bucket (default: AWS_REGION or the profile's)").conflicts("baseUrl"))
    .addOption(new Option("--base-url <url>", "read over HTTPS from the model's folder instead, e.g. https://models.example.com/models/widgets/").conflicts("bucket"))
    .addOption(new Option("--url-query <query>", "query string appended to every request (signed URLs, e.g. CloudFront Policy=…&Signature=…&Key-Pair-Id=…)"))
    .option("--max-opset <n>", "highest ONNX opset this box's runtime loads: a release needing more is refused (exit 6) before any download")
    .option("--onnxruntime <version>", "this box's ONNX Runtime version, e.g. 1.16.3: its highest opset comes from ONNX Runtime's compatibility table (with --max-opset, the lower wins)")
    .option("--idle-timeout <seconds>", "abandon a request after this long without a byte from the source (no answer, or a stalled download); exit 4", String(DEFAULT_IDLE_TIMEOUT_MS / 1000))
    .option(
      "--min-rate <KiB/s>",
      "slowest average rate accepted: each file must arrive within --deadline-base plus its declared length at this rate, or the pull ends (exit 4, nothing changed)",
      String(DEFAULT_TRANSFER_LIMITS.minBytesPerSecond / 1024),
    )
    .option("--deadline-base <seconds>", "time each file (and the pointer, manifest and signature) gets on top of its length at --min-rate", String(DEFAULT_TRANSFER_LIMITS.deadlineBaseMs / 1000))
    .option("--json", "print the result (or the error) as JSON on stdout")
    .option("-q, --quiet", "no progress lines on stderr")
    .addHelpText(
      "after",
      `
Examples:
  yolo-train edge pull --model widgets --public-key /etc/yolo-train/widgets.pem \\
    --dest /var/lib/yolo-train/widgets --bucket my-ota-bucket --region eu-west-1
  yolo-train edge pull --model widgets --channel candidate --public-key key.pem --dest ./widgets \\
    --base-url https://models.example.com/models/widgets/ --url-query "$SIGNED_QUERY"
  yolo-train edge pull --model widgets --public-key key.pem --dest ./widgets --bucket my-ota-bucket \
    --onnxruntime "$(python3 -c 'import onnxruntime; print(onnxruntime.__version__)')"

S3 credentials come the standard way (environment, profile, instance role); they need only the
stack's edgeReadPolicyArn. AWS_ENDPOINT_URL_S3 and YOLO_TRAIN_S3_FORCE_PATH_STYLE=true point it at an
S3-compatible store.
${EXIT_HELP}`,
    )
    .action(async (flags: PullFlags) => {
      const log = flags.quiet || flags.json ? undefined : (line: string) => process.stderr.write(`yolo-train edge pull: ${line}\n`);
      await runEdge("pull", flags.json, async () => {
        const timing = timingFrom(flags);
        const pinned = pinnedKeyFrom(flags);
        const box = boxRuntimeFrom(flags);
        const source = sourceFrom(flags, timing.idleTimeoutMs);
        try {
          return await pullModel({
            source,
            modelName: flags.model,
            channel: flags.channel,
            ...pinned,
            dest: flags.dest,
            box,
            minBytesPerSecond: timing.minBytesPerSecond,
            deadlineBaseMs: timing.deadlineBaseMs,
            ...(log ? { log } : {}),
          });
        } finally {
          source.destroy?.();
        }
      }, renderPull);
    });

  edge
    .command("rollback")
    .summary("go back to the version that ran before the last install")
    .description(
      "Point <dest>/current back at the version that ran before the last install, after re-checking its files' sha256. " +
        "Pulls keep refusing the version rolled back from; the next release above it installs.",
    )
    .requiredOption("--dest <dir>", "destination folder a pull installed into")
    .option("--json", "print the result (or the error) as JSON on stdout")
    .addHelpText("after", EXIT_HELP)
    .action(async (flags: DestFlags) => {
      await runEdge("rollback", flags.json, () => rollback(flags.dest), renderRollback);
    });

  edge
    .command("status")
    .summary("show what runs in --dest")
    .description("Show what runs in <dest>: model, current and previous version, the floor, expiry, files. Reads only.")
    .requiredOption("--dest <dir>", "destination folder a pull installed into")
    .option("--json", "print the status (or the error) as JSON on stdout")
    .addHelpText("after", EXIT_HELP)
    .action(async (flags: DestFlags) => {
      await runEdge(
        "status",
        flags.json,
        async () => {
          const found = await status(flags.dest);
          if (!found) throw new EdgeUsageError(`Nothing is installed in ${flags.dest}.`);
          // Printed in full, yet not a success: a monitor running `status` must see a frozen view.
          if (found.view !== undefined && !found.view.fresh) process.exitCode = EXIT_CODES.stale;
          return found;
        },
        renderStatus,
      );
    });

  return program;
}

/** `--root-key` or `--public-key`, read: exactly one of them. */
function pinnedKeyFrom(flags: PullFlags): { rootPublicKeyPem: string } | { publicKeyPem: string } {
  if (flags.rootKey !== undefined) return { rootPublicKeyPem: readKeyFile("--root-key", flags.rootKey, "otaRootPublicKeyPem") };
  if (flags.publicKey !== undefined) return { publicKeyPem: readKeyFile("--public-key", flags.publicKey, "otaPublicKeyPem") };
  throw new EdgeUsageError("Pin a key: --root-key FILE (the stack output otaRootPublicKeyPem; recommended) or --public-key FILE (the stack output otaPublicKeyPem).");
}

function readKeyFile(flag: string, file: string, output: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new EdgeUsageError(`Cannot read the pinned key ${flag} ${file}: ${(error as Error).message}. Provision it from the stack output ${output}.`);
  }
}

/** `--max-opset` and `--onnxruntime` as the puller takes them; `pullModel` checks the values' ranges. */
function boxRuntimeFrom(flags: PullFlags): BoxRuntime {
  let maxOpset: number | undefined;
  if (flags.maxOpset !== undefined) {
    if (!/^\d{1,3}$/.test(flags.maxOpset.trim())) throw new EdgeUsageError(`--max-opset must be an ONNX opset, an integer such as 17, got ${JSON.stringify(flags.maxOpset)}.`);
    maxOpset = Number(flags.maxOpset.trim());
  }
  return { ...(maxOpset !== undefined ? { maxOpset } : {}), ...(flags.onnxruntime !== undefined ? { onnxruntime: flags.onnxruntime } : {}) };
}

/** A decimal number as people type one: `30`, `0.5`, `16.5`; no signs, exponents or units. */
const DECIMAL = /^\d{1,9}(\.\d{1,6})?$/;

/**
 * `--idle-timeout`, `--min-rate` and `--deadline-base` in the puller's units, every unusable one
 * reported in one usage error (flag, value as given, what is allowed).
 */
function timingFrom(flags: PullFlags): { idleTimeoutMs: number; minBytesPerSecond: number; deadlineBaseMs: number } {
  const problems: Problem[] = [];
  const read = (flag: string, given: string, min: number, max: number, unit: string, fallback: number): number => {
    const value = DECIMAL.test(given.trim()) ? Number(given.trim()) : NaN;
    if (Number.isFinite(value) && value >= min && value <= max) return value;
    problems.push({ key: flag, value: given, allowed: `a number of ${unit} from ${min} to ${max}`, fix: `e.g. ${flag} ${fallback} (the default)` });
    return fallback;
  };
  const idle = read("--idle-timeout", flags.idleTimeout, 0.1, 3600, "seconds (not milliseconds)", DEFAULT_IDLE_TIMEOUT_MS / 1000);
  const rate = read("--min-rate", flags.minRate, 0.1, 1024 * 1024, "KiB per second", DEFAULT_TRANSFER_LIMITS.minBytesPerSecond / 1024);
  const base = read("--deadline-base", flags.deadlineBase, 0.1, 86_400, "seconds (not milliseconds)", DEFAULT_TRANSFER_LIMITS.deadlineBaseMs / 1000);
  if (problems.length > 0) {
    throw new EdgeUsageError(`${problems.length === 1 ? "An option is" : `${problems.length} options are`} unusable:\n${problems.map((p) => `  - ${formatProblem(p)}`).join("\n")}`);
  }
  return { idleTimeoutMs: Math.round(idle * 1000), minBytesPerSecond: rate * 1024, deadlineBaseMs: Math.round(base * 1000) };
}

function sourceFrom(flags: PullFlags, idleTimeoutMs: number): ModelSource {
  if (flags.bucket !== undefined) {
    const forcePathStyle = /^(1|true)$/i.test(process.env.YOLO_TRAIN_S3_FORCE_PATH_STYLE ?? "");
    return new S3ModelSource({
      bucket: flags.bucket,
      modelsPrefix: flags.prefix,
      modelName: flags.model,
      idleTimeoutMs,
      clientConfig: { ...(flags.region ? { region: flags.region } : {}), ...(forcePathStyle ? { forcePathStyle } : {}) },
    });
  }
  if (flags.baseUrl !== undefined) return new HttpModelSource({ baseUrl: flags.baseUrl, idleTimeoutMs, ...(flags.urlQuery !== undefined ? { query: flags.urlQuery } : {}) });
  throw new EdgeUsageError("Say where the releases are: --bucket NAME (S3) or --base-url URL (HTTPS).");
}

/** Runs one edge command: prints its result, or its error with the exit code of its kind. */
async function runEdge<T>(command: string, json: boolean | undefined, run: () => Promise<T>, render: (value: T) => string): Promise<void> {
  try {
    const value = await run();
    process.stdout.write(json ? JSON.stringify(value, null, 2) + "\n" : render(value));
  } catch (error) {
    if (!(error instanceof EdgeError)) throw error;
    const reason = error instanceof VerificationRefusedError ? error.reason : undefined;
    if (json) process.stdout.write(JSON.stringify({ error: { kind: error.kind, ...(reason ? { reason } : {}), message: error.message, exitCode: error.exitCode } }, null, 2) + "\n");
    process.stderr.write(`yolo-train edge ${command}: ${KIND_LABELS[error.kind]}: ${error.message}\n`);
    process.exitCode = error.exitCode;
  }
}

const KIND_LABELS: Record<EdgeError["kind"], string> = {
  usage: "usage error",
  refused: "REFUSED",
  source: "source unavailable",
  local: "local I/O error",
  incompatible: "INCOMPATIBLE",
  stale: "STALE VIEW",
};

function renderPull(r: PullResult): string {
  const lines =
    r.status === "installed"
      ? [
          `installed ${r.modelName} version ${r.version} from channel ${r.channel}${r.previousVersion !== undefined ? ` (previous: version ${r.previousVersion}, kept for rollback)` : ""}`,
          `  ${r.currentPath}/model.onnx`,
        ]
      : [`${r.modelName} is up to date: channel ${r.channel} is at version ${r.version}; current is version ${r.currentVersion}`];
  if (r.trust) lines.push(`  vouched for by root version ${r.trust.rootVersion} and the timestamp issued ${r.trust.timestampIssuedAt} (fresh until ${r.trust.timestampExpires})`);
  for (const warning of r.warnings) lines.push(`warning: ${warning}`);
  return lines.join("\n") + "\n";
}

function renderRollback(r: RollbackResult): string {
  return `rolled back ${r.modelName} from version ${r.from} to version ${r.to}; pulls install only versions above ${r.highestVersion}\n  ${r.currentPath}/model.onnx\n`;
}

function renderStatus(s: EdgeStatus): string {
  const m = s.manifest;
  const rows: Array<[string, string]> = [
    ["model", s.modelName],
    ["channel", s.channel],
    ["current", `version ${s.currentVersion} (since ${s.updatedAt})${s.rolledBackFrom !== undefined ? `, rolled back from version ${s.rolledBackFrom}` : ""}`],
    ["previous", s.previousVersion !== undefined ? `version ${s.previousVersion}` : "none"],
    ["floor", `pulls install only versions above ${s.highestVersion}`],
    ["expires", `${m.expires}${s.expired ? "  EXPIRED: no newer release has reached this box" : ""}`],
    ["run", m.runId],
    ["metrics", Object.entries(m.metrics).map(([k, v]) => `${k} ${v}`).join(", ") || "none"],
    ["runtime", m.runtime ? describeRuntime(m.runtime) : "not stated (published before manifests named the ONNX opset)"],
    ...m.files.map((f): [string, string] => ["file", `${f.path} ${f.length} bytes sha256 ${f.sha256}`]),
    ["on disk", s.versionsOnDisk.map((v) => `version ${v}`).join(", ")],
    ["path", `${s.currentPath}/model.onnx`],
    ["view", describeView(s.view)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(9)} ${v}`).join("\n") + "\n";
}

/** The freshness row of `edge status`. */
function describeView(view: EdgeStatus["view"]): string {
  if (view === undefined) return "not checked: the release key is pinned (--public-key); pin the root key (--root-key) to detect a frozen view";
  const timestamp = view.timestampIssuedAt !== undefined ? `timestamp issued ${view.timestampIssuedAt}, expires ${view.timestampExpires}` : "no timestamp accepted yet";
  const check = view.lastCheck ? `; last checked ${view.lastCheck.at} (channel ${view.lastCheck.channel})` : "";
  if (view.fresh) return `FRESH: root version ${view.rootVersion}, ${timestamp}${check}`;
  const why = view.lastCheck?.outcome === "stale" ? view.lastCheck.problem : view.timestampExpires !== undefined ? `the timestamp expired at ${view.timestampExpires} and no pull has seen a newer one` : "no fresh view yet";
  return `STALE: ${why} (root version ${view.rootVersion}, ${timestamp}${check})`;
}

/** `ONNX opset 17, input 1×3×640×640, output 1×84×8400, NMS not in the graph; verified with onnxruntime 1.20.1`. */
function describeRuntime(r: ModelRuntime): string {
  return (
    `${r.format.toUpperCase()} opset ${r.opset}, input ${r.inputShape.join("×")}, output ${r.outputShape.join("×")}, ` +
    `NMS ${r.nms ? "in the graph" : "not in the graph (run it on the output)"}; verified with ${r.verifiedWith.name} ${r.verifiedWith.version}`
  );
}

/**
 * Parses `argv` (with the node and script entries first, as in `process.argv`) and runs the
 * command; resolves to the exit code. `io` carries the operating commands' output (tests).
 */
export async function run(argv: readonly string[], io: CommandIo = processIo()): Promise<number> {
  let operationCode: number | undefined;
  const tracked: CommandIo = {
    ...io,
    setExitCode: (code) => {
      operationCode = code;
      io.setExitCode(code);
    },
  };
  const program = yoloTrainProgram(tracked);
  try {
    await program.parseAsync([...argv]);
    if (operationCode !== undefined) return operationCode;
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_CODES.usage;
    if (error instanceof EdgeError) {
      process.stderr.write(`yolo-train: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`yolo-train failed unexpectedly: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void run(process.argv).then((code) => {
    process.exitCode = code;
  });
}
