/**
 * Signs the next root document of one model (docs/ota.md, "Root of trust") and stores it in the
 * OTA bucket: `yolo-train ota root sign`. The chain in the bucket is read and verified from
 * version 1 first, exactly as a box walks it, and the new version is checked the same way before
 * it is written, so a signer can neither extend a broken chain nor write a root that boxes would
 * refuse (and then stop updating on). The write is conditional (`If-None-Match: *`): two signers
 * can never both take version n+1.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "crypto";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { DEFAULT_MODELS_PREFIX } from "../../runspec/bucketLayout";
import { InvalidManifestError, layoutFor, parseVersionKey } from "../manifest";
import { publicKeyFingerprint, readPublicKey, type ManifestSigner } from "../signature";
import {
  DEFAULT_ROOT_EXPIRES_DAYS,
  KEY_ROLES,
  MAX_KEYS_PER_ROLE,
  MAX_ROOT_BYTES,
  ROOT_FOLDER,
  RootRefusedError,
  buildRootDocument,
  checkedRootDocument,
  rootDocumentKey,
  signRootDocument,
  verifyNextRoot,
  verifyRootAnchoredBy,
  type KeyRole,
  type RootDocument,
  type TrustedRoot,
} from "./rootDocument";
import { MAX_ENVELOPE_SIGNATURES, keysThatSigned, parseEnvelope } from "./signedEnvelope";
import { isS3ConditionalConflict, isS3NotFound, isS3PreconditionFailed } from "../s3Errors";

/** The default models prefix of the OTA bucket (as `OtaBucket` uses it). */
export const DEFAULT_ROOT_MODELS_PREFIX = DEFAULT_MODELS_PREFIX;

/** A public key as the options take it: PEM (public, or private to derive the public half from) or a key object. */
export type KeyInput = string | KeyObject;

export interface SignNextRootOptions {
  readonly s3: S3Client;
  /** The OTA bucket (stack output `otaBucketName`). */
  readonly bucket: string;
  /** `""` or a prefix ending with `/`. @default "models/" */
  readonly modelsPrefix?: string;
  readonly modelName: string;
  /**
   * The root private keys that sign the new version: at least one root key of the newest root
   * (it hands trust over) and at least one of the new root keys (it proves it exists). When
   * rotating the root key, both the outgoing and the incoming key.
   */
  readonly signers: readonly ManifestSigner[];
  /** The root keys of the new version. @default the previous root's; for the first root, the signers' public keys */
  readonly root?: readonly KeyInput[];
  /** The release keys of the new version (KMS key of the training nodes). @default the previous root's; required for the first root */
  readonly release?: readonly KeyInput[];
  /** The timestamp keys of the new version (KMS key of the refresh function). @default the previous root's; required for the first root */
  readonly timestamp?: readonly KeyInput[];
  /** @default {@link DEFAULT_ROOT_EXPIRES_DAYS} */
  readonly expiresInDays?: number;
  /** @default new Date() */
  readonly now?: Date;
  /** Build, sign and verify the new version, but write nothing. */
  readonly dryRun?: boolean;
  /** How to name a key in messages, by fingerprint (e.g. the command-line argument it came from). */
  readonly keyLabels?: ReadonlyMap<string, string>;
}

/** Fingerprints per role. */
export type RoleFingerprints = Readonly<Record<KeyRole, readonly string[]>>;

export interface SignedRoot {
  readonly version: number;
  /** The object key in the bucket (`<modelsPrefix><model>/root/<v10>.json`). */
  readonly key: string;
  readonly bucket: string;
  readonly document: RootDocument;
  /** The envelope's exact bytes (what was written, or would be in a dry run). */
  readonly bytes: Buffer;
  /** False in a dry run. */
  readonly written: boolean;
  /** The version it follows; undefined for the first root. */
  readonly previousVersion: number | undefined;
  /** The keys the new version lists, per role. */
  readonly fingerprints: RoleFingerprints;
  /** Keys listed now that the previous version did not list for that role (all of them for the first root). */
  readonly added: RoleFingerprints;
  /** Keys the previous version listed for that role and the new one does not: revoked for that role. */
  readonly removed: RoleFingerprints;
  /** The fingerprints of the keys that signed it, in signing order. */
  readonly signedBy: readonly string[];
}

