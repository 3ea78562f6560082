/**
 * Publishing a release into the OTA bucket in the order of docs/ota.md: claim a version number
 * (a conditional write no other publisher can win too), upload and verify the files, write the
 * manifest and its signature, and only then move channel pointers, each move conditional on the
 * pointer it replaces. A publisher that dies part-way leaves a version folder no channel names;
 * devices only ever follow channels, so they never see it.
 */
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createReadStream } from "node:fs";
import { digestFile } from "./fileDigest";
import { evaluatePromotion, type PromotionDecision, type PromotionGate } from "./gate";
import {
  createManifest,
  filePathProblem,
  layoutFor,
  MANIFEST_SCHEMA_VERSION,
  parseChannelPointer,
  parseSignedManifest,
  serializeChannelPointer,
  serializeManifest,
  type ChannelPointer,
  type Manifest,
  type ModelLayout,
  type ModelRuntimeInput,
} from "./manifest";
import { verifyManifestSignature, type ManifestSigner } from "./signature";
import { channelSignatureKey, signChannelMembership, verifyChannelMembership } from "./channelMembership";
import { isS3ConditionalConflict, isS3NotFound, isS3PreconditionFailed } from "./s3Errors";

/** Thrown when a release cannot be published or a channel cannot be moved; the message says why. */
export class ReleaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReleaseError";
  }
}

/** Where the publisher reports what it does (the agent's logger fits). */
export interface ReleaseLog {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
}

const SILENT: ReleaseLog = { info: () => undefined, warn: () => undefined };

/** A file of a release: its name in the version folder and where it is on this machine. */
export interface ReleaseFile {
  /** A plain file name, e.g. `model.onnx` (one file must be `model.onnx`). */
  readonly path: string;
  readonly localPath: string;
  /** @default "application/octet-stream" */
  readonly contentType?: string;
  /**
   * The same bytes already in S3 and verified there (the run's model upload): the release copies
   * them server-side instead of sending them again, and takes this length and SHA-256 instead of
   * reading `localPath` again. S3 computes the copy's own SHA-256, which is checked as an upload
   * is. When S3 refuses the copy (say, no read access to the source's KMS key), `localPath` is
   * uploaded instead.
   * @default upload `localPath`
   */
  readonly copyOf?: { readonly bucket: string; readonly key: string; readonly length: number; readonly sha256: string };
}

export interface PublishReleaseOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** `""` or a prefix ending with `/`, e.g. `models/`; the model's releases go under `<modelsPrefix><modelName>/`. */
  readonly modelsPrefix: string;
  readonly modelName: string;
  readonly signer: ManifestSigner;
  readonly files: readonly ReleaseFile[];
  readonly runId: string;
  readonly metrics: Readonly<Record<string, number>>;
  /** Square input size in pixels. */
  readonly inputSize: number;
  /** Class names in class-index order; empty when unknown. */
  readonly classNames: readonly string[];
  /** What a box needs to run `model.onnx` (opset, shapes, the runtime it was verified with). */
  readonly runtime: ModelRuntimeInput;
  /** @default 90 ({@link DEFAULT_EXPIRES_IN_DAYS}) */
  readonly expiresInDays?: number;
  /** The release's `createdAt`. @default the current time */
  readonly now?: Date;
  /** Version numbers tried before giving up when other publishers keep taking them. @default 20 */
  readonly maxClaimAttempts?: number;
  /** Multipart part size in bytes (at least 5 MiB). @default 16 MiB */
  readonly partSize?: number;
  readonly log?: ReleaseLog;
}

export interface PublishedRelease {
  readonly version: number;
  readonly manifestKey: string;
  readonly signatureKey: string;
  readonly manifest: Manifest;
  readonly layout: ModelLayout;
}

const DEFAULT_MAX_CLAIM_ATTEMPTS = 20;
const POINTER_ATTEMPTS = 5;
const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 16 * 1024 * 1024;

const isPreconditionFailed = isS3PreconditionFailed;
/** 409: S3 was deciding another conditional write to the same key; try again. */
const isConditionalConflict = isS3ConditionalConflict;
const isNotFound = isS3NotFound;
const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

export { digestFile } from "./fileDigest";

/**
 * Publishes one release and returns its version; moves no channel (see {@link pointChannel} and
 * {@link promoteIfGatePasses}). Everything that can be checked is checked before a version number
 * is taken: the files, the manifest fields, and that the signer answers.
 */
