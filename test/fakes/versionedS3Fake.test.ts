import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  paginateListObjectsV2,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  type ObjectIdentifier,
} from "@aws-sdk/client-s3";
import { VersionedS3Fake } from "./versionedS3Fake";

let fake: VersionedS3Fake;
let s3: S3Client;
beforeEach(async () => {
  fake = await VersionedS3Fake.start();
  s3 = new S3Client({
    region: "us-east-1",
    endpoint: fake.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
  });
});
afterEach(async () => {
  s3.destroy();
  await fake.close();
});

/** Listed entries as "key kind versionId", in the order ListObjectVersions gave them. */
interface Listed {
  readonly key: string;
  readonly versionId: string;
  readonly deleteMarker: boolean;
  readonly isLatest: boolean;
}

/**
 * One ListObjectVersions page, versions and markers merged back into one sequence. The SDK
 * returns them as two arrays, so the merge follows the fake's own order (`fake.versions`), which
 * the tests check separately against the raw XML order.
 */
async function listPage(bucket: string, input: { KeyMarker?: string; VersionIdMarker?: string; MaxKeys?: number; Prefix?: string } = {}) {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, ...input }));
  const entries: Listed[] = [
    ...(page.Versions ?? []).map((v) => ({ key: v.Key!, versionId: v.VersionId!, deleteMarker: false, isLatest: v.IsLatest! })),
    ...(page.DeleteMarkers ?? []).map((m) => ({ key: m.Key!, versionId: m.VersionId!, deleteMarker: true, isLatest: m.IsLatest! })),
  ];
  return { page, entries };
}

/** The element names of a raw ListObjectVersions answer, in document order, as "Version:key" / "DeleteMarker:key". */
async function rawListOrder(bucket: string): Promise<string[]> {
  const answer = await fetch(`${fake.endpoint}/${bucket}?versions`);
  const xml = await answer.text();
  return [...xml.matchAll(/<(Version|DeleteMarker)><Key>([^<]*)<\/Key><VersionId>([^<]*)<\/VersionId>/g)].map((m) => `${m[1]}:${m[2]}:${m[3]}`);
}

async function rejection(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error("expected the request to fail");
}