/** Why a root was not signed or not written; nothing was written in any case. */
export type RootSigningErrorKind =
  /** The options are unusable (keys, signers, expiry, model): fix the invocation. */
  | "invalid-input"
  /** The chain in the bucket does not verify: extending it would hand boxes a chain they refuse. */
  | "broken-chain"
  /** Another signer wrote the same version first; nothing was overwritten. */
  | "conflict";

export class RootSigningError extends Error {
  constructor(
    readonly kind: RootSigningErrorKind,
    message: string,
    /** Every problem found, one line each (invalid-input). */
    readonly problems: readonly string[] = [],
  ) {
    super(message);
    this.name = "RootSigningError";
  }
}

/** The chain of root documents in the bucket, verified link by link from version 1. */
export interface RootChain {
  /** The object keys' folder: `<modelsPrefix><model>/root/`. */
  readonly rootPrefix: string;
  /** Every version, oldest first; empty when the model has no root yet. */
  readonly roots: readonly TrustedRoot[];
  /** The newest version, or undefined when there is none. */
  readonly newest: TrustedRoot | undefined;
}

interface ChainLocation {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly modelsPrefix?: string;
  readonly modelName: string;
}

const isNotFound = isS3NotFound;
/** 412: the key exists; 409: S3 was deciding another conditional write to it (which takes it). */
const lostConditionalWrite = (error: unknown): boolean => isS3PreconditionFailed(error) || isS3ConditionalConflict(error);
const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function rootPrefixOf(location: ChainLocation): string {
  try {
    return `${layoutFor(location.modelsPrefix ?? DEFAULT_ROOT_MODELS_PREFIX, location.modelName).modelPrefix}${ROOT_FOLDER}`;
  } catch (error) {
    throw new RootSigningError("invalid-input", `Invalid model location: ${describe(error)}`, [describe(error)]);
  }
}

