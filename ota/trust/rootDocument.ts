/**
 * The root of trust of one model's releases (docs/ota.md, "Root of trust"): `root/<version>.json`
 * in the model's folder, a {@link SignedEnvelope} of
 * `{type:"root", schemaVersion, modelName, version, createdAt, expires, keys:{root, release, timestamp}}`.
 * It names the keys each role may sign with: `root` signs the next root document, `release` signs
 * manifests and channel memberships (the KMS key training nodes use), `timestamp` signs the
 * short-lived timestamp (the KMS key of the scheduled refresh function). A box pins a root key
 * only, and learns the other keys, and every change to them, from the chain of root documents:
 *
 * - version n+1 is accepted only when a root key of version n **and** a root key it lists itself
 *   signed it (the old keys hand over; the new ones prove they exist), and its version is exactly
 *   n+1, so a chain can neither fork nor skip;
 * - a key left out of the newest root is revoked: nothing it signs verifies any more.
 *
 * Pure: no I/O. The root key is meant to stay out of every machine that runs unattended (an
 * offline PEM key, or a KMS key no node, function or box may use).
 */
import type { KeyObject } from "crypto";
import { createPublicKey } from "crypto";
import { z } from "zod";
import { InvalidManifestError, canonicalJson, versionKey } from "../manifest";
import { EVEN_WHEN_INVALID, expiresAfter, isoTimeSchema, modelNameSchema, parseWith, versionSchema } from "../manifestSchema";
import { SigningKeyError, publicKeyFingerprint, readPublicKey, type ManifestSigner } from "../signature";
import { keysThatSigned, parseEnvelope, signEnvelope, type SignedEnvelope } from "./signedEnvelope";

export const ROOT_SCHEMA_VERSION = 1;
/** The roles a root document names keys for. */
export const KEY_ROLES = ["root", "release", "timestamp"] as const;
export type KeyRole = (typeof KEY_ROLES)[number];
/** Most keys one role may list (a key being rotated in next to the one going out, and room to spare). */
export const MAX_KEYS_PER_ROLE = 8;
/** A root document is valid for a year unless its signer says otherwise: long enough to be rare work, short enough that a lost chain is noticed. */
export const DEFAULT_ROOT_EXPIRES_DAYS = 365;
/** The folder of root documents in a model's folder. */
export const ROOT_FOLDER = "root/";
/** The largest root document a reader accepts (eight keys of each role are about 5 KB). */
export const MAX_ROOT_BYTES = 64 * 1024;

/** `root/0000000003.json`, relative to the model's folder. */
export function rootDocumentKey(version: number): string {
  return `${ROOT_FOLDER}${versionKey(version)}.json`;
}

const spkiBase64 = z
  .string({ error: "must be a string" })
  .max(512, { error: "is longer than any P-256 public key" })
  .check((ctx) => {
    const problem = spkiProblem(ctx.value);
    if (problem !== undefined) ctx.issues.push({ code: "custom", message: problem, input: ctx.value });
  });

const keyList = z
  .array(spkiBase64, { error: "must be an array of base64 SPKI DER public keys" })
  .min(1, { error: "must list at least one key" })
  .max(MAX_KEYS_PER_ROLE, { error: `must list at most ${MAX_KEYS_PER_ROLE} keys` })
  .check((ctx) => {
    if (new Set(ctx.value).size !== ctx.value.length) ctx.issues.push({ code: "custom", message: "lists a key more than once", input: ctx.value });
  });

const RootSchema = z
  .strictObject({
    type: z.literal("root", { error: 'must be "root"' }),
    schemaVersion: z.literal(ROOT_SCHEMA_VERSION, { error: `must be ${ROOT_SCHEMA_VERSION}; this reader knows no other root format` }),
    modelName: modelNameSchema,
    version: versionSchema,
    createdAt: isoTimeSchema,
    expires: isoTimeSchema,
    keys: z.strictObject({ root: keyList, release: keyList, timestamp: keyList }),
  })
  .superRefine(expiresAfter("createdAt"), EVEN_WHEN_INVALID);

