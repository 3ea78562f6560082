import { spawn, type ChildProcess } from "child_process";
import * as path from "path";
import { tsNodeArgs } from "../../../support/tsBuild";

const ROOT = path.resolve(__dirname, "..", "..", "..", "..");
const CLI = path.join(ROOT, "cli", "yoloTrain.ts");

/** How a `yolo-train` process ended, and what it printed. */
export interface CliOutcome {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRun {
  /** HOME of the process: a test folder, so nothing of whoever runs the tests is read. */
  readonly home: string;
  /** The S3 endpoint the process talks to (local S3, or a proxy in front of it). */
  readonly s3Endpoint: string;
  /** More environment, e.g. `NODE_EXTRA_CA_CERTS`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Sees the child once spawned (to signal it, say). */
  readonly onSpawn?: (child: ChildProcess) => void;
}

/**
 * Runs `yolo-train …` in a process of its own, with S3 credentials only for the local S3. One
 * plain Node process running the CLI's sources from their prebuilt JavaScript (test/support/tsBuild.ts,
 * transpiled once per test run rather than by tsx in every process), not the `tsx` wrapper: the
 * wrapper runs the program in a child process, which a SIGKILL to the wrapper would leave running.
 */
export function runYoloTrain(args: readonly string[], run: CliRun): Promise<CliOutcome> {
  const nodeArgs = tsNodeArgs(CLI);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: run.home,
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
        AWS_REGION: "us-east-1",
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_ENDPOINT_URL_S3: run.s3Endpoint,
        YOLO_TRAIN_S3_FORCE_PATH_STYLE: "true",
        ...run.env,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    run.onSpawn?.(child);
  });
}
