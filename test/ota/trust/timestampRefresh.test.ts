import { DeleteObjectCommand, HeadObjectCommand, type _Object, type CommonPrefix, type ListObjectsV2CommandInput, type ListObjectsV2CommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "crypto";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { channelSignatureKey } from "../../../ota/channelMembership";
import { layoutFor, MANIFEST_SCHEMA_VERSION, serializeChannelPointer } from "../../../ota/manifest";
import { pointChannel, publishRelease } from "../../../ota/publisher";
import { LocalKeySigner, publicKeyFingerprint, readPublicKey, type ManifestSigner } from "../../../ota/signature";
import { buildRootDocument, signRootDocument, verifyRootAnchoredBy, type TrustedRoot } from "../../../ota/trust/rootDocument";
import { keysThatSigned, parseEnvelope } from "../../../ota/trust/signedEnvelope";
import { buildTimestamp, signTimestamp, TIMESTAMP_FILE, verifyTimestamp, type TimestampDocument } from "../../../ota/trust/timestampDocument";
import { channelOfPointerKey, mergeChannels, modelOfFolder, refreshTimestamps, type ModelTimestampSummary, type RefreshTimestampsOptions } from "../../../ota/trust/timestampRefresh";
import { localS3Client, S3Fake } from "../../agent/fakes/s3Fake";

const BUCKET = "yolo-train-test-ota";
const NOW = new Date("2026-11-29T12:00:00.000Z");
const RUNTIME = { format: "onnx" as const, opset: 17, inputShape: [1, 3, 640, 640], outputShape: [1, 84, 8400], nms: false, verifiedWith: { name: "onnxruntime", version: "1.20.1" } };

let s3: S3Fake;
let client: S3Client;
let dir: string;
const releaseSigner = LocalKeySigner.generate();
const timestampSigner = LocalKeySigner.generate();
const rootSigner = LocalKeySigner.generate();
let prefixCount = 0;
/** Each test has its own models prefix in the one bucket, so tests do not see each other's models. */
let modelsPrefix: string;
let logged: string[];
let releasePublicPem: string;

beforeAll(async () => {
  releasePublicPem = await releaseSigner.publicKeyPem();
  s3 = await S3Fake.start([BUCKET]);
  // Through the fault proxy: it decides conditional writes as S3 does and injects faults.
  client = withS3DelimiterListing(localS3Client(s3.endpoint));
  dir = mkdtempSync(join(tmpdir(), "yolo-train-timestamp-"));
  writeFileSync(join(dir, "model.onnx"), Buffer.from("ONNX stand-in"));
});
afterAll(async () => {
  client.destroy();
  await s3.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  modelsPrefix = `t${++prefixCount}/models/`;
  logged = [];
  s3.proxy.injectFaults([]);
});

/**
 * s3rver 3.7 groups a `Delimiter` listing only for keys one level below the prefix: with prefix
 * `models/` it reports no `models/widgets/` for `models/widgets/channels/stable.json`, where S3
 * does. This makes the client list such pages as S3 answers them: every key under the prefix, the
 * ones with a delimiter after the prefix grouped into common prefixes (one page; the test buckets
 * are small).
 */
function withS3DelimiterListing(s3Client: S3Client): S3Client {
  s3Client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as ListObjectsV2CommandInput;
      if (context.commandName !== "ListObjectsV2Command" || input.Delimiter === undefined) return next(args);
      const prefix = input.Prefix ?? "";
      const contents: _Object[] = [];
      const folders = new Set<string>();
      let token: string | undefined;
      let last;
      do {
        last = await next({ ...args, input: { Bucket: input.Bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) } });
        const page = last.output as ListObjectsV2CommandOutput;
        for (const object of page.Contents ?? []) {
          const at = object.Key!.indexOf(input.Delimiter, prefix.length);
          if (at === -1) contents.push(object);
          else folders.add(object.Key!.slice(0, at + input.Delimiter.length));
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      const commonPrefixes: CommonPrefix[] = [...folders].sort().map((folder) => ({ Prefix: folder }));
      return { ...last, output: { ...(last.output as ListObjectsV2CommandOutput), Contents: contents, CommonPrefixes: commonPrefixes, KeyCount: contents.length + commonPrefixes.length, IsTruncated: false } };
    },
    { step: "initialize", name: "s3DelimiterListing" },
  );
  return s3Client;
}

