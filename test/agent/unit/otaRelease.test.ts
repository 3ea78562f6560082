import type { S3Client } from "@aws-sdk/client-s3";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { releaseModel } from "../../../agent/otaRelease";
import type { CompletedModel } from "../../../agent/supervisor";
import { parseManifest } from "../../../ota/manifest";
import { LocalKeySigner } from "../../../ota/signature";
import { parseRunSpec, type RunSpec } from "../../../runspec";
import { runSpecDocument } from "../../runspec/experimentConfig";
import { localS3Client, S3Fake } from "../fakes/s3Fake";

const BUCKET = "yolo-train-dev-ota";
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

let s3: S3Fake;
let client: S3Client;
let dir: string;
beforeEach(async () => {
  s3 = await S3Fake.start([BUCKET]);
  client = localS3Client(s3.endpoint);
  dir = mkdtempSync(join(tmpdir(), "yolo-train-release-"));
  writeFileSync(join(dir, "best.onnx"), "onnx");
  writeFileSync(join(dir, "best.pt"), "pt");
});
afterEach(async () => {
  client.destroy();
  await s3.close();
  rmSync(dir, { recursive: true, force: true });
});

function completed(ota: Partial<RunSpec["ota"]>, result: Partial<CompletedModel["result"]> = {}, train?: RunSpec["train"]): CompletedModel {
  const document = runSpecDocument();
  const spec = parseRunSpec({ ...document, ...(train ? { train } : {}), ota: { ...document.ota, bucket: BUCKET, ...ota } });
  const digest = { bytes: 1, sha256: "a".repeat(64) };
  return {
    spec,
    result: { status: "completed", best: join(dir, "best.pt"), onnx: join(dir, "best.onnx"), metrics: { "metrics/mAP50-95(B)": 0.2 }, trainingSeconds: 1, ...result },
    artifacts: { best: "b", onnx: "o", result: "r" },
    digests: { best: digest, onnx: digest, result: digest },
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

  it("refuses an ota.prefix that is not the model's own folder, before writing anything", async () => {
    await expect(releaseModel(completed({ prefix: "models/mywidgets/" }), { s3: client, signer: LocalKeySigner.generate(), log: silent })).rejects.toThrow(
      /ota.prefix "models\/mywidgets\/" must end with the model's own folder "widgets\/"/,
    );
    expect(await s3.listKeys(BUCKET)).toEqual([]);
  });
});
