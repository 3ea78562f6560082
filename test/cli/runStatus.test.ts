import fc from "fast-check";
import { RUN_PHASES } from "../../runspec/runRecord";
import { exitCodeOfPhase, formatDuration, isEndPhase, progressBar, renderRunStatus, runStatus } from "../../cli/runStatus";
import { NOW, recordAt, STACK_OUTPUTS } from "./commands/operateHarness";
import { parseStackOutputs } from "../../cli/stackOutputs";

const estimate = parseStackOutputs(STACK_OUTPUTS, "test").estimate;

describe("runStatus", () => {
  it("gives every phase a distinct exit code, and 4 to a missing record", () => {
    const codes = RUN_PHASES.filter((p) => !["starting", "training", "uploading"].includes(p)).map(exitCodeOfPhase);
    expect(new Set(codes).size).toBe(codes.length);
    expect(exitCodeOfPhase(null)).toBe(4);
    expect(["starting", "training", "uploading"].map((p) => exitCodeOfPhase(p as "training"))).toEqual([10, 10, 10]);
  });

  it("stops watching only in phases where no agent runs", () => {
    expect(RUN_PHASES.filter(isEndPhase)).toEqual(["completed", "stopped-early", "interrupted", "hung", "timed-out", "failed"]);
    expect(isEndPhase(null)).toBe(false);
  });

  it("before the first epoch, takes the ETA and total from the stack's estimate", () => {
    const s = runStatus(recordAt({ epoch: 0 }), estimate, NOW);
    expect(s.etaSeconds).toBe(2 * 3600);
    // Rate paid so far ($0.20/h over 60 billed s) for the 2 h left, plus what was spent.
    expect(s.estimatedTotalUsd).toBeCloseTo(0.0033 + 2 * 0.198, 2);
  });

  it("shows the latest GPU utilisation per GPU, or says there is no sample yet", () => {
    const sampled = runStatus({ ...recordAt({ epoch: 3 }), gpuUtilisation: [97.4, 12] }, estimate, NOW);
    expect(renderRunStatus(sampled)).toMatch(/GPU\s+97 %, 12 %/);
    expect(renderRunStatus(runStatus({ ...recordAt({ epoch: 0 }), gpuUtilisation: null }, estimate, NOW))).toMatch(/GPU\s+no sample yet/);
  });

  it("shows what a completed run produced: the model files and the OTA release with the gate's verdict", () => {
    const record = {
      ...recordAt({ epoch: 10, end: "completed" }),
      artifacts: { best: "runs/exp-1/model/best.pt", onnx: "runs/exp-1/model/best.onnx", result: "runs/exp-1/model/result.json" },
      release: {
        modelName: "widgets",
        version: 7,
        bucket: "yolo-ota-test",
        manifestKey: "models/widgets/versions/0000000007/manifest.json",
        channels: ["candidate"],
        promotion: { promoted: false, reason: "metrics/mAP50-95(B) 0.5 is below the minimum 0.6 (ota.promote.min)" },
      },
    };
    const text = renderRunStatus(runStatus(record, estimate, NOW));
    expect(text).toMatch(/^model {5}runs\/exp-1\/model\/best\.onnx \(ONNX\), runs\/exp-1\/model\/best\.pt \(weights\), in the artifact bucket$/m);
    expect(text).toMatch(/^release {3}widgets version 7, s3:\/\/yolo-ota-test\/models\/widgets\/versions\/0000000007\/manifest\.json; channels candidate$/m);
    expect(text).toMatch(/^stable {4}not promoted: metrics\/mAP50-95\(B\) 0\.5 is below the minimum 0\.6/m);
    expect(renderRunStatus(runStatus(recordAt({ epoch: 3 }), estimate, NOW))).not.toMatch(/^(model|release|stable) /m);
  });

  it("shows a blocked release where the release would be, with its reason, and carries it in --json", () => {
    const reason = "the ONNX export failed its check against PyTorch (onnxruntime 1.20.1, opset 17, 4 images): ONNX output differs from PyTorch: max |Δ| 0.8 > tolerance 0.001 on 4 images";
    const record = {
      ...recordAt({ epoch: 10, end: "completed" }),
      artifacts: { best: "runs/exp-1/model/best.pt", onnx: "runs/exp-1/model/best.onnx", result: "runs/exp-1/model/result.json" },
      releaseBlocked: { reason },
    };
    const status = runStatus(record, estimate, NOW);
    expect(status).toMatchObject({ phase: "completed", exitCode: 0, release: null, releaseBlocked: { reason } });
    const text = renderRunStatus(status);
    expect(text).toMatch(/^model {5}runs\/exp-1\/model\/best\.onnx \(ONNX\)/m);
    expect(text).toContain(`\nrelease   blocked, nothing published over the air (the model is in the artifact bucket only): ${reason}\n`);
    expect(text).not.toMatch(/^stable /m);
  });

  it("shows the checkpoint a resume starts from, best.pt beside it, and every checkpoint that could not be restored", () => {
    const key = "runs/exp-1/checkpoints/phase-0/last.pt";
    const checkpoint = { key, sha256: "a".repeat(64), bytes: 10, phase: 0, epoch: 6, versionId: "v6" };
    const record = {
      ...recordAt({ epoch: 8 }),
      checkpoint,
      bestCheckpoint: { ...checkpoint, key: "runs/exp-1/checkpoints/phase-0/best.pt", epoch: 4, versionId: "b4" },
      checkpointFailures: [{ key, versionId: "v7", sha256: "b".repeat(64), at: "2026-12-04T10:00:00.000Z", reason: "sha256 mismatch", outcome: "previous-checkpoint" as const }],
    };
    const text = renderRunStatus(runStatus(record, estimate, NOW));
    expect(text).toContain(`\nresume    ${key}, phase 0 epoch 6 (version v6); best.pt phase 0 epoch 4 (version b4)\n`);
    expect(text).toContain(`\nlost      ${key} version v7 at 2026-12-04T10:00:00.000Z: sha256 mismatch; resumed from the previous checkpoint\n`);
    expect(renderRunStatus(runStatus(recordAt({ epoch: 0 }), estimate, NOW))).toMatch(/^resume {4}no checkpoint yet$/m);
  });

  it("measures elapsed time of a stopped run up to its last update, not now", () => {
    const s = runStatus(recordAt({ epoch: 3, end: "failed" }), estimate, NOW);
    expect(s.elapsedSeconds).toBe(60 + 3 * 60);
  });

  it("the progress bar always has the requested width and fills monotonically", () => {
    fc.assert(
      fc.property(fc.double({ min: -1, max: 2, noNaN: true }), fc.double({ min: -1, max: 2, noNaN: true }), fc.integer({ min: 1, max: 80 }), (a, b, width) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const fill = (f: number): number => progressBar(f, width).split("#").length - 1;
        expect(progressBar(lo, width)).toHaveLength(width + 2);
        expect(fill(lo)).toBeLessThanOrEqual(fill(hi));
      }),
    );
  });

  it.each([
    [0, "0m 00s"],
    [65, "1m 05s"],
    [3725, "1h 02m"],
    [90_000, "25h 00m"],
  ])("formats %i s as %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
