import { parseChannelPointer, parseManifest } from "../../../ota/manifest";
import { verifyChannelMembership } from "../../../ota/channelMembership";
import { verifyManifestSignature } from "../../../ota/signature";
import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { expectCleanRun, expectExit, historyPhases, otaKeys, runKeys, storedRecord } from "../fakes/runExpectations";
import { sha256Hex, standInMetrics } from "../fakes/standInCheckpoint";

const METRIC = "metrics/mAP50-95(B)";
/** The stand-in's final evaluation after 4 epochs. */
const FINAL = standInMetrics(4);

async function worldWithGate(min: number): Promise<NodeWorld> {
  return NodeWorld.start({
    spec: {
      ota: {
        bucket: "yolo-train-dev-ota",
        prefix: "models/widgets/",
        modelName: "widgets",
        channel: "candidate",
        signingKeyId: "alias/yolo-train-dev-ota",
        promote: { metric: METRIC, min, requireImprovement: true },
      },
    },
  });
}

describe("a completed run's OTA release", () => {
  let world: NodeWorld;
  afterEach(async () => world?.close());

  it("is published to candidate and, passing the gate, promoted to stable; the record says so", async () => {
    world = await worldWithGate(0.3);
    await expectExit(world.runAgent(), EXIT.done);
    const ota = world.spec.ota;

    const record = await storedRecord(world);
    expect(record).toMatchObject({
      phase: "completed",
      error: null,
      release: {
        modelName: "widgets",
        version: 1,
        bucket: ota.bucket,
        manifestKey: "models/widgets/versions/0000000001/manifest.json",
        channels: ["candidate", "stable"],
        promotion: { promoted: true, reason: `${METRIC} ${FINAL[METRIC]} meets the minimum 0.3 and there is no stable release yet to improve on` },
      },
    });
    expect(historyPhases(record)).toEqual(["starting", "training", "uploading", "completed"]);

    expect(await otaKeys(world)).toEqual([
      "channels/candidate.json",
      "channels/candidate/0000000001.sig",
      "channels/stable.json",
      "channels/stable/0000000001.sig",
      "versions/0000000001/.claim",
      "versions/0000000001/manifest.json",
      "versions/0000000001/manifest.json.sig",
      "versions/0000000001/model.onnx",
      "versions/0000000001/model.pt",
    ]);
    // Signed with the stack's KMS key, naming exactly the model files the run uploaded.
    const manifestBytes = (await world.s3.getObject(ota.bucket, "models/widgets/versions/0000000001/manifest.json"))!;
    const signature = (await world.s3.getObject(ota.bucket, "models/widgets/versions/0000000001/manifest.json.sig"))!;
    expect(verifyManifestSignature(manifestBytes, signature, world.kms.publicKeyPem)).toBe(true);
    // Signed into both channels by the same key: what an edge box checks before it installs.
    for (const channel of ["candidate", "stable"]) {
      const membership = (await world.s3.getObject(ota.bucket, `models/widgets/channels/${channel}/0000000001.sig`))!;
      expect(verifyChannelMembership(membership, "widgets", channel, 1, world.kms.publicKeyPem)).toBe(true);
    }
    const onnx = (await world.object("model/best.onnx"))!;
    const pt = (await world.object("model/best.pt"))!;
    expect(parseManifest(manifestBytes)).toMatchObject({
      modelName: "widgets",
      version: 1,
      runId: world.spec.runId,
      metrics: FINAL,
      inputSize: 640,
      classNames: [],
      // The stand-in's passing check (docs/node-runtime.md's example): what boxes check before downloading.
      runtime: { format: "onnx", opset: 17, inputShape: [1, 3, 640, 640], outputShape: [1, 84, 8400], nms: false, verifiedWith: { name: "onnxruntime", version: "1.20.1" } },
      files: [
        { path: "model.onnx", length: onnx.length, sha256: sha256Hex(onnx) },
        { path: "model.pt", length: pt.length, sha256: sha256Hex(pt) },
      ],
    });
    for (const channel of ["candidate", "stable"]) {
      expect(parseChannelPointer((await world.s3.getObject(ota.bucket, `models/widgets/channels/${channel}.json`))!)).toMatchObject({ channel, version: 1 });
    }
    // The manifest, then its membership of candidate and of stable: three signatures, one key.
    expect(world.kms.calls.map((c) => [c.target, c.status, c.signed])).toEqual([
      ["TrentService.GetPublicKey", 200, true],
      ["TrentService.Sign", 200, true],
      ["TrentService.Sign", 200, true],
      ["TrentService.Sign", 200, true],
    ]);
    // Nothing else outside the run's prefix.
    expect((await runKeys(world)).filter((k) => k.startsWith("(outside"))).toEqual([]);
    await expectCleanRun(world);
  }, 60_000);

  it("stays on candidate when the gate refuses, and the record says why", async () => {
    world = await worldWithGate(0.5);
    await expectExit(world.runAgent(), EXIT.done);
    const record = await storedRecord(world);
    expect(record).toMatchObject({
      phase: "completed",
      error: null,
      release: {
        version: 1,
        channels: ["candidate"],
        promotion: { promoted: false, reason: `${METRIC} ${FINAL[METRIC]} is below the minimum 0.5 (ota.promote.min)` },
      },
    });
    const keys = await otaKeys(world);
    expect(keys).toContain("channels/candidate.json");
    expect(keys).not.toContain("channels/stable.json");
    // It failed the gate: never signed into stable, so no box following stable installs it.
    expect(keys).toContain("channels/candidate/0000000001.sig");
    expect(keys).not.toContain("channels/stable/0000000001.sig");
    await expectCleanRun(world);
  }, 60_000);

  it("completes the run without a release when the signing key cannot be used, writing nothing to the OTA bucket", async () => {
    world = await worldWithGate(0.3);
    world.kms.disable();
    await expectExit(world.runAgent(), EXIT.done);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", error: null, release: null, releaseBlocked: null });
    expect(record.history?.at(-1)).toMatchObject({ phase: "completed", note: expect.stringMatching(/^OTA publishing failed: DisabledException: arn:aws:kms:.* is disabled/) });
    expect(await otaKeys(world)).toEqual([]);
    await expectCleanRun(world);
  }, 60_000);

  it.each([
    [
      "fails",
      "fail",
      "the ONNX export failed its check against PyTorch (onnxruntime 1.20.1, opset 17, 4 images): ONNX output differs from PyTorch: max |Δ| 0.8 > tolerance 0.001 on 4 images " +
        "[max |Δ| 0.8, tolerance 0.001; detections PyTorch 37, ONNX 12, matched 10]",
    ],
    ["is missing (a trainer from before the check)", "missing", expect.stringMatching(/^result\.json has no onnxExport: the ONNX export was never checked against PyTorch/)],
  ])("is withheld when the ONNX check %s: the run completes with its model files, the OTA bucket stays empty, run.json says why", async (_name, mode, reason) => {
    world = await worldWithGate(0.3);
    const exit = await expectExit(world.runAgent({ env: { STANDIN_ONNX_CHECK: mode } }), EXIT.done);

    const record = await storedRecord(world);
    expect(record).toMatchObject({
      phase: "completed",
      error: null,
      release: null,
      releaseBlocked: { reason },
      artifacts: { best: `${world.prefix}model/best.pt`, onnx: `${world.prefix}model/best.onnx`, result: `${world.prefix}model/result.json` },
    });
    expect(historyPhases(record)).toEqual(["starting", "training", "uploading", "completed"]);
    // The model files are in the artifact bucket, whole.
    expect(await runKeys(world)).toEqual(expect.arrayContaining(["model/best.onnx", "model/best.pt", "model/result.json"]));
    expect(JSON.parse((await world.object("model/result.json"))!.toString()).onnxExport?.check?.passed).toBe(mode === "fail" ? false : undefined);
    // Nothing published: no claim, no file, no manifest, no channel; the signing key was never used.
    expect(await otaKeys(world)).toEqual([]);
    expect(world.kms.calls).toEqual([]);
    // The agent says so in its log, with the same reason.
    const logged = exit.stdout
      .split("\n")
      .filter((line) => line.includes('"event":"release-blocked"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged).toEqual([expect.objectContaining({ level: "warn", reason })]);
    await expectCleanRun(world);
  }, 60_000);

  it("of a sweep trial is left to the sweep: the trial publishes nothing, even past the gate, and an unverified export is still recorded as blocked", async () => {
    const sweep = { sweepId: "sweep-widgets", trialId: "t01", metric: METRIC, direction: "maximize" as const, reductionFactor: 2, rungs: [1] };
    world = await NodeWorld.start({
      spec: { sweep, ota: { bucket: "yolo-train-dev-ota", prefix: "models/widgets/", modelName: "widgets", channel: "stable", signingKeyId: "alias/yolo-train-dev-ota" } },
    });
    await expectExit(world.runAgent({ env: { STANDIN_ONNX_CHECK: "missing" } }), EXIT.done);
    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", error: null, release: null, releaseBlocked: { reason: expect.stringMatching(/^result\.json has no onnxExport/) } });
    expect(await otaKeys(world)).toEqual([]);
    expect(world.kms.calls).toEqual([]);
    await expectCleanRun(world);
  }, 60_000);
});
