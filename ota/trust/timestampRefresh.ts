/**
 * Re-signs every model's `timestamp.json` (docs/ota.md, "Timestamp"): what the stack's scheduled
 * function runs every few hours. For each model folder under the models prefix it reads the
 * channel pointers, counts a pointer only when the release key signed that its version is in its
 * channel, merges that with the previous timestamp (a channel's version never goes down, so
 * moving a pointer back or to an unsigned release changes nothing), and writes a freshly signed
 * timestamp. One model's trouble is reported in its own summary and does not stop the others.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { KeyObject } from "crypto";
import { channelSignatureKey, verifyChannelMembership } from "../channelMembership";
import { layoutFor, parseChannelPointer, type ChannelPointer, type ModelLayout } from "../manifest";
import { modelNameSchema } from "../manifestSchema";
import { publicKeyFingerprint, readPublicKey, type ManifestSigner } from "../signature";
import { buildRootDocument, type TrustedRoot } from "./rootDocument";
import { parseEnvelope } from "./signedEnvelope";
import { MAX_TIMESTAMP_BYTES, TIMESTAMP_FILE, TimestampRefusedError, buildTimestamp, signTimestamp, verifyTimestamp } from "./timestampDocument";
import { isS3ConditionalConflict, isS3NotFound, isS3PreconditionFailed } from "../s3Errors";

export interface RefreshTimestampsOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** `""` or a prefix ending with `/` (e.g. `models/`): every folder directly under it is a model. */
  readonly modelsPrefix: string;
  /** The timestamp key. */
  readonly signer: ManifestSigner;
  /** The release keys: a pointer counts only when one of them signed its channel membership. */
  readonly releasePublicKeys: readonly (string | KeyObject)[];
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** @default DEFAULT_TIMESTAMP_EXPIRES_HOURS (24) */
  readonly expiresInHours?: number;
  /** Why a pointer or a previous timestamp was not used, one line each. @default console.warn */
  readonly log?: (line: string) => void;
}

/** What was written for one model. */
export interface ModelTimestampRefreshed {
  readonly modelName: string;
  readonly channels: Readonly<Record<string, number>>;
  readonly issuedAt: string;
  readonly expires: string;
}

/** A model whose timestamp could not be refreshed, and why. */
export interface ModelTimestampFailed {
  readonly modelName: string;
  readonly error: string;
}

export type ModelTimestampSummary = ModelTimestampRefreshed | ModelTimestampFailed;

/** Attempts per model when another writer replaces `timestamp.json` between our read and our write. */
const WRITE_ATTEMPTS = 3;
/** A channel pointer is a few hundred bytes; anything far larger is not one, and is not read into memory. */
const MAX_POINTER_BYTES = 64 * 1024;
/** A membership signature is a DER ECDSA P-256 signature: at most 72 bytes. */
const MAX_SIGNATURE_BYTES = 1024;

/**
 * Refreshes the timestamp of every model under `modelsPrefix`, one after another. Throws only when
 * nothing can be refreshed at all (the models cannot be listed, the signer's public key cannot be
 * read, no release key); otherwise returns one summary per model, failed ones included, for the
 * caller to judge.
 */
export async function refreshTimestamps(options: RefreshTimestampsOptions): Promise<ModelTimestampSummary[]> {
  const { s3, bucket, modelsPrefix } = options;
  if (modelsPrefix !== "" && !modelsPrefix.endsWith("/")) throw new RangeError(`refreshTimestamps: modelsPrefix must be "" or end with "/"; got ${JSON.stringify(modelsPrefix)}`);
  if (options.releasePublicKeys.length === 0) throw new RangeError("refreshTimestamps: at least one release public key is needed to tell which channel pointers the release key signed");
  const releaseKeys = options.releasePublicKeys.map((key) => readPublicKey(key));
  const timestampKey = readPublicKey(await options.signer.publicKeyPem());
  const log = options.log ?? ((line: string) => console.warn(line));
  const context: ModelContext = { ...options, releaseKeys, timestampKey, log, now: options.now ?? (() => new Date()) };

  const summaries: ModelTimestampSummary[] = [];
  for (const modelName of await listModels(s3, bucket, modelsPrefix, log)) {
    try {
      summaries.push(await refreshModel(context, layoutFor(modelsPrefix, modelName)));
    } catch (error) {
      summaries.push({ modelName, error: describe(error) });
    }
  }
  return summaries;
}

interface ModelContext {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly signer: ManifestSigner;
  readonly releaseKeys: readonly KeyObject[];
  readonly timestampKey: KeyObject;
  readonly now: () => Date;
  readonly expiresInHours?: number;
  readonly log: (line: string) => void;
}

