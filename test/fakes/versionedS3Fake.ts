import { createHash, randomBytes, randomUUID } from "crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "http";
import { closeServer, listenOnLoopback, readBody } from "../agent/fakes/loopback";

/** One request as the fake received and answered it. */
export interface VersionedS3Call {
  readonly at: number;
  readonly method: string;
  /** The S3 operation the fake took the request for ("ListObjectVersions", …), or "Unsupported". */
  readonly operation: string;
  /** Undefined for requests to `/` (ListBuckets). */
  readonly bucket: string | undefined;
  /** URL-decoded; undefined for bucket requests. */
  readonly key: string | undefined;
  /** Query parameters, decoded; flags such as `versions` or `delete` map to "". */
  readonly query: Readonly<Record<string, string>>;
  /** Whether the request carried a SigV4 `Authorization` header (signatures are not checked). */
  readonly signed: boolean;
  readonly status: number;
}

/** One object version or delete marker, as {@link VersionedS3Fake.versions} lists it. */
export interface HeldVersion {
  readonly key: string;
  readonly versionId: string;
  readonly deleteMarker: boolean;
  readonly isLatest: boolean;
}

interface Entry {
  readonly key: string;
  readonly versionId: string;
  /** Creation order in the bucket; a key's versions are listed highest first. */
  readonly seq: number;
  readonly deleteMarker: boolean;
  readonly lastModified: Date;
  readonly etag: string;
  readonly size: number;
}

interface Bucket {
  /** Per key, newest first. Keys with no entries are removed. */
  readonly keys: Map<string, Entry[]>;
  /** Every version id ever issued here, so a marker stays valid after its version is deleted. */
  readonly issued: Map<string, { readonly key: string; readonly seq: number }>;
  /** Key → error code every delete of it gets. */
  readonly failDeletes: Map<string, string>;
}

interface Target {
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly query: Record<string, string>;
}

type Send = (status: number, body: string, headers?: Record<string, string>) => void;

const XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";
const MAX_KEYS = 1000;
/** S3 version ids are 32 URL-safe characters; a well-formed id that is not held deletes as a no-op. */
const VERSION_ID = /^[A-Za-z0-9._-]{32}$/;
/** Query parameters the SDK adds to say which operation it meant; they select nothing. */
const NEUTRAL_PARAMS = new Set(["x-id"]);

const MESSAGES: Readonly<Record<string, string>> = {
  AccessDenied: "Access Denied",
  InternalError: "We encountered an internal error. Please try again.",
  NoSuchVersion: "The specified version does not exist.",
};

/**
 * A local, in-memory S3 endpoint (REST-XML, path-style `/<bucket>/<key>`) whose buckets are all
 * versioning-enabled, for tests that must see every object version and delete marker — s3rver
 * 3.7 refuses `ListObjectVersions`. It answers CreateBucket, PutObject (a new version each time),
 * DeleteObject (a delete marker, or with `versionId` the permanent removal of that version),
 * ListObjectVersions (S3's order and key/version-id marker pagination), ListObjectsV2 (current,
 * non-deleted objects), DeleteObjects (per-object `<Deleted>`/`<Error>`, Quiet mode) and
 * DeleteBucket (`BucketNotEmpty` while any version or marker remains). Anything else gets a 501
 * `NotImplemented` S3 error. Signatures are not checked, only whether there is one.
 *
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeleteMarker.html
 */
