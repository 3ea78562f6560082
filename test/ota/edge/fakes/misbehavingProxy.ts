import { request as httpRequest, createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "http";
import { createServer as createHttpsServer } from "https";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "net";
import type { AddressInfo } from "net";

/**
 * A self-signed certificate for 127.0.0.1 and localhost (valid 2000-2100), for test servers
 * only: a client trusts it with `ca` (or `NODE_EXTRA_CA_CERTS` for a subprocess). Its key is
 * public; it guards nothing.
 */
export const LOOPBACK_TLS = {
  cert: `-----BEGIN CERTIFICATE-----
MIIBqjCCAVCgAwIBAgIBATAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBh5b2xvLXRy
YWluIHRlc3QgbG9vcGJhY2swIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAw
MDBaMCMxITAfBgNVBAMMGHlvbG8tdHJhaW4gdGVzdCBsb29wYmFjazBZMBMGByqG
SM49AgEGCCqGSM49AwEHA0IABI/F807Yg+LM3nPmdaU97H0h5pJURSP4C2/RMVE0
vsnHPF8RBQDgPM5Kh6dNFygUHgjmihR2U5eLzrepN1LfNsKjczBxMA8GA1UdEwEB
/wQFMAMBAf8wHQYDVR0OBBYEFBycinfnHdlsGG4RDDBnmqWAqsObMA4GA1UdDwEB
/wQEAwIChDATBgNVHSUEDDAKBggrBgEFBQcDATAaBgNVHREEEzARhwR/AAABggls
b2NhbGhvc3QwCgYIKoZIzj0EAwIDSAAwRQIhANDP+3OOBR1EANvTg3LBKhLRViFg
wxHd6UC0D6xSfyFAAiAUuXKjg1uqO/G0lIJEsSSNa51BsksfV6f9ts9dFqh0Qg==
-----END CERTIFICATE-----
`,
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgGtt8fPtlgJjs1Z6M
kRMkEgBh2dNu3XSL6B34XxLOLD+hRANCAASPxfNO2IPizN5z5nWlPex9IeaSVEUj
+Atv0TFRNL7JxzxfEQUA4DzOSoenTRcoFB4I5ooUdlOXi863qTdS3zbC
-----END PRIVATE KEY-----
`,
} as const;

/** How the proxy misbehaves for one object. */
export type Behaviour =
  /** Reads the request and never answers: no status line, no headers, nothing. */
  | { readonly kind: "silent" }
  /** Passes the answer's headers (its full length announced) and its first `bytes` body bytes, then goes silent. */
  | { readonly kind: "stall"; readonly bytes: number }
  /** Passes the answer's headers, then its body one byte every `intervalMs`. */
  | { readonly kind: "trickle"; readonly intervalMs: number };

/** One request through the proxy. */
export interface ProxiedRequest {
  /** The path, decoded, without the query. */
  readonly path: string;
  readonly behaviour: Behaviour["kind"] | "pass";
  /** Body bytes handed to the client's socket. */
  bytesSent: number;
  /** The client hung up before the answer's end. */
  closedEarly: boolean;
}

/**
 * An HTTP (or, with `tls`, HTTPS) proxy on loopback in front of an upstream (s3rver, a release
 * server) that misbehaves on purpose for the objects named in {@link behaviours}: the broken
 * networks and hostile servers an edge box meets. Answers are read whole from upstream first,
 * then passed on, withheld, cut or trickled.
 */
export class MisbehavingProxy {
  /** Behaviour by path suffix (e.g. `versions/0000000007/model.onnx`); other paths pass. */
  readonly behaviours = new Map<string, Behaviour>();
  readonly requests: ProxiedRequest[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly server: Server;
  private url = "";

  private constructor(
    private readonly upstream: URL,
    tls: boolean,
  ) {
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res);
    this.server = tls ? createHttpsServer({ cert: LOOPBACK_TLS.cert, key: LOOPBACK_TLS.key }, handler) : createHttpServer(handler);
  }

  static async start(upstream: string, options: { readonly tls?: boolean } = {}): Promise<MisbehavingProxy> {
    const proxy = new MisbehavingProxy(new URL(upstream), options.tls === true);
    const port = await listen(proxy.server);
    proxy.url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
    return proxy;
  }

  /** `http(s)://127.0.0.1:<port>` */
  get endpoint(): string {
    return this.url;
  }

  to(suffix: string): ProxiedRequest[] {
    return this.requests.filter((r) => r.path.endsWith(suffix));
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const [rawPath = "/"] = (req.url ?? "/").split("?");
    const path = decodeURIComponent(rawPath);
    const behaviour = [...this.behaviours].find(([suffix]) => path.endsWith(suffix))?.[1];
    const record: ProxiedRequest = { path, behaviour: behaviour?.kind ?? "pass", bytesSent: 0, closedEarly: false };
    this.requests.push(record);
    res.on("close", () => {
      if (!res.writableFinished) record.closedEarly = true;
    });
    if (behaviour?.kind === "silent") {
      req.resume();
      return;
    }
    // The Host header stays as the client sent it: S3 clients sign it.
    const headers = { ...req.headers };
    delete headers.connection;
    const upstream = httpRequest({ host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on("data", (chunk: Buffer) => chunks.push(chunk));
      answer.on("end", () => {
        const body = Buffer.concat(chunks);
        const passed = { ...answer.headers };
        delete passed.connection;
        delete passed["transfer-encoding"];
        res.writeHead(answer.statusCode ?? 502, { ...passed, "content-length": body.length });
        if (behaviour?.kind === "stall") {
          record.bytesSent += Math.min(behaviour.bytes, body.length);
          res.write(body.subarray(0, behaviour.bytes));
          return;
        }
        if (behaviour?.kind === "trickle") {
          res.flushHeaders();
          let sent = 0;
          const timer = setInterval(() => {
            if (res.destroyed || sent >= body.length) {
              clearInterval(timer);
              this.timers.delete(timer);
              if (!res.destroyed) res.end();
              return;
            }
            res.write(body.subarray(sent, sent + 1));
            sent += 1;
            record.bytesSent = sent;
          }, behaviour.intervalMs);
          this.timers.add(timer);
          return;
        }
        record.bytesSent += body.length;
        res.end(body);
      });
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  }
}

/**
 * A TCP server on loopback that accepts every connection and never sends a byte: a host whose
 * firewall lets the SYN through but whose service is wedged. For HTTPS the TLS handshake never
 * completes; for HTTP no answer comes.
 */
export class SilentServer {
  private constructor(
    private readonly server: TcpServer,
    readonly port: number,
    /** Every connection accepted so far. */
    readonly connections: Socket[],
  ) {}

  static async start(): Promise<SilentServer> {
    const connections: Socket[] = [];
    const server = createTcpServer((socket) => {
      connections.push(socket);
      socket.on("error", () => undefined);
      socket.resume();
    });
    const silent = new SilentServer(server, await listen(server), connections);
    return silent;
  }

  async close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function listen(server: Server | TcpServer): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
