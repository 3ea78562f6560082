import fc from "fast-check";
import { backoffDelayMs, isTransientError, retry, type BackoffPolicy } from "../../../agent/backoff";

const policy: BackoffPolicy = { maxAttempts: 5, baseMs: 100, capMs: 1_000 };

describe("backoffDelayMs", () => {
  it("never waits longer than the cap or the exponential ceiling, and never negative", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.double({ min: 0, max: 1, noNaN: true }), (retryIndex, r) => {
        const delay = backoffDelayMs(policy, retryIndex, () => r);
        return delay >= 0 && delay <= Math.min(policy.capMs, policy.baseMs * 2 ** retryIndex) && Number.isInteger(delay);
      }),
    );
  });

  it.each([
    [0, 100],
    [1, 200],
    [2, 400],
    [3, 800],
    [4, 1_000],
    [10, 1_000],
  ])("allows up to the exponential ceiling after retry %i (%i ms) with full jitter", (retryIndex, ceiling) => {
    expect(backoffDelayMs(policy, retryIndex, () => 0.999999)).toBe(ceiling - 1);
    expect(backoffDelayMs(policy, retryIndex, () => 0)).toBe(0);
  });
});

describe("isTransientError", () => {
  const sdkError = (name: string, status: number | undefined, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(name), { name, $metadata: status === undefined ? {} : { httpStatusCode: status }, ...extra });

  it.each([
    ["a 500 InternalError", sdkError("InternalError", 500)],
    ["a 503 SlowDown", sdkError("SlowDown", 503)],
    ["a 429 throttle", sdkError("TooManyRequestsException", 429)],
    ["a throttling name on 400", sdkError("Throttling", 400)],
    ["a socket reset", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })],
    ["a timeout", sdkError("TimeoutError", undefined)],
    ["an SDK-marked retryable error", sdkError("Whatever", 400, { $retryable: {} })],
  ])("retries %s", (_label, error) => {
    expect(isTransientError(error)).toBe(true);
  });

  it.each([
    ["access denied", sdkError("AccessDenied", 403)],
    ["no such bucket", sdkError("NoSuchBucket", 404)],
    ["a validation error", sdkError("ValidationError", 400)],
    ["a client-fault error without status", sdkError("InvalidParameter", undefined, { $fault: "client" })],
    ["a non-object", "boom"],
  ])("does not retry %s", (_label, error) => {
    expect(isTransientError(error)).toBe(false);
  });
});

describe("retry", () => {
  const noSleep = async (): Promise<void> => undefined;

  it("returns the first success after transient failures", async () => {
    let calls = 0;
    const value = await retry(
      async () => {
        calls++;
        if (calls < 3) throw Object.assign(new Error("x"), { $metadata: { httpStatusCode: 500 } });
        return "ok";
      },
      { policy, sleep: noSleep },
    );
    expect(value).toBe("ok");
    expect(calls).toBe(3);
  });

  it("gives up after maxAttempts tries and rethrows the last error", async () => {
    let calls = 0;
    const failing = retry(
      async () => {
        calls++;
        throw Object.assign(new Error(`fail ${calls}`), { $metadata: { httpStatusCode: 503 } });
      },
      { policy, sleep: noSleep },
    );
    await expect(failing).rejects.toThrow("fail 5");
    expect(calls).toBe(5);
  });

  it("does not retry a permanent error", async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw Object.assign(new Error("denied"), { $metadata: { httpStatusCode: 403 } });
        },
        { policy, sleep: noSleep },
      ),
    ).rejects.toThrow("denied");
    expect(calls).toBe(1);
  });

  it("stops instead of waiting past the deadline", async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw Object.assign(new Error("slow"), { $metadata: { httpStatusCode: 500 } });
        },
        { policy, sleep: noSleep, random: () => 0.5, now: () => 1_000, deadlineMs: 1_040 },
      ),
    ).rejects.toThrow("slow");
    // First wait would be 50 ms: 1000 + 50 >= 1040.
    expect(calls).toBe(1);
  });

  it("stops retrying once its signal is aborted, cutting the wait short", async () => {
    const abort = new AbortController();
    let calls = 0;
    const started = Date.now();
    const run = retry(
      async () => {
        calls++;
        throw Object.assign(new Error("busy"), { $metadata: { httpStatusCode: 500 } });
      },
      { policy: { maxAttempts: 5, baseMs: 60_000, capMs: 60_000 }, random: () => 0.99, signal: abort.signal },
    );
    setTimeout(() => abort.abort(), 20);
    await expect(run).rejects.toThrow("busy");
    expect(calls).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
