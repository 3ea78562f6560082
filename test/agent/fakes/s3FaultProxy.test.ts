import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { request } from "http";
import { Readable } from "stream";
import { RunRecordAuditor } from "./runRecordAuditor";
import { localS3Client, S3Fake } from "./s3Fake";
import { S3FaultProxy } from "./s3FaultProxy";
import { sha256Hex } from "./standInCheckpoint";

const BUCKET = "yolo-train-test-artifacts";
let s3: S3Fake;
let proxy: S3FaultProxy;
let viaProxy: S3Client;
beforeEach(async () => {
  s3 = await S3Fake.start([BUCKET]);
  proxy = s3.proxy;
  viaProxy = localS3Client(s3.endpoint);
});
afterEach(async () => {
  viaProxy.destroy();
  await s3.close();
});

/** A stand-in checkpoint's bytes, as standInTrainer.js writes them. */
function checkpoint(phase: number, epoch: number, size = 4096): Buffer {
  const header = Buffer.from(JSON.stringify({ magic: "YOLO-TRAIN-STANDIN-CHECKPOINT", kind: "last", runId: "r", phase, epoch }) + "\n");
  return Buffer.concat([header, Buffer.alloc(size - header.length, epoch)]);
}

describe("S3Fake and S3FaultProxy", () => {
  it("store what the SDK puts through the proxy, streamed (aws-chunked) bodies decoded, and record each request", async () => {
    await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "runs/r/a b.txt", Body: "hello" }));
    await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "runs/r/stream", Body: Readable.from([Buffer.from("streamed ")]), ContentLength: 9 }));
    const got = await viaProxy.send(new GetObjectCommand({ Bucket: BUCKET, Key: "runs/r/a b.txt" }));
    expect(await got.Body!.transformToString()).toBe("hello");
    expect((await s3.getObject(BUCKET, "runs/r/stream"))?.toString()).toBe("streamed ");
    expect(await s3.listKeys(BUCKET)).toEqual(["runs/r/a b.txt", "runs/r/stream"]);
    expect(proxy.requests.map((r) => [r.method, r.key, r.status])).toEqual([
      ["PUT", "runs/r/a b.txt", 200],
      ["PUT", "runs/r/stream", 200],
      ["GET", "runs/r/a b.txt", 200],
    ]);
    expect(proxy.writes).toHaveLength(2);
  });

  it("checks streamed uploads' trailing checksums and echoes the checksum as S3 does", async () => {
    const answer = await viaProxy.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "summed", Body: Readable.from([Buffer.from("checked ")]), ContentLength: 8, ChecksumAlgorithm: "SHA256" }),
    );
    expect(answer.ChecksumSHA256).toBe(Buffer.from(sha256Hex(Buffer.from("checked ")), "hex").toString("base64"));
  });

  it("refuses a body whose checksum does not match with BadDigest, and stores nothing", async () => {
    const wrong = Buffer.from(sha256Hex(Buffer.from("other")), "hex").toString("base64");
    await expect(viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "damaged", Body: Buffer.from("payload"), ChecksumSHA256: wrong }))).rejects.toMatchObject({
      name: "BadDigest",
      $metadata: { httpStatusCode: 400 },
    });
    expect(await s3.listKeys(BUCKET)).toEqual([]);
  });

  it("passes multipart uploads through whole", async () => {
    const body = Buffer.alloc(11 * 1024 * 1024, 3);
    await new Upload({ client: viaProxy, params: { Bucket: BUCKET, Key: "big", Body: body, ChecksumAlgorithm: "SHA256" }, partSize: 5 * 1024 * 1024 }).done();
    expect(sha256Hex((await s3.getObject(BUCKET, "big"))!)).toBe(sha256Hex(body));
    expect(proxy.requests.filter((r) => /partNumber=/.test(r.query))).toHaveLength(3);
  });

  it("fails every request inside a failEvery:1 window with S3's InternalError, without reaching S3", async () => {
    proxy.injectFaults([{ forMs: 60_000, failEvery: 1, status: 500 }]);
    await expect(viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "k", Body: "x" }))).rejects.toMatchObject({ name: "InternalError", $metadata: { httpStatusCode: 500 } });
    // The SDK's own retries (3 attempts) all failed too.
    expect(proxy.failures).toHaveLength(3);
    expect(await s3.listKeys(BUCKET)).toEqual([]);
  });

  it("answers 503 SlowDown when asked, which the SDK retries", async () => {
    proxy.injectFaults([{ forMs: 60_000, failEvery: 2, status: 503 }]);
    await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "k1", Body: "x" }));
    const second = await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "k2", Body: "y" }));
    expect(second.$metadata.attempts).toBe(2);
    expect(proxy.requests.map((r) => r.status)).toEqual([200, 503, 200]);
  });

  it("counts request windows in requests, then moves to the next window", async () => {
    proxy.injectFaults([{ requests: 2, failEvery: 1 }, { requests: 2, failEvery: 2, status: 503 }]);
    const put = (key: string): Promise<unknown> => viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: "x" }));
    await put("k1"); // fails twice (window 1), then passes (window 2, first request)
    await put("k2"); // 503 (window 2, second request), then passes (no window left)
    expect(proxy.requests.map((r) => r.status)).toEqual([500, 500, 200, 503, 200]);
  });

  it("holds answers back in a slow window and stops after it ends", async () => {
    proxy.injectFaults([{ forMs: 400, delayMs: 300 }]);
    const started = Date.now();
    await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "slow", Body: "x" }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await new Promise((resolve) => setTimeout(resolve, 450));
    await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "fast", Body: "x" }));
    expect(proxy.requests.map((r) => r.fault)).toEqual(["delayed", "none"]);
  });

  it("limits a window to the requests `only` picks: the others pass untouched and are not counted", async () => {
    await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "picked", Body: "x" }));
    proxy.injectFaults([{ requests: 1, delayMs: 300, only: (r) => r.method === "GET" && r.key === "picked" }]);
    await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "other", Body: "y" }));
    const started = Date.now();
    await (await viaProxy.send(new GetObjectCommand({ Bucket: BUCKET, Key: "picked" }))).Body!.transformToString();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await (await viaProxy.send(new GetObjectCommand({ Bucket: BUCKET, Key: "picked" }))).Body!.transformToString();
    expect(proxy.requests.map((r) => [r.method, r.key, r.fault])).toEqual([
      ["PUT", "picked", "none"],
      ["PUT", "other", "none"],
      ["GET", "picked", "delayed"],
      ["GET", "picked", "none"],
    ]);
  });

  it("refuses a PUT with If-None-Match: * when the key exists (412 PreconditionFailed) and keeps the first object", async () => {
    await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "claim", Body: "first", IfNoneMatch: "*" }));
    await expect(viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "claim", Body: "second", IfNoneMatch: "*" }))).rejects.toMatchObject({
      name: "PreconditionFailed",
      $metadata: { httpStatusCode: 412 },
    });
    expect((await s3.getObject(BUCKET, "claim"))?.toString()).toBe("first");
    expect(proxy.requests.map((r) => r.status)).toEqual([200, 412]);
  });

  it("lets exactly one of many concurrent If-None-Match: * writes to one key through", async () => {
    const bodies = Array.from({ length: 8 }, (_, i) => `writer-${i}`);
    const results = await Promise.allSettled(bodies.map((Body) => viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "contended", Body, IfNoneMatch: "*" }))));
    const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [bodies[i]] : []));
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason.name)).toEqual(Array(7).fill("PreconditionFailed"));
    expect((await s3.getObject(BUCKET, "contended"))?.toString()).toBe(won[0]);
  });

  it("applies If-Match: a PUT with the current ETag replaces, a stale ETag gets 412, a missing key 404", async () => {
    const first = await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "pointer", Body: "v1" }));
    const second = await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "pointer", Body: "v2", IfMatch: first.ETag }));
    await expect(viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "pointer", Body: "v3", IfMatch: first.ETag }))).rejects.toMatchObject({ name: "PreconditionFailed" });
    await expect(viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "absent", Body: "x", IfMatch: second.ETag }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    expect((await s3.getObject(BUCKET, "pointer"))?.toString()).toBe("v2");
    expect(await s3.listKeys(BUCKET)).toEqual(["pointer"]);
  });
});