async function refreshModel(context: ModelContext, layout: ModelLayout): Promise<ModelTimestampRefreshed> {
  const { s3, bucket, log } = context;
  const key = `${layout.modelPrefix}${TIMESTAMP_FILE}`;
  for (let attempt = 1; ; attempt++) {
    const verified = await verifiedPointers(context, layout);
    const previous = await readObject(s3, bucket, key, MAX_TIMESTAMP_BYTES);
    let previousChannels: Readonly<Record<string, number>> = {};
    if (previous !== undefined) {
      const accepted = previous.bytes === undefined ? { problem: previous.problem } : previousTimestampChannels(previous.bytes, layout.modelName, context.timestampKey, context.now());
      if ("problem" in accepted) log(`s3://${bucket}/${key}: ignoring the previous timestamp: ${accepted.problem}`);
      else previousChannels = accepted.channels;
    }
    const timestamp = buildTimestamp({
      modelName: layout.modelName,
      issuedAt: context.now(),
      ...(context.expiresInHours !== undefined ? { expiresInHours: context.expiresInHours } : {}),
      channels: mergeChannels(previousChannels, verified),
    });
    const body = await signTimestamp(timestamp, context.signer);
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: "application/json",
          // CDNs and mirrors must revalidate: a cached timestamp is exactly the frozen view it is there to expose.
          CacheControl: "no-cache",
          ChecksumAlgorithm: "SHA256",
          // Conditional on what was read, so two refreshes running at once (a retried invocation
          // overlapping the next schedule) cannot replace a newer merge with an older one.
          ...(previous === undefined ? { IfNoneMatch: "*" } : { IfMatch: previous.etag }),
        }),
      );
    } catch (error) {
      if ((isPreconditionFailed(error) || isConditionalConflict(error)) && attempt < WRITE_ATTEMPTS) continue;
      throw error;
    }
    return { modelName: layout.modelName, channels: timestamp.channels, issuedAt: timestamp.issuedAt, expires: timestamp.expires };
  }
}

/** Channel → version of each pointer of the model whose membership the release key signed. */
async function verifiedPointers(context: ModelContext, layout: ModelLayout): Promise<Record<string, number>> {
  const { s3, bucket, log } = context;
  const channelsPrefix = `${layout.modelPrefix}channels/`;
  const verified: Record<string, number> = {};
  for (const key of await listKeys(s3, bucket, channelsPrefix)) {
    const channel = channelOfPointerKey(channelsPrefix, key);
    if (channel === undefined) continue;
    const pointerObject = await readObject(s3, bucket, key, MAX_POINTER_BYTES);
    if (pointerObject === undefined) continue; // deleted since the listing
    if (pointerObject.bytes === undefined) {
      log(`s3://${bucket}/${key}: not counted: ${pointerObject.problem}`);
      continue;
    }
    let pointer: ChannelPointer;
    try {
      pointer = parseChannelPointer(pointerObject.bytes);
    } catch (error) {
      log(`s3://${bucket}/${key}: not counted: ${describe(error)}`);
      continue;
    }
    const signatureKey = channelSignatureKey(layout, channel, pointer.version);
    // The signature is looked up only for a pointer that names this model and channel; a larger
    // object there is no signature at all.
    const signature = pointer.modelName === layout.modelName && pointer.channel === channel ? await readObject(s3, bucket, signatureKey, MAX_SIGNATURE_BYTES) : undefined;
    const problem = pointerProblem(pointer, layout.modelName, channel, signature?.bytes, context.releaseKeys);
    if (problem !== undefined) log(`s3://${bucket}/${key}: not counted: ${problem} (s3://${bucket}/${signatureKey})`);
    else verified[channel] = pointer.version;
  }
  return verified;
}

/**
 * Each channel at the higher of its previous and its verified version: a channel never goes down,
 * so a pointer moved back (or gone) leaves the version the timestamp already vouched for.
 */
export function mergeChannels(previous: Readonly<Record<string, number>>, verified: Readonly<Record<string, number>>): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const source of [previous, verified]) {
    for (const [channel, version] of Object.entries(source)) merged[channel] = Math.max(merged[channel] ?? 0, version);
  }
  // Sorted, so the summary and the log read the same way every time (the signed bytes are canonical anyway).
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Why `pointer`, read from the key of `channel` of `modelName`, must not be counted, or undefined
 * when it may: it names the right model and channel, and `signature` is one release key's signed
 * statement that its version is in that channel.
 */
export function pointerProblem(pointer: ChannelPointer, modelName: string, channel: string, signature: Uint8Array | undefined, releaseKeys: readonly KeyObject[]): string | undefined {
  if (pointer.modelName !== modelName || pointer.channel !== channel) {
    return `it names model ${JSON.stringify(pointer.modelName)} channel ${JSON.stringify(pointer.channel)}, not ${JSON.stringify(modelName)} channel ${JSON.stringify(channel)}`;
  }
  if (signature === undefined) return `version ${pointer.version} has no membership signature for channel ${channel}`;
  if (!releaseKeys.some((key) => verifyChannelMembership(signature, modelName, channel, pointer.version, key))) {
    return `the membership signature of version ${pointer.version} in channel ${channel} does not verify with any release key (${releaseKeys.map((k) => publicKeyFingerprint(k)).join(", ")})`;
  }
  return undefined;
}