/** Publishes a release of `modelName` signed by `signer` and moves `channels` to it (forward only, membership signed first). */
async function publish(modelName: string, channels: readonly string[], signer: ManifestSigner = releaseSigner): Promise<number> {
  const release = await publishRelease({
    s3: client,
    bucket: BUCKET,
    modelsPrefix,
    modelName,
    signer,
    files: [{ path: "model.onnx", localPath: join(dir, "model.onnx") }],
    runId: `yolov8n-${modelName}-${randomBytes(5).toString("hex")}`,
    metrics: { "metrics/mAP50-95(B)": 0.6 },
    inputSize: 640,
    classNames: ["pallet"],
    runtime: RUNTIME,
  });
  for (const channel of channels) await pointChannel({ s3: client, bucket: BUCKET, layout: release.layout, channel, version: release.version, signer });
  return release.version;
}

/** Writes a channel pointer directly, as anyone with write access to the bucket could. */
async function movePointer(modelName: string, channel: string, version: number): Promise<void> {
  const pointer = { schemaVersion: MANIFEST_SCHEMA_VERSION as 1, modelName, channel, version, updatedAt: NOW.toISOString() };
  await s3.putObject(BUCKET, layoutFor(modelsPrefix, modelName).channel(channel), serializeChannelPointer(pointer));
}

function refresh(overrides: Partial<RefreshTimestampsOptions> = {}): Promise<ModelTimestampSummary[]> {
  return refreshTimestamps({
    s3: client,
    bucket: BUCKET,
    modelsPrefix,
    signer: timestampSigner,
    releasePublicKeys: [releasePublicPem],
    now: () => NOW,
    log: (line) => logged.push(line),
    ...overrides,
  });
}
function timestampKey(modelName: string): string {
  return `${modelsPrefix}${modelName}/${TIMESTAMP_FILE}`;
}

/** A root for `modelName` whose timestamp key is the refresher's, verified as a box verifies it. */
async function trustedRoot(modelName: string): Promise<TrustedRoot> {
  const document = buildRootDocument({
    modelName,
    version: 1,
    createdAt: NOW,
    keys: { root: [await rootSigner.publicKeyPem()], release: [releasePublicPem], timestamp: [await timestampSigner.publicKeyPem()] },
  });
  const bytes = await signRootDocument(document, [rootSigner]);
  return verifyRootAnchoredBy(parseEnvelope(bytes, "root"), bytes, readPublicKey(await rootSigner.publicKeyPem()), modelName, "root");
}

/** The stored timestamp of `modelName`, verified with a root whose timestamp key is the refresher's. */
async function storedTimestamp(modelName: string): Promise<TimestampDocument> {
  const bytes = await s3.getObject(BUCKET, timestampKey(modelName));
  if (bytes === undefined) throw new Error(`no ${timestampKey(modelName)}`);
  return verifyTimestamp(parseEnvelope(bytes, "timestamp"), await trustedRoot(modelName), modelName, timestampKey(modelName));
}