/** The versions under `root/` (`<v10>.json`), sorted; other keys there are ignored. */
async function listRootVersions(s3: S3Client, bucket: string, rootPrefix: string): Promise<number[]> {
  const versions: number[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: rootPrefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const rest = object.Key?.slice(rootPrefix.length) ?? "";
      const match = /^(\d{10})\.json$/.exec(rest);
      const version = match ? parseVersionKey(match[1]!) : undefined;
      if (version !== undefined) versions.push(version);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return versions.sort((a, b) => a - b);
}

async function readRootBytes(s3: S3Client, bucket: string, key: string, where: string): Promise<Buffer> {
  let answer;
  try {
    answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (isNotFound(error)) throw new RootSigningError("broken-chain", `${where} was listed but is gone`);
    throw error;
  }
  if (answer.ContentLength !== undefined && answer.ContentLength > MAX_ROOT_BYTES) {
    await answer.Body?.transformToByteArray().catch(() => undefined);
    throw new RootRefusedError("invalid-root", `${where} is ${answer.ContentLength} bytes; a root document is at most ${MAX_ROOT_BYTES}`);
  }
  const bytes = Buffer.from(await answer.Body!.transformToByteArray());
  if (bytes.length > MAX_ROOT_BYTES) throw new RootRefusedError("invalid-root", `${where} is ${bytes.length} bytes; a root document is at most ${MAX_ROOT_BYTES}`);
  return bytes;
}

/** Version 1, accepted when it is version 1 of this model and signed by one of its own root keys. */
function verifyFirstRoot(bytes: Buffer, modelName: string, where: string): TrustedRoot {
  const envelope = parseEnvelope(bytes, where);
  const document = checkedRootDocument(envelope, where);
  if (document.version !== 1) throw new RootRefusedError("root-version", `${where} says it is root version ${document.version}, not 1 (a misplaced root document)`);
  for (const b64 of document.keys.root) {
    const key = createPublicKey({ key: Buffer.from(b64, "base64"), format: "der", type: "spki" });
    try {
      return verifyRootAnchoredBy(envelope, bytes, key, modelName, where);
    } catch (error) {
      if (!(error instanceof RootRefusedError) || error.reason !== "root-not-signed") throw error;
    }
  }
  throw new RootRefusedError("root-not-signed", `${where} is not signed by any of the root keys it lists`);
}

/**
 * Reads and verifies the whole chain of `modelName`'s root documents: version 1 must be signed by
 * one of its own root keys, and each next version must pass {@link verifyNextRoot}. Throws a
 * {@link RootSigningError} (`broken-chain`) naming the first version that does not verify.
 */
export async function readRootChain(location: ChainLocation): Promise<RootChain> {
  const rootPrefix = rootPrefixOf(location);
  const { s3, bucket, modelName } = location;
  const versions = await listRootVersions(s3, bucket, rootPrefix);
  const roots: TrustedRoot[] = [];
  const fix = `Fix: restore root version VERSION as it was signed (e.g. from the bucket's object versions); boxes refuse every root after a broken link.`;
  for (let i = 0; i < versions.length; i++) {
    const expected = i + 1;
    if (versions[i] !== expected) {
      throw new RootSigningError(
        "broken-chain",
        `The root chain of ${modelName} in s3://${bucket}/${rootPrefix} is broken at version ${expected}: it is missing (found ${versions.join(", ")}). Nothing was written. ${fix.replace("VERSION", String(expected))}`,
      );
    }
    const key = `${rootPrefix}${rootDocumentKey(expected).slice(ROOT_FOLDER.length)}`;
    const where = `root version ${expected} (s3://${bucket}/${key})`;
    try {
      const bytes = await readRootBytes(s3, bucket, key, where);
      roots.push(i === 0 ? verifyFirstRoot(bytes, modelName, where) : verifyNextRoot(roots[i - 1]!, parseEnvelope(bytes, where), bytes, where));
    } catch (error) {
      if (error instanceof RootSigningError) throw error;
      if (!(error instanceof RootRefusedError) && !(error instanceof InvalidManifestError)) throw error;
      throw new RootSigningError(
        "broken-chain",
        `The root chain of ${modelName} is broken at version ${expected}: ${error.message}. Nothing was written. ${fix.replace("VERSION", String(expected))}`,
      );
    }
  }
  return { rootPrefix, roots, newest: roots[roots.length - 1] };
}

/** A public key from PEM (public or private) or a key object (public or private). */
function publicKeyOf(input: KeyInput): KeyObject {
  if (typeof input === "string") return readPublicKey(input.includes("PRIVATE KEY-----") ? createPublicKey(createPrivateKey(input)) : input);
  return readPublicKey(input.type === "private" ? createPublicKey(input) : input);
}

const ROLE_NOUN: Record<KeyRole, string> = { root: "root", release: "release", timestamp: "timestamp" };

/**
 * Signs and stores the root version after the newest one in the bucket (version 1 when there is
 * none). Every problem with the options is reported at once, in a {@link RootSigningError}, and
 * then nothing is written; so is a chain in the bucket that does not verify, and a version another
 * signer took first.
 */
export async function signNextRoot(options: SignNextRootOptions): Promise<SignedRoot> {
  const { s3, bucket, modelName } = options;
  const now = options.now ?? new Date();
  const labels = options.keyLabels ?? new Map<string, string>();
  const name = (fingerprint: string): string => (labels.has(fingerprint) ? `${fingerprint} (${labels.get(fingerprint)})` : fingerprint);
  const rootPrefix = rootPrefixOf(options);

  // The signers answer before anything is read: a KMS key that cannot be used fails first.
  const problems: string[] = [];
  if (options.signers.length === 0) problems.push("no signer: sign with at least one root key");
  if (options.signers.length > MAX_ENVELOPE_SIGNATURES) problems.push(`${options.signers.length} signers; at most ${MAX_ENVELOPE_SIGNATURES} may sign`);
  const signerKeys = await Promise.all(options.signers.map(async (signer) => publicKeyOf(await signer.publicKeyPem())));
  const signerIds = signerKeys.map((key) => publicKeyFingerprint(key));
  for (const id of new Set(signerIds)) {
    if (signerIds.filter((s) => s === id).length > 1) problems.push(`the signer ${name(id)} is given more than once`);
  }

  const chain = await readRootChain(options);
  const previous = chain.newest;
  const version = (previous?.document.version ?? 0) + 1;

  // Each role's keys: as given, else the previous root's.
  const keys = {} as Record<KeyRole, KeyObject[]>;
  for (const role of KEY_ROLES) {
    const given = options[role];
    if (given === undefined) {
      if (previous !== undefined) keys[role] = [...previous.keys[role]];
      else if (role === "root") keys[role] = signerKeys.filter((key, i) => signerIds.indexOf(signerIds[i]!) === i);
      else {
        problems.push(`no ${ROLE_NOUN[role]} keys: the first root must name them`);
        keys[role] = [];
      }
      continue;
    }
    keys[role] = [];
    given.forEach((input, i) => {
      try {
        keys[role].push(publicKeyOf(input));
      } catch (error) {
        problems.push(`${ROLE_NOUN[role]} key ${i + 1} is unusable: ${describe(error)}`);
      }
    });
    if (given.length === 0) problems.push(`no ${ROLE_NOUN[role]} keys: a root must list at least one`);
  }
  const ids = Object.fromEntries(KEY_ROLES.map((role) => [role, keys[role].map((key) => publicKeyFingerprint(key))])) as Record<KeyRole, string[]>;
  for (const role of KEY_ROLES) {
    if (ids[role].length > MAX_KEYS_PER_ROLE) problems.push(`${ids[role].length} ${ROLE_NOUN[role]} keys; a root lists at most ${MAX_KEYS_PER_ROLE}`);
    for (const id of new Set(ids[role])) {
      if (ids[role].filter((k) => k === id).length > 1) problems.push(`the ${ROLE_NOUN[role]} key ${name(id)} is listed more than once`);
    }
  }
  for (const role of ["release", "timestamp"] as const) {
    for (const id of new Set(ids[role])) {
      if (ids.root.includes(id)) {
        problems.push(`the key ${name(id)} is listed both as a root key and as a ${ROLE_NOUN[role]} key: a root key must not double as an online key (whoever can sign releases could then hand out trust)`);
      }
    }
  }

  // Who signs: the outgoing root keys hand over, the incoming ones prove they exist.
  const previousRootIds = previous?.keys.root.map((key) => publicKeyFingerprint(key)) ?? [];
  if (previous !== undefined && !signerIds.some((id) => previousRootIds.includes(id))) {
    problems.push(
      `no signer is a root key of version ${previous.document.version} (${previousRootIds.map(name).join(", ")}), so it cannot hand trust over to version ${version}: sign with one of them too`,
    );
  }
  if (signerIds.length > 0 && ids.root.length > 0 && !signerIds.some((id) => ids.root.includes(id))) {
    problems.push(`no signer is a root key of version ${version} (${ids.root.map(name).join(", ")}): a new root key must sign the document that introduces it`);
  }
  for (const id of new Set(signerIds)) {
    if (!ids.root.includes(id) && !previousRootIds.includes(id)) {
      problems.push(`the signer ${name(id)} is not a root key of ${previous ? `version ${previous.document.version} or ` : ""}version ${version}: its signature would count for nothing`);
    }
  }

  const days = options.expiresInDays ?? DEFAULT_ROOT_EXPIRES_DAYS;
  const expires = new Date(now.getTime() + days * 86_400_000);
  if (!Number.isFinite(days) || !(expires.getTime() > now.getTime())) problems.push(`the expiry (${days} days from now) is not in the future`);

  if (problems.length > 0) throw invalid(problems, modelName, version);

  let document: RootDocument;
  try {
    // As PEM: the document lists the same SPKI either way.
    const pem = Object.fromEntries(KEY_ROLES.map((role) => [role, keys[role].map((key) => key.export({ format: "pem", type: "spki" }).toString())])) as Record<KeyRole, string[]>;
    document = buildRootDocument({ modelName, version, createdAt: now, expires, keys: pem });
  } catch (error) {
    if (error instanceof InvalidManifestError) throw invalid(error.problems.map((p) => `${p.path} ${p.message}`), modelName, version);
    throw error;
  }
  const bytes = await signRootDocument(document, options.signers);

  // What a box does with these bytes, before anything is written.
  const where = `root version ${version} as signed`;
  const envelope = parseEnvelope(bytes, where);
  const signedBy = keysThatSigned(envelope, signerKeys);
  const notVerifying = signerIds.filter((id) => !signedBy.has(id));
  if (notVerifying.length > 0) {
    throw new RootSigningError("invalid-input", `The signature of ${notVerifying.map(name).join(", ")} does not verify with its own public key; nothing was written.`, [
      `signature of ${notVerifying.map(name).join(", ")} does not verify`,
    ]);
  }
  if (previous !== undefined) verifyNextRoot(previous, envelope, bytes, where);
  else verifyRootAnchoredBy(envelope, bytes, signerKeys[signerIds.findIndex((id) => ids.root.includes(id))]!, modelName, where);
  if (bytes.length > MAX_ROOT_BYTES) throw invalid([`the signed root is ${bytes.length} bytes; boxes read at most ${MAX_ROOT_BYTES}`], modelName, version);

  const key = `${rootPrefix}${rootDocumentKey(version).slice(ROOT_FOLDER.length)}`;
  if (!options.dryRun) {
    try {
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: "application/json", CacheControl: "no-cache", ChecksumAlgorithm: "SHA256", IfNoneMatch: "*" }),
      );
    } catch (error) {
      if (!lostConditionalWrite(error)) throw error;
      throw new RootSigningError(
        "conflict",
        `Root version ${version} of ${modelName} was written by someone else meanwhile (s3://${bucket}/${key} exists); nothing was overwritten. ` +
          `Review it (it is now the newest root) and sign again if it is still needed.`,
      );
    }
  }

  const previousIds = (role: KeyRole): string[] => previous?.keys[role].map((k) => publicKeyFingerprint(k)) ?? [];
  const perRole = (pick: (role: KeyRole) => string[]): RoleFingerprints => Object.fromEntries(KEY_ROLES.map((role) => [role, pick(role)])) as unknown as RoleFingerprints;
  return {
    version,
    key,
    bucket,
    document,
    bytes,
    written: !options.dryRun,
    previousVersion: previous?.document.version,
    fingerprints: perRole((role) => ids[role]),
    added: perRole((role) => ids[role].filter((id) => !previousIds(role).includes(id))),
    removed: perRole((role) => previousIds(role).filter((id) => !ids[role].includes(id))),
    signedBy: signerIds,
  };
}

function invalid(problems: readonly string[], modelName: string, version: number): RootSigningError {
  const plural = problems.length === 1 ? "problem" : "problems";
  return new RootSigningError(
    "invalid-input",
    `Root version ${version} of ${modelName} was not signed (${problems.length} ${plural}); nothing was written:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    problems,
  );
}
