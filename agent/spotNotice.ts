/**
 * The instance metadata service, IMDSv2 only (the launch template requires tokens): a session token
 * from `PUT /latest/api/token`, then GETs with it. Endpoint from `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
 */
export interface SpotNotice {
  /** `terminate`, `stop` or `hibernate`. */
  readonly action: string;
  /** When it happens (about two minutes after the notice). */
  readonly time: string;
}

/** What the agent asks for: the longest TTL IMDS grants (six hours). */
export const TOKEN_TTL_SECONDS = 21_600;
/**
 * IMDSv2 tokens are opaque base64 text (56 characters in practice). The bound only has to keep
 * out what no token is: a whole error page, or bytes that never end.
 */
export const MAX_TOKEN_LENGTH = 4_096;
/** A token is renewed this long before the service says it expires, so no GET carries one on the edge. */
const RENEW_BEFORE_EXPIRY_SECONDS = 60;

export class ImdsError extends Error {
  override readonly name = "ImdsError";
}

/** `{"action":"terminate","time":"2017-09-18T08:22:00Z"}` → notice; anything else still counts as a notice (AWS only serves the path when one exists). */
export function parseSpotNotice(body: string): SpotNotice {
  try {
    const value = JSON.parse(body) as { action?: unknown; time?: unknown };
    return { action: typeof value.action === "string" ? value.action : "terminate", time: typeof value.time === "string" ? value.time : "" };
  } catch {
    return { action: "terminate", time: "" };
  }
}

export type TokenCheck = { readonly ok: true; readonly token: string } | { readonly ok: false; readonly problem: string };

const isSurroundingWhitespace = (byte: number): boolean => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
const isVisibleAscii = (byte: number): boolean => byte >= 0x21 && byte <= 0x7e;

/**
 * The body of a token answer → the token, or why it is none. Checked on the bytes: a token is sent
 * back in a header, and anything but 1–{@link MAX_TOKEN_LENGTH} visible ASCII characters either
 * makes the HTTP client refuse the header (control bytes, non-ASCII) or cannot be a token IMDS
 * issued. Whitespace around it (a trailing newline) is dropped; inside it is refused. The problem
 * never quotes the bytes: a token is a credential.
 */
export function checkTokenAnswer(body: Uint8Array): TokenCheck {
  let start = 0;
  let end = body.length;
  while (start < end && isSurroundingWhitespace(body[start]!)) start++;
  while (end > start && isSurroundingWhitespace(body[end - 1]!)) end--;
  const length = end - start;
  if (length === 0) return { ok: false, problem: "the answer is empty" };
  if (length > MAX_TOKEN_LENGTH) return { ok: false, problem: `the answer is ${length} bytes, longer than a token (${MAX_TOKEN_LENGTH})` };
  for (let i = start; i < end; i++) {
    const byte = body[i]!;
    if (!isVisibleAscii(byte)) return { ok: false, problem: `byte ${i} of the answer is 0x${byte.toString(16).padStart(2, "0")}, not visible ASCII` };
  }
  return { ok: true, token: Buffer.from(body.subarray(start, end)).toString("latin1") };
}

/**
 * How long a token is used: the TTL IMDS answered with (`X-aws-ec2-metadata-token-ttl-seconds`)
 * when it is a whole number of seconds no longer than asked for, else what was asked for; less a
 * minute (half a short TTL) so it is renewed before it lapses.
 */
export function tokenLifetimeMs(requestedSeconds: number, answeredTtl: string | null): number {
  const answered = answeredTtl !== null && /^\d{1,9}$/.test(answeredTtl.trim()) ? Number(answeredTtl.trim()) : NaN;
  const granted = answered >= 1 && answered <= requestedSeconds ? answered : requestedSeconds;
  const usable = granted > 2 * RENEW_BEFORE_EXPIRY_SECONDS ? granted - RENEW_BEFORE_EXPIRY_SECONDS : granted / 2;
  return usable * 1000;
}

/** An id as EC2 writes them (`i-0123456789abcdef0`); null for anything else. */
export function parseInstanceId(body: string): string | null {
  const id = body.trim();
  return /^[A-Za-z0-9-]{1,64}$/.test(id) ? id : null;
}

interface HeldToken {
  readonly value: string;
  /** After this (ms since epoch) a new one is fetched. */
  readonly renewAtMs: number;
}