describe("versioning", () => {
  // A second proxy, versioning on, in front of the same s3rver.
  let versioned: S3FaultProxy;
  let client: S3Client;
  beforeEach(async () => {
    versioned = await S3FaultProxy.start(s3.directEndpoint, { versioning: true });
    client = localS3Client(versioned.endpoint);
  });
  afterEach(async () => {
    client.destroy();
    await versioned.close();
  });

  const put = (key: string, body: Buffer | string, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) =>
    client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, Metadata: { sha256: sha256Hex(Buffer.from(body)) }, ...extra }));
  const get = async (key: string, versionId?: string) => {
    const answer = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, VersionId: versionId }));
    return { body: Buffer.from(await answer.Body!.transformToByteArray()), metadata: answer.Metadata, versionId: answer.VersionId, contentType: answer.ContentType };
  };
  const VERSION_ID = /^[A-Za-z0-9_-]{32}$/;

  it("gives each PutObject a new version, serves every version by id and the newest without one", async () => {
    const first = await put("runs/r/last.pt", checkpoint(0, 1), { ContentType: "application/octet-stream" });
    const second = await put("runs/r/last.pt", checkpoint(0, 2, 5000));
    expect(first.VersionId).toMatch(VERSION_ID);
    expect(second.VersionId).toMatch(VERSION_ID);
    expect(second.VersionId).not.toBe(first.VersionId);
    expect(versioned.versionsOf(BUCKET, "runs/r/last.pt")).toEqual([first.VersionId, second.VersionId]);

    const older = await get("runs/r/last.pt", first.VersionId);
    expect(older.body.equals(checkpoint(0, 1))).toBe(true);
    expect(older).toMatchObject({ versionId: first.VersionId, metadata: { sha256: sha256Hex(checkpoint(0, 1)) }, contentType: "application/octet-stream" });
    const newer = await get("runs/r/last.pt", second.VersionId);
    expect(newer.body.equals(checkpoint(0, 2, 5000))).toBe(true);
    expect(newer.metadata).toEqual({ sha256: sha256Hex(checkpoint(0, 2, 5000)) });
    const latest = await get("runs/r/last.pt");
    expect(latest.body.equals(checkpoint(0, 2, 5000))).toBe(true);
    expect(latest.versionId).toBe(second.VersionId);

    // The request log shows what the client asked for, not where the proxy sent it.
    expect(versioned.requests.map((r) => [r.method, r.bucket, r.key, new URLSearchParams(r.query).get("versionId"), r.status])).toEqual([
      ["PUT", BUCKET, "runs/r/last.pt", null, 200],
      ["PUT", BUCKET, "runs/r/last.pt", null, 200],
      ["GET", BUCKET, "runs/r/last.pt", first.VersionId, 200],
      ["GET", BUCKET, "runs/r/last.pt", second.VersionId, 200],
      ["GET", BUCKET, "runs/r/last.pt", null, 200],
    ]);
  });

  it("names no version for an object written behind the proxy's back", async () => {
    await put("k", "via proxy");
    await s3.putObject(BUCKET, "k", "direct");
    const latest = await get("k");
    expect(latest.body.toString()).toBe("direct");
    expect(latest.versionId).toBeUndefined();
  });

  it("gives a multipart upload (lib-storage Upload) a version that GET by id serves byte-identical", async () => {
    const body = Buffer.alloc(11 * 1024 * 1024, 7);
    body.write("head of a big checkpoint");
    const done = await new Upload({
      client,
      params: { Bucket: BUCKET, Key: "big.pt", Body: body, ChecksumAlgorithm: "SHA256", Metadata: { sha256: sha256Hex(body) } },
      partSize: 5 * 1024 * 1024,
    }).done();
    expect(versioned.requests.filter((r) => /partNumber=/.test(r.query))).toHaveLength(3);
    expect(done.VersionId).toMatch(VERSION_ID);
    await put("big.pt", "overwritten");
    const old = await get("big.pt", done.VersionId);
    expect(sha256Hex(old.body)).toBe(sha256Hex(body));
    expect(old.metadata).toEqual({ sha256: sha256Hex(body) });
  });

  it("answers HEAD and range GETs by version id from that version", async () => {
    const first = await put("k", "0123456789");
    await put("k", "abc");
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "k", VersionId: first.VersionId }));
    expect(head).toMatchObject({ ContentLength: 10, VersionId: first.VersionId, Metadata: { sha256: sha256Hex(Buffer.from("0123456789")) } });
    const ranged = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k", VersionId: first.VersionId, Range: "bytes=2-4" }));
    expect(await ranged.Body!.transformToString()).toBe("234");
    expect(ranged).toMatchObject({ ContentRange: "bytes 2-4/10", VersionId: first.VersionId, $metadata: { httpStatusCode: 206 } });
  });

  it("answers an unknown version id with NoSuchVersion (404) and a malformed one with InvalidArgument (400)", async () => {
    const { VersionId } = await put("k", "x");
    await put("other", "y");
    const unknown = "A".repeat(32);
    await expect(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k", VersionId: unknown }))).rejects.toMatchObject({
      name: "NoSuchVersion",
      message: "The specified version does not exist.",
      $metadata: { httpStatusCode: 404 },
    });
    // A version of another key is not one of this key's.
    await expect(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "other", VersionId }))).rejects.toMatchObject({ name: "NoSuchVersion" });
    // HEAD answers carry no body, so the SDK only knows the status.
    await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "k", VersionId: unknown }))).rejects.toMatchObject({
      name: "NotFound",
      $metadata: { httpStatusCode: 404 },
    });
    await expect(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k", VersionId: "not-a-version" }))).rejects.toMatchObject({
      name: "InvalidArgument",
      message: "Invalid version id specified",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "k", VersionId: "not-a-version" }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 400 },
    });
  });

  it("creates no version for a write refused by its condition or failed by a fault", async () => {
    const first = await put("claim", "first", { IfNoneMatch: "*" });
    await expect(put("claim", "second", { IfNoneMatch: "*" })).rejects.toMatchObject({ name: "PreconditionFailed", $metadata: { httpStatusCode: 412 } });
    versioned.injectFaults([{ requests: 3, failEvery: 1 }]);
    await expect(put("claim", "third")).rejects.toMatchObject({ name: "InternalError" });
    expect(versioned.versionsOf(BUCKET, "claim")).toEqual([first.VersionId]);
    expect(await get("claim")).toMatchObject({ versionId: first.VersionId, body: Buffer.from("first") });
  });

  it("keeps each of many concurrent writes to one key as its own version", async () => {
    const bodies = Array.from({ length: 8 }, (_, i) => `writer-${i}`.repeat(1000 * (i + 1)));
    const answers = await Promise.all(bodies.map((body) => put("contended", body)));
    const ids = answers.map((a) => a.VersionId!);
    expect(new Set(ids).size).toBe(8);
    expect([...versioned.versionsOf(BUCKET, "contended")].sort()).toEqual([...ids].sort());
    for (const [i, id] of ids.entries()) expect((await get("contended", id)).body.toString()).toBe(bodies[i]);
    // The current object is the version written last.
    const latest = await get("contended");
    expect(latest.versionId).toBe(versioned.versionsOf(BUCKET, "contended").at(-1));
    expect(latest.body.toString()).toBe(bodies[ids.indexOf(latest.versionId!)]);
  });

  it("frees the key of a client that went away mid-upload, with no version made", async () => {
    const abandoned = request(`${versioned.endpoint}/${BUCKET}/k`, { method: "PUT", headers: { "content-length": "1000" } });
    abandoned.on("error", () => undefined);
    abandoned.write(Buffer.alloc(10));
    await new Promise((resolve) => setTimeout(resolve, 100));
    abandoned.destroy();
    // Were the key still locked, this would wait for s3rver's request timeout (minutes).
    const started = Date.now();
    const written = await put("k", "whole");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(versioned.versionsOf(BUCKET, "k")).toEqual([written.VersionId]);
    expect((await get("k", written.VersionId)).body.toString()).toBe("whole");
  });

  it("corruptVersion rots one version's bytes under its old metadata, and the current object when it is the latest", async () => {
    const first = await put("last.pt", checkpoint(0, 1));
    const second = await put("last.pt", checkpoint(0, 2));
    const rot = Buffer.from("bit rot");
    await versioned.corruptVersion(BUCKET, "last.pt", first.VersionId!, rot);
    expect(await get("last.pt", first.VersionId)).toMatchObject({ body: rot, metadata: { sha256: sha256Hex(checkpoint(0, 1)) } });
    expect((await get("last.pt", second.VersionId)).body.equals(checkpoint(0, 2))).toBe(true);
    expect((await s3.getObject(BUCKET, "last.pt"))?.equals(checkpoint(0, 2))).toBe(true);

    await versioned.corruptVersion(BUCKET, "last.pt", second.VersionId!, rot);
    expect(await s3.getObjectWithMetadata(BUCKET, "last.pt")).toEqual({ bytes: rot, metadata: { sha256: sha256Hex(checkpoint(0, 2)) } });
    expect(await get("last.pt")).toMatchObject({ body: rot, versionId: second.VersionId, metadata: { sha256: sha256Hex(checkpoint(0, 2)) } });
    await expect(versioned.corruptVersion(BUCKET, "last.pt", "A".repeat(32), rot)).rejects.toThrow(/no version/);
  });

  it("copies an older version back with CopyObject, as a new version", async () => {
    const first = await put("last.pt", checkpoint(0, 1));
    await put("last.pt", checkpoint(0, 2));
    const copied = await client.send(new CopyObjectCommand({ Bucket: BUCKET, Key: "last.pt", CopySource: `${BUCKET}/last.pt?versionId=${first.VersionId}` }));
    expect(copied.CopySourceVersionId).toBe(first.VersionId);
    expect(copied.VersionId).toMatch(VERSION_ID);
    expect(versioned.versionsOf(BUCKET, "last.pt")).toHaveLength(3);
    const latest = await get("last.pt");
    expect(latest.body.equals(checkpoint(0, 1))).toBe(true);
    expect(latest).toMatchObject({ versionId: copied.VersionId, metadata: { sha256: sha256Hex(checkpoint(0, 1)) } });
  });

  it("keeps versions out of the bucket's listing", async () => {
    await put("runs/r/a", "1");
    await put("runs/r/a", "2");
    await put("runs/r/b", "3");
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(["runs/r/a", "runs/r/b"]);
    expect(await s3.listKeys(BUCKET)).toEqual(["runs/r/a", "runs/r/b"]);
  });

  it("is off by default: no version ids", async () => {
    const written = await viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: "k", Body: "x" }));
    expect(written.VersionId).toBeUndefined();
    const read = await viaProxy.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    expect(read.VersionId).toBeUndefined();
    expect(proxy.versionsOf(BUCKET, "k")).toEqual([]);
  });
});

