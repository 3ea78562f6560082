import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";

/**
 * The agent's AWS SDK clients, configured the standard way: endpoints come from
 * `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_AUTO_SCALING` and credentials
 * from the default chain (the instance role on a node), which the SDK reads itself. The agent only
 * adds the region from the run spec, path-style addressing when asked, timeouts and retries.
 */
export interface AwsClientOptions {
  readonly region: string;
  readonly s3ForcePathStyle: boolean;
  /** SDK tries per request (standard retry mode: exponential backoff, throttling-aware). */
  readonly maxAttempts?: number;
}

/** The caller's choice, else `AWS_MAX_ATTEMPTS` as with any SDK client, else 5 tries per request. */
function sdkMaxAttempts(options: AwsClientOptions): number {
  if (options.maxAttempts !== undefined) return options.maxAttempts;
  const fromEnv = Number(process.env.AWS_MAX_ATTEMPTS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 5;
}

// A stalled connection must fail and be retried rather than hang the agent (a spot notice leaves
// two minutes); data that keeps flowing is never cut off.
const requestHandler = { connectionTimeout: 5_000, socketTimeout: 30_000 };

export function createS3Client(options: AwsClientOptions): S3Client {
  return new S3Client({
    region: options.region,
    forcePathStyle: options.s3ForcePathStyle,
    maxAttempts: sdkMaxAttempts(options),
    retryMode: "standard",
    requestHandler,
  });
}

export function createAutoScalingClient(options: AwsClientOptions): AutoScalingClient {
  return new AutoScalingClient({ region: options.region, maxAttempts: sdkMaxAttempts(options), retryMode: "standard", requestHandler });
}

/** Signs OTA manifests; `AWS_ENDPOINT_URL_KMS` points it elsewhere, as for the other clients. */
export function createKmsClient(options: AwsClientOptions): KMSClient {
  return new KMSClient({ region: options.region, maxAttempts: sdkMaxAttempts(options), retryMode: "standard", requestHandler });
}
