/**
 * Detached manifest signatures (docs/ota.md): ECDSA P-256 over SHA-256 of the exact manifest
 * bytes, DER-encoded, the way AWS KMS `Sign` with `ECDSA_SHA_256` returns them. Signers: KMS (the
 * stack's key) and a local PEM key (tests, and people without KMS). Verification is one function
 * the puller calls with its pinned public key.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { GetPublicKeyCommand, KMSClient, SignCommand } from "@aws-sdk/client-kms";

/** Signs manifest bytes. */
export interface ManifestSigner {
  /** A DER-encoded ECDSA P-256 signature over SHA-256 of `bytes`. */
  sign(bytes: Uint8Array): Promise<Buffer>;
  /** The public key that verifies this signer's signatures, as SPKI PEM (what devices pin). */
  publicKeyPem(): Promise<string>;
}

/** Thrown when a key cannot sign or verify manifests (wrong type or curve, unreadable). */
export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SigningKeyError";
  }
}

const P256 = "prime256v1";

function requireP256(key: KeyObject, what: string): void {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== "ec" || curve !== P256) {
    throw new SigningKeyError(
      `${what} must be an EC P-256 (prime256v1) key; got ${key.asymmetricKeyType ?? "unknown"}${curve ? ` ${curve}` : ""}. ` +
        "Fix: use a KMS key with KeySpec ECC_NIST_P256, or `openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt`.",
    );
  }
}

/** Signs with a P-256 private key held in this process (PEM, PKCS#8 or SEC1). */
export class LocalKeySigner implements ManifestSigner {
  private readonly key: KeyObject;

  constructor(privateKeyPem: string | KeyObject) {
    try {
      this.key = typeof privateKeyPem === "string" ? createPrivateKey(privateKeyPem) : privateKeyPem;
    } catch (error) {
      throw new SigningKeyError(`The signing key is not a readable PEM private key: ${(error as Error).message}`);
    }
    if (this.key.type !== "private") throw new SigningKeyError(`The signing key must be a private key; got a ${this.key.type} key`);
    requireP256(this.key, "The signing key");
  }

  /** A signer with a new random P-256 key. */
  static generate(): LocalKeySigner {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: P256 });
    return new LocalKeySigner(privateKey);
  }

  async sign(bytes: Uint8Array): Promise<Buffer> {
    return cryptoSign("sha256", bytes, { key: this.key, dsaEncoding: "der" });
  }

  async publicKeyPem(): Promise<string> {
    return createPublicKey(this.key).export({ format: "pem", type: "spki" }).toString();
  }

  /** The private key as PKCS#8 PEM, to store it (keep it secret). */
  privateKeyPem(): string {
    return this.key.export({ format: "pem", type: "pkcs8" }).toString();
  }
}

/**
 * KMS accepts a RAW message of at most 4096 bytes; a longer manifest is signed as its SHA-256
 * digest (`MessageType: DIGEST`), which yields the same kind of signature.
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html
 */
export const KMS_RAW_MESSAGE_LIMIT = 4096;

export interface KmsSignerOptions {
  /** Key ARN, key id or alias of an asymmetric key with KeySpec `ECC_NIST_P256` and KeyUsage `SIGN_VERIFY`. */
  readonly keyId: string;
  /** @default a `KMSClient` configured the standard way (region, credentials, `AWS_ENDPOINT_URL_KMS`) */
  readonly client?: KMSClient;
}

/**
 * Signs with an AWS KMS asymmetric key: `Sign` with `ECDSA_SHA_256` returns a DER signature;
 * `GetPublicKey` returns the SPKI DER public key, served here as PEM.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/asymmetric-key-specs.html
 */
export class KmsSigner implements ManifestSigner {
  readonly keyId: string;
  private readonly client: KMSClient;
  private publicKey: Promise<string> | undefined;

  constructor(options: KmsSignerOptions) {
    this.keyId = options.keyId;
    this.client = options.client ?? new KMSClient({});
  }

  async sign(bytes: Uint8Array): Promise<Buffer> {
    const raw = bytes.byteLength <= KMS_RAW_MESSAGE_LIMIT;
    const out = await this.client.send(
      new SignCommand({
        KeyId: this.keyId,
        Message: raw ? bytes : createHash("sha256").update(bytes).digest(),
        MessageType: raw ? "RAW" : "DIGEST",
        SigningAlgorithm: "ECDSA_SHA_256",
      }),
    );
    if (!out.Signature || out.Signature.byteLength === 0) throw new SigningKeyError(`KMS Sign with key ${this.keyId} returned no signature`);
    return Buffer.from(out.Signature);
  }