export async function publishRelease(options: PublishReleaseOptions): Promise<PublishedRelease> {
  const { s3, bucket, signer } = options;
  const log = options.log ?? SILENT;
  const layout = layoutFor(options.modelsPrefix, options.modelName);
  const now = options.now ?? new Date();

  for (const file of options.files) {
    const problem = filePathProblem(file.path);
    if (problem !== undefined) throw new ReleaseError(`release file path ${problem}`);
  }
  const files = await Promise.all(
    options.files.map(async (file) => {
      if (file.copyOf !== undefined) return { ...file, length: file.copyOf.length, sha256: file.copyOf.sha256 };
      try {
        return { ...file, ...(await digestFile(file.localPath)) };
      } catch (error) {
        throw new ReleaseError(`release file ${file.path} (${file.localPath}) cannot be read: ${describe(error)}`);
      }
    }),
  );
  const manifestFor = (version: number): Manifest =>
    createManifest({
      modelName: options.modelName,
      version,
      runId: options.runId,
      metrics: options.metrics,
      inputSize: options.inputSize,
      classNames: options.classNames,
      runtime: options.runtime,
      files: files.map((f) => ({ path: f.path, length: f.length, sha256: f.sha256 })),
      now,
      ...(options.expiresInDays !== undefined ? { expiresInDays: options.expiresInDays } : {}),
    });
  manifestFor(1); // Throws on a bad manifest before a number is taken.
  // A signer that cannot answer (no KMS access, wrong key) fails here, before anything is written.
  const publicKeyPem = await signer.publicKeyPem();

  const version = await claimVersion(s3, bucket, layout, options.runId, now, options.maxClaimAttempts ?? DEFAULT_MAX_CLAIM_ATTEMPTS, log);
  log.info("release-claimed", { bucket, key: layout.claim(version), version });

  const partSize = Math.max(MIN_PART_SIZE, options.partSize ?? DEFAULT_PART_SIZE);
  // The files are independent of each other: copied (or uploaded) and verified at once. The manifest
  // waits for every one of them.
  await Promise.all(files.map((file) => placeVerified(s3, bucket, layout.file(version, file.path), file, partSize, log)));

  const manifest = manifestFor(version);
  const bytes = serializeManifest(manifest);
  const signature = await signer.sign(bytes);
  if (!verifyManifestSignature(bytes, signature, publicKeyPem)) {
    throw new ReleaseError(`the signer's signature over version ${version}'s manifest does not verify with its own public key; nothing was published for it`);
  }
  const manifestKey = layout.manifest(version);
  const signatureKey = layout.signature(version);
  // Immutable: If-None-Match makes a second write to a version's manifest fail instead of replacing it.
  // Written together: no channel names the version before both exist (the pointer moves last).
  await Promise.all([putNew(s3, bucket, manifestKey, bytes, "application/json"), putNew(s3, bucket, signatureKey, signature, "application/octet-stream")]);
  log.info("release-published", { bucket, manifestKey, version, files: files.map((f) => ({ path: f.path, length: f.length, sha256: f.sha256 })) });
  return { version, manifestKey, signatureKey, manifest, layout };
}

async function putNew(s3: S3Client, bucket: string, key: string, body: Uint8Array, contentType: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, ChecksumAlgorithm: "SHA256", IfNoneMatch: "*" }));
}

/** The highest version any listed folder or channel pointer names; 0 when none. */
async function highestVersion(s3: S3Client, bucket: string, layout: ModelLayout): Promise<number> {
  const listed = async (): Promise<number> => {
    let highest = 0;
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: layout.versionsPrefix, Delimiter: "/", ContinuationToken: token }));
      for (const p of page.CommonPrefixes ?? []) highest = Math.max(highest, (p.Prefix && layout.versionOf(p.Prefix)) || 0);
      for (const o of page.Contents ?? []) highest = Math.max(highest, (o.Key && layout.versionOf(o.Key)) || 0);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return highest;
  };
  // A channel may name a version whose folder was deleted; reusing that number would make devices
  // that installed it refuse every later release. The three reads are independent: made at once.
  const pointed = (channel: string): Promise<number> =>
    readChannel(s3, bucket, layout, channel).then(
      (current) => current?.pointer?.version ?? 0,
      () => 0,
    );
  return Math.max(...(await Promise.all([listed(), pointed("candidate"), pointed("stable")])));
}

