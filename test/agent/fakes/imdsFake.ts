import { randomBytes } from "crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "http";
import { closeServer, listenOnLoopback, readBody } from "./loopback";

/** One request the fake instance metadata service answered. */
export interface ImdsRequest {
  readonly at: number;
  readonly method: string;
  /** The path as received, before `//` was collapsed. */
  readonly rawPath: string;
  readonly path: string;
  /** 0 when the fake hung up instead of answering. */
  readonly status: number;
  /** The token a GET carried, or the one a PUT answered with (a scripted body as latin1 text). */
  readonly token?: string;
}

/** A scripted answer to one token PUT ({@link ImdsFake.answerTokenRequests}). */
export interface TokenAnswer {
  /** Sent as is instead of a new token (and not accepted as one); default: a new, valid token. */
  readonly body?: string | Buffer;
  /** Default 200. */
  readonly status?: number;
  /** The TTL a new token gets, and answers with, instead of the one asked for. */
  readonly grantSeconds?: number;
  /** Response headers on top of (or replacing) the usual ones. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** How the fake fails a GET: an HTTP status (empty body), or hanging up without an answer. */
export type GetFailure = number | "hang-up";

/** The spot notice as IMDS serves it at `spot/instance-action`. */
export interface SpotNotice {
  readonly action: "terminate" | "stop" | "hibernate";
  /** When EC2 acts: two minutes after the notice. */
  readonly time: string;
}

export interface ImdsFakeOptions {
  readonly instanceId?: string;
  readonly region?: string;
}

/**
 * A local IMDSv2: `PUT /latest/api/token` (with the TTL header) gives a token; every GET needs
 * that token in `X-aws-ec2-metadata-token` (401 otherwise, as with `HttpTokens=required`).
 * `spot/instance-action` is 404 until {@link ImdsFake.triggerSpotNotice}. Paths with `//`
 * (an endpoint with a trailing slash joined to `/latest/...`) are accepted. To misbehave:
 * {@link ImdsFake.answerTokenRequests} (token answers that are no token, short TTLs),
 * {@link ImdsFake.rejectIssuedTokens} (tokens that go bad) and {@link ImdsFake.failEveryGet}.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
 */
export class ImdsFake {
  readonly requests: ImdsRequest[] = [];
  instanceId: string;
  readonly region: string;
  private notice: SpotNotice | undefined;
  private noticeFirstServedAt: number | undefined;
  private noticeTriggeredAt: number | undefined;
  private readonly tokens = new Map<string, number>();
  private readonly scriptedTokenAnswers: TokenAnswer[] = [];
  /** Tokens that have gone bad, and how GETs carrying them are answered. */
  private readonly rejectedTokens = new Map<string, GetFailure>();
  private everyGetFails: GetFailure | undefined;
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private url = "";

  private constructor(options: ImdsFakeOptions) {
    this.instanceId = options.instanceId ?? "i-0123456789abcdef0";
    this.region = options.region ?? "us-east-1";
  }

  static async start(options: ImdsFakeOptions = {}): Promise<ImdsFake> {
    const fake = new ImdsFake(options);
    fake.url = await listenOnLoopback(fake.server);
    return fake;
  }

  /** For `AWS_EC2_METADATA_SERVICE_ENDPOINT`. */
  get endpoint(): string {
    return this.url;
  }

