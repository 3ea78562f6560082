import type { S3Client } from "@aws-sdk/client-s3";
import { createHash } from "crypto";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parseManifest } from "../../ota/manifest";
import { modelsPrefixOf, releaseToChannels, type ModelRelease } from "../../ota/releaseToChannels";
import { ReleaseError } from "../../ota/publisher";
import { LocalKeySigner } from "../../ota/signature";
import { localS3Client, S3Fake } from "../agent/fakes/s3Fake";

/**
 * The one publishing path of a trained model (the run agent's and the sweep keeper's): files copied
 * from the artifact bucket into a signed release, candidate first, stable only through the gate.
 */
const OTA = "yolo-train-dev-ota";
const ARTIFACTS = "yolo-train-dev-artifacts";
const METRIC = "metrics/mAP50-95(B)";
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");
const RUNTIME = { format: "onnx" as const, opset: 17, inputShape: [1, 3, 640, 640], outputShape: [1, 84, 8400], nms: false, verifiedWith: { name: "onnxruntime", version: "1.20.1" } };

let s3: S3Fake;
let client: S3Client;
let dir: string;
beforeEach(async () => {
  s3 = await S3Fake.start([OTA, ARTIFACTS]);
  client = localS3Client(s3.endpoint);
  dir = mkdtempSync(join(tmpdir(), "yolo-train-release-to-channels-"));
});
afterEach(async () => {
  client.destroy();
  await s3.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A run's model as its agent left it in the artifact bucket, and the release of it. */
async function model(runId: string, value: number, ota: Partial<ModelRelease["ota"]> = {}): Promise<ModelRelease> {
  const file = async (name: string, text: string) => {
    const key = `runs/${runId}/model/${name}`;
    await s3.putObject(ARTIFACTS, key, text, { sha256: sha256(text) });
    const localPath = join(dir, `${runId}-${name}`);
    writeFileSync(localPath, text);
    return { key, length: Buffer.byteLength(text), sha256: sha256(text), localPath };
  };
  return {
    ota: { bucket: OTA, prefix: "models/widgets/", modelName: "widgets", channel: "candidate", ...ota },
    runId,
    artifactsBucket: ARTIFACTS,
    onnx: await file("best.onnx", `onnx of ${runId}`),
    best: await file("best.pt", `weights of ${runId}`),
    metrics: { [METRIC]: value },
    inputSize: 640,
    classNames: ["widget"],
    runtime: RUNTIME,
  };
}

describe("releaseToChannels", () => {
  it("publishes the model's files by copy, to candidate, and to stable only when the gate passes against the current stable", async () => {
    const gate = { metric: METRIC, min: 0.3, requireImprovement: true };
    const signer = LocalKeySigner.generate();
    const first = await releaseToChannels(await model("run-a", 0.5, { promote: gate }), { s3: client, signer, log: silent });
    expect(first).toEqual({
      modelName: "widgets",
      version: 1,
      bucket: OTA,
      manifestKey: "models/widgets/versions/0000000001/manifest.json",
      channels: ["candidate", "stable"],
      promotion: { promoted: true, reason: `${METRIC} 0.5 meets the minimum 0.3 and there is no stable release yet to improve on` },
    });
    const second = await releaseToChannels(await model("run-b", 0.45, { promote: gate }), { s3: client, signer, log: silent });
    expect(second).toMatchObject({ version: 2, channels: ["candidate"], promotion: { promoted: false, reason: `${METRIC} 0.45 does not improve on stable version 1 (0.5) (ota.promote.requireImprovement)` } });
    const manifest = parseManifest((await s3.getObject(OTA, second.manifestKey))!);
    expect(manifest).toMatchObject({ runId: "run-b", metrics: { [METRIC]: 0.45 }, inputSize: 640, classNames: ["widget"], runtime: RUNTIME });
    expect(manifest.files).toEqual([
      { path: "model.onnx", length: Buffer.byteLength("onnx of run-b"), sha256: sha256("onnx of run-b") },
      { path: "model.pt", length: Buffer.byteLength("weights of run-b"), sha256: sha256("weights of run-b") },
    ]);
    // Copied inside S3: no upload of the local files.
    expect(s3.proxy.requests.filter((r) => r.bucket === OTA && /model\.(onnx|pt)$/.test(r.key ?? "") && r.method === "PUT").every((r) => /x-id=CopyObject/.test(r.query))).toBe(true);
  });

  it("reports a channel it could not move in the release it returns, instead of throwing", async () => {
    const errors: string[] = [];
    s3.proxy.injectFaults([{ forMs: 60_000, failEvery: 1, status: 500, only: (r) => r.key === "models/widgets/channels/candidate.json" }]);
    const release = await releaseToChannels(await model("run-a", 0.5), { s3: localS3Client(s3.endpoint), signer: LocalKeySigner.generate(), log: { ...silent, error: (event) => void errors.push(event) } });
    expect(release).toMatchObject({ version: 1, channels: [], promotion: { promoted: false, reason: expect.stringMatching(/^not decided: moving a channel failed: /) } });
    expect(errors).toEqual(["release-channels-failed"]);
    expect(await s3.getObject(OTA, "models/widgets/versions/0000000001/manifest.json")).toBeDefined();
  });

  it("refuses an ota.prefix that is not the model's own folder, before anything is written", async () => {
    expect(modelsPrefixOf({ prefix: "team-a/models/widgets/", modelName: "widgets" })).toBe("team-a/models/");
    expect(modelsPrefixOf({ prefix: "widgets/", modelName: "widgets" })).toBe("");
    const bad = await model("run-a", 0.5, { prefix: "models/mywidgets/" });
    await expect(releaseToChannels(bad, { s3: client, signer: LocalKeySigner.generate(), log: silent })).rejects.toThrow(ReleaseError);
    await expect(releaseToChannels(bad, { s3: client, signer: LocalKeySigner.generate(), log: silent })).rejects.toThrow(
      'ota.prefix "models/mywidgets/" must end with the model\'s own folder "widgets/" (docs/ota.md: <modelsPrefix><modelName>/)',
    );
    expect(await s3.listKeys(OTA)).toEqual([]);
  });
});
