import type { S3Client } from "@aws-sdk/client-s3";
import { promotionPlan } from "../ota/gate";
import { pointChannel, promoteIfGatePasses, publishRelease, ReleaseError } from "../ota/publisher";
import type { ModelRuntimeInput } from "../ota/manifest";
import type { ManifestSigner } from "../ota/signature";
import { describeError, type Logger } from "./log";
import type { ReleaseRef } from "../runspec/runRecord";
import { specPhases } from "../runspec/runLayout";
import type { CompletedModel, ModelPublisher } from "./supervisor";
import { exportVerdict, type OnnxExport } from "./trainerResult";

/**
 * The agent's OTA publisher (docs/ota.md): a completed run's model becomes a signed release in the
 * OTA bucket, goes to `candidate`, and to `stable` when the policy of `promotionPlan` says so (a
 * gate in `ota.promote` decides alone; without one, `ota.channel: stable` promotes every release).
 */
export interface OtaReleaseDeps {
  readonly s3: S3Client;
  readonly signer: ManifestSigner;
  readonly log: Logger;
  readonly now?: () => Date;
}

export function createOtaPublisher(deps: OtaReleaseDeps): ModelPublisher {
  return (model) => releaseModel(model, deps);
}

/**
 * Publishes the model and moves the channels. Throws when nothing was published (the supervisor
 * notes it in the record); once a version exists, a failure to move a channel is reported in the
 * returned {@link ReleaseRef} instead, so the record still names the release.
 */
export async function releaseModel({ spec, result, artifacts, digests }: CompletedModel, deps: OtaReleaseDeps): Promise<ReleaseRef> {
  const { s3, signer, log } = deps;
  const now = deps.now ?? (() => new Date());
  const ota = spec.ota;
  const suffix = `${ota.modelName}/`;
  if (!ota.prefix.endsWith(suffix) || (ota.prefix !== suffix && !ota.prefix.endsWith(`/${suffix}`))) {
    throw new ReleaseError(`ota.prefix ${JSON.stringify(ota.prefix)} must end with the model's own folder "${suffix}" (docs/ota.md: <modelsPrefix><modelName>/)`);
  }
  // The supervisor does not call a publisher for an unverified export; this keeps it so for any caller.
  const verdict = exportVerdict(result.onnxExport);
  if (!verdict.release) throw new ReleaseError(verdict.reason);
  const phases = specPhases(spec);
  const inputSize = result.imgsz ?? phases[phases.length - 1]?.imgsz ?? spec.train.imgsz;
  if (result.classNames === undefined) log.warn("release-without-class-names", { note: "result.json has no classNames; the manifest lists none" });

  const release = await publishRelease({
    s3,
    bucket: ota.bucket,
    modelsPrefix: ota.prefix.slice(0, ota.prefix.length - suffix.length),
    modelName: ota.modelName,
    signer,
    // The model files were just uploaded to the artifact bucket and verified: S3 copies them,
    // so the node does not send the same bytes twice before it can shut down.
    files: [
      { path: "model.onnx", localPath: result.onnx, copyOf: { bucket: spec.artifacts.bucket, key: artifacts.onnx, length: digests.onnx.bytes, sha256: digests.onnx.sha256 } },
      { path: "model.pt", localPath: result.best, copyOf: { bucket: spec.artifacts.bucket, key: artifacts.best, length: digests.best.bytes, sha256: digests.best.sha256 } },
    ],
    runId: spec.runId,
    metrics: result.metrics,
    inputSize,
    classNames: result.classNames ?? [],
    runtime: modelRuntime(verdict.export),
    now: now(),
    log,
  });
  const { version, layout } = release;

  const channels: string[] = [];
  let promotion: ReleaseRef["promotion"];
  try {
    const candidate = await pointChannel({ s3, bucket: ota.bucket, layout, channel: "candidate", version, signer, now: now() });
    if (candidate.moved) channels.push("candidate");
    else log.warn("candidate-not-moved", { version, candidate: candidate.previous, note: "candidate already names a later version" });
    const plan = promotionPlan(ota);
    if (plan.kind === "never") promotion = { promoted: false, reason: plan.reason };
    else {
      const outcome = await promoteIfGatePasses({ s3, bucket: ota.bucket, layout, signer, gate: plan.kind === "gated" ? plan.gate : undefined, version, metrics: result.metrics, now: now() });
      promotion = { promoted: outcome.promote, reason: outcome.promote && plan.kind === "always" ? plan.reason : outcome.reason };
      if (outcome.promote) channels.push("stable");
    }
  } catch (error) {
    log.error("release-channels-failed", { version, error: describeError(error) });
    promotion = { promoted: false, reason: `not decided: moving a channel failed: ${describeError(error)}` };
  }
  log.info(promotion.promoted ? "release-promoted" : "release-not-promoted", { version, channels, reason: promotion.reason });
  return { modelName: ota.modelName, version, bucket: ota.bucket, manifestKey: release.manifestKey, channels, promotion };
}

/** The manifest's `runtime` (docs/ota.md) from a verified export: what an edge box checks before it downloads. */
export function modelRuntime(e: OnnxExport): ModelRuntimeInput {
  return {
    format: "onnx",
    opset: e.opset,
    inputShape: e.inputShape,
    outputShape: e.outputShape,
    nms: e.nms,
    verifiedWith: { name: e.check.runtime, version: e.check.runtimeVersion },
  };
}