  publicKeyPem(): Promise<string> {
    // Fetched once: the key does not change, and each call costs a KMS request.
    this.publicKey ??= this.fetchPublicKey().catch((error: unknown) => {
      this.publicKey = undefined;
      throw error;
    });
    return this.publicKey;
  }

  private async fetchPublicKey(): Promise<string> {
    const out = await this.client.send(new GetPublicKeyCommand({ KeyId: this.keyId }));
    if (!out.PublicKey) throw new SigningKeyError(`KMS GetPublicKey for ${this.keyId} returned no key`);
    const problem = kmsSigningKeyProblem({ keySpec: out.KeySpec, keyUsage: out.KeyUsage, signingAlgorithms: out.SigningAlgorithms });
    if (problem !== undefined) throw new SigningKeyError(`KMS key ${this.keyId} ${problem}`);
    const key = createPublicKey({ key: Buffer.from(out.PublicKey), format: "der", type: "spki" });
    requireP256(key, `KMS key ${this.keyId}`);
    return key.export({ format: "pem", type: "spki" }).toString();
  }
}

/**
 * Why a KMS key cannot sign manifests (KeySpec `ECC_NIST_P256`, KeyUsage `SIGN_VERIFY`, algorithm
 * `ECDSA_SHA_256`), or undefined when it can. A field KMS did not return is not held against it.
 */
export function kmsSigningKeyProblem(key: { readonly keySpec?: string; readonly keyUsage?: string; readonly signingAlgorithms?: readonly string[] }): string | undefined {
  if (key.keySpec !== undefined && key.keySpec !== "ECC_NIST_P256") return `is a ${key.keySpec} key; manifests need ECC_NIST_P256`;
  if (key.keyUsage !== undefined && key.keyUsage !== "SIGN_VERIFY") return `has KeyUsage ${key.keyUsage}; manifests need SIGN_VERIFY`;
  if (key.signingAlgorithms !== undefined && !key.signingAlgorithms.includes("ECDSA_SHA_256")) {
    return `cannot sign with ECDSA_SHA_256 (it offers ${key.signingAlgorithms.join(", ") || "nothing"})`;
  }
  return undefined;
}

/**
 * Reads a pinned public key (SPKI PEM). Throws a {@link SigningKeyError} naming the problem when it
 * is not a P-256 public key, so an operator can tell a bad key file from a bad signature.
 */
export function readPublicKey(publicKeyPem: string | KeyObject): KeyObject {
  if (typeof publicKeyPem === "string" && publicKeyPem.includes("PRIVATE KEY-----")) {
    // Node would derive the public half, but a signing key has no business on a device.
    throw new SigningKeyError("The pinned key is a private key; pin the public key only (`openssl pkey -pubout` derives it from a PEM private key; `aws kms get-public-key` gives a KMS key's)");
  }
  let key: KeyObject;
  try {
    key = typeof publicKeyPem === "string" ? createPublicKey(publicKeyPem) : publicKeyPem;
  } catch (error) {
    throw new SigningKeyError(`The public key is not a readable PEM public key: ${(error as Error).message}`);
  }
  if (key.type !== "public") throw new SigningKeyError(`The pinned key must be a public key; got a ${key.type} key`);
  requireP256(key, "The public key");
  return key;
}

/**
 * True when `derSignature` is a valid DER ECDSA P-256 signature over SHA-256 of exactly `bytes`
 * under `publicKeyPem`; false for any other signature (wrong key, other bytes, malformed DER).
 * Throws a {@link SigningKeyError} only when the public key itself is unusable.
 */
export function verifyManifestSignature(bytes: Uint8Array, derSignature: Uint8Array, publicKeyPem: string | KeyObject): boolean {
  const key = readPublicKey(publicKeyPem);
  try {
    return cryptoVerify("sha256", bytes, { key, dsaEncoding: "der" }, derSignature);
  } catch {
    return false;
  }
}

/** `SHA256:<base64>` of the key's SPKI DER, as `ssh-keygen -l` shows keys: a key's id in signed documents, and to compare keys by eye. */
export function publicKeyFingerprint(publicKeyPem: string | KeyObject): string {
  const key = typeof publicKeyPem === "string" ? createPublicKey(publicKeyPem) : publicKeyPem;
  const der = key.export({ format: "der", type: "spki" });
  return `SHA256:${createHash("sha256").update(der).digest("base64").replace(/=+$/, "")}`;
}