export interface ImdsClientOptions {
  /** Per request. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

/** A request's error, with the token cut out of it: undici quotes a header value it refuses. */
function describeFailure(error: unknown, token: string | undefined): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  const text =
    error instanceof ImdsError
      ? error.message
      : error instanceof Error
        ? `${error.name}: ${error.message}${typeof cause?.code === "string" ? ` (${cause.code})` : ""}`
        : String(error);
  return token ? text.split(token).join("<token>") : text;
}

export class ImdsClient {
  /** The token the spot poll and other GETs share; dropped at the first failure of any request made with it. */
  private shared: HeldToken | null = null;
  private knownInstanceId: string | null = null;
  private instanceIdInFlight: Promise<string> | null = null;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    /** Base URL without trailing slash, e.g. `http://169.254.169.254`. */
    private readonly endpoint: string,
    options: ImdsClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.now = options.now ?? Date.now;
  }

  /** A new token, checked before anyone may use it. */
  private async newToken(): Promise<HeldToken> {
    const askedAt = this.now();
    const answer = await fetch(`${this.endpoint}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": String(TOKEN_TTL_SECONDS) },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!answer.ok) {
      await answer.body?.cancel();
      throw new ImdsError(`IMDS token: HTTP ${answer.status}`);
    }
    const checked = checkTokenAnswer(new Uint8Array(await answer.arrayBuffer()));
    if (!checked.ok) throw new ImdsError(`IMDS token: not a token (${checked.problem})`);
    // Counted from before the request: the service's clock started no later than that.
    return { value: checked.token, renewAtMs: askedAt + tokenLifetimeMs(TOKEN_TTL_SECONDS, answer.headers.get("x-aws-ec2-metadata-token-ttl-seconds")) };
  }

  private async sharedToken(): Promise<string> {
    if (this.shared !== null && this.shared.renewAtMs > this.now()) return this.shared.value;
    const token = await this.newToken();
    this.shared = token;
    return token.value;
  }

  private async getWith(path: string, token: string): Promise<string | null> {
    const answer = await fetch(`${this.endpoint}${path}`, {
      headers: { "X-aws-ec2-metadata-token": token },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (answer.status === 404) {
      await answer.body?.cancel();
      return null;
    }
    if (!answer.ok) {
      await answer.body?.cancel();
      throw new ImdsError(`HTTP ${answer.status}`);
    }
    return await answer.text();
  }

  /**
   * GET a metadata path; null on 404. Any failure (a token answer that is no token, 401, 403, 400,
   * 5xx, a refused header, a network error, a timeout) drops the token used and tries once more
   * with a new one: IMDS's statuses for a bad token are not to be relied on, and a new token is the
   * one thing the agent can change. A second failure is this call's error only; the next call
   * starts over. `freshToken` leaves the shared token alone, used or not, for callers that must
   * not depend on it.
   */
  async get(path: string, options: { readonly freshToken?: boolean } = {}): Promise<string | null> {
    let firstFailure = "";
    for (let attempt = 0; ; attempt++) {
      let token: string | undefined;
      try {
        token = options.freshToken ? (await this.newToken()).value : await this.sharedToken();
        return await this.getWith(path, token);
      } catch (error) {
        // Only the token this call used: another call may have renewed it meanwhile.
        if (!options.freshToken && token !== undefined && this.shared?.value === token) this.shared = null;
        const failure = describeFailure(error, token);
        if (attempt >= 1) throw new ImdsError(`IMDS ${path}: ${firstFailure}; with a new token: ${failure}`);
        firstFailure = failure;
      }
    }
  }

  /** The spot interruption notice, or null when there is none. */
  async spotNotice(): Promise<SpotNotice | null> {
    const body = await this.get("/latest/meta-data/spot/instance-action");
    return body === null ? null : parseSpotNotice(body);
  }

  /**
   * This instance's id. Remembered after the first answer (the agent asks at start, while IMDS
   * works), and asked with a token of its own, never the shared one: teardown needs the id, and
   * must not fail because a token the spot poll holds went bad. Concurrent callers share one request.
   */
  async instanceId(): Promise<string> {
    if (this.knownInstanceId !== null) return this.knownInstanceId;
    this.instanceIdInFlight ??= this.fetchInstanceId().finally(() => {
      this.instanceIdInFlight = null;
    });
    return this.instanceIdInFlight;
  }

  private async fetchInstanceId(): Promise<string> {
    const body = await this.get("/latest/meta-data/instance-id", { freshToken: true });
    const id = body === null ? null : parseInstanceId(body);
    if (id === null) throw new ImdsError(`IMDS instance-id: unexpected answer ${JSON.stringify((body ?? "(404)").trim().slice(0, 40))}`);
    this.knownInstanceId = id;
    return id;
  }
}
