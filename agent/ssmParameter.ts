import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { retry, type BackoffPolicy } from "./backoff";
import { describeError, type Logger } from "./log";

/**
 * Reads one SSM SecureString parameter: the W&B API key of `tracking.kind: wandb`. The client
 * is configured the standard way, so `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL` point it at a
 * local endpoint. The value is a secret: it is returned to the caller only, never logged.
 * @see https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html
 */
export const SSM_RETRY: BackoffPolicy = { maxAttempts: 5, baseMs: 500, capMs: 5_000 };

export async function readSecureParameter(options: {
  readonly name: string;
  readonly region: string;
  readonly log: Logger;
  /** A client to use instead of the standard one (tests pass one with an endpoint). */
  readonly client?: SSMClient;
}): Promise<string> {
  // The SDK retries transient errors itself; the outer retry covers a node whose network is
  // still coming up, as the agent's other first calls do.
  const client = options.client ?? new SSMClient({ region: options.region });
  return retry(
    async () => {
      const answer = await client.send(new GetParameterCommand({ Name: options.name, WithDecryption: true }));
      const value = answer.Parameter?.Value;
      if (typeof value !== "string" || value === "") throw new Error(`SSM parameter ${options.name} has no value`);
      return value;
    },
    {
      policy: SSM_RETRY,
      onRetry: (error, n, delayMs) => options.log.warn("ssm-retry", { parameter: options.name, retry: n + 1, delayMs, error: describeError(error) }),
    },
  );
}
