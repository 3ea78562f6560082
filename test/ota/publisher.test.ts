import { KMSClient } from "@aws-sdk/client-kms";
import type { S3Client } from "@aws-sdk/client-s3";
import { createHash } from "crypto";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { layoutFor, parseChannelPointer, parseManifest, serializeManifest } from "../../ota/manifest";
import { pointChannel, promoteIfGatePasses, publishRelease, ReleaseError, type PublishReleaseOptions } from "../../ota/publisher";
import { KmsSigner, LocalKeySigner, verifyManifestSignature, type ManifestSigner } from "../../ota/signature";
import { localS3Client, S3Fake } from "../agent/fakes/s3Fake";
import type { ProxiedRequest } from "../agent/fakes/s3FaultProxy";
import { KmsFake } from "./fakes/kmsFake";

const BUCKET = "yolo-train-test-ota";
const PREFIX = "models/widgets/";
const layout = layoutFor("models/", "widgets");
const METRIC = "metrics/mAP50-95(B)";
const NOW = new Date("2026-11-29T12:00:00.000Z");
const sha256Hex = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const RUNTIME = { format: "onnx" as const, opset: 17, inputShape: [1, 3, 640, 640], outputShape: [1, 84, 8400], nms: false, verifiedWith: { name: "onnxruntime", version: "1.20.1" } };

let s3: S3Fake;
let client: S3Client;
let dir: string;
let signer: LocalKeySigner;
let onnx: Buffer;
let pt: Buffer;

beforeEach(async () => {
  s3 = await S3Fake.start([BUCKET]);
  client = localS3Client(s3.endpoint);
  dir = mkdtempSync(join(tmpdir(), "yolo-train-ota-"));
  signer = LocalKeySigner.generate();
  onnx = Buffer.alloc(200_000, 7);
  onnx.write("ONNX stand-in");
  pt = Buffer.from("PT stand-in");
  writeFileSync(join(dir, "best.onnx"), onnx);
  writeFileSync(join(dir, "best.pt"), pt);
});
afterEach(async () => {
  client.destroy();
  await s3.close();
  rmSync(dir, { recursive: true, force: true });
});

function options(overrides: Partial<PublishReleaseOptions> = {}): PublishReleaseOptions {
  return {
    s3: client,
    bucket: BUCKET,
    modelsPrefix: "models/",
    modelName: "widgets",
    signer,
    files: [
      { path: "model.onnx", localPath: join(dir, "best.onnx") },
      { path: "model.pt", localPath: join(dir, "best.pt") },
    ],
    runId: "yolov8n-widgets-0123456789",
    metrics: { [METRIC]: 0.61, "metrics/mAP50(B)": 0.8 },
    inputSize: 640,
    classNames: ["pallet", "box"],
    runtime: RUNTIME,
    now: NOW,
    ...overrides,
  };
}

/** From the first request's start to the last one's end. */
const span = (requests: readonly ProxiedRequest[]): { start: number; end: number } => ({
  start: Math.min(...requests.map((r) => r.startedAt)),
  end: Math.max(...requests.map((r) => r.endedAt ?? Infinity)),
});
/** Whether every interval was still open when the last of them began: they ran side by side, not one after another. */
const overlap = (spans: ReadonlyArray<{ start: number; end: number }>): boolean => Math.max(...spans.map((s) => s.start)) < Math.min(...spans.map((s) => s.end));

const relative = (keys: string[]): string[] => keys.map((k) => (k.startsWith(PREFIX) ? k.slice(PREFIX.length) : `(outside) ${k}`));

