import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { Command } from "commander";
import { isS3NotFound } from "../../ota/s3Errors";
import { runObjectKeys } from "../../runspec/bucketLayout";
import { parseStoredRecord, type RunRecord } from "../../runspec/runRecord";
import { PulumiCliNotFoundError, type StackDestroyer, type StackLauncher } from "../stackAutomation";
import { StackOutputsError, stackOutputsSource, type OutputsFlags, type StackOutputs, type StackOutputsSource } from "../stackOutputs";

/**
 * What the operating commands (status, cost, logs, down) share: where they write, the clock, how
 * they find the stack outputs, and the S3 read of the run record. Tests pass their own
 * {@link CommandIo}; AWS endpoints and credentials come from the standard environment variables,
 * which the SDK reads itself.
 */
export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  setExitCode(code: number): void;
  readonly env: NodeJS.ProcessEnv;
  /** Folder of the Pulumi project (Pulumi.yaml) for --stack. */
  readonly cwd: string;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Asks a yes/no question on the terminal; false when there is no terminal. */
  confirm(question: string): Promise<boolean>;
  /** Stops `--follow` and `--watch` loops when aborted (between polls). */
  readonly signal?: AbortSignal;
  /** Overrides `pulumi up` (tests record the call instead). */
  readonly stackLauncher?: StackLauncher;
  /** Overrides `pulumi destroy` (tests record the call instead). */
  readonly stackDestroyer?: StackDestroyer;
  /** Overrides how outputs are found (tests). */
  outputsSource?(flags: OutputsFlags): StackOutputsSource;
}

export const USAGE_EXIT_CODE = 2;

export function processIo(): CommandIo {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    setExitCode: (code) => {
      process.exitCode = code;
    },
    env: process.env,
    cwd: process.cwd(),
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    confirm: async (question) => {
      if (!process.stdin.isTTY) return false;
      const readline = await import("readline/promises");
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
      } finally {
        rl.close();
      }
    },
  };
}

/** Adds `--stack` and `--outputs-file`, which every operating command takes. */
export function withStackOptions(command: Command): Command {
  return command
    .option("--stack <name>", "Pulumi stack to read the outputs of (default: PULUMI_STACK), via the Automation API in the current folder")
    .option("--outputs-file <file>", "read the outputs from this file instead: the JSON of `pulumi stack output --json` (CI, no Pulumi CLI)");
}

export async function readOutputs(io: CommandIo, flags: OutputsFlags): Promise<StackOutputs> {
  const source = io.outputsSource ? io.outputsSource(flags) : stackOutputsSource(flags, io.cwd, io.env);
  return source.read();
}

export function s3ClientFor(outputs: StackOutputs, env: NodeJS.ProcessEnv): S3Client {
  const forcePathStyle = /^(1|true)$/i.test(env.YOLO_TRAIN_S3_FORCE_PATH_STYLE ?? "");
  return new S3Client({ region: outputs.region, ...(forcePathStyle ? { forcePathStyle } : {}) });
}

/** The run record, or null when the node has not written one yet. */
export async function readRunRecord(s3: S3Client, outputs: StackOutputs): Promise<RunRecord | null> {
  try {
    const answer = await s3.send(new GetObjectCommand({ Bucket: outputs.artifactBucketName, Key: runObjectKeys(outputs.artifactPrefix).recordKey }));
    const text = await answer.Body!.transformToString("utf8");
    return parseStoredRecord(JSON.parse(text), outputs.runId);
  } catch (error) {
    if (isS3NotFound(error)) return null;
    throw error;
  }
}

/** A wrong option value of an operating command (`--interval soon`): exit 2, said as JSON too under --json. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Errors that are the caller's to fix (a wrong option, outputs missing or unreadable, no stack named, no Pulumi CLI): exit 2. */
export function isUsageError(error: unknown): boolean {
  return error instanceof UsageError || error instanceof StackOutputsError || error instanceof PulumiCliNotFoundError;
}

/**
 * Runs a command body: a usage problem ({@link isUsageError}) exits 2, anything else 1, with the
 * error as JSON on stdout under --json. A usage error's message is said as it is; another error
 * keeps its name (`ResourceNotFoundException: …`), which tells what failed.
 */
export async function runOperation(io: CommandIo, command: string, json: boolean | undefined, body: () => Promise<number>): Promise<void> {
  try {
    io.setExitCode(await body());
  } catch (error) {
    const usage = isUsageError(error);
    const code = usage ? USAGE_EXIT_CODE : 1;
    const message = error instanceof Error ? `${!usage && error.name !== "Error" ? `${error.name}: ` : ""}${error.message}` : String(error);
    if (json) io.stdout(JSON.stringify({ error: { message, exitCode: code } }, null, 2) + "\n");
    io.stderr(`yolo-train ${command}: ${message}\n`);
    io.setExitCode(code);
  }
}
