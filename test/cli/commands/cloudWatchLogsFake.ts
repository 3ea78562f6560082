import { createServer, type IncomingMessage, type ServerResponse } from "http";
import { closeServer, listenOnLoopback, readBody } from "../../agent/fakes/loopback";

export interface FakeLogEvent {
  readonly logStreamName: string;
  readonly timestamp: number;
  readonly message: string;
}

/** A FilterLogEvents request as the fake received it. */
export interface FilterCall {
  readonly target: string;
  readonly body: { logGroupName?: string; startTime?: number; nextToken?: string; filterPattern?: string };
  readonly signed: boolean;
}

/**
 * A local CloudWatch Logs endpoint (JSON 1.1: POST with `X-Amz-Target:
 * Logs_20140328.<Action>`) answering FilterLogEvents over the groups it holds, `pageSize` events
 * per page with an opaque nextToken; `filterPattern` matches as a plain substring here.
 * @see https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
 */
export class CloudWatchLogsFake {
  readonly calls: FilterCall[] = [];
  private readonly groups = new Map<string, Array<FakeLogEvent & { eventId: string }>>();
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private url = "";
  private nextId = 1;

  private constructor(private readonly pageSize: number) {}

  static async start(pageSize = 2): Promise<CloudWatchLogsFake> {
    const fake = new CloudWatchLogsFake(pageSize);
    fake.url = await listenOnLoopback(fake.server);
    return fake;
  }

  /** For `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`. */
  get endpoint(): string {
    return this.url;
  }

  append(group: string, events: readonly FakeLogEvent[]): void {
    const list = this.groups.get(group) ?? [];
    for (const e of events) list.push({ ...e, eventId: String(this.nextId++).padStart(8, "0") });
    list.sort((a, b) => a.timestamp - b.timestamp);
    this.groups.set(group, list);
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers["x-amz-target"] ?? "");
    const body = JSON.parse((await readBody(req)).toString("utf8") || "{}") as FilterCall["body"];
    this.calls.push({ target, body, signed: String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 ") });
    const send = (status: number, json: unknown): void => {
      const text = JSON.stringify(json);
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1", "content-length": Buffer.byteLength(text), "x-amzn-requestid": "fake" });
      res.end(text);
    };
    if (target !== "Logs_20140328.FilterLogEvents") return send(400, { __type: "UnknownOperationException", message: `Unknown operation ${target}` });
    const group = body.logGroupName === undefined ? undefined : this.groups.get(body.logGroupName);
    if (!group) return send(400, { __type: "ResourceNotFoundException", message: "The specified log group does not exist." });
    const matching = group.filter((e) => (body.startTime === undefined || e.timestamp >= body.startTime) && (body.filterPattern === undefined || e.message.includes(body.filterPattern)));
    const offset = body.nextToken === undefined ? 0 : Number(body.nextToken.replace(/^page-/, ""));
    const page = matching.slice(offset, offset + this.pageSize);
    const more = offset + this.pageSize < matching.length;
    send(200, {
      events: page.map((e) => ({ ...e, ingestionTime: e.timestamp + 5 })),
      searchedLogStreams: [],
      ...(more ? { nextToken: `page-${offset + this.pageSize}` } : {}),
    });
  }
}
