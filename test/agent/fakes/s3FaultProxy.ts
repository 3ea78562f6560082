import { createHash, randomBytes } from "crypto";
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

export interface S3FaultProxyOptions {
  /**
   * Make every bucket behave as a versioned one (s3rver 3.7 has no versioning): object-creating
   * writes get an `x-amz-version-id`, and GetObject, HeadObject and CopyObject's source take a
   * `versionId`. Off by default.
   */
  readonly versioning?: boolean;
}

/**
 * An HTTP proxy in front of s3rver that clients under test use as their S3 endpoint. It makes
 * s3rver 3.7 behave like S3 where the SDK needs it: `aws-chunked` bodies (streamed uploads with
 * trailing checksums) are decoded, and `x-amz-checksum-*` values are checked (400 `BadDigest`
 * otherwise, and the object is not stored) and echoed as S3 does; conditional writes
 * (`If-None-Match: *`, `If-Match`) are decided atomically per key (412 `PreconditionFailed`);
 * everything else is forwarded unchanged, Host included. (s3rver does not check SigV4 signatures at all.) It records every
 * request, can inject faults for a while (500 `InternalError` / 503 `SlowDown`, slow answers),
 * and lets inspectors see chosen request bodies (the run record) before S3 does.
 *
 * With `versioning`, each PutObject, CopyObject and CompleteMultipartUpload that S3 accepted gets
 * a version id, and before the answer goes back the proxy copies the object s3rver now holds to
 * a shadow bucket (`<bucket>--versions`, key `<versionId>/<key>`, user metadata kept), where reads
 * with `versionId` are served from. Writes that create a version are serialised per key like
 * conditional ones, so each version holds its own write's bytes.
 */