describe("VersionedS3Fake", () => {
  it("keeps every PutObject as a version and makes DeleteObject add a delete marker that becomes the latest", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "state" }));
    const first = await s3.send(new PutObjectCommand({ Bucket: "state", Key: "runs/a.json", Body: "one" }));
    const second = await s3.send(new PutObjectCommand({ Bucket: "state", Key: "runs/a.json", Body: "two!" }));
    const deletion = await s3.send(new DeleteObjectCommand({ Bucket: "state", Key: "runs/a.json" }));

    expect(first.VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(first.ETag).toBe('"f97c5d29941bfb1b2fdab0874906ab82"'); // md5("one")
    expect(deletion.DeleteMarker).toBe(true);
    expect(deletion.VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const { page } = await listPage("state");
    expect(page.Versions?.map((v) => [v.VersionId, v.IsLatest, v.Size, v.StorageClass])).toEqual([
      [second.VersionId, false, 4, "STANDARD"],
      [first.VersionId, false, 3, "STANDARD"],
    ]);
    expect(page.DeleteMarkers?.map((m) => [m.Key, m.VersionId, m.IsLatest])).toEqual([["runs/a.json", deletion.VersionId, true]]);
    expect(page.DeleteMarkers?.[0]?.LastModified).toBeInstanceOf(Date);
    expect(page.IsTruncated).toBe(false);
    expect(await rawListOrder("state")).toEqual([
      `DeleteMarker:runs/a.json:${deletion.VersionId}`,
      `Version:runs/a.json:${second.VersionId}`,
      `Version:runs/a.json:${first.VersionId}`,
    ]);
    expect(fake.calls.map((c) => [c.operation, c.method, c.bucket, c.key, c.signed, c.status])).toEqual([
      ["CreateBucket", "PUT", "state", undefined, true, 200],
      ["PutObject", "PUT", "state", "runs/a.json", true, 200],
      ["PutObject", "PUT", "state", "runs/a.json", true, 200],
      ["DeleteObject", "DELETE", "state", "runs/a.json", true, 204],
      ["ListObjectVersions", "GET", "state", undefined, true, 200],
      ["ListObjectVersions", "GET", "state", undefined, false, 200],
    ]);
  });

  it("lists keys ascending with each key's versions and markers interleaved newest first", async () => {
    fake.createBucket("b");
    const b1 = fake.putVersion("b", "b", "x");
    const a1 = fake.putVersion("b", "a", "x");
    const aMarker = fake.deleteMarker("b", "a");
    const a2 = fake.putVersion("b", "a", "y");
    expect(await rawListOrder("b")).toEqual([`Version:a:${a2}`, `DeleteMarker:a:${aMarker}`, `Version:a:${a1}`, `Version:b:${b1}`]);
    expect(fake.versions("b")).toEqual([
      { key: "a", versionId: a2, deleteMarker: false, isLatest: true },
      { key: "a", versionId: aMarker, deleteMarker: true, isLatest: false },
      { key: "a", versionId: a1, deleteMarker: false, isLatest: false },
      { key: "b", versionId: b1, deleteMarker: false, isLatest: true },
    ]);
  });

  it("pages with MaxKeys 2 through 5 entries, resuming mid-key via NextKeyMarker/NextVersionIdMarker, each entry once", async () => {
    fake.createBucket("b");
    fake.putVersion("b", "a", "1");
    fake.putVersion("b", "a", "2");
    fake.deleteMarker("b", "a");
    fake.putVersion("b", "b", "1");
    fake.putVersion("b", "c", "1");
    const held = fake.versions("b");
    expect(held).toHaveLength(5);

    // The installed client has no paginateListObjectVersions (ListObjectVersions is not modelled as paginated), so walk by hand.
    const seen: string[] = [];
    const pages: Array<{ truncated: boolean | undefined; keyMarker: string | undefined; versionIdMarker: string | undefined }> = [];
    let markers: { KeyMarker?: string; VersionIdMarker?: string } = {};
    for (let i = 0; i < 10; i += 1) {
      const { page } = await listPage("b", { ...markers, MaxKeys: 2 });
      expect(page.MaxKeys).toBe(2);
      const onPage = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])];
      expect(onPage.length).toBeLessThanOrEqual(2);
      seen.push(...onPage.map((e) => e.VersionId!));
      pages.push({ truncated: page.IsTruncated, keyMarker: page.NextKeyMarker, versionIdMarker: page.NextVersionIdMarker });
      if (!page.IsTruncated) break;
      markers = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker };
    }
    expect(pages).toEqual([
      { truncated: true, keyMarker: "a", versionIdMarker: held[1]!.versionId },
      { truncated: true, keyMarker: "b", versionIdMarker: held[3]!.versionId },
      { truncated: false, keyMarker: undefined, versionIdMarker: undefined },
    ]);
    expect(seen.sort()).toEqual(held.map((h) => h.versionId).sort());
    expect(fake.calls.at(1)?.query).toMatchObject({ versions: "", "max-keys": "2", "key-marker": "a", "version-id-marker": held[1]!.versionId });
  });

  it("keeps markers valid when the listed page is deleted before the next page is asked for", async () => {
    fake.createBucket("b");
    for (const key of ["a", "a", "b", "c", "c", "d"]) fake.putVersion("b", key, key);
    fake.deleteMarker("b", "c");
    const held = fake.versions("b").map((h) => h.versionId);
    const seen: string[] = [];
    let markers: { KeyMarker?: string; VersionIdMarker?: string } = {};
    for (let i = 0; i < 10; i += 1) {
      const { page, entries } = await listPage("b", { ...markers, MaxKeys: 3 });
      seen.push(...entries.map((e) => e.versionId));
      const objects: ObjectIdentifier[] = entries.map((e) => ({ Key: e.key, VersionId: e.versionId }));
      await s3.send(new DeleteObjectsCommand({ Bucket: "b", Delete: { Objects: objects, Quiet: true } }));
      if (!page.IsTruncated) break;
      markers = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker };
    }
    expect(seen.sort()).toEqual([...held].sort());
    expect(fake.versions("b")).toEqual([]);
  });

  it("lists only keys under Prefix", async () => {
    fake.createBucket("b");
    fake.putVersion("b", "runs/1", "x");
    fake.putVersion("b", "models/1", "x");
    fake.deleteMarker("b", "runs/2");
    const { entries, page } = await listPage("b", { Prefix: "runs/" });
    expect(page.Prefix).toBe("runs/");
    expect(entries.map((e) => [e.key, e.deleteMarker])).toEqual([
      ["runs/1", false],
      ["runs/2", true],
    ]);
  });

  it("empties a bucket with DeleteObjects of every listed version and marker; DeleteBucket is refused with BucketNotEmpty until then", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: "artifacts" }));
    for (const key of ["w/best.pt", "w/last.pt", "w/best.pt"]) await s3.send(new PutObjectCommand({ Bucket: "artifacts", Key: key, Body: key }));
    await s3.send(new DeleteObjectCommand({ Bucket: "artifacts", Key: "w/last.pt" }));

    expect(await rejection(s3.send(new DeleteBucketCommand({ Bucket: "artifacts" })))).toEqual({ name: "BucketNotEmpty", status: 409 });

    const { entries } = await listPage("artifacts");
    expect(entries).toHaveLength(4);
    const result = await s3.send(
      new DeleteObjectsCommand({ Bucket: "artifacts", Delete: { Objects: entries.map((e) => ({ Key: e.key, VersionId: e.versionId })) } }),
    );
    expect(result.Errors ?? []).toEqual([]);
    expect(result.Deleted?.map((d) => [d.Key, d.VersionId, d.DeleteMarker ?? false]).sort()).toEqual(
      entries.map((e) => [e.key, e.versionId, e.deleteMarker]).sort(),
    );
    const marker = entries.find((e) => e.deleteMarker)!;
    expect(result.Deleted?.find((d) => d.VersionId === marker.versionId)?.DeleteMarkerVersionId).toBe(marker.versionId);
    expect(fake.versions("artifacts")).toEqual([]);

    await s3.send(new DeleteBucketCommand({ Bucket: "artifacts" }));
    expect(fake.bucketNames()).toEqual([]);
    expect(fake.calls.filter((c) => c.operation === "DeleteBucket").map((c) => c.status)).toEqual([409, 204]);
    const deleteObjects = fake.calls.find((c) => c.operation === "DeleteObjects");
    expect(deleteObjects).toMatchObject({ method: "POST", bucket: "artifacts", signed: true, status: 200 });
    expect(deleteObjects?.query).toHaveProperty("delete", "");
  });

  it("answers a Quiet DeleteObjects with only the errors, one per version of a key whose deletes fail", async () => {
    fake.createBucket("b");
    const locked1 = fake.putVersion("b", "locked", "1");
    const locked2 = fake.putVersion("b", "locked", "2");
    fake.putVersion("b", "free", "1");
    fake.deleteMarker("b", "free");
    fake.failDeletesOf("b", "locked");
    fake.failDeletesOf("b", "free-but-denied", "InternalError");

    const objects = fake.versions("b").map((h) => ({ Key: h.key, VersionId: h.versionId }));
    const result = await s3.send(new DeleteObjectsCommand({ Bucket: "b", Delete: { Objects: objects, Quiet: true } }));
    expect(result.Deleted).toBeUndefined();
    expect(result.Errors?.map((e) => [e.Key, e.VersionId, e.Code, e.Message])).toEqual([
      ["locked", locked2, "AccessDenied", "Access Denied"],
      ["locked", locked1, "AccessDenied", "Access Denied"],
    ]);
    expect(fake.versions("b").map((h) => h.versionId)).toEqual([locked2, locked1]);

    expect(await rejection(s3.send(new DeleteObjectCommand({ Bucket: "b", Key: "locked", VersionId: locked1 })))).toEqual({ name: "AccessDenied", status: 403 });
    expect(await rejection(s3.send(new DeleteObjectCommand({ Bucket: "b", Key: "locked" })))).toEqual({ name: "AccessDenied", status: 403 });
    expect(fake.versions("b")).toHaveLength(2);

    const other = await s3.send(new DeleteObjectsCommand({ Bucket: "b", Delete: { Objects: [{ Key: "free-but-denied" }] } }));
    expect(other.Errors?.map((e) => [e.Key, e.Code])).toEqual([["free-but-denied", "InternalError"]]);
  });

  it("adds a delete marker for a DeleteObjects entry without VersionId and reports it", async () => {
    fake.createBucket("b");
    fake.putVersion("b", "k", "1");
    const result = await s3.send(new DeleteObjectsCommand({ Bucket: "b", Delete: { Objects: [{ Key: "k" }] } }));
    const top = fake.versions("b")[0]!;
    expect(top).toMatchObject({ key: "k", deleteMarker: true, isLatest: true });
    expect(result.Deleted).toEqual([{ Key: "k", DeleteMarker: true, DeleteMarkerVersionId: top.versionId }]);
  });

  it("treats a well-formed but unknown version id as deleted and a malformed one as NoSuchVersion", async () => {
    fake.createBucket("b");
    const kept = fake.putVersion("b", "k", "1");
    const result = await s3.send(
      new DeleteObjectsCommand({
        Bucket: "b",
        Delete: { Objects: [{ Key: "k", VersionId: "A".repeat(32) }, { Key: "k", VersionId: "abc" }] },
      }),
    );
    expect(result.Deleted?.map((d) => [d.Key, d.VersionId])).toEqual([["k", "A".repeat(32)]]);
    expect(result.Errors?.map((e) => [e.Key, e.VersionId, e.Code])).toEqual([["k", "abc", "NoSuchVersion"]]);
    expect(fake.versions("b").map((h) => h.versionId)).toEqual([kept]);
    expect(await rejection(s3.send(new DeleteObjectCommand({ Bucket: "b", Key: "k", VersionId: "abc" })))).toEqual({ name: "InvalidArgument", status: 400 });
  });

  it("refuses a DeleteObjects of more than 1000 objects with MalformedXML", async () => {
    fake.createBucket("b");
    const objects = Array.from({ length: 1001 }, (_, i) => ({ Key: `k${i}` }));
    expect(await rejection(s3.send(new DeleteObjectsCommand({ Bucket: "b", Delete: { Objects: objects } })))).toEqual({ name: "MalformedXML", status: 400 });
    expect(fake.versions("b")).toEqual([]);
  });

  it.each([["with space"], ["a&b<c>\"d'"], ["plus+sign"], ["ünï/cødé/🚀"], ["percent%2Fliteral"]])(
    "round-trips the key %j through PutObject, ListObjectVersions and DeleteObjects",
    async (key) => {
      fake.createBucket("b");
      const put = await s3.send(new PutObjectCommand({ Bucket: "b", Key: key, Body: "x" }));
      expect(fake.versions("b")).toEqual([{ key, versionId: put.VersionId, deleteMarker: false, isLatest: true }]);
      const { entries } = await listPage("b");
      expect(entries.map((e) => e.key)).toEqual([key]);
      const result = await s3.send(new DeleteObjectsCommand({ Bucket: "b", Delete: { Objects: [{ Key: key, VersionId: put.VersionId }] } }));
      expect(result.Deleted?.map((d) => d.Key)).toEqual([key]);
      expect(fake.versions("b")).toEqual([]);
    },
  );

  it("shows through ListObjectsV2 only keys whose latest entry is a version, not a delete marker", async () => {
    fake.createBucket("b");
    fake.putVersion("b", "deleted", "1");
    fake.deleteMarker("b", "deleted");
    fake.putVersion("b", "live", "12345");
    fake.deleteMarker("b", "restored");
    fake.putVersion("b", "restored", "1");
    fake.deleteMarker("b", "only-marker");

    const page = await s3.send(new ListObjectsV2Command({ Bucket: "b" }));
    expect(page.KeyCount).toBe(2);
    expect(page.Contents?.map((c) => [c.Key, c.Size])).toEqual([
      ["live", 5],
      ["restored", 1],
    ]);

    const keys: string[] = [];
    for await (const p of paginateListObjectsV2({ client: s3, pageSize: 1 }, { Bucket: "b" })) keys.push(...(p.Contents ?? []).map((c) => c.Key!));
    expect(keys).toEqual(["live", "restored"]);

    // Deleting the marker itself brings the object back, as in S3.
    const marker = fake.versions("b").find((h) => h.key === "deleted" && h.deleteMarker)!;
    const answer = await s3.send(new DeleteObjectCommand({ Bucket: "b", Key: "deleted", VersionId: marker.versionId }));
    expect(answer.DeleteMarker).toBe(true);
    const after = await s3.send(new ListObjectsV2Command({ Bucket: "b" }));
    expect(after.Contents?.map((c) => c.Key)).toEqual(["deleted", "live", "restored"]);
  });

  it.each([
    ["GetObject", (): Promise<unknown> => s3.send(new GetObjectCommand({ Bucket: "b", Key: "k" }))],
    ["PutBucketVersioning", (): Promise<unknown> => s3.send(new PutBucketVersioningCommand({ Bucket: "b", VersioningConfiguration: { Status: "Suspended" } }))],
  ])("answers %s, which it does not implement, with a 501 NotImplemented error, not retried", async (_, request) => {
    fake.createBucket("b");
    fake.putVersion("b", "k", "1");
    expect(await rejection(request())).toEqual({ name: "NotImplemented", status: 501 });
    expect(fake.calls.map((c) => [c.operation, c.status])).toEqual([["Unsupported", 501]]);
  });

  it("answers NoSuchBucket for a bucket that does not exist", async () => {
    expect(await rejection(s3.send(new ListObjectVersionsCommand({ Bucket: "nope" })))).toEqual({ name: "NoSuchBucket", status: 404 });
    expect(await rejection(s3.send(new PutObjectCommand({ Bucket: "nope", Key: "k", Body: "x" })))).toEqual({ name: "NoSuchBucket", status: 404 });
  });

  it("answers S3 error XML with Code, Message, Resource and RequestId", async () => {
    const answer = await fetch(`${fake.endpoint}/nope?versions`);
    expect(answer.status).toBe(404);
    const xml = await answer.text();
    expect(xml).toMatch(/<Error><Code>NoSuchBucket<\/Code><Message>[^<]+<\/Message><Resource>\/nope<\/Resource><RequestId>[^<]+<\/RequestId><\/Error>/);
  });

  it.each([
    ["a version-id marker without a key marker", "?versions&version-id-marker=" + "A".repeat(32)],
    ["a version-id marker never issued", "?versions&key-marker=a&version-id-marker=" + "A".repeat(32)],
    ["a max-keys that is not a number", "?versions&max-keys=many"],
  ])("refuses ListObjectVersions with %s as InvalidArgument", async (_, query) => {
    fake.createBucket("b");
    const answer = await fetch(`${fake.endpoint}/b${query}`);
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain("<Code>InvalidArgument</Code>");
  });

  it("caps max-keys at 1000", async () => {
    fake.createBucket("b");
    for (let i = 0; i < 1001; i += 1) fake.putVersion("b", `k${String(i).padStart(4, "0")}`, "");
    const { page, entries } = await listPage("b", { MaxKeys: 5000 });
    expect(page.MaxKeys).toBe(1000);
    expect(entries).toHaveLength(1000);
    expect(page.IsTruncated).toBe(true);
    expect(page.NextKeyMarker).toBe("k0999");
    const rest = await listPage("b", { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker });
    expect(rest.entries.map((e) => e.key)).toEqual(["k1000"]);
  });
});
