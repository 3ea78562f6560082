import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createHash } from "crypto";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { releaseModel } from "../../../agent/otaRelease";
import type { CompletedModel } from "../../../agent/supervisor";
import type { OnnxExport } from "../../../agent/trainerResult";
import { parseManifest } from "../../../ota/manifest";
import { LocalKeySigner } from "../../../ota/signature";
import { parseRunSpec, type RunSpec } from "../../../runspec";
import { runSpecDocument } from "../../runspec/experimentConfig";
import { localS3Client, S3Fake } from "../fakes/s3Fake";
import type { ProxiedRequest } from "../fakes/s3FaultProxy";
import { PASSING_ONNX_EXPORT } from "../fakes/onnxExportFixture";

const BUCKET = "yolo-train-dev-ota";
const ARTIFACTS = "yolo-train-dev-artifacts";
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const FILES = { onnx: "onnx bytes", best: "pt bytes" };
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

const VERIFIED: OnnxExport = PASSING_ONNX_EXPORT;

let s3: S3Fake;
let client: S3Client;
let dir: string;
beforeEach(async () => {
  s3 = await S3Fake.start([BUCKET, ARTIFACTS]);
  client = localS3Client(s3.endpoint);
  dir = mkdtempSync(join(tmpdir(), "yolo-train-release-"));
  writeFileSync(join(dir, "best.onnx"), FILES.onnx);
  writeFileSync(join(dir, "best.pt"), FILES.best);
  // What the agent uploaded (and verified) before it publishes.
  await s3.putObject(ARTIFACTS, "runs/r/model/best.onnx", FILES.onnx, { sha256: sha256(FILES.onnx) });
  await s3.putObject(ARTIFACTS, "runs/r/model/best.pt", FILES.best, { sha256: sha256(FILES.best) });
});
afterEach(async () => {
  client.destroy();
  await s3.close();
  rmSync(dir, { recursive: true, force: true });
});

function completed(ota: Partial<RunSpec["ota"]>, result: Partial<CompletedModel["result"]> = {}, train?: RunSpec["train"]): CompletedModel {
  const document = runSpecDocument();
  const spec = parseRunSpec({ ...document, ...(train ? { train } : {}), artifacts: { ...document.artifacts, bucket: ARTIFACTS }, ota: { ...document.ota, bucket: BUCKET, ...ota } });
  const digest = (text: string) => ({ bytes: Buffer.byteLength(text), sha256: sha256(text) });
  return {
    spec,
    result: { status: "completed", best: join(dir, "best.pt"), onnx: join(dir, "best.onnx"), metrics: { "metrics/mAP50-95(B)": 0.2 }, trainingSeconds: 1, onnxExport: { kind: "reported", export: VERIFIED }, ...result },
    artifacts: { best: "runs/r/model/best.pt", onnx: "runs/r/model/best.onnx", result: "runs/r/model/result.json" },
    digests: { best: digest(FILES.best), onnx: digest(FILES.onnx), result: digest("{}") },
  };
}

