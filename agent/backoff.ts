/**
 * Retry schedule for the agent's own retries (around whole uploads, record writes, teardown),
 * on top of the AWS SDK's per-request retries. Exponential backoff with full jitter, as the AWS
 * Architecture Blog recommends: it spreads retries of many clients and never waits longer than the cap.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export interface BackoffPolicy {
  /** Tries in all, the first included. */
  readonly maxAttempts: number;
  /** Upper bound of the first wait. */
  readonly baseMs: number;
  /** No wait is longer than this. */
  readonly capMs: number;
}

/** Wait before retry number `retry` (0 = the wait after the first failure); `random` in [0, 1). */
export function backoffDelayMs(policy: BackoffPolicy, retry: number, random: () => number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, retry));
  return Math.floor(Math.min(0.999999, Math.max(0, random())) * ceiling);
}

/**
 * Whether an error is worth retrying: network failures, timeouts, throttling and 5xx are;
 * a 4xx answer (access denied, no such bucket, validation) will not change by waiting.
 */
export function isTransientError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { name?: string; code?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number }; $fault?: string };
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429 || status === 408 || /throttl|slowdown|requesttimeout/i.test(e.name ?? "");
  if (/throttl|timeout|abort|slowdown/i.test(e.name ?? "")) return true;
  const code = e.code ?? "";
  if (/^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|UND_ERR_)/.test(code)) return true;
  // Errors without an HTTP answer or a code (a socket closed mid-stream, a checksum mismatch we raised) are transient.
  return e.$fault !== "client";
}

export interface RetryOptions {
  readonly policy: BackoffPolicy;
  /** Called before each wait; for logging. */
  readonly onRetry?: (error: unknown, retry: number, delayMs: number) => void;
  readonly isRetryable?: (error: unknown) => boolean;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Give up (rethrow) rather than wait past this time (ms since epoch). */
  readonly deadlineMs?: number;
  readonly now?: () => number;
  /** Stops retrying (the current error is rethrown) and cuts a wait short once aborted. */
  readonly signal?: AbortSignal;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/** Runs `operation` until it succeeds, a non-transient error occurs, tries run out or the deadline would pass. */
export async function retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const isRetryable = options.isRetryable ?? isTransientError;
  const wait = options.sleep ?? ((ms: number) => sleep(ms, options.signal));
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt + 1 >= options.policy.maxAttempts || options.signal?.aborted || !isRetryable(error)) throw error;
      const delayMs = backoffDelayMs(options.policy, attempt, random);
      if (options.deadlineMs !== undefined && now() + delayMs >= options.deadlineMs) throw error;
      options.onRetry?.(error, attempt, delayMs);
      await wait(delayMs);
      if (options.signal?.aborted) throw error;
    }
  }
}