async function claimVersion(s3: S3Client, bucket: string, layout: ModelLayout, runId: string, now: Date, maxAttempts: number, log: ReleaseLog): Promise<number> {
  let version = (await highestVersion(s3, bucket, layout)) + 1;
  const body = JSON.stringify({ runId, claimedAt: now.toISOString() });
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: layout.claim(version), Body: body, ContentType: "application/json", IfNoneMatch: "*" }));
      return version;
    } catch (error) {
      if (isPreconditionFailed(error)) {
        log.info("release-version-taken", { version, attempt });
        version += 1;
      } else if (isConditionalConflict(error)) {
        log.warn("release-claim-conflict", { version, attempt });
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      } else {
        throw error;
      }
    }
  }
  throw new ReleaseError(`could not claim a version under s3://${bucket}/${layout.versionsPrefix} in ${maxAttempts} attempts: other publishers kept taking them`);
}

/** A single CopyObject copies at most 5 GiB; larger files are uploaded. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;

type DigestedFile = ReleaseFile & { readonly length: number; readonly sha256: string };

/** Puts a release file in place, by server-side copy when it can, and checks what S3 holds. */
async function placeVerified(s3: S3Client, bucket: string, key: string, file: DigestedFile, partSize: number, log: ReleaseLog): Promise<void> {
  const source = file.copyOf;
  if (source !== undefined && source.length <= MAX_COPY_BYTES) {
    try {
      await s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: key,
          CopySource: `${source.bucket}/${source.key.split("/").map(encodeURIComponent).join("/")}`,
          MetadataDirective: "REPLACE",
          Metadata: { sha256: file.sha256 },
          ContentType: file.contentType ?? "application/octet-stream",
          ChecksumAlgorithm: "SHA256",
        }),
      );
      await verifyPlaced(s3, bucket, key, file, "copy");
      log.info("release-file-copied", { from: `s3://${source.bucket}/${source.key}`, to: `s3://${bucket}/${key}`, length: file.length });
      return;
    } catch (error) {
      if (error instanceof ReleaseError) throw error;
      log.warn("release-file-copy-refused", { from: `s3://${source.bucket}/${source.key}`, to: `s3://${bucket}/${key}`, error: describe(error), note: "uploading the local file instead" });
    }
  }
  await uploadVerified(s3, bucket, key, file, partSize);
}

async function uploadVerified(s3: S3Client, bucket: string, key: string, file: DigestedFile, partSize: number): Promise<void> {
  const upload = new Upload({
    client: s3,
    params: {
      Bucket: bucket,
      Key: key,
      Body: createReadStream(file.localPath, { highWaterMark: 1024 * 1024 }),
      ContentType: file.contentType ?? "application/octet-stream",
      // S3 checks every part's SHA-256 on receipt and rejects a damaged one.
      ChecksumAlgorithm: "SHA256",
      Metadata: { sha256: file.sha256 },
    },
    partSize,
    queueSize: 4,
    leavePartsOnError: false,
  });
  await upload.done();
  await verifyPlaced(s3, bucket, key, file, "upload");
}

/** Length, the SHA-256 the object carries as metadata, and S3's own full-object SHA-256 when it has one. */
async function verifyPlaced(s3: S3Client, bucket: string, key: string, file: DigestedFile, how: "upload" | "copy"): Promise<void> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
  const problems: string[] = [];
  if (head.ContentLength !== file.length) problems.push(`length ${String(head.ContentLength)} instead of ${file.length}`);
  if (head.Metadata?.sha256 !== file.sha256) problems.push(`sha256 metadata ${String(head.Metadata?.sha256)} instead of ${file.sha256}`);
  // A full-object checksum must be the file's; a composite one (`…-<parts>`) was checked part by part.
  const checksum = head.ChecksumSHA256;
  if (checksum !== undefined && !checksum.includes("-") && Buffer.from(checksum, "base64").toString("hex") !== file.sha256) {
    problems.push(`S3 checksum ${checksum} is not the file's SHA-256`);
  }
  if (problems.length > 0) throw new ReleaseError(`s3://${bucket}/${key} after ${how}: ${problems.join("; ")}`);
}

/** A channel pointer as read, with the ETag a conditional replacement needs; `pointer` is null when the object is unreadable. */
export interface ChannelState {
  readonly pointer: ChannelPointer | null;
  readonly etag: string;
  /** Why `pointer` is null. */
  readonly problem?: string;
}

