import type { S3Client } from "@aws-sdk/client-s3";
import { ReleaseError } from "../ota/publisher";
import { modelsPrefixOf, releaseToChannels } from "../ota/releaseToChannels";
import type { ModelRuntimeInput } from "../ota/manifest";
import type { ManifestSigner } from "../ota/signature";
import type { Logger } from "./log";
import type { ReleaseRef } from "../runspec/runRecord";
import { specPhases } from "../runspec/runLayout";
import type { CompletedModel, ModelPublisher } from "./supervisor";
import { exportVerdict, type OnnxExport } from "./trainerResult";

/**
 * The agent's OTA publisher (docs/ota.md): a completed run's model becomes a signed release in the
 * OTA bucket, goes to `candidate`, and to `stable` when the policy of `promotionPlan` says so (a
 * gate in `ota.promote` decides alone; without one, `ota.channel: stable` promotes every release).
 * The publishing itself is ota/releaseToChannels.ts, shared with the sweep keeper.
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
  // Before anything is read or written: a prefix that is not the model's own folder is refused.
  modelsPrefixOf(spec.ota);
  // The supervisor does not call a publisher for an unverified export; this keeps it so for any caller.
  const verdict = exportVerdict(result.onnxExport);
  if (!verdict.release) throw new ReleaseError(verdict.reason);
  const phases = specPhases(spec);
  return releaseToChannels(
    {
      ota: spec.ota,
      runId: spec.runId,
      artifactsBucket: spec.artifacts.bucket,
      // Just uploaded to the artifact bucket and verified: the node does not send the same bytes twice before it can shut down.
      onnx: { key: artifacts.onnx, length: digests.onnx.bytes, sha256: digests.onnx.sha256, localPath: result.onnx },
      best: { key: artifacts.best, length: digests.best.bytes, sha256: digests.best.sha256, localPath: result.best },
      metrics: result.metrics,
      inputSize: result.imgsz ?? phases[phases.length - 1]?.imgsz ?? spec.train.imgsz,
      classNames: result.classNames ?? [],
      runtime: modelRuntime(verdict.export),
    },
    deps,
  );
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