describe("publishRelease", () => {
  it("writes claim, files, manifest and signature of version 1; the signature verifies over the stored manifest bytes", async () => {
    const release = await publishRelease(options());
    expect(release).toMatchObject({ version: 1, manifestKey: `${PREFIX}versions/0000000001/manifest.json`, signatureKey: `${PREFIX}versions/0000000001/manifest.json.sig` });
    expect(relative(await s3.listKeys(BUCKET))).toEqual([
      "versions/0000000001/.claim",
      "versions/0000000001/manifest.json",
      "versions/0000000001/manifest.json.sig",
      "versions/0000000001/model.onnx",
      "versions/0000000001/model.pt",
    ]);

    const manifestBytes = (await s3.getObject(BUCKET, release.manifestKey))!;
    const signature = (await s3.getObject(BUCKET, release.signatureKey))!;
    expect(verifyManifestSignature(manifestBytes, signature, await signer.publicKeyPem())).toBe(true);
    expect(manifestBytes.equals(serializeManifest(release.manifest))).toBe(true);
    expect(parseManifest(manifestBytes)).toEqual({
      schemaVersion: 1,
      modelName: "widgets",
      version: 1,
      createdAt: "2026-11-29T12:00:00.000Z",
      expires: "2027-02-27T12:00:00.000Z",
      runId: "yolov8n-widgets-0123456789",
      metrics: { [METRIC]: 0.61, "metrics/mAP50(B)": 0.8 },
      inputSize: 640,
      classNames: ["pallet", "box"],
      files: [
        { path: "model.onnx", length: onnx.length, sha256: sha256Hex(onnx) },
        { path: "model.pt", length: pt.length, sha256: sha256Hex(pt) },
      ],
      runtime: RUNTIME,
    });
    // The files are the local bytes, with their sha256 in metadata as the HEAD check expects.
    const storedOnnx = await s3.getObjectWithMetadata(BUCKET, `${PREFIX}versions/0000000001/model.onnx`);
    expect(storedOnnx?.bytes.equals(onnx)).toBe(true);
    expect(storedOnnx?.metadata).toEqual({ sha256: sha256Hex(onnx) });
    expect(await s3.getJson(BUCKET, `${PREFIX}versions/0000000001/.claim`)).toEqual({ runId: "yolov8n-widgets-0123456789", claimedAt: "2026-11-29T12:00:00.000Z" });
  });

  it("writes in the order of docs/ota.md: claim, files, then manifest and signature", async () => {
    await publishRelease(options());
    const writes = s3.proxy.writes.map((r) => r.key.slice(PREFIX.length + "versions/0000000001/".length));
    expect(writes[0]).toBe(".claim");
    expect(new Set(writes.slice(1, 3))).toEqual(new Set(["model.onnx", "model.pt"]));
    expect(new Set(writes.slice(3))).toEqual(new Set(["manifest.json", "manifest.json.sig"]));
  });

  it("places the files at once, and writes manifest and signature together only once every file is verified", async () => {
    // Every answer comes late: one request after another would show as intervals that do not overlap.
    s3.proxy.injectFaults([{ forMs: 60_000, delayMs: 150 }]);
    await publishRelease(options());
    const folder = `${PREFIX}versions/0000000001/`;
    const requests = (name: string, method?: string) => s3.proxy.requests.filter((r) => r.key === `${folder}${name}` && (method === undefined || r.method === method));
    const files = ["model.onnx", "model.pt"].map((name) => requests(name));
    const written = ["manifest.json", "manifest.json.sig"].map((name) => requests(name, "PUT"));
    // Each file is written and then checked with a HEAD; the two files' requests run side by side.
    expect(files.map((f) => f.map((r) => r.method).at(-1))).toEqual(["HEAD", "HEAD"]);
    expect(overlap(files.map(span))).toBe(true);
    // Manifest and signature: side by side, and after the last file check ended.
    expect(written.map((w) => w.length)).toEqual([1, 1]);
    expect(overlap(written.map(span))).toBe(true);
    const filesChecked = Math.max(...files.map((f) => f.at(-1)!.endedAt!));
    expect(Math.min(...written.flat().map((r) => r.startedAt))).toBeGreaterThanOrEqual(filesChecked);
  });

  it("takes the number after the highest version folder or channel pointer", async () => {
    await s3.putObject(BUCKET, `${PREFIX}versions/0000000004/.claim`, "{}");
    await s3.putObject(BUCKET, `${PREFIX}versions/0000000002/.claim`, "{}");
    expect((await publishRelease(options())).version).toBe(5);
    // A channel naming a version whose folder is gone still counts: devices may have installed it.
    await s3.putObject(BUCKET, layout.channel("stable"), JSON.stringify({ schemaVersion: 1, modelName: "widgets", channel: "stable", version: 11, updatedAt: NOW.toISOString() }));
    expect((await publishRelease(options())).version).toBe(12);
  });

  it("gives concurrent publishers different versions, every one of them complete", async () => {
    const signers = Array.from({ length: 5 }, () => LocalKeySigner.generate());
    const releases = await Promise.all(signers.map((s, i) => publishRelease(options({ signer: s, runId: `run-${i}` }))));
    const versions = releases.map((r) => r.version);
    expect([...versions].sort()).toEqual([1, 2, 3, 4, 5]);
    // They raced for the same numbers: S3 refused the losers' claims (412), and they moved on.
    expect(s3.proxy.requests.filter((r) => r.key.endsWith("/.claim") && r.status === 412).length).toBeGreaterThan(0);
    for (const [i, release] of releases.entries()) {
      const bytes = (await s3.getObject(BUCKET, release.manifestKey))!;
      const signature = (await s3.getObject(BUCKET, release.signatureKey))!;
      expect(verifyManifestSignature(bytes, signature, await signers[i]!.publicKeyPem())).toBe(true);
      expect(parseManifest(bytes)).toMatchObject({ version: release.version, runId: `run-${i}` });
      expect(await s3.getJson(BUCKET, layout.claim(release.version))).toMatchObject({ runId: `run-${i}` });
    }
  });

  it("on a 412 for its claim takes the next number, and gives up after maxClaimAttempts", async () => {
    // A client whose listings show nothing: as if other publishers claimed 1-3 just after it listed.
    const lagging = localS3Client(s3.endpoint);
    lagging.middlewareStack.add(
      (next, context) => async (args) => (context.commandName === "ListObjectsV2Command" ? { output: { $metadata: {} }, response: {} } : next(args)),
      { step: "initialize", name: "emptyListings" },
    );
    try {
      for (const v of [1, 2, 3]) await s3.putObject(BUCKET, layout.claim(v), "{}");
      await expect(publishRelease(options({ s3: lagging, maxClaimAttempts: 3 }))).rejects.toThrow(/could not claim a version under s3:\/\/yolo-train-test-ota\/models\/widgets\/versions\/ in 3 attempts/);
      expect((await publishRelease(options({ s3: lagging }))).version).toBe(4);
      expect(s3.proxy.requests.filter((r) => r.key.endsWith("/.claim")).map((r) => [r.key.slice(PREFIX.length), r.status])).toEqual([
        ["versions/0000000001/.claim", 412],
        ["versions/0000000002/.claim", 412],
        ["versions/0000000003/.claim", 412],
        ["versions/0000000001/.claim", 412],
        ["versions/0000000002/.claim", 412],
        ["versions/0000000003/.claim", 412],
        ["versions/0000000004/.claim", 200],
      ]);
    } finally {
      lagging.destroy();
    }
  });

  it.each([
    ["a missing file", () => options({ files: [{ path: "model.onnx", localPath: join(dir, "missing.onnx") }] }), /release file model.onnx .* cannot be read/],
    ["no model.onnx", () => options({ files: [{ path: "model.pt", localPath: join(dir, "best.pt") }] }), /must include a file with path "model.onnx"/],
    ["a file path with a folder", () => options({ files: [{ path: "a/model.onnx", localPath: join(dir, "best.onnx") }] }), /release file path must be a plain file name/],
    ["an input size of 0", () => options({ inputSize: 0 }), /inputSize: must be a positive integer/],
    ["a runtime with a dynamic axis", () => options({ runtime: { ...RUNTIME, inputShape: [-1, 3, 640, 640] } }), /runtime\.inputShape\[0\]: must be a positive integer/],
  ])("refuses %s before taking a version number: nothing is written", async (_name, build, message) => {
    await expect(publishRelease(build())).rejects.toThrow(message);
    expect(await s3.listKeys(BUCKET)).toEqual([]);
  });

  it("writes nothing when the signer cannot answer", async () => {
    const broken: ManifestSigner = { sign: async () => Buffer.alloc(0), publicKeyPem: async () => Promise.reject(new Error("AccessDeniedException: kms:GetPublicKey")) };
    await expect(publishRelease(options({ signer: broken }))).rejects.toThrow(/AccessDeniedException/);
    expect(await s3.listKeys(BUCKET)).toEqual([]);
  });

  it("publishes no manifest when the signature does not verify with the signer's own public key", async () => {
    const other = LocalKeySigner.generate();
    const mismatched: ManifestSigner = { sign: (b) => other.sign(b), publicKeyPem: () => signer.publicKeyPem() };
    await expect(publishRelease(options({ signer: mismatched }))).rejects.toThrow(/does not verify with its own public key/);
    expect((await s3.listKeys(BUCKET)).filter((k) => k.includes("manifest"))).toEqual([]);
  });

  it("publishes a release signed through KMS (the real client against a KMS fake) that verifies with the KMS public key", async () => {
    const kms = await KmsFake.start();
    const kmsClient = new KMSClient({ region: "us-east-1", endpoint: kms.endpoint, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } });
    try {
      const release = await publishRelease(options({ signer: new KmsSigner({ keyId: kms.alias, client: kmsClient }) }));
      const bytes = (await s3.getObject(BUCKET, release.manifestKey))!;
      expect(verifyManifestSignature(bytes, (await s3.getObject(BUCKET, release.signatureKey))!, kms.publicKeyPem)).toBe(true);
      expect(kms.calls.map((c) => c.target)).toEqual(["TrentService.GetPublicKey", "TrentService.Sign"]);
    } finally {
      kmsClient.destroy();
      await kms.close();
    }
  });
});