describe("RunRecordAuditor", () => {
  const prefix = "runs/r/";
  const putRecord = (record: object): Promise<unknown> => viaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}run.json`, Body: JSON.stringify(record) }));

  it("accepts a record naming a checkpoint that is whole in S3", async () => {
    const auditor = new RunRecordAuditor(proxy, s3, BUCKET, prefix);
    const bytes = checkpoint(0, 2);
    await s3.putObject(BUCKET, `${prefix}checkpoints/phase-0/last.pt`, bytes);
    await putRecord({ phase: "training", checkpoint: { key: `${prefix}checkpoints/phase-0/last.pt`, sha256: sha256Hex(bytes), bytes: bytes.length, phase: 0, epoch: 2 } });
    expect(auditor.violations).toEqual([]);
    expect(auditor.phases).toEqual(["training"]);
  });

  it("reports a record naming a checkpoint S3 does not have yet", async () => {
    const auditor = new RunRecordAuditor(proxy, s3, BUCKET, prefix);
    await putRecord({ phase: "training", checkpoint: { key: `${prefix}checkpoints/phase-0/last.pt`, sha256: "00", bytes: 1, phase: 0, epoch: 1 } });
    expect(auditor.violations).toEqual([`run record #1 (training) names checkpoint ${prefix}checkpoints/phase-0/last.pt, which is not in S3`]);
  });

  it("reports a record whose checkpoint differs from the object (a partial or older upload)", async () => {
    const auditor = new RunRecordAuditor(proxy, s3, BUCKET, prefix);
    const bytes = checkpoint(0, 2);
    await s3.putObject(BUCKET, `${prefix}checkpoints/phase-0/last.pt`, bytes.subarray(0, 40));
    await putRecord({ phase: "interrupted", checkpoint: { key: `${prefix}checkpoints/phase-0/last.pt`, sha256: sha256Hex(bytes), bytes: bytes.length, phase: 0, epoch: 3 } });
    expect(auditor.violations).toHaveLength(3);
    expect(auditor.violations).toEqual([
      expect.stringMatching(/is not a whole stand-in checkpoint/),
      expect.stringMatching(/with sha256 \w+, but S3 holds \w+$/),
      expect.stringMatching(/of 4096 bytes, but S3 holds 40$/),
    ]);
  });

  it("tells a checkpoint labelled with another epoch apart from a missing one", async () => {
    const auditor = new RunRecordAuditor(proxy, s3, BUCKET, prefix);
    const bytes = checkpoint(0, 3);
    await s3.putObject(BUCKET, `${prefix}checkpoints/phase-0/last.pt`, bytes);
    await putRecord({ phase: "training", checkpoint: { key: `${prefix}checkpoints/phase-0/last.pt`, sha256: sha256Hex(bytes), bytes: bytes.length, phase: 0, epoch: 2 } });
    expect(auditor.violations).toEqual([]);
    expect(auditor.mislabels).toEqual(["run record #1 (training) says phase 0 epoch 2, but the object is phase 0 epoch 3"]);
  });

  it("allows a record naming a key that already holds a newer whole checkpoint (one key per phase)", async () => {
    const auditor = new RunRecordAuditor(proxy, s3, BUCKET, prefix);
    const older = checkpoint(0, 2);
    const newer = checkpoint(0, 3);
    await s3.putObject(BUCKET, `${prefix}checkpoints/phase-0/last.pt`, newer, { sha256: sha256Hex(newer) });
    await putRecord({ phase: "training", checkpoint: { key: `${prefix}checkpoints/phase-0/last.pt`, sha256: sha256Hex(older), bytes: older.length, phase: 0, epoch: 2 } });
    expect(auditor.violations).toEqual([]);
    expect(auditor.superseded).toEqual([`run record #1 (training) names ${prefix}checkpoints/phase-0/last.pt at epoch 2; S3 already holds epoch 3`]);
  });

  it("does not take an older object under the key for a newer one", async () => {
    const auditor = new RunRecordAuditor(proxy, s3, BUCKET, prefix);
    const older = checkpoint(0, 2);
    const newer = checkpoint(0, 3);
    await s3.putObject(BUCKET, `${prefix}checkpoints/phase-0/last.pt`, older, { sha256: sha256Hex(older) });
    await putRecord({ phase: "training", checkpoint: { key: `${prefix}checkpoints/phase-0/last.pt`, sha256: sha256Hex(newer), bytes: newer.length, phase: 0, epoch: 3 } });
    expect(auditor.violations).toEqual([expect.stringMatching(/with sha256 .* but S3 holds/)]);
  });

  it("reports artifacts named before they exist", async () => {
    const auditor = new RunRecordAuditor(proxy, s3, BUCKET, prefix);
    await s3.putObject(BUCKET, `${prefix}model/best.pt`, "w");
    await putRecord({ phase: "completed", artifacts: { best: `${prefix}model/best.pt`, onnx: `${prefix}model/best.onnx` } });
    expect(auditor.violations).toEqual([`run record #1 (completed) names artifact onnx ${prefix}model/best.onnx, which is not in S3`]);
  });
});
