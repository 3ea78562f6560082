/**
 * A trained model into the OTA bucket and its channels (docs/ota.md), the one way every publisher
 * does it: the run agent for a run's own model, the sweep keeper for a sweep's winner (issue 12).
 * The model files are already in the artifact bucket with a known length and SHA-256: they are
 * copied inside S3 into a new signed release, which goes to `candidate`, and to `stable` only as
 * {@link promotionPlan} says (a gate in `ota.promote` decides alone).
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { ReleaseRef } from "../runspec/runRecord";
import { promotionPlan, type PromotionGate } from "./gate";
import type { ModelRuntimeInput } from "./manifest";
import { pointChannel, promoteIfGatePasses, publishRelease, ReleaseError, type ReleaseLog } from "./publisher";
import type { ManifestSigner } from "./signature";

/** Where a model is released: the run spec's `ota` section, and the sweep manifest's. */
export interface ReleaseDestination {
  readonly bucket: string;
  /** `<modelsPrefix><modelName>/`. */
  readonly prefix: string;
  readonly modelName: string;
  readonly channel: "candidate" | "stable";
  readonly promote?: PromotionGate | undefined;
}

/** A model file in the artifact bucket, and a local copy of the same bytes to upload if S3 refuses the copy. */
export interface StoredModelFile {
  readonly key: string;
  readonly length: number;
  readonly sha256: string;
  readonly localPath: string;
}

export interface ModelRelease {
  readonly ota: ReleaseDestination;
  readonly runId: string;
  /** The bucket `onnx` and `best` are in. */
  readonly artifactsBucket: string;
  readonly onnx: StoredModelFile;
  readonly best: StoredModelFile;
  readonly metrics: Readonly<Record<string, number>>;
  readonly inputSize: number;
  readonly classNames: readonly string[];
  /** From a verified ONNX export only: the caller checks the trainer's report first. */
  readonly runtime: ModelRuntimeInput;
}

/** The publisher's log, and errors: a channel that could not be moved is logged as one. */
export interface ReleaseChannelsLog extends ReleaseLog {
  error(event: string, fields?: Record<string, unknown>): void;
}

export interface ReleaseChannelsDeps {
  readonly s3: S3Client;
  readonly signer: ManifestSigner;
  readonly log: ReleaseChannelsLog;
  readonly now?: () => Date;
}

const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** The models prefix of `ota.prefix`, which must end with the model's own folder. */
export function modelsPrefixOf(ota: Pick<ReleaseDestination, "prefix" | "modelName">): string {
  const suffix = `${ota.modelName}/`;
  if (!ota.prefix.endsWith(suffix) || (ota.prefix !== suffix && !ota.prefix.endsWith(`/${suffix}`))) {
    throw new ReleaseError(`ota.prefix ${JSON.stringify(ota.prefix)} must end with the model's own folder "${suffix}" (docs/ota.md: <modelsPrefix><modelName>/)`);
  }
  return ota.prefix.slice(0, ota.prefix.length - suffix.length);
}

/**
 * Publishes the model and moves the channels. Throws when nothing was published; once a version
 * exists, a failure to move a channel is reported in the returned {@link ReleaseRef} instead, so
 * the caller can still name the release.
 */
export async function releaseToChannels(model: ModelRelease, deps: ReleaseChannelsDeps): Promise<ReleaseRef> {
  const { s3, signer, log } = deps;
  const now = deps.now ?? (() => new Date());
  const { ota } = model;
  const modelsPrefix = modelsPrefixOf(ota);
  if (model.classNames.length === 0) log.warn("release-without-class-names", { note: "result.json has no classNames; the manifest lists none" });

  const stored = (path: string, file: StoredModelFile) => ({
    path,
    localPath: file.localPath,
    // Already in S3 and verified: S3 copies it, so the bytes are not sent again.
    copyOf: { bucket: model.artifactsBucket, key: file.key, length: file.length, sha256: file.sha256 },
  });
  const release = await publishRelease({
    s3,
    bucket: ota.bucket,
    modelsPrefix,
    modelName: ota.modelName,
    signer,
    files: [stored("model.onnx", model.onnx), stored("model.pt", model.best)],
    runId: model.runId,
    metrics: model.metrics,
    inputSize: model.inputSize,
    classNames: model.classNames,
    runtime: model.runtime,
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
      const outcome = await promoteIfGatePasses({ s3, bucket: ota.bucket, layout, signer, gate: plan.kind === "gated" ? plan.gate : undefined, version, metrics: model.metrics, now: now() });
      promotion = { promoted: outcome.promote, reason: outcome.promote && plan.kind === "always" ? plan.reason : outcome.reason };
      if (outcome.promote) channels.push("stable");
    }
  } catch (error) {
    log.error("release-channels-failed", { version, error: describe(error) });
    promotion = { promoted: false, reason: `not decided: moving a channel failed: ${describe(error)}` };
  }
  log.info(promotion.promoted ? "release-promoted" : "release-not-promoted", { version, channels, reason: promotion.reason });
  return { modelName: ota.modelName, version, bucket: ota.bucket, manifestKey: release.manifestKey, channels, promotion };
}
