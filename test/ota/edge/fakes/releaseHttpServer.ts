import { createServer, type IncomingMessage, type ServerResponse } from "http";
import { closeServer, listenOnLoopback } from "../../../agent/fakes/loopback";
import type { S3Fake } from "../../../agent/fakes/s3Fake";
import type { CountedRequest } from "./countingProxy";

/** How the server misbehaves for one object. */
export type Misbehaviour =
  /** Ignores the range and streams bytes forever (until the client hangs up). */
  | { readonly kind: "endless" }
  /** Sends the object's first `bytes` bytes (announcing its full length), then never another. */
  | { readonly kind: "stall"; readonly bytes: number; readonly onStalled?: () => void };

/**
 * A tiny static file server on loopback standing in for an HTTPS origin (a CloudFront
 * distribution in front of the OTA bucket): GET with ranges, an optional query string every
 * request must carry (a signed-URL stand-in), and chosen misbehaviours. It counts what each
 * answer carried, so a test can tell where a client stopped reading.
 */
export class ReleaseHttpServer {
  /** Object bytes by path (no leading `/`), e.g. `models/widgets/channels/stable.json`. */
  readonly objects = new Map<string, Buffer>();
  readonly misbehaviours = new Map<string, Misbehaviour>();
  readonly requests: CountedRequest[] = [];
  /** When set, a request whose query string is not exactly this is answered 403. */
  requiredQuery: string | undefined;
  private readonly server = createServer((req, res) => this.handle(req, res));
  private url = "";

  static async start(): Promise<ReleaseHttpServer> {
    const server = new ReleaseHttpServer();
    server.url = await listenOnLoopback(server.server);
    return server;
  }

  /** `http://127.0.0.1:<port>/` */
  get origin(): string {
    return `${this.url}/`;
  }

  /** Copies every object of `bucket` into this server, as a CDN in front of it would serve them. */
  async mirror(fake: S3Fake, bucket: string): Promise<void> {
    this.objects.clear();
    for (const key of await fake.listKeys(bucket)) this.objects.set(key, (await fake.getObject(bucket, key))!);
  }

  to(suffix: string): CountedRequest[] {
    return this.requests.filter((r) => r.path.endsWith(suffix));
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const [rawPath = "/", query = ""] = (req.url ?? "/").split(/\?(.*)/s);
    const path = decodeURIComponent(rawPath).replace(/^\/+/, "");
    const record: CountedRequest = { method: req.method ?? "GET", path, query, range: req.headers.range, bytesSent: 0, closedEarly: false };
    this.requests.push(record);
    res.on("close", () => {
      if (!res.writableFinished) record.closedEarly = true;
    });
    const answer = (status: number, body: Buffer, headers: Record<string, string | number> = {}): void => {
      record.status = status;
      res.writeHead(status, { "content-length": body.length, ...headers });
      record.bytesSent += body.length;
      res.end(body);
    };
    if (this.requiredQuery !== undefined && query !== this.requiredQuery) return answer(403, Buffer.from("<Error><Code>AccessDenied</Code></Error>"));
    const body = this.objects.get(path);
    if (body === undefined) return answer(404, Buffer.from("<Error><Code>NoSuchKey</Code></Error>"));

    const misbehaviour = this.misbehaviours.get(path);
    if (misbehaviour?.kind === "endless") {
      record.status = 200;
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      const pump = (): void => {
        while (!res.destroyed) {
          record.bytesSent += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
      };
      pump();
      return;
    }
    if (misbehaviour?.kind === "stall") {
      record.status = 200;
      res.writeHead(200, { "content-length": body.length });
      record.bytesSent += misbehaviour.bytes;
      res.write(body.subarray(0, misbehaviour.bytes), () => misbehaviour.onStalled?.());
      return;
    }

    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (!range) return answer(200, body);
    const start = Number(range[1]);
    const end = range[2] === "" ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
    if (start >= body.length) return answer(416, Buffer.alloc(0), { "content-range": `bytes */${body.length}` });
    return answer(206, body.subarray(start, end + 1), { "content-range": `bytes ${start}-${end}/${body.length}` });
  }
}