/**
 * The channels of the previous timestamp, if this function's own key signed it for this model and
 * it reads as a box would read it; otherwise why it cannot be built on. Anyone who can write the
 * bucket can replace it, so nothing unsigned may raise (or, by omission, lower) a channel.
 */
export function previousTimestampChannels(bytes: Uint8Array, modelName: string, timestampKey: KeyObject, now: Date): { readonly channels: Readonly<Record<string, number>> } | { readonly problem: string } {
  try {
    const envelope = parseEnvelope(bytes, "previous timestamp");
    return { channels: verifyTimestamp(envelope, ownKeyRoot(modelName, timestampKey, now), modelName, "the previous timestamp").channels };
  } catch (error) {
    if (error instanceof TimestampRefusedError && error.reason === "timestamp-not-signed") {
      return { problem: `it is not signed by this function's timestamp key (${publicKeyFingerprint(timestampKey)})` };
    }
    return { problem: describe(error) };
  }
}

/**
 * A root in which the timestamp key is the only key of every role, so the previous timestamp is
 * checked by the very code a box uses (schema, model, signature), against our key alone.
 */
function ownKeyRoot(modelName: string, key: KeyObject, now: Date): TrustedRoot {
  const pem = key.export({ format: "pem", type: "spki" }).toString();
  const document = buildRootDocument({ modelName, version: 1, createdAt: now, keys: { root: [pem], release: [pem], timestamp: [pem] } });
  return { document, bytes: Buffer.alloc(0), keys: { root: [key], release: [key], timestamp: [key] } };
}

/** The channel whose pointer `key` is (`<channelsPrefix><channel>.json`), or undefined for any other key. */
export function channelOfPointerKey(channelsPrefix: string, key: string): string | undefined {
  if (!key.startsWith(channelsPrefix) || !key.endsWith(".json")) return undefined;
  const channel = key.slice(channelsPrefix.length, -".json".length);
  return /^[a-z][a-z0-9-]{0,31}$/.test(channel) ? channel : undefined;
}

/** The model whose folder is `folder` (`<modelsPrefix><name>/`, a listing's common prefix), or undefined when the name is not a model name. */
export function modelOfFolder(modelsPrefix: string, folder: string): string | undefined {
  if (!folder.startsWith(modelsPrefix) || !folder.endsWith("/")) return undefined;
  const name = folder.slice(modelsPrefix.length, -1);
  return modelNameSchema.safeParse(name).success ? name : undefined;
}

async function listModels(s3: S3Client, bucket: string, modelsPrefix: string, log: (line: string) => void): Promise<string[]> {
  const models: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: modelsPrefix, Delimiter: "/", ContinuationToken: token }));
    for (const { Prefix: folder } of page.CommonPrefixes ?? []) {
      if (folder === undefined) continue;
      const model = modelOfFolder(modelsPrefix, folder);
      if (model === undefined) log(`s3://${bucket}/${folder}: skipped: not a model name`);
      else models.push(model);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return models;
}

/** The keys directly under `prefix` (not in its subfolders). */
async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: "/", ContinuationToken: token }));
    for (const { Key: key } of page.Contents ?? []) if (key !== undefined) keys.push(key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** An object as read: its bytes, or why they were not read (too large to be what it should be). */
type ReadObject = { readonly etag: string } & ({ readonly bytes: Uint8Array; readonly problem?: never } | { readonly bytes?: never; readonly problem: string });

/**
 * The object's bytes and ETag; undefined when there is none. An object over `maxBytes` is not read
 * into memory (anyone who can write the bucket could put a huge one there): it comes back with a
 * problem instead, so the caller can skip it rather than fail the model.
 */
async function readObject(s3: S3Client, bucket: string, key: string, maxBytes: number): Promise<ReadObject | undefined> {
  let answer;
  try {
    answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const etag = answer.ETag ?? "";
  const tooLarge = (size: number): ReadObject => ({ etag, problem: `it is ${size} bytes, more than the ${maxBytes} it may have` });
  if (answer.ContentLength !== undefined && answer.ContentLength > maxBytes) {
    (answer.Body as { destroy?: () => void } | undefined)?.destroy?.();
    return tooLarge(answer.ContentLength);
  }
  const bytes = await answer.Body!.transformToByteArray();
  return bytes.byteLength > maxBytes ? tooLarge(bytes.byteLength) : { etag, bytes };
}

const isNotFound = isS3NotFound;
const isPreconditionFailed = isS3PreconditionFailed;
const isConditionalConflict = isS3ConditionalConflict;

function describe(error: unknown): string {
  if (error instanceof Error) return error.name && error.name !== "Error" && !error.message.startsWith(error.name) ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}