describe("pointChannel", () => {
  it("points a channel at a published version and moves it only forward", async () => {
    const v1 = await publishRelease(options());
    const v2 = await publishRelease(options());
    expect(await pointChannel({ s3: client, bucket: BUCKET, layout, channel: "candidate", version: v2.version, signer, now: NOW })).toEqual({ moved: true, previous: null });
    expect(parseChannelPointer((await s3.getObject(BUCKET, layout.channel("candidate")))!)).toEqual({
      schemaVersion: 1,
      modelName: "widgets",
      channel: "candidate",
      version: 2,
      updatedAt: NOW.toISOString(),
    });
    // A slower publisher of version 1 must not move the channel back.
    expect(await pointChannel({ s3: client, bucket: BUCKET, layout, channel: "candidate", version: v1.version, signer })).toEqual({ moved: false, previous: 2 });
    expect(parseChannelPointer((await s3.getObject(BUCKET, layout.channel("candidate")))!).version).toBe(2);
  });

  it("refuses to point at a version without a manifest", async () => {
    await publishRelease(options());
    await expect(pointChannel({ s3: client, bucket: BUCKET, layout, channel: "candidate", version: 9, signer })).rejects.toThrow(ReleaseError);
    await expect(pointChannel({ s3: client, bucket: BUCKET, layout, channel: "candidate", version: 9, signer })).rejects.toThrow(/versions\/0000000009\/manifest.json does not exist/);
    expect(await s3.getObject(BUCKET, layout.channel("candidate"))).toBeUndefined();
  });

  it("ends at the highest version when publishers move a channel concurrently", async () => {
    const releases = await Promise.all([1, 2, 3, 4].map(() => publishRelease(options())));
    await Promise.all(releases.map((r) => pointChannel({ s3: client, bucket: BUCKET, layout, channel: "candidate", version: r.version, signer })));
    expect(parseChannelPointer((await s3.getObject(BUCKET, layout.channel("candidate")))!).version).toBe(4);
  });
});