/** Reads `channels/<channel>.json`; null when there is none. */
export async function readChannel(s3: S3Client, bucket: string, layout: ModelLayout, channel: string): Promise<ChannelState | null> {
  let answer;
  try {
    answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: layout.channel(channel) }));
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
  const bytes = await answer.Body!.transformToByteArray();
  const etag = answer.ETag ?? "";
  try {
    const pointer = parseChannelPointer(bytes);
    if (pointer.modelName !== layout.modelName || pointer.channel !== channel) {
      return { pointer: null, etag, problem: `names model ${pointer.modelName} channel ${pointer.channel}` };
    }
    return { pointer, etag };
  } catch (error) {
    return { pointer: null, etag, problem: describe(error) };
  }
}

/** Writes a channel pointer if the current one is still `expected` (its ETag; null: there must be none). False when another writer got there first. */
async function replaceChannel(s3: S3Client, bucket: string, layout: ModelLayout, pointer: ChannelPointer, expected: ChannelState | null): Promise<boolean> {
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: layout.channel(pointer.channel),
        Body: serializeChannelPointer(pointer),
        ContentType: "application/json",
        ChecksumAlgorithm: "SHA256",
        // Devices must not cache a pointer past its next move.
        CacheControl: "no-cache",
        ...(expected === null ? { IfNoneMatch: "*" } : { IfMatch: expected.etag }),
      }),
    );
    return true;
  } catch (error) {
    if (isPreconditionFailed(error) || isConditionalConflict(error) || isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Writes the release key's signature that `version` is in `channel` (docs/ota.md, "Channel
 * membership"), once: it is immutable (If-None-Match), and one already there is kept if it verifies.
 * Called before the pointer moves, so a box never sees the pointer name a version without it.
 */
async function signMembership(s3: S3Client, bucket: string, layout: ModelLayout, signer: ManifestSigner, channel: string, version: number): Promise<void> {
  const key = channelSignatureKey(layout, channel, version);
  const signature = await signChannelMembership(signer, layout.modelName, channel, version);
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: signature, ContentType: "application/octet-stream", ChecksumAlgorithm: "SHA256", IfNoneMatch: "*" }));
  } catch (error) {
    if (!isPreconditionFailed(error) && !isConditionalConflict(error)) throw error;
    // Signed before (a retried publish, or a concurrent one): fine if it is a valid signature of this key.
    const existing = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = await existing.Body!.transformToByteArray();
    if (!verifyChannelMembership(bytes, layout.modelName, channel, version, await signer.publicKeyPem())) {
      throw new ReleaseError(`s3://${bucket}/${key} exists but is not this signing key's signature that version ${version} is in ${channel}; remove it by hand if it is garbage`);
    }
  }
}

async function requireRelease(s3: S3Client, bucket: string, layout: ModelLayout, version: number): Promise<void> {
  const keys = [layout.manifest(version), layout.signature(version)];
  // Both looked up at once; a problem is reported for the first key that has one, the manifest before its signature.
  const heads = await Promise.allSettled(keys.map((key) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))));
  heads.forEach((head, i) => {
    if (head.status === "fulfilled") return;
    if (isNotFound(head.reason)) throw new ReleaseError(`s3://${bucket}/${keys[i]} does not exist: a channel may only name a published version`);
    throw head.reason;
  });
}

export interface PointChannelOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly layout: ModelLayout;
  readonly channel: string;
  readonly version: number;
  /** Signs the release's membership of the channel (the release key). */
  readonly signer: ManifestSigner;
  /** @default the current time */
  readonly now?: Date;
}

export interface ChannelMove {
  /** False when the channel already named this version or a later one (channels only move forward). */
  readonly moved: boolean;
  /** The version the channel named before; null when it named none. */
  readonly previous: number | null;
}

/**
 * Points `channel` at `version`, forward only: a channel already at this version or a later one is
 * left alone (devices refuse lower versions anyway). The release's manifest and signature must
 * exist. Its signed membership of the channel is written first; the pointer write is conditional
 * on the pointer read, so concurrent movers cannot undo each other.
 */
export async function pointChannel(options: PointChannelOptions): Promise<ChannelMove> {
  const { s3, bucket, layout, channel, version } = options;
  await requireRelease(s3, bucket, layout, version);
  let signed = false;
  for (let attempt = 1; attempt <= POINTER_ATTEMPTS; attempt++) {
    const current = await readChannel(s3, bucket, layout, channel);
    const previous = current?.pointer?.version ?? null;
    if (previous !== null && previous >= version) return { moved: false, previous };
    if (!signed) await signMembership(s3, bucket, layout, options.signer, channel, version);
    signed = true;
    const pointer: ChannelPointer = { schemaVersion: MANIFEST_SCHEMA_VERSION, modelName: layout.modelName, channel, version, updatedAt: (options.now ?? new Date()).toISOString() };
    if (await replaceChannel(s3, bucket, layout, pointer, current)) return { moved: true, previous };
  }
  throw new ReleaseError(`channel ${channel} of ${layout.modelName} kept changing while moving it to version ${version}; try again`);
}

