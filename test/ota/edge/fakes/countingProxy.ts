import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "http";
import { closeServer, listenOnLoopback } from "../../../agent/fakes/loopback";

/** One request that went through the proxy: what was asked, and how many body bytes went back. */
export interface CountedRequest {
  readonly method: string;
  /** The path, decoded, without the query. */
  readonly path: string;
  readonly query: string;
  /** The `Range` header the client sent, if any. */
  readonly range: string | undefined;
  status?: number;
  /** Body bytes the proxy handed to the client's socket. */
  bytesSent: number;
  /** The client closed the connection before the answer's end. */
  closedEarly: boolean;
}

/**
 * A pass-through HTTP proxy on loopback that counts what each answer carried to the client, so
 * a test can tell how far a client read (and what range it asked for) without trusting it.
 */
export class CountingProxy {
  readonly requests: CountedRequest[] = [];
  private readonly server = createServer((req, res) => this.handle(req, res));
  private url = "";

  private constructor(private readonly upstream: URL) {}

  static async start(upstream: string): Promise<CountingProxy> {
    const proxy = new CountingProxy(new URL(upstream));
    proxy.url = await listenOnLoopback(proxy.server);
    return proxy;
  }

  get endpoint(): string {
    return this.url;
  }

  /** Requests whose path ends with `suffix`. */
  to(suffix: string): CountedRequest[] {
    return this.requests.filter((r) => r.path.endsWith(suffix));
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const [rawPath = "/", query = ""] = (req.url ?? "/").split(/\?(.*)/s);
    const record: CountedRequest = {
      method: req.method ?? "GET",
      path: decodeURIComponent(rawPath),
      query,
      range: req.headers.range,
      bytesSent: 0,
      closedEarly: false,
    };
    this.requests.push(record);
    const headers = { ...req.headers };
    delete headers.connection;
    const upstream = httpRequest({ host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers }, (answer) => {
      record.status = answer.statusCode;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.on("data", (chunk: Buffer) => {
        record.bytesSent += chunk.length;
        if (!res.write(chunk)) {
          answer.pause();
          res.once("drain", () => answer.resume());
        }
      });
      answer.on("end", () => res.end());
    });
    res.on("close", () => {
      if (!res.writableFinished) {
        record.closedEarly = true;
        upstream.destroy();
      }
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  }
}