describe("refreshTimestamps", () => {
  it("lists each channel at the version its pointer names, signed by the timestamp key, good for expiresInHours", async () => {
    const v1 = await publish("widgets", ["candidate", "stable"]);
    const v2 = await publish("widgets", ["candidate"]);

    const summaries = await refresh({ expiresInHours: 12 });

    const expected = { modelName: "widgets", channels: { candidate: v2, stable: v1 }, issuedAt: NOW.toISOString(), expires: "2026-11-30T00:00:00.000Z" };
    expect(summaries).toEqual([expected]);
    const stored = await storedTimestamp("widgets");
    expect(stored).toEqual({ type: "timestamp", schemaVersion: 1, ...expected });
    const envelope = parseEnvelope((await s3.getObject(BUCKET, timestampKey("widgets")))!, "timestamp");
    expect([...keysThatSigned(envelope, [readPublicKey(await timestampSigner.publicKeyPem())])]).toEqual([publicKeyFingerprint(await timestampSigner.publicKeyPem())]);
    // CDNs and mirrors must revalidate it, or they serve exactly the frozen view it exposes.
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: timestampKey("widgets") }));
    expect(head.ContentType).toBe("application/json");
    expect(head.CacheControl).toBe("no-cache");
    expect(logged).toEqual([]);
  });

  it("does not count a pointer moved to a version never signed into that channel, nor one signed by another key", async () => {
    const v1 = await publish("widgets", ["candidate", "stable"]);
    const v2 = await publish("widgets", ["candidate"]);
    await refresh();

    await movePointer("widgets", "stable", v2);
    expect((await refresh())[0]).toMatchObject({ channels: { candidate: v2, stable: v1 } });
    expect(logged).toEqual([expect.stringContaining(`version ${v2} has no membership signature for channel stable`)]);

    // A release someone published with their own key, and signed into stable with it.
    logged = [];
    const v3 = await publish("widgets", ["stable"], LocalKeySigner.generate());
    expect(await s3.getObject(BUCKET, channelSignatureKey(layoutFor(modelsPrefix, "widgets"), "stable", v3))).toBeDefined();
    expect((await refresh())[0]).toMatchObject({ channels: { candidate: v2, stable: v1 } });
    expect(logged).toEqual([expect.stringContaining(`the membership signature of version ${v3} in channel stable does not verify with any release key`)]);
    expect((await storedTimestamp("widgets")).channels).toEqual({ candidate: v2, stable: v1 });
  });

  it("leaves out an unsigned pointer when there is no previous timestamp to keep the channel", async () => {
    await publish("widgets", ["candidate"]);
    const v2 = await publish("widgets", []);
    await movePointer("widgets", "stable", v2);
    expect(await refresh()).toEqual([expect.objectContaining({ modelName: "widgets", channels: { candidate: v2 - 1 } })]);
  });

  it("does not count a pointer that names another model or channel", async () => {
    const v1 = await publish("widgets", ["candidate"]);
    await movePointer("widgets", "stable", v1);
    // Valid pointer JSON, in the stable key, but naming candidate (whose membership is signed).
    const pointer = { schemaVersion: MANIFEST_SCHEMA_VERSION as 1, modelName: "widgets", channel: "candidate", version: v1, updatedAt: NOW.toISOString() };
    await s3.putObject(BUCKET, layoutFor(modelsPrefix, "widgets").channel("stable"), serializeChannelPointer(pointer));
    expect((await refresh())[0]).toMatchObject({ channels: { candidate: v1 } });
    expect(logged).toEqual([expect.stringContaining('names model "widgets" channel "candidate", not "widgets" channel "stable"')]);
  });

  it("keeps the newer version of the previous timestamp when a pointer is moved back to an older member", async () => {
    const v1 = await publish("widgets", ["stable"]);
    const v2 = await publish("widgets", ["stable"]);
    expect((await refresh())[0]).toMatchObject({ channels: { stable: v2 } });

    await movePointer("widgets", "stable", v1); // v1 is a signed member of stable: only the timestamp remembers it moved on
    expect((await refresh())[0]).toMatchObject({ channels: { stable: v2 } });
    // And a channel whose pointer is gone keeps its version too.
    await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: layoutFor(modelsPrefix, "widgets").channel("stable") }));
    expect((await refresh())[0]).toMatchObject({ channels: { stable: v2 } });
    expect((await storedTimestamp("widgets")).channels).toEqual({ stable: v2 });
    expect(logged).toEqual([]); // v1 is a member: nothing is refused, the merge alone keeps v2
  });

  it("ignores (and logs) a previous timestamp that is tampered with, signed by another key, for another model, or not canonical", async () => {
    const v1 = await publish("widgets", ["stable"]);
    const other = LocalKeySigner.generate();
    const forged = buildTimestamp({ modelName: "widgets", issuedAt: NOW, channels: { stable: 99 } });
    const ours = await signTimestamp(forged, timestampSigner);
    const tamperedBytes = Buffer.from(ours.toString("utf8").replace('"stable":99', '"stable":98'));
    const cases: [string, Buffer, RegExp][] = [
      ["signed by another key", await signTimestamp(forged, other), /not signed by this function's timestamp key/],
      ["changed after signing", tamperedBytes, /not signed by this function's timestamp key/],
      ["another model's", await signTimestamp(buildTimestamp({ modelName: "gadgets", issuedAt: NOW, channels: { stable: 99 } }), timestampSigner), /timestamp of model "gadgets", not of "widgets"/],
      ["not canonical", Buffer.from(`${ours.toString("utf8")}\n`), /canonical/],
      ["not JSON", Buffer.from("{"), /not valid JSON/],
    ];
    for (const [what, bytes, reason] of cases) {
      logged = [];
      await s3.putObject(BUCKET, timestampKey("widgets"), bytes);
      const [summary] = await refresh();
      expect({ what, summary }).toEqual({ what, summary: expect.objectContaining({ channels: { stable: v1 } }) });
      expect({ what, logged }).toEqual({ what, logged: [expect.stringMatching(new RegExp(`ignoring the previous timestamp: .*${reason.source}`, "s"))] });
    }
    // A genuine one (the function's own) is built on: stable 99 stays.
    logged = [];
    await s3.putObject(BUCKET, timestampKey("widgets"), ours);
    expect((await refresh())[0]).toMatchObject({ channels: { stable: 99 } });
    expect(logged).toEqual([]);
  });

  it("refreshes every model under the prefix, a model without channels included, and skips folders that are no model name", async () => {
    const widgets = await publish("widgets", ["stable"]);
    const gadgets = await publish("gadgets", ["candidate"]);
    await publish("new-model", []);
    await s3.putObject(BUCKET, `${modelsPrefix}_junk/readme.txt`, "not a model");

    const summaries = await refresh();

    expect(summaries).toEqual([
      expect.objectContaining({ modelName: "gadgets", channels: { candidate: gadgets } }),
      expect.objectContaining({ modelName: "new-model", channels: {} }),
      expect.objectContaining({ modelName: "widgets", channels: { stable: widgets } }),
    ]);
    expect((await storedTimestamp("gadgets")).channels).toEqual({ candidate: gadgets });
    expect((await storedTimestamp("new-model")).channels).toEqual({});
    expect(await s3.getObject(BUCKET, `${modelsPrefix}_junk/${TIMESTAMP_FILE}`)).toBeUndefined();
    expect(logged).toEqual([expect.stringContaining("_junk/: skipped: not a model name")]);
  });

  it("goes on with the other models when one fails, and reports which and why", async () => {
    const widgets = await publish("widgets", ["stable"]);
    await publish("gadgets", ["stable"]);
    const unreadable = layoutFor(modelsPrefix, "gadgets").channel("stable");
    s3.proxy.injectFaults([{ requests: 1000, failEvery: 1, status: 500, only: (r) => r.method === "GET" && r.key === unreadable }]);

    const summaries = await refresh();

    expect(summaries).toEqual([
      { modelName: "gadgets", error: expect.stringMatching(/InternalError|500/) },
      expect.objectContaining({ modelName: "widgets", channels: { stable: widgets } }),
    ]);
    expect(await s3.getObject(BUCKET, timestampKey("gadgets"))).toBeUndefined();
    expect((await storedTimestamp("widgets")).channels).toEqual({ stable: widgets });
  });

  it("lets two refreshes run at once without either undoing the other", async () => {
    const v1 = await publish("widgets", ["stable"]);
    const results = await Promise.all([refresh(), refresh(), refresh()]);
    for (const summaries of results) expect(summaries).toEqual([expect.objectContaining({ channels: { stable: v1 } })]);
    expect((await storedTimestamp("widgets")).channels).toEqual({ stable: v1 });
  });

  it("refuses a models prefix that is not a folder, and an empty list of release keys", async () => {
    await expect(refresh({ modelsPrefix: "models" })).rejects.toThrow(/must be "" or end with "\/"/);
    await expect(refresh({ releasePublicKeys: [] })).rejects.toThrow(/at least one release public key/);
  });
});

