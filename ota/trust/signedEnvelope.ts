/**
 * A signed document that must be read whole and at once (the root of trust, the timestamp):
 * `{"signatures":[{"keyId":…,"sig":…}],"signed":{…}}` in canonical JSON, in one S3 object, so a
 * reader never pairs a new document with an old detached signature while it is being replaced.
 * Each `sig` is a DER ECDSA P-256 signature over SHA-256 of `canonicalJson(signed)` (what KMS
 * `Sign` with `ECDSA_SHA_256` returns), base64; `keyId` is the signer's public key fingerprint
 * ({@link publicKeyFingerprint}). Pure: no I/O.
 */
import type { KeyObject } from "crypto";
import { z } from "zod";
import { InvalidManifestError, canonicalJson, decodeJson, nonCanonicalMessage } from "../manifest";
import { parseWith } from "../manifestSchema";
import { publicKeyFingerprint, verifyManifestSignature, type ManifestSigner } from "../signature";

/** Most signatures an envelope may carry: a root signed by an outgoing and an incoming set of keys needs a few, never this many. */
export const MAX_ENVELOPE_SIGNATURES = 16;

const KEY_ID = /^SHA256:[A-Za-z0-9+/]{43}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const EnvelopeSchema = z.strictObject({
  signatures: z
    .array(
      z.strictObject({
        keyId: z.string({ error: "must be a string" }).regex(KEY_ID, { error: 'must be a key fingerprint, "SHA256:" and 43 base64 characters' }),
        sig: z.string({ error: "must be a string" }).max(200, { error: "is longer than any DER ECDSA P-256 signature" }).regex(BASE64, { error: "must be base64" }),
      }),
      { error: "must be an array of {keyId, sig}" },
    )
    .min(1, { error: "must hold at least one signature" })
    .max(MAX_ENVELOPE_SIGNATURES, { error: `must hold at most ${MAX_ENVELOPE_SIGNATURES} signatures` }),
  signed: z.record(z.string(), z.unknown(), { error: "must be an object" }),
});

/** An envelope as read: what was signed (not yet checked against any schema) and its signatures. */
export interface SignedEnvelope {
  /** The signed document, parsed; its own schema is the caller's to check. */
  readonly signed: unknown;
  /** `canonicalJson(signed)`: the exact bytes each signature covers. */
  readonly signedBytes: Buffer;
  readonly signatures: readonly { readonly keyId: string; readonly sig: Buffer }[];
}

/** The bytes a signer signs for `signed`. */
export function envelopeSignedBytes(signed: unknown): Buffer {
  return Buffer.from(canonicalJson(signed), "utf8");
}

/** Signs `signed` with every signer (in order) and returns the envelope's bytes. */
export async function signEnvelope(signed: Record<string, unknown>, signers: readonly ManifestSigner[]): Promise<Buffer> {
  if (signers.length === 0 || signers.length > MAX_ENVELOPE_SIGNATURES) throw new RangeError(`signEnvelope: 1 to ${MAX_ENVELOPE_SIGNATURES} signers; got ${signers.length}`);
  const bytes = envelopeSignedBytes(signed);
  const signatures = [];
  for (const signer of signers) {
    const keyId = publicKeyFingerprint(await signer.publicKeyPem());
    signatures.push({ keyId, sig: (await signer.sign(bytes)).toString("base64") });
  }
  return Buffer.from(canonicalJson({ signatures, signed }), "utf8");
}

/**
 * Reads an envelope from its exact bytes, refusing any that are not the canonical serialisation
 * of what they parse to (as signed manifests are: one spelling per document). Throws an
 * {@link InvalidManifestError} about `subject` listing every problem.
 */
export function parseEnvelope(bytes: Uint8Array, subject: string): SignedEnvelope {
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parsed = parseWith(EnvelopeSchema, decodeJson(raw, subject), subject);
  const canonical = Buffer.from(canonicalJson(parsed), "utf8");
  if (!canonical.equals(raw)) throw new InvalidManifestError(subject, [{ path: `(${subject})`, message: nonCanonicalMessage(raw, canonical) }]);
  return {
    signed: parsed.signed,
    signedBytes: envelopeSignedBytes(parsed.signed),
    signatures: parsed.signatures.map((s) => ({ keyId: s.keyId, sig: Buffer.from(s.sig, "base64") })),
  };
}

/**
 * The fingerprints of `keys` that signed the envelope (each counted once). A signature whose
 * `keyId` names none of `keys`, or that does not verify, counts for nothing: the `keyId` only
 * says which key to try.
 */
export function keysThatSigned(envelope: SignedEnvelope, keys: readonly KeyObject[]): Set<string> {
  const byId = new Map(keys.map((key) => [publicKeyFingerprint(key), key]));
  const signed = new Set<string>();
  for (const { keyId, sig } of envelope.signatures) {
    const key = byId.get(keyId);
    if (key !== undefined && verifyManifestSignature(envelope.signedBytes, sig, key)) signed.add(keyId);
  }
  return signed;
}
