import { KMSClient } from "@aws-sdk/client-kms";
import { generateKeyPairSync } from "crypto";
import { KMS_RAW_MESSAGE_LIMIT, kmsSigningKeyProblem, KmsSigner, LocalKeySigner, readPublicKey, SigningKeyError, verifyManifestSignature } from "../../ota/signature";
import { KmsFake, sha256, signP256Digest } from "./fakes/kmsFake";

const MANIFEST = Buffer.from('{"modelName":"widgets","schemaVersion":1,"version":7}');

describe("LocalKeySigner and verifyManifestSignature", () => {
  it("verifies a signature over exactly the signed bytes with the signer's public key", async () => {
    const signer = LocalKeySigner.generate();
    const signature = await signer.sign(MANIFEST);
    const pem = await signer.publicKeyPem();
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    // DER: SEQUENCE of two INTEGERs, 70-72 bytes for P-256.
    expect(signature[0]).toBe(0x30);
    expect(signature.length).toBeGreaterThanOrEqual(68);
    expect(signature.length).toBeLessThanOrEqual(72);
    expect(verifyManifestSignature(MANIFEST, signature, pem)).toBe(true);
  });

  it.each([
    ["one byte of the manifest changed", (m: Buffer, s: Buffer) => [Buffer.from(m.toString().replace("7", "8")), s]],
    ["a byte appended to the manifest", (m: Buffer, s: Buffer) => [Buffer.concat([m, Buffer.from(" ")]), s]],
    ["the signature cut short", (m: Buffer, s: Buffer) => [m, s.subarray(0, s.length - 1)]],
    ["an empty signature", (m: Buffer) => [m, Buffer.alloc(0)]],
    ["a raw r||s (IEEE P1363) signature instead of DER", (m: Buffer, s: Buffer) => [m, Buffer.alloc(64, s[5])]],
  ])("refuses %s", async (_name, tamper) => {
    const signer = LocalKeySigner.generate();
    const [bytes, signature] = tamper(MANIFEST, await signer.sign(MANIFEST)) as [Buffer, Buffer];
    expect(verifyManifestSignature(bytes, signature, await signer.publicKeyPem())).toBe(false);
  });

  it("refuses a signature from another key", async () => {
    const signer = LocalKeySigner.generate();
    const other = LocalKeySigner.generate();
    expect(verifyManifestSignature(MANIFEST, await other.sign(MANIFEST), await signer.publicKeyPem())).toBe(false);
  });

  it("keeps its key through PEM: a signer made from the exported private key verifies with the same public key", async () => {
    const signer = LocalKeySigner.generate();
    const again = new LocalKeySigner(signer.privateKeyPem());
    expect(await again.publicKeyPem()).toBe(await signer.publicKeyPem());
    expect(verifyManifestSignature(MANIFEST, await again.sign(MANIFEST), await signer.publicKeyPem())).toBe(true);
  });

  it.each([
    ["an RSA key", () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey],
    ["a P-384 key", () => generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey],
    ["an Ed25519 key", () => generateKeyPairSync("ed25519").privateKey],
  ])("refuses to sign with %s", (_name, key) => {
    expect(() => new LocalKeySigner(key())).toThrow(SigningKeyError);
    expect(() => new LocalKeySigner(key())).toThrow(/must be an EC P-256 \(prime256v1\) key/);
  });

  it("refuses to verify with a pinned key that is not a P-256 public key, saying so instead of answering false", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "pem", type: "spki" }).toString();
    expect(() => verifyManifestSignature(MANIFEST, Buffer.alloc(70), rsa)).toThrow(/must be an EC P-256/);
    expect(() => verifyManifestSignature(MANIFEST, Buffer.alloc(70), "not a key")).toThrow(/not a readable PEM public key/);
    const privatePem = LocalKeySigner.generate().privateKeyPem();
    expect(() => readPublicKey(privatePem)).toThrow(/is a private key; pin the public key only/);
  });
});

