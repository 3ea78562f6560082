import { generateKeyPairSync } from "crypto";
import { promises as fs } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { KMSClient } from "@aws-sdk/client-kms";
import { KmsSigner, LocalKeySigner, publicKeyFingerprint, verifyManifestSignature } from "../../../ota/signature";
import { KeyLoader, KeySpecError, parseKeySpec } from "../../../ota/trust/keySpec";
import { KmsFake } from "../fakes/kmsFake";

let dir: string;
let kms: KmsFake;
let client: KMSClient;
const signer = LocalKeySigner.generate();
let privateFile: string;
let publicFile: string;
let rsaFile: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(tmpdir(), "yolo-train-keyspec-"));
  privateFile = path.join(dir, "root.pem");
  publicFile = path.join(dir, "root.pub.pem");
  rsaFile = path.join(dir, "rsa.pem");
  await fs.writeFile(privateFile, signer.privateKeyPem());
  await fs.writeFile(publicFile, await signer.publicKeyPem());
  await fs.writeFile(rsaFile, generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }));
  kms = await KmsFake.start();
  client = new KMSClient({ region: "us-east-1", endpoint: kms.endpoint, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } });
});
afterAll(async () => {
  client.destroy();
  await kms.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe("parseKeySpec", () => {
  it("tells KMS keys from files", () => {
    expect(parseKeySpec("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")).toEqual({
      kind: "kms",
      keyId: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      region: "eu-west-1",
    });
    expect(parseKeySpec("arn:aws:kms:eu-west-1:111122223333:alias/yolo-train-root")).toMatchObject({ kind: "kms", region: "eu-west-1" });
    expect(parseKeySpec("arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab")).toMatchObject({ kind: "kms", region: "cn-north-1" });
    expect(parseKeySpec("arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/root")).toMatchObject({ kind: "kms", region: "us-gov-west-1" });
    // A key id KMS never makes (runspec/awsPatterns.ts: a UUID, or mrk- and 32 hex digits).
    expect(parseKeySpec("arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-1234")).toHaveProperty("problem");
    expect(parseKeySpec("alias/yolo-train-root")).toEqual({ kind: "kms", keyId: "alias/yolo-train-root" });
    expect(parseKeySpec("./keys/root.pem")).toEqual({ kind: "file", path: "./keys/root.pem" });
    expect(parseKeySpec("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n")).toEqual({ kind: "pem", pem: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----" });
    expect(parseKeySpec("arn:aws:s3:::bucket")).toMatchObject({ problem: expect.stringContaining("a KMS key") });
    expect(parseKeySpec("alias/with space")).toHaveProperty("problem");
    expect(parseKeySpec(" ")).toHaveProperty("problem");
  });
});

describe("KeyLoader", () => {
  it("signs with a PEM private key, lists the public half of a private or public PEM", async () => {
    const loader = new KeyLoader({ kmsClient: client });
    const { signers, lists } = await loader.resolve([{ flag: "--sign-with", value: privateFile }], {
      root: [
        { flag: "--root-key", value: publicFile },
        { flag: "--root-key", value: privateFile },
      ],
      release: undefined,
    });
    expect(signers).toHaveLength(1);
    const sig = await signers[0]!.sign(Buffer.from("hello"));
    expect(verifyManifestSignature(Buffer.from("hello"), sig, await signer.publicKeyPem())).toBe(true);
    expect(lists.release).toBeUndefined();
    expect(lists.root!.map((k) => k.type)).toEqual(["public", "public"]);
    expect(lists.root!.map((k) => publicKeyFingerprint(k))).toEqual([publicKeyFingerprint(await signer.publicKeyPem())].concat(publicKeyFingerprint(await signer.publicKeyPem())));
    loader.destroy();
  });

  it("signs with a KMS key through KMS and lists a KMS key's public key, one GetPublicKey per key", async () => {
    const loader = new KeyLoader({ kmsClient: client });
    const before = kms.calls.length;
    const { signers, lists } = await loader.resolve([{ flag: "--sign-with", value: kms.keyArn }], {
      release: [{ flag: "--release-key", value: kms.keyArn }],
      timestamp: [{ flag: "--timestamp-key", value: kms.alias }],
    });
    expect(signers[0]).toBeInstanceOf(KmsSigner);
    const sig = await signers[0]!.sign(Buffer.from("root"));
    expect(verifyManifestSignature(Buffer.from("root"), sig, kms.publicKeyPem)).toBe(true);
    expect(publicKeyFingerprint(lists.release![0]!)).toBe(publicKeyFingerprint(kms.publicKeyPem));
    expect(publicKeyFingerprint(lists.timestamp![0]!)).toBe(publicKeyFingerprint(kms.publicKeyPem));
    const calls = kms.calls.slice(before);
    expect(calls.filter((c) => c.target === "TrentService.GetPublicKey").map((c) => c.request.KeyId)).toEqual([kms.keyArn, kms.alias]);
    loader.destroy();
  });

  it("reports every unusable argument at once, naming its flag and value", async () => {
    const loader = new KeyLoader({ kmsClient: client });
    const missing = path.join(dir, "missing.pem");
    const error = await loader
      .resolve(
        [
          { flag: "--sign-with", value: publicFile },
          { flag: "--sign-with", value: "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000" },
        ],
        {
          root: [{ flag: "--root-key", value: missing }],
          release: [{ flag: "--release-key", value: rsaFile }],
          timestamp: [
            { flag: "--timestamp-key", value: "arn:aws:iam::111122223333:role/x" },
            { flag: "--timestamp-key", value: "1234abcd-12ab-34cd-56ef-1234567890ab" },
          ],
        },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    loader.destroy();
    expect(error).toBeInstanceOf(KeySpecError);
    const problems = (error as KeySpecError).problems;
    expect(problems.map((p) => [p.key, p.value])).toEqual([
      ["--sign-with", publicFile],
      ["--sign-with", "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000"],
      ["--root-key", missing],
      ["--release-key", rsaFile],
      ["--timestamp-key", "arn:aws:iam::111122223333:role/x"],
      ["--timestamp-key", "1234abcd-12ab-34cd-56ef-1234567890ab"],
    ]);
    const message = (error as Error).message;
    expect(message).toMatch(/^6 key arguments are unusable:/);
    expect(message).toContain("holds no private key (a public key cannot sign)");
    expect(message).toContain("KMS said: Key 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000' does not exist");
    expect(message).toContain("ENOENT");
    expect(message).toContain("must be an EC P-256 (prime256v1) key; got rsa");
    expect(message).toContain("this looks like a bare KMS key id");
  });
});