/** Reads a release's manifest and checks its signature, model name and version. Throws a {@link ReleaseError} saying what is wrong. */
export async function readVerifiedManifest(s3: S3Client, bucket: string, layout: ModelLayout, version: number, publicKeyPem: string): Promise<Manifest> {
  const read = async (key: string): Promise<Uint8Array> => {
    try {
      const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return await answer.Body!.transformToByteArray();
    } catch (error) {
      if (isNotFound(error)) throw new ReleaseError(`s3://${bucket}/${key} does not exist`);
      throw error;
    }
  };
  const [bytes, signature] = await Promise.all([read(layout.manifest(version)), read(layout.signature(version))]);
  if (!verifyManifestSignature(bytes, signature, publicKeyPem)) throw new ReleaseError(`the signature of ${layout.manifest(version)} does not verify with the signing key`);
  let manifest: Manifest;
  try {
    manifest = parseSignedManifest(bytes);
  } catch (error) {
    throw new ReleaseError(`${layout.manifest(version)} is signed but invalid: ${describe(error)}`);
  }
  if (manifest.modelName !== layout.modelName || manifest.version !== version) {
    throw new ReleaseError(`${layout.manifest(version)} is for ${manifest.modelName} version ${manifest.version}, not ${layout.modelName} version ${version}`);
  }
  return manifest;
}

export interface PromoteOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly layout: ModelLayout;
  /** Its public key verifies the current stable release before the gate compares with it. */
  readonly signer: ManifestSigner;
  /** The gate; undefined promotes without one (the operator chose `channel: stable` without `promote`). */
  readonly gate: PromotionGate | undefined;
  /** The release to promote (already published). */
  readonly version: number;
  readonly metrics: Readonly<Record<string, number>>;
  /** @default the current time */
  readonly now?: Date;
}

export interface PromotionOutcome extends PromotionDecision {
  /** The stable version before; null when there was none. */
  readonly previous: number | null;
}

/**
 * Moves `stable` to `version` if the gate passes against the current stable release (read and its
 * signature verified with the signer's public key). The move is conditional on the stable pointer
 * the gate compared with: if another publisher moved it meanwhile, the gate runs again.
 */
export async function promoteIfGatePasses(options: PromoteOptions): Promise<PromotionOutcome> {
  const { s3, bucket, layout, gate, version } = options;
  await requireRelease(s3, bucket, layout, version);
  let signed = false;
  for (let attempt = 1; attempt <= POINTER_ATTEMPTS; attempt++) {
    const current = await readChannel(s3, bucket, layout, "stable");
    const previous = current?.pointer?.version ?? null;
    if (previous !== null && previous >= version) {
      return { promote: false, previous, reason: `stable already names version ${previous}, not older than ${version}; channels only move forward` };
    }
    let decision: PromotionDecision;
    if (gate === undefined) decision = { promote: true, reason: "promoted without a gate (ota.promote is not set)" };
    else if (!gate.requireImprovement || current === null) decision = evaluatePromotion(gate, options.metrics);
    else {
      let stable: Manifest;
      try {
        if (current.pointer === null) throw new ReleaseError(`the stable pointer is unreadable (${current.problem ?? "unknown problem"})`);
        stable = await readVerifiedManifest(s3, bucket, layout, current.pointer.version, await options.signer.publicKeyPem());
      } catch (error) {
        if (!(error instanceof ReleaseError)) throw error;
        return {
          promote: false,
          previous,
          reason: `the current stable release cannot be compared with (ota.promote.requireImprovement): ${error.message}; repair the stable channel or promote by hand`,
        };
      }
      decision = evaluatePromotion(gate, options.metrics, stable);
    }
    if (!decision.promote) return { ...decision, previous };
    // Only a release the gate passed is ever signed into stable.
    if (!signed) await signMembership(s3, bucket, layout, options.signer, "stable", version);
    signed = true;
    const pointer: ChannelPointer = { schemaVersion: MANIFEST_SCHEMA_VERSION, modelName: layout.modelName, channel: "stable", version, updatedAt: (options.now ?? new Date()).toISOString() };
    if (await replaceChannel(s3, bucket, layout, pointer, current)) return { ...decision, previous };
  }
  throw new ReleaseError(`channel stable of ${layout.modelName} kept changing while promoting version ${version}; try again`);
}