describe("KmsSigner through @aws-sdk/client-kms", () => {
  let kms: KmsFake;
  let client: KMSClient;
  beforeAll(async () => {
    kms = await KmsFake.start();
    client = new KMSClient({ region: "us-east-1", endpoint: kms.endpoint, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }, maxAttempts: 1 });
  });
  afterAll(async () => {
    client.destroy();
    await kms.close();
  });
  beforeEach(() => kms.calls.splice(0));

  it("makes a signature the way KMS makes it (DER ECDSA over SHA-256, MessageType RAW) that the puller's verify function accepts", async () => {
    const signer = new KmsSigner({ keyId: kms.alias, client });
    const signature = await signer.sign(MANIFEST);
    expect(verifyManifestSignature(MANIFEST, signature, kms.publicKeyPem)).toBe(true);
    expect(verifyManifestSignature(Buffer.concat([MANIFEST, Buffer.from("x")]), signature, kms.publicKeyPem)).toBe(false);
    expect(kms.calls).toEqual([
      {
        target: "TrentService.Sign",
        request: { KeyId: kms.alias, Message: MANIFEST.toString("base64"), MessageType: "RAW", SigningAlgorithm: "ECDSA_SHA_256" },
        status: 200,
        signed: true,
      },
    ]);
  });

  it("serves GetPublicKey's SPKI DER key as the PEM the fake's key exports, asking KMS once", async () => {
    const signer = new KmsSigner({ keyId: kms.keyArn, client });
    expect(await signer.publicKeyPem()).toBe(kms.publicKeyPem);
    expect(await signer.publicKeyPem()).toBe(kms.publicKeyPem);
    expect(kms.calls.map((c) => c.target)).toEqual(["TrentService.GetPublicKey"]);
  });

  it("signs a manifest longer than KMS's 4096-byte RAW limit as its SHA-256 digest, which verifies the same way", async () => {
    const big = Buffer.from(JSON.stringify({ classNames: Array.from({ length: 600 }, (_, i) => `class-${i}`) }));
    expect(big.length).toBeGreaterThan(KMS_RAW_MESSAGE_LIMIT);
    const signer = new KmsSigner({ keyId: kms.keyId, client });
    const signature = await signer.sign(big);
    expect(verifyManifestSignature(big, signature, kms.publicKeyPem)).toBe(true);
    expect(kms.calls.map((c) => [c.request.MessageType, c.request.Message])).toEqual([["DIGEST", sha256(big).toString("base64")]]);
  });

  it("the fake's digest signing is real ECDSA: Node verifies it over the message", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const signature = signP256Digest(privateKey, sha256(MANIFEST));
    expect(verifyManifestSignature(MANIFEST, signature, publicKey.export({ format: "pem", type: "spki" }).toString())).toBe(true);
  });

  it("passes KMS's error through when the key does not exist", async () => {
    const signer = new KmsSigner({ keyId: "alias/other", client });
    await expect(signer.sign(MANIFEST)).rejects.toMatchObject({ name: "NotFoundException" });
    await expect(signer.publicKeyPem()).rejects.toMatchObject({ name: "NotFoundException" });
  });
});

describe("kmsSigningKeyProblem", () => {
  // TrainingRun applies it to a shared fleet key at preview, KmsSigner before it signs.
  it.each([
    ["a P-256 signing key", "ECC_NIST_P256", "SIGN_VERIFY", ["ECDSA_SHA_256"], undefined],
    ["an RSA key", "RSA_2048", "SIGN_VERIFY", ["RSASSA_PSS_SHA_256"], "is a RSA_2048 key; manifests need ECC_NIST_P256"],
    ["an encryption key", "ECC_NIST_P256", "ENCRYPT_DECRYPT", [], "has KeyUsage ENCRYPT_DECRYPT; manifests need SIGN_VERIFY"],
    ["a key without ECDSA_SHA_256", "ECC_NIST_P256", "SIGN_VERIFY", [], "cannot sign with ECDSA_SHA_256 (it offers nothing)"],
  ])("judges %s as a release signing key", (_label, keySpec, keyUsage, algorithms, problem) => {
    expect(kmsSigningKeyProblem({ keySpec, keyUsage, signingAlgorithms: algorithms })).toBe(problem);
  });

  it("does not hold fields KMS did not return against a key", () => {
    expect(kmsSigningKeyProblem({})).toBeUndefined();
  });
});