  /** From now on `spot/instance-action` answers with a notice for two minutes ahead. */
  triggerSpotNotice(action: SpotNotice["action"] = "terminate"): SpotNotice {
    const time = new Date(Date.now() + 120_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    this.notice = { action, time };
    this.noticeTriggeredAt = Date.now();
    this.noticeFirstServedAt = undefined;
    return this.notice;
  }

  /** A replacement node has no notice. */
  clearSpotNotice(): void {
    this.notice = undefined;
    this.noticeTriggeredAt = undefined;
    this.noticeFirstServedAt = undefined;
  }

  /** The next token PUTs are answered with these, in order; later ones as usual. */
  answerTokenRequests(answers: readonly TokenAnswer[]): void {
    this.scriptedTokenAnswers.push(...answers);
  }

  /** Every token issued so far goes bad: GETs carrying it get `failure`. Tokens issued later are good. */
  rejectIssuedTokens(failure: GetFailure = 401): void {
    for (const token of this.tokens.keys()) this.rejectedTokens.set(token, failure);
  }

  /** Every GET, whatever its token, gets `failure` (IMDS broken) until called with `undefined`. */
  failEveryGet(failure: GetFailure | undefined): void {
    this.everyGetFails = failure;
  }

  /** When the test triggered the notice, and when an agent first read it. */
  get spotNoticeTimes(): { readonly triggeredAt?: number; readonly firstServedAt?: number } {
    return { triggeredAt: this.noticeTriggeredAt, firstServedAt: this.noticeFirstServedAt };
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await readBody(req);
    const rawPath = (req.url ?? "/").split("?")[0] ?? "/";
    const path = rawPath.replace(/\/{2,}/g, "/");
    const method = req.method ?? "GET";
    let token: string | undefined;
    const answer = (status: number, body: string | Buffer, headers: Record<string, string> = {}): void => {
      this.requests.push({ at: Date.now(), method, rawPath, path, status, ...(token === undefined ? {} : { token }) });
      res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body), ...headers });
      res.end(body);
    };
    const fail = (failure: GetFailure): void => {
      if (failure !== "hang-up") return answer(failure, "");
      this.requests.push({ at: Date.now(), method, rawPath, path, status: 0, ...(token === undefined ? {} : { token }) });
      req.socket.destroy();
    };

    if (path === "/latest/api/token") {
      if (method !== "PUT") return answer(405, "");
      const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return answer(400, "");
      const scripted = this.scriptedTokenAnswers.shift() ?? {};
      if (scripted.body !== undefined) {
        token = Buffer.from(scripted.body).toString("latin1");
        return answer(scripted.status ?? 200, scripted.body, { "x-aws-ec2-metadata-token-ttl-seconds": String(ttl), ...scripted.headers });
      }
      const granted = scripted.grantSeconds ?? ttl;
      token = randomBytes(24).toString("base64");
      this.tokens.set(token, Date.now() + granted * 1000);
      return answer(scripted.status ?? 200, token, { "x-aws-ec2-metadata-token-ttl-seconds": String(granted), ...scripted.headers });
    }
    if (method !== "GET" && method !== "HEAD") return answer(405, "");
    const header = req.headers["x-aws-ec2-metadata-token"];
    token = typeof header === "string" ? header : undefined;
    if (this.everyGetFails !== undefined) return fail(this.everyGetFails);
    const rejected = token === undefined ? undefined : this.rejectedTokens.get(token);
    if (rejected !== undefined) return fail(rejected);
    const expires = token === undefined ? undefined : this.tokens.get(token);
    if (expires === undefined || expires < Date.now()) return answer(401, "");

    switch (path) {
      case "/latest/meta-data/instance-id":
        return answer(200, this.instanceId);
      case "/latest/meta-data/placement/region":
        return answer(200, this.region);
      case "/latest/meta-data/placement/availability-zone":
        return answer(200, `${this.region}a`);
      case "/latest/meta-data/instance-life-cycle":
        return answer(200, "spot");
      case "/latest/meta-data/spot/instance-action":
        if (!this.notice) return answer(404, notFoundPage());
        this.noticeFirstServedAt ??= Date.now();
        return answer(200, JSON.stringify(this.notice));
      case "/latest/meta-data/spot/termination-time":
        if (!this.notice) return answer(404, notFoundPage());
        this.noticeFirstServedAt ??= Date.now();
        return answer(200, this.notice.time);
      case "/latest/dynamic/instance-identity/document":
        return answer(
          200,
          JSON.stringify({ instanceId: this.instanceId, region: this.region, availabilityZone: `${this.region}a`, instanceType: "g4dn.xlarge" }),
          { "content-type": "application/json" },
        );
      default:
        return answer(404, notFoundPage());
    }
  }
}

function notFoundPage(): string {
  return '<?xml version="1.0" encoding="iso-8859-1"?>\n<html><head><title>404 - Not Found</title></head><body><h1>404 - Not Found</h1></body></html>\n';
}