describe("releaseModel", () => {
  it.each([
    ["candidate", undefined, ["candidate"], { promoted: false, reason: "ota.channel is candidate and no gate (ota.promote) is set; promote to stable by hand" }],
    ["stable", undefined, ["candidate", "stable"], { promoted: true, reason: "ota.channel is stable and no gate (ota.promote) is set" }],
    // The gate binds even with channel stable.
    ["stable", { metric: "metrics/mAP50-95(B)", min: 0.5, requireImprovement: false }, ["candidate"], { promoted: false, reason: "metrics/mAP50-95(B) 0.2 is below the minimum 0.5 (ota.promote.min)" }],
  ] as const)("with channel %s and gate %j: channels %j", async (channel, promote, channels, promotion) => {
    const release = await releaseModel(completed({ channel, ...(promote ? { promote } : {}) }), { s3: client, signer: LocalKeySigner.generate(), log: silent });
    expect(release).toEqual({ modelName: "widgets", version: 1, bucket: BUCKET, manifestKey: "models/widgets/versions/0000000001/manifest.json", channels, promotion });
  });

  it("takes input size and class names from result.json, else the last phase's imgsz and no class names", async () => {
    const signer = LocalKeySigner.generate();
    await releaseModel(completed({}, { imgsz: 512, classNames: ["pallet"] }), { s3: client, signer, log: silent });
    const progressive = { epochs: 10, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {}, progressive: [{ imgsz: 320, epochs: 5 }, { imgsz: 960, epochs: 5 }] };
    await releaseModel(completed({}, {}, progressive), { s3: client, signer, log: silent });
    const manifest = async (v: number) => parseManifest((await s3.getObject(BUCKET, `models/widgets/versions/000000000${v}/manifest.json`))!);
    expect(await manifest(1)).toMatchObject({ inputSize: 512, classNames: ["pallet"] });
    expect(await manifest(2)).toMatchObject({ inputSize: 960, classNames: [] });
  });

  it("writes the export's runtime needs into the manifest: opset, shapes, NMS and the ONNX Runtime that verified it", async () => {
    const release = await releaseModel(completed({}, { onnxExport: { kind: "reported", export: { ...VERIFIED, opset: 12, outputShape: [1, 300, 6], nms: true } } }), {
      s3: client,
      signer: LocalKeySigner.generate(),
      log: silent,
    });
    expect(parseManifest((await s3.getObject(BUCKET, release.manifestKey))!).runtime).toEqual({
      format: "onnx",
      opset: 12,
      inputShape: [1, 3, 640, 640],
      outputShape: [1, 300, 6],
      nms: true,
      verifiedWith: { name: "onnxruntime", version: "1.20.1" },
    });
  });

  it.each([
    ["a failed check", { kind: "reported", export: { ...VERIFIED, check: { ...VERIFIED.check, passed: false, maxAbsDiff: 0.8, reason: "ONNX output differs from PyTorch" } } }, /failed its check against PyTorch .*: ONNX output differs from PyTorch/],
    ["no check", { kind: "missing" }, /result.json has no onnxExport/],
    ["an unreadable check", { kind: "malformed", problems: ["onnxExport.opset must be …"] }, /onnxExport cannot be read/],
  ] as const)("refuses to publish an export with %s, writing nothing", async (_name, onnxExport, message) => {
    await expect(releaseModel(completed({}, { onnxExport }), { s3: client, signer: LocalKeySigner.generate(), log: silent })).rejects.toThrow(message);
    expect(await s3.listKeys(BUCKET)).toEqual([]);
  });

  it("copies the model files from the artifact bucket inside S3, without reading the local files again", async () => {
    const model = completed({});
    rmSync(dir, { recursive: true, force: true });
    const release = await releaseModel(model, { s3: client, signer: LocalKeySigner.generate(), log: silent });
    const folder = "models/widgets/versions/0000000001/";
    expect((await s3.getObjectWithMetadata(BUCKET, `${folder}model.onnx`))).toEqual({ bytes: Buffer.from(FILES.onnx), metadata: expect.objectContaining({ sha256: sha256(FILES.onnx) }) });
    expect((await s3.getObject(BUCKET, `${folder}model.pt`))?.toString()).toBe(FILES.best);
    const manifest = parseManifest((await s3.getObject(BUCKET, release.manifestKey))!);
    expect(manifest.files).toEqual([
      { path: "model.onnx", length: Buffer.byteLength(FILES.onnx), sha256: sha256(FILES.onnx) },
      { path: "model.pt", length: Buffer.byteLength(FILES.best), sha256: sha256(FILES.best) },
    ]);
  });

  it("copies both files at once, writes manifest and signature once both copies are verified, and moves the channels last", async () => {
    // Every answer comes late: requests made one after another would show as intervals that do not overlap.
    s3.proxy.injectFaults([{ forMs: 60_000, delayMs: 150 }]);
    await releaseModel(completed({ channel: "stable" }), { s3: client, signer: LocalKeySigner.generate(), log: silent });
    const folder = "models/widgets/versions/0000000001/";
    /** The one request of `method` for `key`. */
    const only = (key: string, method: string): ProxiedRequest => {
      const found = s3.proxy.requests.filter((r) => r.bucket === BUCKET && r.key === key && r.method === method);
      if (found.length !== 1) throw new Error(`${found.length} ${method} requests for ${key}`);
      return found[0]!;
    };
    const [onnxCopy, ptCopy] = ["model.onnx", "model.pt"].map((name) => only(`${folder}${name}`, "PUT")) as [ProxiedRequest, ProxiedRequest];
    const [onnxCheck, ptCheck] = ["model.onnx", "model.pt"].map((name) => only(`${folder}${name}`, "HEAD")) as [ProxiedRequest, ProxiedRequest];
    const [manifest, signature] = ["manifest.json", "manifest.json.sig"].map((name) => only(`${folder}${name}`, "PUT")) as [ProxiedRequest, ProxiedRequest];
    const [candidate, stable] = ["candidate", "stable"].map((channel) => only(`models/widgets/channels/${channel}.json`, "PUT")) as [ProxiedRequest, ProxiedRequest];
    expect([onnxCopy, ptCopy].every((r) => /x-id=CopyObject/.test(r.query))).toBe(true);
    // The two copies run side by side, and so do manifest and signature.
    expect(Math.max(onnxCopy.startedAt, ptCopy.startedAt)).toBeLessThan(Math.min(onnxCopy.endedAt!, ptCopy.endedAt!));
    expect(Math.max(manifest.startedAt, signature.startedAt)).toBeLessThan(Math.min(manifest.endedAt!, signature.endedAt!));
    // docs/ota.md's order: every file verified, then manifest and signature, then the channels.
    expect(Math.min(manifest.startedAt, signature.startedAt)).toBeGreaterThanOrEqual(Math.max(onnxCheck.endedAt!, ptCheck.endedAt!));
    expect(Math.min(candidate.startedAt, stable.startedAt)).toBeGreaterThanOrEqual(Math.max(manifest.endedAt!, signature.endedAt!));
  });

  it("uploads the local files when S3 refuses the copy, and says so", async () => {
    await s3.client.send(new DeleteObjectCommand({ Bucket: ARTIFACTS, Key: "runs/r/model/best.onnx" }));
    const warnings: Array<[string, Record<string, unknown> | undefined]> = [];
    const log = { ...silent, warn: (event: string, fields?: Record<string, unknown>) => void warnings.push([event, fields]) };
    await releaseModel(completed({}), { s3: client, signer: LocalKeySigner.generate(), log });
    expect((await s3.getObject(BUCKET, "models/widgets/versions/0000000001/model.onnx"))?.toString()).toBe(FILES.onnx);
    expect(warnings.filter(([event]) => event.startsWith("release-file"))).toEqual([["release-file-copy-refused", expect.objectContaining({ from: `s3://${ARTIFACTS}/runs/r/model/best.onnx`, note: "uploading the local file instead" })]]);
  });

  it("refuses an ota.prefix that is not the model's own folder, before writing anything", async () => {
    await expect(releaseModel(completed({ prefix: "models/mywidgets/" }), { s3: client, signer: LocalKeySigner.generate(), log: silent })).rejects.toThrow(
      /ota.prefix "models\/mywidgets\/" must end with the model's own folder "widgets\/"/,
    );
    expect(await s3.listKeys(BUCKET)).toEqual([]);
  });
});
