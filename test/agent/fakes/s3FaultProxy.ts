import { randomBytes } from "crypto";
import { createServer, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "http";
import type { Readable } from "stream";
import { AwsChunkedDecoder, runningChecksum } from "./s3Checksums";
import { closeServer, listenOnLoopback, readBody } from "./loopback";

/** One request that went through the proxy, with what the proxy did to it. */
export interface ProxiedRequest {
  readonly seq: number;
  readonly method: string;
  /** Path-style: the first path segment. */
  readonly bucket: string;
  /** The object key, decoded; "" for bucket-level requests. */
  readonly key: string;
  /** The raw query string ("" when none), e.g. `uploadId=…&partNumber=2`. */
  readonly query: string;
  readonly startedAt: number;
  /** When the answer was fully sent back to the client. */
  endedAt?: number;
  status?: number;
  fault: "none" | "failed" | "delayed";
}

/**
 * A window of trouble, lasting `forMs` or the next `requests` requests (whichever is given;
 * counting requests keeps a scenario the same however slow the machine). Within it, the n-th
 * request (from 1) fails when `n % failEvery === 0` (`failEvery: 1` fails them all) with `status`
 * and an S3 error document, without reaching S3; the others reach S3 and their answer is held
 * back `delayMs`. With `only`, the window is about the requests it picks (say, the GET of one
 * key): the others pass untouched and are not counted.
 */
export type FaultWindow = ({ readonly forMs: number; readonly requests?: never } | { readonly requests: number; readonly forMs?: never }) & {
  readonly failEvery?: number;
  readonly status?: 500 | 503;
  readonly delayMs?: number;
  readonly only?: (request: ProxiedRequest) => boolean;
};

/** Sees a request's body before it is forwarded; the proxy waits for it. */
export type RequestInspector = (request: ProxiedRequest, body: Buffer) => Promise<void>;

/**
 * An HTTP proxy in front of s3rver that clients under test use as their S3 endpoint. It makes
 * s3rver 3.7 behave like S3 where the SDK needs it: `aws-chunked` bodies (streamed uploads with
 * trailing checksums) are decoded, and `x-amz-checksum-*` values are checked (400 `BadDigest`
 * otherwise, and the object is not stored) and echoed as S3 does; conditional writes
 * (`If-None-Match: *`, `If-Match`) are decided atomically per key (412 `PreconditionFailed`);
 * everything else is forwarded unchanged, Host included. (s3rver does not check SigV4 signatures at all.) It records every
 * request, can inject faults for a while (500 `InternalError` / 503 `SlowDown`, slow answers),
 * and lets inspectors see chosen request bodies (the run record) before S3 does.
 */
export class S3FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  /** Pending fault windows, the current one first; `endsAt` is set when a timed window begins. */
  private windows: Array<{ readonly window: FaultWindow; endsAt?: number; seen: number }> = [];
  private readonly inspectors: Array<{ select: (r: ProxiedRequest) => boolean; inspect: RequestInspector }> = [];
  private readonly server = createServer((req, res) => void this.handle(req, res).catch((error) => this.crash(res, error)));
  private readonly upstream: URL;
  private url = "";

  private constructor(upstream: string) {
    this.upstream = new URL(upstream);
  }

  static async start(upstream: string): Promise<S3FaultProxy> {
    const proxy = new S3FaultProxy(upstream);
    proxy.url = await listenOnLoopback(proxy.server);
    return proxy;
  }

  /** For `AWS_ENDPOINT_URL_S3`. */
  get endpoint(): string {
    return this.url;
  }

  /** Schedules fault windows back to back, the first starting now. */
  injectFaults(windows: readonly FaultWindow[]): void {
    this.windows = windows.map((window) => ({ window, seen: 0 }));
    this.currentWindow(Date.now());
  }

  /** The window a request arriving now falls in, dropping the ones that are over. */
  private currentWindow(now: number): { readonly window: FaultWindow; seen: number } | undefined {
    for (;;) {
      const current = this.windows[0];
      if (!current) return undefined;
      if (current.window.forMs !== undefined) {
        current.endsAt ??= now + current.window.forMs;
        if (now < current.endsAt) return current;
      } else if (current.seen < (current.window.requests ?? 0)) {
        return current;
      }
      this.windows.shift();
    }
  }

  /** Calls `inspect` with the body of every request `select` picks, before forwarding it. */
  inspect(select: (r: ProxiedRequest) => boolean, inspect: RequestInspector): void {
    this.inspectors.push({ select, inspect });
  }

  /** Requests that change S3: PUT, POST, DELETE. */
  get writes(): ProxiedRequest[] {
    return this.requests.filter((r) => r.method === "PUT" || r.method === "POST" || r.method === "DELETE");
  }

  get failures(): ProxiedRequest[] {
    return this.requests.filter((r) => r.fault === "failed");
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [rawPath = "/", query = ""] = (req.url ?? "/").split(/\?(.*)/s);
    const segments = rawPath.replace(/^\/+/, "").split("/");
    const bucket = decodeURIComponent(segments[0] ?? "");
    const key = segments.slice(1).map((s) => decodeURIComponent(s)).join("/");
    const record: ProxiedRequest = {
      seq: this.requests.length + 1,
      method: req.method ?? "GET",
      bucket,
      key,
      query,
      startedAt: Date.now(),
      fault: "none",
    };
    this.requests.push(record);

    const current = this.currentWindow(record.startedAt);
    let delayMs = 0;
    if (current && (current.window.only?.(record) ?? true)) {
      current.seen += 1;
      const { failEvery, status, delayMs: delay } = current.window;
      if (failEvery && current.seen % failEvery === 0) {
        await readBody(req);
        record.fault = "failed";
        return this.answerError(req, res, record, status ?? 500);
      }
      if (delay) {
        record.fault = "delayed";
        delayMs = delay;
      }
    }

    const condition = writeCondition(req, key, query);
    if (condition) {
      // S3 decides a conditional write atomically; s3rver 3.7 ignores the headers on writes, so
      // the proxy serialises conditional writes per key and checks the condition against what
      // s3rver holds, the write's answer included, before the next one to that key may look.
      const release = await this.lockKey(`${bucket}/${key}`);
      res.once("close", release);
      const refusal = await this.checkCondition(rawPath, condition);
      if (refusal) {
        await readBody(req);
        return this.answerRefusal(req, res, record, refusal);
      }
    }

    const chunked = isAwsChunked(req.headers);
    // Only bodies that become object data (PutObject, UploadPart) are checked; a
    // CompleteMultipartUpload's checksum header is the whole object's, not its XML body's.
    const checksumName = req.method === "PUT" && !req.headers["x-amz-copy-source"] ? expectedChecksumName(req.headers, chunked) : undefined;
    const inspectors = this.inspectors.filter((i) => i.select(record));
    if (!chunked && !checksumName && inspectors.length === 0) {
      const upstream = this.forward(req, res, record, req.headers, delayMs, {});
      req.pipe(upstream);
      return;
    }

    // S3 decodes aws-chunked bodies and checks additional checksums; s3rver 3.7 does neither,
    // so the proxy does it for it, and holds back the body's last byte until the check passed
    // so a corrupt upload never becomes an object.
    const payload: Readable = chunked ? req.pipe(new AwsChunkedDecoder()) : req;
    const running = checksumName ? runningChecksum(checksumName) : undefined;
    const headers = chunked ? decodedHeaders(req.headers) : req.headers;
    const verify = (): string | undefined => {
      if (!checksumName || !running) return undefined;
      const expected = chunked ? (payload as AwsChunkedDecoder).trailers[`x-amz-checksum-${checksumName}`] : String(req.headers[`x-amz-checksum-${checksumName}`]);
      const actual = running.digest();
      return expected === actual ? undefined : `The ${checksumName.toUpperCase()} you specified did not match the calculated checksum (expected ${expected}, got ${actual}).`;
    };
    const echo = checksumName && running ? { name: `x-amz-checksum-${checksumName}` } : undefined;

    if (inspectors.length > 0) {
      const body = await readBody(payload);
      running?.update(body);
      const problem = verify();
      if (problem) return this.answerBadDigest(res, record, problem);
      for (const { inspect } of inspectors) await inspect(record, body);
      const upstream = this.forward(req, res, record, { ...headers, "content-length": String(body.length) }, delayMs, echoHeader(echo, req, payload, chunked));
      upstream.end(body);
      return;
    }

    const upstream = this.forward(req, res, record, headers, delayMs, {});
    let held: Buffer | undefined;
    payload.on("data", (chunk: Buffer) => {
      if (chunk.length === 0) return;
      running?.update(chunk);
      let flowing = true;
      if (held) flowing = upstream.write(held);
      if (chunk.length > 1) flowing = upstream.write(chunk.subarray(0, chunk.length - 1)) && flowing;
      held = chunk.subarray(chunk.length - 1);
      if (!flowing) {
        payload.pause();
        upstream.once("drain", () => payload.resume());
      }
    });
    payload.on("error", (error) => {
      upstream.destroy();
      this.crash(res, error);
    });
    payload.on("end", () => {
      const problem = verify();
      if (problem) {
        upstream.destroy();
        return this.answerBadDigest(res, record, problem);
      }
      this.extraHeaders.set(upstream, echoHeader(echo, req, payload, chunked));
      upstream.end(held);
    });
  }

  /** Extra answer headers decided after the body was read (the checksum S3 echoes). */
  private readonly extraHeaders = new WeakMap<ClientRequest, Record<string, string>>();

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    record: ProxiedRequest,
    headers: IncomingHttpHeaders,
    delayMs: number,
    extra: Record<string, string>,
  ): ClientRequest {
    const upstream = httpRequest({
      host: this.upstream.hostname,
      port: this.upstream.port,
      method: req.method,
      path: req.url,
      headers: forwardedHeaders(headers),
    });
    upstream.on("response", (answer) => {
      const relay = (): void => {
        const ok = (answer.statusCode ?? 500) < 300;
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...(ok ? { ...extra, ...this.extraHeaders.get(upstream) } : {}) });
        answer.pipe(res);
        res.on("finish", () => {
          record.status = answer.statusCode;
          record.endedAt = Date.now();
        });
      };
      if (delayMs > 0) {
        const held = setTimeout(relay, delayMs);
        // A client that gave up (aborted, or its process gone) gets nothing, and no timer keeps the
        // test process alive for the rest of the delay.
        res.once("close", () => {
          if (res.headersSent) return;
          clearTimeout(held);
          answer.resume();
        });
      } else relay();
    });
    upstream.on("error", (error) => this.crash(res, error));
    return upstream;
  }

  /** Conditional writes waiting for (or holding) each `bucket/key`, the last one at the end. */
  private readonly keyLocks = new Map<string, Promise<void>>();

  /** Waits for earlier conditional writes to the key, then holds it until `release` is called. */
  private async lockKey(id: string): Promise<() => void> {
    const previous = this.keyLocks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => held);
    this.keyLocks.set(id, tail);
    void tail.then(() => {
      if (this.keyLocks.get(id) === tail) this.keyLocks.delete(id);
    });
    await previous;
    return release;
  }

  /** What S3 answers when the write's condition does not hold (from a HEAD to s3rver), or undefined. */
  private async checkCondition(rawPath: string, condition: WriteCondition): Promise<Refusal | undefined> {
    const current = await new Promise<{ status: number; etag: string | undefined }>((resolve, reject) => {
      const head = httpRequest({ host: this.upstream.hostname, port: this.upstream.port, method: "HEAD", path: rawPath }, (answer) => {
        answer.resume();
        answer.on("end", () => resolve({ status: answer.statusCode ?? 500, etag: answer.headers.etag }));
      });
      head.on("error", reject);
      head.end();
    });
    if (current.status !== 200 && current.status !== 404) throw new Error(`HEAD ${rawPath} for a conditional write answered ${current.status}`);
    const exists = current.status === 200;
    if (condition.ifNoneMatch !== undefined && exists) return { status: 412, code: "PreconditionFailed", condition: "If-None-Match" };
    if (condition.ifMatch !== undefined) {
      if (!exists) return { status: 404, code: "NoSuchKey", condition: "If-Match" };
      if (condition.ifMatch !== "*" && unquote(condition.ifMatch) !== unquote(current.etag ?? "")) return { status: 412, code: "PreconditionFailed", condition: "If-Match" };
    }
    return undefined;
  }

  private answerRefusal(req: IncomingMessage, res: ServerResponse, record: ProxiedRequest, refusal: Refusal): void {
    const message = refusal.code === "NoSuchKey" ? "The specified key does not exist." : "At least one of the pre-conditions you specified did not hold";
    const requestId = randomBytes(8).toString("hex").toUpperCase();
    const detail = refusal.code === "PreconditionFailed" ? `<Condition>${refusal.condition}</Condition>` : "";
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code><Message>${message}</Message>${detail}<RequestId>${requestId}</RequestId></Error>`;
    res.writeHead(refusal.status, { "content-type": "application/xml", "x-amz-request-id": requestId, "content-length": Buffer.byteLength(xml) });
    res.end(req.method === "HEAD" ? undefined : xml);
    record.status = refusal.status;
    record.endedAt = Date.now();
  }

  private answerBadDigest(res: ServerResponse, record: ProxiedRequest, message: string): void {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>BadDigest</Code><Message>${message}</Message><RequestId>${randomBytes(8).toString("hex").toUpperCase()}</RequestId></Error>`;
    res.writeHead(400, { "content-type": "application/xml", "content-length": Buffer.byteLength(xml) });
    res.end(xml);
    record.status = 400;
    record.endedAt = Date.now();
  }

  private answerError(req: IncomingMessage, res: ServerResponse, record: ProxiedRequest, status: 500 | 503): void {
    const [code, message] =
      status === 503 ? ["SlowDown", "Please reduce your request rate."] : ["InternalError", "We encountered an internal error. Please try again."];
    const requestId = randomBytes(8).toString("hex").toUpperCase();
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${requestId}</RequestId><HostId>${randomBytes(24).toString("base64")}</HostId></Error>`;
    const head = req.method === "HEAD";
    res.writeHead(status, { "content-type": "application/xml", "x-amz-request-id": requestId, ...(head ? {} : { "content-length": Buffer.byteLength(xml) }) });
    res.end(head ? undefined : xml);
    record.status = status;
    record.endedAt = Date.now();
  }

  private crash(res: ServerResponse, error: unknown): void {
    if (res.writableEnded) return;
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end(`fault proxy: ${String(error)}`);
  }
}

/** Hop-by-hop headers go; everything signed (Host included) stays as the client sent it. */
function forwardedHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...headers };
  delete out.connection;
  delete out["keep-alive"];
  delete out.expect;
  return out;
}

function isAwsChunked(headers: IncomingHttpHeaders): boolean {
  return String(headers["x-amz-content-sha256"] ?? "").startsWith("STREAMING-") || String(headers["content-encoding"] ?? "").includes("aws-chunked");
}

/** The additional checksum the request declares (`crc32`, `sha256`, …), in a header or as a trailer. */
function expectedChecksumName(headers: IncomingHttpHeaders, chunked: boolean): string | undefined {
  if (chunked) {
    const trailer = String(headers["x-amz-trailer"] ?? "").toLowerCase();
    return trailer.startsWith("x-amz-checksum-") ? trailer.slice("x-amz-checksum-".length) : undefined;
  }
  const header = Object.keys(headers).find((h) => h.startsWith("x-amz-checksum-") && !["x-amz-checksum-algorithm", "x-amz-checksum-type", "x-amz-checksum-mode"].includes(h));
  return header?.slice("x-amz-checksum-".length);
}

/** The headers of an aws-chunked request once its body is decoded to the plain payload. */
function decodedHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" };
  const decodedLength = headers["x-amz-decoded-content-length"];
  if (decodedLength !== undefined) out["content-length"] = String(decodedLength);
  else delete out["content-length"];
  const encodings = String(headers["content-encoding"] ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "" && e !== "aws-chunked");
  if (encodings.length > 0) out["content-encoding"] = encodings.join(",");
  else delete out["content-encoding"];
  delete out["x-amz-decoded-content-length"];
  delete out["x-amz-trailer"];
  delete out["transfer-encoding"];
  return out;
}

/** S3 answers a PUT that carried a checksum with that checksum. */
function echoHeader(echo: { name: string } | undefined, req: IncomingMessage, payload: Readable, chunked: boolean): Record<string, string> {
  if (!echo || req.method !== "PUT") return {};
  const value = chunked ? (payload as AwsChunkedDecoder).trailers[echo.name] : String(req.headers[echo.name]);
  return value ? { [echo.name]: value } : {};
}

/** The condition of a conditional write (`If-None-Match: *` or `If-Match: <etag>`). */
interface WriteCondition {
  readonly ifNoneMatch?: string;
  readonly ifMatch?: string;
}

interface Refusal {
  readonly status: 404 | 412;
  readonly code: "PreconditionFailed" | "NoSuchKey";
  readonly condition: "If-None-Match" | "If-Match";
}

/**
 * The condition of a write S3 makes conditional: PutObject (not UploadPart) and
 * CompleteMultipartUpload with `If-None-Match` or `If-Match`; undefined for every other request.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
function writeCondition(req: IncomingMessage, key: string, query: string): WriteCondition | undefined {
  if (key === "") return undefined;
  const params = new URLSearchParams(query);
  const putObject = req.method === "PUT" && !params.has("partNumber") && !params.has("uploadId");
  const completeUpload = req.method === "POST" && params.has("uploadId");
  if (!putObject && !completeUpload) return undefined;
  const ifNoneMatch = req.headers["if-none-match"];
  const ifMatch = req.headers["if-match"];
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  return { ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}), ...(ifMatch !== undefined ? { ifMatch } : {}) };
}

function unquote(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}