export type RootDocument = z.output<typeof RootSchema>;

/** A root document that verified, with its keys ready to verify with. */
export interface TrustedRoot {
  readonly document: RootDocument;
  /** The envelope's bytes as read: what a box stores to start its next walk from. */
  readonly bytes: Buffer;
  readonly keys: Readonly<Record<KeyRole, readonly KeyObject[]>>;
}

/** Why a root document was not accepted. */
export type RootRefusalReason = "invalid-root" | "root-not-signed" | "root-version";

/** A root document that does not verify, or does not follow the one trusted before it. */
export class RootRefusedError extends Error {
  constructor(
    readonly reason: RootRefusalReason,
    message: string,
  ) {
    super(message);
    this.name = "RootRefusedError";
  }
}

function spkiProblem(value: string): string | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return "must be base64 (the SPKI DER of a P-256 public key)";
  try {
    readPublicKey(createPublicKey({ key: Buffer.from(value, "base64"), format: "der", type: "spki" }));
    return undefined;
  } catch (error) {
    return error instanceof SigningKeyError ? error.message : `is not a public key: ${(error as Error).message}`;
  }
}

/** A public key as a root document lists it: base64 of its SPKI DER. */
export function spkiOf(key: string | KeyObject): string {
  return readPublicKey(key).export({ format: "der", type: "spki" }).toString("base64");
}

function keyObjects(list: readonly string[]): KeyObject[] {
  return list.map((b64) => createPublicKey({ key: Buffer.from(b64, "base64"), format: "der", type: "spki" }));
}

export interface RootDocumentInput {
  readonly modelName: string;
  readonly version: number;
  readonly createdAt: Date;
  /** @default createdAt + {@link DEFAULT_ROOT_EXPIRES_DAYS} days */
  readonly expires?: Date;
  /** Public keys per role, PEM or key objects. */
  readonly keys: Readonly<Record<KeyRole, readonly (string | KeyObject)[]>>;
}

/** Builds a root document, checked as a reader checks it. Throws an {@link InvalidManifestError} listing every problem. */
export function buildRootDocument(input: RootDocumentInput): RootDocument {
  const expires = input.expires ?? new Date(input.createdAt.getTime() + DEFAULT_ROOT_EXPIRES_DAYS * 86_400_000);
  // Converted without judging: the schema below reports every unusable key with the rest.
  const asListed = (key: string | KeyObject): string => {
    try {
      const object = typeof key !== "string" && key.type === "public" ? key : createPublicKey(key);
      return object.export({ format: "der", type: "spki" }).toString("base64");
    } catch {
      return typeof key === "string" ? key : "(unreadable key)";
    }
  };
  const keys = Object.fromEntries(KEY_ROLES.map((role) => [role, input.keys[role].map(asListed)])) as Record<KeyRole, string[]>;
  return parseWith(
    RootSchema,
    { type: "root", schemaVersion: ROOT_SCHEMA_VERSION, modelName: input.modelName, version: input.version, createdAt: input.createdAt.toISOString(), expires: expires.toISOString(), keys },
    "root document",
  );
}

/** The envelope bytes of `document` signed by every signer. */
export function signRootDocument(document: RootDocument, signers: readonly ManifestSigner[]): Promise<Buffer> {
  return signEnvelope(JSON.parse(canonicalJson(document)) as Record<string, unknown>, signers);
}

/** The document inside an envelope, checked against the root schema; an {@link InvalidManifestError} otherwise. */
export function rootDocumentOf(envelope: SignedEnvelope): RootDocument {
  return parseWith(RootSchema, envelope.signed, "root document");
}

