/**
 * The instance metadata service, IMDSv2 only (the launch template requires tokens): a session token
 * from `PUT /latest/api/token`, then GETs with it. Endpoint from `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
 */
export interface SpotNotice {
  /** `terminate`, `stop` or `hibernate`. */
  readonly action: string;
  /** When it happens (about two minutes after the notice). */
  readonly time: string;
}

const TOKEN_TTL_SECONDS = 21_600;

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

export class ImdsClient {
  private token: { value: string; expiresAtMs: number } | null = null;
  private instanceIdCache: string | null = null;

  constructor(
    /** Base URL without trailing slash, e.g. `http://169.254.169.254`. */
    private readonly endpoint: string,
    private readonly timeoutMs = 2_000,
  ) {}

  private async fetchToken(): Promise<string> {
    const now = Date.now();
    if (this.token && this.token.expiresAtMs > now) return this.token.value;
    const answer = await fetch(`${this.endpoint}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": String(TOKEN_TTL_SECONDS) },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!answer.ok) throw new ImdsError(`IMDS token: HTTP ${answer.status}`);
    const value = (await answer.text()).trim();
    this.token = { value, expiresAtMs: now + (TOKEN_TTL_SECONDS - 60) * 1000 };
    return value;
  }

  /** GET a metadata path; null on 404. A rejected token (401) is renewed once. */
  async get(path: string): Promise<string | null> {
    for (let tries = 0; ; tries++) {
      const token = await this.fetchToken();
      const answer = await fetch(`${this.endpoint}${path}`, {
        headers: { "X-aws-ec2-metadata-token": token },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (answer.status === 404) {
        await answer.body?.cancel();
        return null;
      }
      if (answer.status === 401 && tries === 0) {
        await answer.body?.cancel();
        this.token = null;
        continue;
      }
      if (!answer.ok) throw new ImdsError(`IMDS ${path}: HTTP ${answer.status}`);
      return await answer.text();
    }
  }

  /** The spot interruption notice, or null when there is none. */
  async spotNotice(): Promise<SpotNotice | null> {
    const body = await this.get("/latest/meta-data/spot/instance-action");
    return body === null ? null : parseSpotNotice(body);
  }

  async instanceId(): Promise<string> {
    if (this.instanceIdCache !== null) return this.instanceIdCache;
    const body = await this.get("/latest/meta-data/instance-id");
    const id = body?.trim() ?? "";
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw new ImdsError(`IMDS instance-id: unexpected answer ${JSON.stringify(id.slice(0, 40))}`);
    this.instanceIdCache = id;
    return id;
  }
}