describe("promoteIfGatePasses", () => {
  const gate = { metric: METRIC, min: 0.5, requireImprovement: true };
  const stableVersion = async (): Promise<number | undefined> => {
    const bytes = await s3.getObject(BUCKET, layout.channel("stable"));
    return bytes ? parseChannelPointer(bytes).version : undefined;
  };
  const promote = (version: number, metrics: Record<string, number>, g: typeof gate | "ungated" = gate) =>
    promoteIfGatePasses({ s3: client, bucket: BUCKET, layout, signer, gate: g === "ungated" ? undefined : g, version, metrics, now: NOW });

  it("promotes the first release that meets the minimum", async () => {
    const release = await publishRelease(options());
    expect(await promote(release.version, release.manifest.metrics)).toEqual({
      promote: true,
      previous: null,
      reason: `${METRIC} 0.61 meets the minimum 0.5 and there is no stable release yet to improve on`,
    });
    expect(await stableVersion()).toBe(1);
  });

  it("refuses a release below the minimum and leaves stable alone", async () => {
    const first = await publishRelease(options());
    await promote(first.version, first.manifest.metrics);
    const weak = await publishRelease(options({ metrics: { [METRIC]: 0.3 } }));
    expect(await promote(weak.version, weak.manifest.metrics)).toEqual({ promote: false, previous: 1, reason: `${METRIC} 0.3 is below the minimum 0.5 (ota.promote.min)` });
    expect(await stableVersion()).toBe(1);
  });

  it("with requireImprovement, compares with the signed manifest of the current stable release", async () => {
    const first = await publishRelease(options({ metrics: { [METRIC]: 0.61 } }));
    await promote(first.version, first.manifest.metrics);
    const same = await publishRelease(options({ metrics: { [METRIC]: 0.6 } }));
    expect(await promote(same.version, same.manifest.metrics)).toMatchObject({ promote: false, reason: `${METRIC} 0.6 does not improve on stable version 1 (0.61) (ota.promote.requireImprovement)` });
    expect(await stableVersion()).toBe(1);
    // Without requireImprovement the same release passes.
    expect(await promote(same.version, same.manifest.metrics, { ...gate, requireImprovement: false })).toMatchObject({ promote: true });
    expect(await stableVersion()).toBe(2);
    const better = await publishRelease(options({ metrics: { [METRIC]: 0.7 } }));
    expect(await promote(better.version, better.manifest.metrics)).toEqual({
      promote: true,
      previous: 2,
      reason: `${METRIC} 0.7 meets the minimum 0.5 and improves on stable version 2 (0.6)`,
    });
    expect(await stableVersion()).toBe(3);
  });

  it("refuses to compare with a stable release whose signature does not verify", async () => {
    const first = await publishRelease(options({ signer: LocalKeySigner.generate() }));
    await promote(first.version, first.manifest.metrics, "ungated");
    const next = await publishRelease(options({ metrics: { [METRIC]: 0.9 } }));
    expect(await promote(next.version, next.manifest.metrics)).toMatchObject({
      promote: false,
      reason: expect.stringMatching(/the current stable release cannot be compared with .*signature of models\/widgets\/versions\/0000000001\/manifest.json does not verify/),
    });
    expect(await stableVersion()).toBe(1);
  });

  it("promotes without a gate, still only forward", async () => {
    const [a, b] = [await publishRelease(options()), await publishRelease(options({ metrics: {} }))];
    expect(await promote(b.version, {}, "ungated")).toEqual({ promote: true, previous: null, reason: "promoted without a gate (ota.promote is not set)" });
    expect(await promote(a.version, a.manifest.metrics)).toEqual({ promote: false, previous: 2, reason: "stable already names version 2, not older than 1; channels only move forward" });
    expect(await stableVersion()).toBe(2);
  });
});