export class S3FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  /** Pending fault windows, the current one first; `endsAt` is set when a timed window begins. */
  private windows: Array<{ readonly window: FaultWindow; endsAt?: number; seen: number }> = [];
  private readonly inspectors: Array<{ select: (r: ProxiedRequest) => boolean; inspect: RequestInspector }> = [];
  private readonly server = createServer((req, res) => void this.handle(req, res).catch((error) => this.crash(res, error)));
  private readonly upstream: URL;
  private readonly versioning: boolean;
  /** The versions of each `bucket/key` the proxy created, oldest first. */
  private readonly versions = new Map<string, StoredVersion[]>();
  /** Shadow buckets created (or being created), by the bucket they keep versions for. */
  private readonly shadowBuckets = new Map<string, Promise<void>>();
  private url = "";

  private constructor(upstream: string, options: S3FaultProxyOptions) {
    this.upstream = new URL(upstream);
    this.versioning = options.versioning ?? false;
  }

  static async start(upstream: string, options: S3FaultProxyOptions = {}): Promise<S3FaultProxy> {
    const proxy = new S3FaultProxy(upstream, options);
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

  /** The version ids the proxy gave the key's versions, oldest first; [] when none (or versioning is off). */
  versionsOf(bucket: string, key: string): string[] {
    return (this.versions.get(`${bucket}/${key}`) ?? []).map((v) => v.versionId);
  }

  /** Where s3rver holds a version the proxy made (for a test's own direct reads); undefined when it made none with that id. */
  versionLocation(bucket: string, key: string, versionId: string): { readonly bucket: string; readonly key: string } | undefined {
    if (!(this.versions.get(`${bucket}/${key}`) ?? []).some((v) => v.versionId === versionId)) return undefined;
    return { bucket: shadowBucketOf(bucket), key: `${versionId}/${key}` };
  }

  /**
   * Simulates bit rot: replaces the stored bytes of one version of the key, keeping its metadata
   * (so its `x-amz-meta-sha256` no longer describes them). When that version is the object
   * s3rver currently holds under the key (the latest, not deleted or overwritten behind the
   * proxy's back), the current object gets the same bytes. Waits for writes in flight to the key.
   * Throws when the proxy made no such version.
   */
  async corruptVersion(bucket: string, key: string, versionId: string, bytes: Buffer): Promise<void> {
    const release = await this.lockKey(`${bucket}/${key}`);
    try {
      const versions = this.versions.get(`${bucket}/${key}`) ?? [];
      const version = versions.find((v) => v.versionId === versionId);
      if (!version) throw new Error(`the fault proxy made no version ${versionId} of ${bucket}/${key}`);
      const shadow = shadowPath(bucket, key, versionId);
      const stored = await this.upstreamCall("HEAD", shadow);
      if (stored.status !== 200) throw new Error(`HEAD of version ${versionId} of ${bucket}/${key} answered ${stored.status}`);
      const metadata = storedMetadata(stored.headers);
      let current = false;
      if (versions.at(-1) === version) {
        const head = await this.upstreamCall("HEAD", objectPath(bucket, key));
        current = head.status === 200 && unquote(head.headers.etag ?? "") === version.etag;
      }
      const rotten = await this.upstreamCall("PUT", shadow, metadata, bytes);
      if (rotten.status !== 200) throw new Error(`rewriting version ${versionId} of ${bucket}/${key} answered ${rotten.status}`);
      // s3rver derives the ETag from the bytes; remembering it keeps GETs of the current object
      // recognised as this version.
      version.etag = unquote(rotten.headers.etag ?? "");
      if (current) {
        const replaced = await this.upstreamCall("PUT", objectPath(bucket, key), metadata, bytes);
        if (replaced.status !== 200) throw new Error(`rewriting ${bucket}/${key} answered ${replaced.status}`);
      }
    } finally {
      release();
    }
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

    let exchange: Exchange = { path: req.url ?? "/", headers: {} };
    if (this.versioning) {
      const routed = this.routeVersioned(req, bucket, key, query);
      if ("error" in routed) {
        await readBody(req);
        return this.answerS3Error(req, res, record, routed.error);
      }
      exchange = routed;
    }

    // S3 serves a read from a whole object; s3rver rewrites the object's file in place, so a read
    // overlapping a write could get a short body. Reads wait for the writes to the key in flight
    // (every write, with versioning on; conditional writes otherwise).
    // Bounded: a read never waits longer than READ_WAIT_MS for a write that does not end.
    if ((req.method === "GET" || req.method === "HEAD") && key !== "") await waitAtMost(this.keyLocks.get(`${bucket}/${key}`), READ_WAIT_MS);

    const condition = writeCondition(req, key, query);
    if (condition || exchange.createsVersion) {
      // S3 decides a conditional write atomically; s3rver 3.7 ignores the headers on writes, so
      // the proxy serialises conditional writes per key and checks the condition against what
      // s3rver holds, the write's answer included, before the next one to that key may look.
      // A write that creates a version holds the key until its bytes are kept as that version.
      const release = await this.lockKey(`${bucket}/${key}`);
      res.once("close", () => {
        // A client that went away mid-body never completes its write; without this, s3rver would
        // wait for the rest of the body, and the key stay locked, until its own timeout.
        const { upstream } = exchange;
        if (!res.writableFinished && upstream && !upstream.writableFinished) upstream.destroy();
        void (exchange.settled ?? Promise.resolve()).then(release);
      });
      const refusal = condition ? await this.checkCondition(rawPath, condition) : undefined;
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
    // S3 stores a PutObject whole or not at all; s3rver writes the object file as the body arrives,
    // so a client that dies mid-body would leave it cut short. The proxy forwards only whole bodies.
    const wholeBodyOnly = isPutObject(req, key, query);
    if (!chunked && !checksumName && inspectors.length === 0 && !wholeBodyOnly) {
      const upstream = this.forward(req, res, record, req.headers, delayMs, {}, exchange);
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

    if (inspectors.length > 0 || wholeBodyOnly) {
      const body = await readBody(payload);
      running?.update(body);
      const problem = verify();
      if (problem) return this.answerBadDigest(res, record, problem);
      for (const { inspect } of inspectors) await inspect(record, body);
      const upstream = this.forward(req, res, record, { ...headers, "content-length": String(body.length) }, delayMs, echoHeader(echo, req, payload, chunked), exchange);
      upstream.end(body);
      return;
    }

    const upstream = this.forward(req, res, record, headers, delayMs, {}, exchange);
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
    exchange: Exchange,
  ): ClientRequest {
    const upstream = httpRequest({
      host: this.upstream.hostname,
      port: this.upstream.port,
      method: req.method,
      path: exchange.path,
      headers: forwardedHeaders({ ...headers, ...exchange.headers }),
    });
    let answered = false;
    let settle!: () => void;
    exchange.settled = new Promise<void>((resolve) => (settle = resolve));
    exchange.upstream = upstream;
    upstream.on("response", (answer) => {
      answered = true;
      const ok = (answer.statusCode ?? 500) < 300;
      const relay = (added: Record<string, string>): void => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...(ok ? { ...extra, ...this.extraHeaders.get(upstream), ...added } : {}) });
        answer.pipe(res);
        res.on("finish", () => {
          record.status = answer.statusCode;
          record.endedAt = Date.now();
        });
      };
      const relayInTime = (added: Record<string, string>): void => {
        if (delayMs <= 0) return relay(added);
        const held = setTimeout(() => relay(added), delayMs);
        // A client that gave up (aborted, or its process gone) gets nothing, and no timer keeps the
        // test process alive for the rest of the delay.
        res.once("close", () => {
          if (res.headersSent) return;
          clearTimeout(held);
          answer.resume();
        });
      };
      if (!ok || !exchange.beforeRelay) {
        settle();
        return relayInTime({});
      }
      exchange.beforeRelay(answer).then(
        (added) => {
          settle();
          relayInTime(added);
        },
        (error: unknown) => {
          settle();
          answer.resume();
          this.crash(res, error);
        },
      );
    });
    upstream.on("error", (error) => {
      settle();
      this.crash(res, error);
    });
    // Destroyed before S3 answered (the client went away): no write to wait for.
    upstream.on("close", () => {
      if (!answered) settle();
    });
    return upstream;
  }

  /**
   * How a request is forwarded with versioning on: reads of a version go to its shadow copy, a
   * CopyObject's source version likewise, and a write that creates a version stores one before
   * its answer goes back. Malformed or unknown version ids get S3's error instead.
   */
  private routeVersioned(req: IncomingMessage, bucket: string, key: string, query: string): Exchange | { readonly error: S3ErrorAnswer } {
    const exchange: Exchange = { path: req.url ?? "/", headers: {} };
    if (key === "") return exchange;
    const params = new URLSearchParams(query);
    const method = req.method ?? "GET";
    const subresource = OBJECT_SUBRESOURCES.some((p) => params.has(p));
    const versionId = params.get("versionId");

    if ((method === "GET" || method === "HEAD") && !subresource) {
      if (versionId === null) {
        // S3 names the version it serves; the proxy knows it when s3rver still holds that version.
        exchange.beforeRelay = async (answer): Promise<Record<string, string>> => {
          const latest = this.versions.get(`${bucket}/${key}`)?.at(-1);
          return latest && unquote(answer.headers.etag ?? "") === latest.etag ? { "x-amz-version-id": latest.versionId } : {};
        };
        return exchange;
      }
      const found = this.findVersion(bucket, key, versionId);
      if ("error" in found) return found;
      const rest = query.split("&").filter((p) => p !== "" && p.split("=")[0] !== "versionId");
      exchange.path = shadowPath(bucket, key, versionId) + (rest.length > 0 ? `?${rest.join("&")}` : "");
      exchange.beforeRelay = async () => ({ "x-amz-version-id": versionId });
      return exchange;
    }
    if (versionId !== null) {
      const message = "The fault proxy emulates versionId only for GetObject, HeadObject and CopyObject's source.";
      return { error: { status: 501, code: "NotImplemented", message, details: {} } };
    }

    const createsVersion = (method === "PUT" && !subresource) || (method === "POST" && params.has("uploadId"));
    if (!createsVersion) return exchange;
    const copySource = req.headers["x-amz-copy-source"];
    if (method === "PUT" && typeof copySource === "string") {
      const [source = "", sourceQuery] = copySource.split(/\?(.*)/s);
      const sourceVersion = new URLSearchParams(sourceQuery ?? "").get("versionId");
      if (sourceVersion !== null) {
        const [sourceBucket = "", ...sourceKey] = decodeURIComponent(source).replace(/^\/+/, "").split("/");
        const found = this.findVersion(sourceBucket, sourceKey.join("/"), sourceVersion);
        if ("error" in found) return found;
        // s3rver reads the copy source with decodeURI, which encodeURI undoes for any key.
        exchange.headers["x-amz-copy-source"] = encodeURI(`/${shadowBucketOf(sourceBucket)}/${sourceVersion}/${sourceKey.join("/")}`);
        exchange.copySourceVersionId = sourceVersion;
      }
    }
    exchange.createsVersion = true;
    exchange.beforeRelay = async () => ({
      ...(await this.storeVersion(bucket, key)),
      ...(exchange.copySourceVersionId ? { "x-amz-copy-source-version-id": exchange.copySourceVersionId } : {}),
    });
    return exchange;
  }

  /** The version of the key with that id, or the error S3 answers for it. */
  private findVersion(bucket: string, key: string, versionId: string): StoredVersion | { readonly error: S3ErrorAnswer } {
    if (!/^[A-Za-z0-9._-]{32}$/.test(versionId) && versionId !== "null") {
      return { error: { status: 400, code: "InvalidArgument", message: "Invalid version id specified", details: { ArgumentName: "versionId", ArgumentValue: versionId } } };
    }
    const version = this.versions.get(`${bucket}/${key}`)?.find((v) => v.versionId === versionId);
    return version ?? { error: { status: 404, code: "NoSuchVersion", message: "The specified version does not exist.", details: { Key: key, VersionId: versionId } } };
  }

  /**
   * Gives the object s3rver now holds under the key (the write just answered; the key is locked)
   * a new version id and copies it, metadata and all, to the shadow bucket as that version.
   */
  private async storeVersion(bucket: string, key: string): Promise<Record<string, string>> {
    const versionId = randomBytes(24).toString("base64url");
    await this.shadowBucket(bucket);
    const copied = await this.upstreamCall("PUT", shadowPath(bucket, key, versionId), { "x-amz-copy-source": encodeURI(`/${bucket}/${key}`) });
    if (copied.status !== 200) throw new Error(`keeping version ${versionId} of ${bucket}/${key} answered ${copied.status}: ${copied.body.toString()}`);
    const etag = /<ETag>(.*?)<\/ETag>/s.exec(copied.body.toString())?.[1] ?? "";
    const versions = this.versions.get(`${bucket}/${key}`) ?? [];
    versions.push({ versionId, etag: unquote(etag.replace(/&quot;/g, '"')) });
    this.versions.set(`${bucket}/${key}`, versions);
    return { "x-amz-version-id": versionId };
  }

  /** Creates the bucket's shadow bucket in s3rver, once. */
  private shadowBucket(bucket: string): Promise<void> {
    let created = this.shadowBuckets.get(bucket);
    if (!created) {
      created = this.upstreamCall("PUT", `/${shadowBucketOf(bucket)}`).then(({ status, body }) => {
        // 409: it exists already (another proxy on the same s3rver made it).
        if (status !== 200 && status !== 409) throw new Error(`creating ${shadowBucketOf(bucket)} answered ${status}: ${body.toString()}`);
      });
      created.catch(() => this.shadowBuckets.delete(bucket));
      this.shadowBuckets.set(bucket, created);
    }
    return created;
  }

  /** A request of the proxy's own to s3rver, unsigned (s3rver lets those through), answer read whole. */
  private upstreamCall(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const sized = method === "GET" || method === "HEAD" ? headers : { ...headers, "content-length": String(body?.length ?? 0) };
      const call = httpRequest({ host: this.upstream.hostname, port: this.upstream.port, method, path, headers: sized }, (answer) => {
        readBody(answer).then((data) => resolve({ status: answer.statusCode ?? 500, headers: answer.headers, body: data }), reject);
      });
      call.on("error", reject);
      call.end(body);
    });
  }

  /** Conditional or version-creating writes waiting for (or holding) each `bucket/key`, the last one at the end. */
  private readonly keyLocks = new Map<string, Promise<void>>();

  /** Waits for earlier locked writes to the key, then holds it until `release` is called. */
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

  private answerS3Error(req: IncomingMessage, res: ServerResponse, record: ProxiedRequest, error: S3ErrorAnswer): void {
    const requestId = randomBytes(8).toString("hex").toUpperCase();
    const details = Object.entries(error.details)
      .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
      .join("");
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message>${details}<RequestId>${requestId}</RequestId></Error>`;
    const head = req.method === "HEAD";
    res.writeHead(error.status, { "content-type": "application/xml", "x-amz-request-id": requestId, ...(head ? {} : { "content-length": Buffer.byteLength(xml) }) });
    res.end(head ? undefined : xml);
    record.status = error.status;
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

/** How one request is forwarded, and what the proxy does with S3's answer before relaying it. */
interface Exchange {
  /** Path and query sent to s3rver: the client's, unless a version read is rerouted to its shadow copy. */
  path: string;
  /** Headers replaced on the way (a CopyObject's source version rerouted). */
  readonly headers: Record<string, string>;
  /** A write that becomes a new version of the object, so the key stays locked until it is stored. */
  createsVersion?: boolean;
  copySourceVersionId?: string;
  /** Runs on a 2xx answer before it is relayed; what it returns is added to the answer's headers. */
  beforeRelay?: (answer: IncomingMessage) => Promise<Record<string, string>>;
  /** Set once forwarded: the request to s3rver, and when its answer (and `beforeRelay`) is done or it failed. */
  upstream?: ClientRequest;
  settled?: Promise<void>;
}

/** One version the proxy made; `etag` (unquoted) tells whether s3rver's current object is it. */
interface StoredVersion {
  readonly versionId: string;
  etag: string;
}

interface S3ErrorAnswer {
  readonly status: 400 | 404 | 501;
  readonly code: string;
  readonly message: string;
  /** Extra elements of the error document, e.g. `Key`. */
  readonly details: Record<string, string>;
}

/** Query parameters that make an object request about something other than its data (or a part upload). */
const OBJECT_SUBRESOURCES = ["acl", "attributes", "legal-hold", "partNumber", "restore", "retention", "select", "tagging", "torrent", "uploadId", "uploads"];

/**
 * The s3rver bucket keeping the bucket's versions: a separate bucket, so they stay out of its
 * listings. Bucket names stop at 63 characters.
 */
function shadowBucketOf(bucket: string): string {
  const name = `${bucket}--versions`;
  return name.length <= 63 ? name : `${bucket.slice(0, 44)}--versions-${createHash("sha256").update(bucket).digest("hex").slice(0, 8)}`;
}

function encodeKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

function objectPath(bucket: string, key: string): string {
  return `/${encodeURIComponent(bucket)}/${encodeKey(key)}`;
}

/** Where one version's copy lives in s3rver; the version id first, so no key can collide with another's. */
function shadowPath(bucket: string, key: string, versionId: string): string {
  return `/${shadowBucketOf(bucket)}/${versionId}/${encodeKey(key)}`;
}

/** The headers s3rver keeps with an object (as it answers a HEAD), to store bytes under the same metadata. */
function storedMetadata(headers: IncomingHttpHeaders): Record<string, string> {
  const kept = ["cache-control", "content-disposition", "content-encoding", "content-language", "content-type", "expires"];
  return Object.fromEntries(
    Object.entries(headers).flatMap(([name, value]) => (typeof value === "string" && (kept.includes(name) || name.startsWith("x-amz-meta-")) ? [[name, value]] : [])),
  );
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
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

/** How long a read waits for the writes to its key in flight before it goes ahead anyway. */
const READ_WAIT_MS = 2_000;

/** Resolves when `promise` does or after `ms`, whichever is first; never rejects. */
async function waitAtMost(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (promise === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** A PutObject (not an UploadPart, not a CopyObject): its body becomes the object in one piece. */
function isPutObject(req: IncomingMessage, key: string, query: string): boolean {
  if (req.method !== "PUT" || key === "" || req.headers["x-amz-copy-source"] !== undefined) return false;
  const params = new URLSearchParams(query);
  return !params.has("partNumber") && !params.has("uploadId");
}

function unquote(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}