function trusted(envelope: SignedEnvelope, bytes: Buffer, document: RootDocument): TrustedRoot {
  return { document, bytes, keys: { root: keyObjects(document.keys.root), release: keyObjects(document.keys.release), timestamp: keyObjects(document.keys.timestamp) } };
}

/** {@link rootDocumentOf}, its problems as an `invalid-root` {@link RootRefusedError} about `where`. */
export function checkedRootDocument(envelope: SignedEnvelope, where: string): RootDocument {
  try {
    return rootDocumentOf(envelope);
  } catch (error) {
    if (error instanceof InvalidManifestError) throw new RootRefusedError("invalid-root", `${where}: ${error.message}`);
    throw error;
  }
}

function readRoot(envelope: SignedEnvelope, modelName: string, where: string): RootDocument {
  const document = checkedRootDocument(envelope, where);
  if (document.modelName !== modelName) {
    throw new RootRefusedError("invalid-root", `${where} is the root of model ${JSON.stringify(document.modelName)}, not of ${JSON.stringify(modelName)}`);
  }
  return document;
}

/**
 * Accepts `envelope` as a first root, on the strength of the pinned root key alone: it must list
 * that key among its root keys and carry its signature. (A box starts from the oldest root its
 * pinned key signed and walks forward from there, so a box provisioned after a rotation pins the
 * newer key and skips the roots before it.)
 */
export function verifyRootAnchoredBy(envelope: SignedEnvelope, bytes: Buffer, pinned: KeyObject, modelName: string, where: string): TrustedRoot {
  const document = readRoot(envelope, modelName, where);
  const pinnedId = publicKeyFingerprint(pinned);
  const root = trusted(envelope, bytes, document);
  if (!root.keys.root.some((key) => publicKeyFingerprint(key) === pinnedId) || !keysThatSigned(envelope, [pinned]).has(pinnedId)) {
    throw new RootRefusedError("root-not-signed", `${where} is not signed by the pinned root key (${pinnedId}), or does not list it as a root key`);
  }
  return root;
}

/**
 * Accepts `envelope` as the root after `current`: exactly version n+1, for the same model, signed
 * by one of `current`'s root keys and by one of its own. Throws a {@link RootRefusedError} naming
 * which rule failed.
 */
export function verifyNextRoot(current: TrustedRoot, envelope: SignedEnvelope, bytes: Buffer, where: string): TrustedRoot {
  const document = readRoot(envelope, current.document.modelName, where);
  const expected = current.document.version + 1;
  if (document.version !== expected) {
    throw new RootRefusedError("root-version", `${where} says it is root version ${document.version}, not ${expected} (a replayed or misplaced root document)`);
  }
  const next = trusted(envelope, bytes, document);
  if (keysThatSigned(envelope, current.keys.root).size === 0) {
    throw new RootRefusedError(
      "root-not-signed",
      `${where} is not signed by any root key of version ${current.document.version} (${current.keys.root.map((k) => publicKeyFingerprint(k)).join(", ")}): only the keys trusted now can hand trust on`,
    );
  }
  if (keysThatSigned(envelope, next.keys.root).size === 0) {
    throw new RootRefusedError("root-not-signed", `${where} is not signed by any of the root keys it lists itself: a new root key must sign the document that introduces it`);
  }
  return next;
}

/**
 * A root this box verified earlier, read back from its stored envelope bytes. Not verified again
 * (the walk that stored it did); returns undefined when the bytes are not a root of `modelName`.
 */
export function restoreTrustedRoot(bytes: Buffer, modelName: string): TrustedRoot | undefined {
  try {
    const envelope = parseEnvelope(bytes, "stored root document");
    const document = rootDocumentOf(envelope);
    return document.modelName === modelName ? trusted(envelope, bytes, document) : undefined;
  } catch {
    return undefined;
  }
}

/** True when `now` is at or past the root's `expires`. */
export function rootExpired(root: RootDocument, now: Date): boolean {
  return now.getTime() >= Date.parse(root.expires);
}