export class VersionedS3Fake {
  readonly calls: VersionedS3Call[] = [];
  private readonly buckets = new Map<string, Bucket>();
  private seq = 0;
  private readonly server = createServer((req, res) => {
    this.handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/xml" });
      res.end(errorXml("InternalError", String(error), req.url ?? "/"));
    });
  });
  private url = "";

  static async start(): Promise<VersionedS3Fake> {
    const fake = new VersionedS3Fake();
    fake.url = await listenOnLoopback(fake.server);
    return fake;
  }

  /** For the S3 client's `endpoint` (with `forcePathStyle: true`) or `AWS_ENDPOINT_URL_S3`. */
  get endpoint(): string {
    return this.url;
  }

  /** Creates an empty, versioning-enabled bucket (no-op when it exists). */
  createBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, { keys: new Map(), issued: new Map(), failDeletes: new Map() });
  }

  /** The buckets that exist, sorted. */
  bucketNames(): string[] {
    return [...this.buckets.keys()].sort();
  }

  /** Stores a new version of `key` and returns its version id. */
  putVersion(bucket: string, key: string, body: string | Buffer = ""): string {
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    return this.add(this.bucket(bucket), key, false, `"${createHash("md5").update(bytes).digest("hex")}"`, bytes.length).versionId;
  }

  /** Adds a delete marker on top of `key` and returns the marker's version id. */
  deleteMarker(bucket: string, key: string): string {
    return this.add(this.bucket(bucket), key, true, "", 0).versionId;
  }

  /** Everything the bucket holds, in ListObjectVersions order (keys ascending, newest first). */
  versions(bucket: string): HeldVersion[] {
    return listOrder(this.bucket(bucket)).map((e, i, all) => ({
      key: e.key,
      versionId: e.versionId,
      deleteMarker: e.deleteMarker,
      isLatest: i === 0 || all[i - 1]!.key !== e.key,
    }));
  }

  /**
   * From now on deleting any version of `key` fails: DeleteObjects reports an `<Error>` with this
   * code for it, DeleteObject answers 403 with it.
   */
  failDeletesOf(bucket: string, key: string, code = "AccessDenied"): void {
    this.bucket(bucket).failDeletes.set(key, code);
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private bucket(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (!bucket) throw new Error(`VersionedS3Fake: no bucket ${name}`);
    return bucket;
  }

  private add(bucket: Bucket, key: string, deleteMarker: boolean, etag: string, size: number): Entry {
    this.seq += 1;
    // 24 random bytes are 32 base64url characters, the length of S3's version ids.
    const entry: Entry = { key, versionId: randomBytes(24).toString("base64url"), seq: this.seq, deleteMarker, lastModified: new Date(), etag, size };
    const entries = bucket.keys.get(key) ?? [];
    entries.unshift(entry);
    bucket.keys.set(key, entries);
    bucket.issued.set(entry.versionId, { key, seq: entry.seq });
    return entry;
  }

  /** Removes one version or marker; returns it, or undefined when it is not held. */
  private removeVersion(bucket: Bucket, key: string, versionId: string): Entry | undefined {
    const entries = bucket.keys.get(key);
    const index = entries?.findIndex((e) => e.versionId === versionId) ?? -1;
    if (!entries || index < 0) return undefined;
    const [removed] = entries.splice(index, 1);
    if (entries.length === 0) bucket.keys.delete(key);
    return removed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const raw = await readBody(req);
    const [rawPath = "/", rawQuery = ""] = (req.url ?? "/").split("?", 2);
    const query: Record<string, string> = {};
    for (const [name, value] of new URLSearchParams(rawQuery)) query[name] = value;
    let target: Target = { bucket: undefined, key: undefined, query };
    let problem: [number, string, string] | undefined;
    try {
      target = parsePath(rawPath, query);
    } catch {
      problem = [400, "InvalidURI", "Couldn't parse the specified URI."];
    }
    let body = raw;
    try {
      if (isAwsChunked(req.headers)) body = decodeAwsChunked(raw);
    } catch {
      problem ??= [400, "IncompleteBody", "The request body terminated unexpectedly"];
    }
    const operation = problem ? "Invalid" : operationOf(method, target);
    const resource = rawPath;
    const send: Send = (status, text, headers = {}) => {
      this.calls.push({
        at: Date.now(),
        method,
        operation,
        bucket: target.bucket,
        key: target.key,
        query,
        signed: String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 "),
        status,
      });
      const requestId = randomUUID();
      const out: Record<string, string> = { "x-amz-request-id": requestId, ...headers };
      if (text) {
        out["content-type"] = "application/xml";
        out["content-length"] = String(Buffer.byteLength(text));
      } else if (status !== 204) {
        out["content-length"] = "0";
      }
      res.writeHead(status, out);
      res.end(method === "HEAD" ? undefined : text);
    };
    const fail = (status: number, code: string, message: string): void => send(status, errorXml(code, message, resource));

    if (problem) return fail(...problem);
    if (operation === "Unsupported") {
      return fail(501, "NotImplemented", `A header or query you provided implies functionality that is not implemented (${method} ${rawPath}${rawQuery ? `?${rawQuery}` : ""}).`);
    }
    const name = target.bucket!;
    if (operation === "CreateBucket") {
      if (this.buckets.has(name)) return fail(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.");
      this.createBucket(name);
      return send(200, "", { location: `/${name}` });
    }
    const bucket = this.buckets.get(name);
    if (!bucket) return fail(404, "NoSuchBucket", "The specified bucket does not exist");
    const key = target.key!;

    switch (operation) {
      case "PutObject": {
        const etag = `"${createHash("md5").update(body).digest("hex")}"`;
        const entry = this.add(bucket, key, false, etag, body.length);
        return send(200, "", { etag, "x-amz-version-id": entry.versionId });
      }
      case "DeleteObject": {
        const code = bucket.failDeletes.get(key);
        if (code) return fail(403, code, MESSAGES[code] ?? code);
        const versionId = query.versionId;
        if (versionId === undefined) {
          const marker = this.add(bucket, key, true, "", 0);
          return send(204, "", { "x-amz-delete-marker": "true", "x-amz-version-id": marker.versionId });
        }
        if (!wellFormedVersionId(versionId)) return fail(400, "InvalidArgument", "Invalid version id specified");
        const removed = this.removeVersion(bucket, key, versionId);
        return send(204, "", { "x-amz-version-id": versionId, ...(removed?.deleteMarker ? { "x-amz-delete-marker": "true" } : {}) });
      }
      case "DeleteObjects":
        return this.deleteObjects(bucket, req.headers, body.toString("utf8"), send, fail);
      case "ListObjectVersions":
        return this.listObjectVersions(name, bucket, query, send, fail);
      case "ListObjectsV2":
        return this.listObjectsV2(name, bucket, query, send, fail);
      case "DeleteBucket":
        if (bucket.keys.size > 0) return fail(409, "BucketNotEmpty", "The bucket you tried to delete is not empty. You must delete all versions in the bucket.");
        this.buckets.delete(name);
        return send(204, "");
      default:
        return fail(501, "NotImplemented", `${operation} is not implemented`);
    }
  }

  /**
   * Pages in S3's order. Markers are exclusive: listing resumes after `key-marker` (after its
   * version `version-id-marker` when given); a truncated page's `NextKeyMarker` /
   * `NextVersionIdMarker` name its last entry, which is what S3 returns in practice.
   */
  private listObjectVersions(name: string, bucket: Bucket, query: Record<string, string>, send: Send, fail: (s: number, c: string, m: string) => void): void {
    if (query.delimiter !== undefined || query["encoding-type"] !== undefined) {
      return fail(501, "NotImplemented", "delimiter and encoding-type are not implemented by this fake");
    }
    const maxKeys = parseMaxKeys(query["max-keys"]);
    if (maxKeys === undefined) return fail(400, "InvalidArgument", "Provided max-keys not an integer or within integer range");
    const prefix = query.prefix ?? "";
    const keyMarker = query["key-marker"] ?? "";
    const versionIdMarker = query["version-id-marker"] ?? "";
    if (versionIdMarker && !keyMarker) return fail(400, "InvalidArgument", "A version-id marker cannot be specified without a key marker.");
    const markerSeq = versionIdMarker ? bucket.issued.get(versionIdMarker)?.seq : undefined;
    if (versionIdMarker && markerSeq === undefined) return fail(400, "InvalidArgument", "Invalid version id specified");

    const after = listOrder(bucket).filter((e) => {
      if (!e.key.startsWith(prefix)) return false;
      if (!keyMarker) return true;
      const order = compareKeys(e.key, keyMarker);
      return order > 0 || (order === 0 && markerSeq !== undefined && e.seq < markerSeq);
    });
    const page = after.slice(0, maxKeys);
    const truncated = maxKeys > 0 && after.length > page.length;
    const last = page.at(-1);
    const entries = page.map((e) => {
      const latest = bucket.keys.get(e.key)?.[0] === e;
      const common = `<Key>${escapeXml(e.key)}</Key><VersionId>${e.versionId}</VersionId><IsLatest>${latest}</IsLatest><LastModified>${e.lastModified.toISOString()}</LastModified>`;
      return e.deleteMarker
        ? `  <DeleteMarker>${common}</DeleteMarker>`
        : `  <Version>${common}<ETag>${escapeXml(e.etag)}</ETag><Size>${e.size}</Size><StorageClass>STANDARD</StorageClass></Version>`;
    });
    send(
      200,
      xmlDocument("ListVersionsResult", [
        `  <Name>${escapeXml(name)}</Name>`,
        `  <Prefix>${escapeXml(prefix)}</Prefix>`,
        `  <KeyMarker>${escapeXml(keyMarker)}</KeyMarker>`,
        `  <VersionIdMarker>${escapeXml(versionIdMarker)}</VersionIdMarker>`,
        ...(truncated && last ? [`  <NextKeyMarker>${escapeXml(last.key)}</NextKeyMarker>`, `  <NextVersionIdMarker>${last.versionId}</NextVersionIdMarker>`] : []),
        `  <MaxKeys>${maxKeys}</MaxKeys>`,
        `  <IsTruncated>${truncated}</IsTruncated>`,
        ...entries,
      ]),
    );
  }

  /** Current versions that are not delete markers; the continuation token is opaque (the last key returned). */
  private listObjectsV2(name: string, bucket: Bucket, query: Record<string, string>, send: Send, fail: (s: number, c: string, m: string) => void): void {
    if (query.delimiter !== undefined || query["encoding-type"] !== undefined) {
      return fail(501, "NotImplemented", "delimiter and encoding-type are not implemented by this fake");
    }
    const maxKeys = parseMaxKeys(query["max-keys"]);
    if (maxKeys === undefined) return fail(400, "InvalidArgument", "Provided max-keys not an integer or within integer range");
    const prefix = query.prefix ?? "";
    const token = query["continuation-token"];
    let after = query["start-after"] ?? "";
    if (token !== undefined) {
      const decoded = Buffer.from(token, "base64url").toString("utf8");
      if (!token || !decoded.startsWith("k:")) return fail(400, "InvalidArgument", "The continuation token provided is incorrect");
      after = decoded.slice(2);
    }
    const current = [...bucket.keys.values()]
      .map((entries) => entries[0]!)
      .filter((e) => !e.deleteMarker && e.key.startsWith(prefix) && (!after || compareKeys(e.key, after) > 0))
      .sort((a, b) => compareKeys(a.key, b.key));
    const page = current.slice(0, maxKeys);
    const truncated = maxKeys > 0 && current.length > page.length;
    const last = page.at(-1);
    send(
      200,
      xmlDocument("ListBucketResult", [
        `  <Name>${escapeXml(name)}</Name>`,
        `  <Prefix>${escapeXml(prefix)}</Prefix>`,
        ...(token !== undefined ? [`  <ContinuationToken>${escapeXml(token)}</ContinuationToken>`] : []),
        ...(query["start-after"] !== undefined ? [`  <StartAfter>${escapeXml(query["start-after"])}</StartAfter>`] : []),
        `  <KeyCount>${page.length}</KeyCount>`,
        `  <MaxKeys>${maxKeys}</MaxKeys>`,
        `  <IsTruncated>${truncated}</IsTruncated>`,
        ...(truncated && last ? [`  <NextContinuationToken>${Buffer.from(`k:${last.key}`).toString("base64url")}</NextContinuationToken>`] : []),
        ...page.map(
          (e) =>
            `  <Contents><Key>${escapeXml(e.key)}</Key><LastModified>${e.lastModified.toISOString()}</LastModified><ETag>${escapeXml(e.etag)}</ETag><Size>${e.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
        ),
      ]),
    );
  }

  /**
   * Applies each `<Object>` as DeleteObject would. A version id that is well-formed but not held
   * deletes nothing and still counts as deleted (as S3 does); a malformed one is a `NoSuchVersion`
   * error entry. S3 requires an integrity header on this request (Content-MD5 or a checksum).
   */
  private deleteObjects(bucket: Bucket, headers: IncomingHttpHeaders, xml: string, send: Send, fail: (s: number, c: string, m: string) => void): void {
    const hasIntegrity = headers["content-md5"] !== undefined || Object.keys(headers).some((h) => h.startsWith("x-amz-checksum-") || h === "x-amz-sdk-checksum-algorithm");
    if (!hasIntegrity) return fail(400, "InvalidRequest", "Missing required header for this request: Content-MD5 OR x-amz-checksum-*");
    const request = parseDeleteRequest(xml);
    if (!request || request.objects.length === 0 || request.objects.length > MAX_KEYS) {
      return fail(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema");
    }
    const out: string[] = [];
    for (const { key, versionId } of request.objects) {
      const version = versionId === undefined ? "" : `<VersionId>${escapeXml(versionId)}</VersionId>`;
      const error = (code: string): void => {
        out.push(`  <Error><Key>${escapeXml(key)}</Key>${version}<Code>${escapeXml(code)}</Code><Message>${escapeXml(MESSAGES[code] ?? code)}</Message></Error>`);
      };
      const deleted = (marker: Entry | undefined): void => {
        if (request.quiet) return;
        const markerXml = marker ? `<DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>${marker.versionId}</DeleteMarkerVersionId>` : "";
        out.push(`  <Deleted><Key>${escapeXml(key)}</Key>${version}${markerXml}</Deleted>`);
      };
      const code = bucket.failDeletes.get(key);
      if (code) error(code);
      else if (versionId === undefined) deleted(this.add(bucket, key, true, "", 0));
      else if (!wellFormedVersionId(versionId)) error("NoSuchVersion");
      else {
        const removed = this.removeVersion(bucket, key, versionId);
        deleted(removed?.deleteMarker ? removed : undefined);
      }
    }
    send(200, xmlDocument("DeleteResult", out));
  }
}

/** S3's ids, or "null" (the id of objects stored while versioning was off, never held here). */
function wellFormedVersionId(versionId: string): boolean {
  return versionId === "null" || VERSION_ID.test(versionId);
}

function parsePath(rawPath: string, query: Record<string, string>): Target {
  const path = rawPath.replace(/^\/+/, "");
  const slash = path.indexOf("/");
  const bucket = decodeURIComponent(slash < 0 ? path : path.slice(0, slash));
  const key = slash < 0 ? "" : decodeURIComponent(path.slice(slash + 1));
  return { bucket: bucket || undefined, key: key || undefined, query };
}

/** Names the supported operation a request is, or "Unsupported". */
function operationOf(method: string, { bucket, key, query }: Target): string {
  const params = Object.keys(query).filter((p) => !NEUTRAL_PARAMS.has(p));
  const only = (...allowed: string[]): boolean => params.every((p) => allowed.includes(p));
  if (bucket === undefined) return "Unsupported";
  if (key === undefined) {
    if (method === "PUT" && only()) return "CreateBucket";
    if (method === "DELETE" && only()) return "DeleteBucket";
    if (method === "POST" && "delete" in query && only("delete")) return "DeleteObjects";
    if (method === "GET" && "versions" in query && only("versions", "max-keys", "key-marker", "version-id-marker", "prefix", "delimiter", "encoding-type")) {
      return "ListObjectVersions";
    }
    if (method === "GET" && query["list-type"] === "2" && only("list-type", "max-keys", "prefix", "continuation-token", "start-after", "fetch-owner", "delimiter", "encoding-type")) {
      return "ListObjectsV2";
    }
    return "Unsupported";
  }
  if (method === "PUT" && only()) return "PutObject";
  if (method === "DELETE" && only("versionId")) return "DeleteObject";
  return "Unsupported";
}

/** All entries: keys ascending in UTF-8 byte order (as S3 sorts), each key's versions newest first. */
function listOrder(bucket: Bucket): Entry[] {
  return [...bucket.keys.keys()].sort(compareKeys).flatMap((key) => bucket.keys.get(key) ?? []);
}

function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** `max-keys` as S3 takes it: default 1000, larger values capped at 1000; undefined when invalid. */
function parseMaxKeys(value: string | undefined): number | undefined {
  if (value === undefined) return MAX_KEYS;
  if (!/^\d+$/.test(value)) return undefined;
  return Math.min(Number(value), MAX_KEYS);
}

/** The `<Delete>` request body, or undefined when it is not one. */
function parseDeleteRequest(xml: string): { quiet: boolean; objects: Array<{ key: string; versionId: string | undefined }> } | undefined {
  const root = /<Delete(?:\s[^>]*)?>([\s\S]*)<\/Delete>/.exec(xml);
  if (!root) return undefined;
  const inner = root[1]!;
  const objects: Array<{ key: string; versionId: string | undefined }> = [];
  for (const match of inner.matchAll(/<Object>([\s\S]*?)<\/Object>/g)) {
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(match[1]!)?.[1];
    if (key === undefined) return undefined;
    const versionId = /<VersionId>([\s\S]*?)<\/VersionId>/.exec(match[1]!)?.[1];
    objects.push({ key: unescapeXml(key), versionId: versionId === undefined ? undefined : unescapeXml(versionId) });
  }
  const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(inner);
  return { quiet, objects };
}

function isAwsChunked(headers: IncomingHttpHeaders): boolean {
  return String(headers["content-encoding"] ?? "").includes("aws-chunked") || String(headers["x-amz-content-sha256"] ?? "").startsWith("STREAMING-");
}

/** The payload of an `aws-chunked` body (`<hex size>[;chunk-signature=…]\r\n<data>\r\n` … `0\r\n<trailers>`). */
function decodeAwsChunked(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at);
    if (lineEnd < 0) throw new Error("aws-chunked body without a size line");
    const size = parseInt(raw.subarray(at, lineEnd).toString("latin1").split(";")[0]!, 16);
    if (!Number.isFinite(size)) throw new Error("bad aws-chunked size line");
    if (size === 0) return Buffer.concat(parts);
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

function xmlDocument(root: string, children: readonly string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${XMLNS}">\n${children.map((c) => `${c}\n`).join("")}</${root}>\n`;
}

function errorXml(code: string, message: string, resource: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message><Resource>${escapeXml(resource)}</Resource><RequestId>${randomUUID()}</RequestId></Error>\n`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;").replace(/\r/g, "&#13;");
}

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    switch (entity) {
      case "amp":
        return "&";
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "quot":
        return '"';
      case "apos":
        return "'";
      default:
        return String.fromCodePoint(entity.startsWith("#x") ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10));
    }
  });
}