describe("mergeChannels", () => {
  it("takes the higher version of each channel, and keeps channels only one side has", () => {
    expect(mergeChannels({ stable: 5, beta: 2 }, { stable: 3, candidate: 7 })).toEqual({ beta: 2, candidate: 7, stable: 5 });
    expect(mergeChannels({ stable: 5 }, { stable: 6 })).toEqual({ stable: 6 });
    expect(mergeChannels({}, {})).toEqual({});
  });
});

describe("channelOfPointerKey and modelOfFolder", () => {
  it("take only top-level pointers and valid model folders", () => {
    const prefix = "models/widgets/channels/";
    expect(channelOfPointerKey(prefix, `${prefix}stable.json`)).toBe("stable");
    expect(channelOfPointerKey(prefix, `${prefix}Stable.json`)).toBeUndefined();
    expect(channelOfPointerKey(prefix, `${prefix}stable.json.bak`)).toBeUndefined();
    expect(channelOfPointerKey(prefix, "models/gadgets/channels/stable.json")).toBeUndefined();
    expect(modelOfFolder("models/", "models/widgets/")).toBe("widgets");
    expect(modelOfFolder("", "yolo.v8-n_1/")).toBe("yolo.v8-n_1");
    expect(modelOfFolder("models/", "models/_junk/")).toBeUndefined();
    expect(modelOfFolder("models/", "models/a b/")).toBeUndefined();
  });
});
