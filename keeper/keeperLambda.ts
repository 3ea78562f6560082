/**
 * The sweep keeper's Lambda handler (issue 12), run every minute by EventBridge Scheduler:
 * configuration from the environment ({@link KEEPER_ENV}), one round (keeper/sweepKeeper.ts),
 * a small summary back. The region and credentials come from Lambda; the clients are configured
 * the standard way, so `AWS_ENDPOINT_URL_<SERVICE>` points them elsewhere. Errors propagate: the
 * function's failure alarm counts them. Bundled with esbuild into `dist-lambda/sweepKeeper/index.js`
 * ({@link KEEPER_FUNCTION_BUNDLE}); the handler is `index.handler`.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { SchedulerClient } from "@aws-sdk/client-scheduler";
import { createLogger } from "../agent/log";
import { KmsSigner } from "../ota/signature";
import { S3_FORCE_PATH_STYLE_ENV } from "../ota/trust/timestampLambda";
import { isS3BucketName } from "../runspec/awsPatterns";
import { RUN_ID_PATTERN } from "../runspec/schema";
import { KEEPER_ENV } from "./keeperEnv";
import { runKeeperRound, type KeeperRoundSummary, type KeeperTarget } from "./sweepKeeper";

/** The function's configuration, read from its environment. */
export interface KeeperConfig extends KeeperTarget {
  readonly s3ForcePathStyle: boolean;
}

/** Thrown by {@link readKeeperEnv}: every variable that is missing or invalid, one per line. */
export class KeeperConfigError extends Error {
  override readonly name = "KeeperConfigError";
  constructor(readonly problems: readonly string[]) {
    super(`The sweep keeper's environment has ${problems.length} ${problems.length === 1 ? "problem" : "problems"}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** Reads and checks the configuration, every problem at once, each naming its variable. */
export function readKeeperEnv(env: NodeJS.ProcessEnv): KeeperConfig {
  const problems: string[] = [];
  const required = (name: string): string | undefined => {
    const value = env[name]?.trim();
    if (value === undefined || value === "") problems.push(`${name} is not set`);
    return value || undefined;
  };
  const bucket = required(KEEPER_ENV.bucket);
  if (bucket !== undefined && !isS3BucketName(bucket)) problems.push(`${KEEPER_ENV.bucket}=${JSON.stringify(bucket)}: must be an S3 bucket name (3-63 characters of a-z, 0-9, '.' and '-'), the sweep's artifact bucket`);
  const sweepId = required(KEEPER_ENV.sweepId);
  if (sweepId !== undefined && !RUN_ID_PATTERN.test(sweepId)) problems.push(`${KEEPER_ENV.sweepId}=${JSON.stringify(sweepId)}: must be a sweep id such as "sweep-0123456789ab" (1-48 characters of a-z, 0-9 and '-')`);
  const pathStyle = (env[S3_FORCE_PATH_STYLE_ENV] ?? "").trim().toLowerCase();
  if (!["", "true", "false", "1", "0"].includes(pathStyle)) problems.push(`${S3_FORCE_PATH_STYLE_ENV}=${JSON.stringify(env[S3_FORCE_PATH_STYLE_ENV])}: must be "true" or "false"`);
  if (problems.length > 0) throw new KeeperConfigError(problems);
  return { bucket: bucket!, sweepId: sweepId!, s3ForcePathStyle: pathStyle === "true" || pathStyle === "1" };
}

/** The Lambda handler: one keeper round for the sweep of the environment. The event (the schedule's) carries nothing it needs. */
export async function handler(_event?: unknown): Promise<KeeperRoundSummary> {
  const config = readKeeperEnv(process.env);
  const s3 = new S3Client(config.s3ForcePathStyle ? { forcePathStyle: true } : {});
  const autoScaling = new AutoScalingClient({});
  const scheduler = new SchedulerClient({});
  const kms = new KMSClient({});
  try {
    return await runKeeperRound(config, {
      s3,
      autoScaling,
      scheduler,
      signerFor: (keyId) => new KmsSigner({ keyId, client: kms }),
      log: createLogger((line) => console.log(line), "yolo-train-sweep-keeper"),
    });
  } finally {
    for (const client of [s3, autoScaling, scheduler, kms]) client.destroy();
  }
}

