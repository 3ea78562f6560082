import { createPrivateKey, createPublicKey } from "crypto";
import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { KMSClient } from "@aws-sdk/client-kms";
import { KmsSigner, LocalKeySigner, publicKeyFingerprint, readPublicKey } from "../../../ota/signature";
import { canonicalJson } from "../../../ota/manifest";
import {
  DEFAULT_ROOT_EXPIRES_DAYS,
  buildRootDocument,
  rootDocumentOf,
  signRootDocument,
  verifyNextRoot,
  verifyRootAnchoredBy,
  type TrustedRoot,
} from "../../../ota/trust/rootDocument";
import { parseEnvelope } from "../../../ota/trust/signedEnvelope";
import { RootSigningError, readRootChain, signNextRoot, type SignNextRootOptions } from "../../../ota/trust/rootSigning";
import { S3Fake, localS3Client } from "../../agent/fakes/s3Fake";
import { KmsFake } from "../fakes/kmsFake";

const BUCKET = "ota-bucket";
const NOW = new Date("2026-12-01T10:00:00.000Z");

let s3Fake: S3Fake;
let s3: S3Client;
beforeAll(async () => {
  s3Fake = await S3Fake.start([BUCKET]);
  s3 = localS3Client(s3Fake.endpoint);
});
afterAll(async () => {
  s3.destroy();
  await s3Fake.close();
});

let modelCounter = 0;
/** A fresh model per test: tests share the bucket, never a chain. */
const newModel = (): string => `model-${++modelCounter}`;
const rootKeyOf = (model: string, version: number): string => `models/${model}/root/${String(version).padStart(10, "0")}.json`;
/** The signer's public key, PEM (LocalKeySigner.publicKeyPem is async; the private PEM gives it at once). */
const pub = (signer: LocalKeySigner): string => createPublicKey(signer.privateKeyPem()).export({ format: "pem", type: "spki" }).toString();
const fp = (signer: LocalKeySigner): string => publicKeyFingerprint(pub(signer));

const rootA = LocalKeySigner.generate();
const rootB = LocalKeySigner.generate();
const releaseA = LocalKeySigner.generate();
const releaseB = LocalKeySigner.generate();
const timestampA = LocalKeySigner.generate();

function sign(model: string, more: Partial<SignNextRootOptions> & Pick<SignNextRootOptions, "signers">) {
  return signNextRoot({ s3, bucket: BUCKET, modelName: model, now: NOW, ...more });
}

/** A first root: rootA signs, releaseA and timestampA listed. */
async function firstRoot(model: string) {
  return sign(model, { signers: [rootA], release: [pub(releaseA)], timestamp: [pub(timestampA)] });
}

async function stored(model: string, version: number): Promise<Buffer | undefined> {
  return s3Fake.getObject(BUCKET, rootKeyOf(model, version));
}

/** Walks the stored chain as a box pinned to `pinned` does. */
async function boxWalk(model: string, pinned: LocalKeySigner): Promise<TrustedRoot> {
  const keys = await s3Fake.listKeys(BUCKET, `models/${model}/root/`);
  let trusted: TrustedRoot | undefined;
  for (const key of keys) {
    const bytes = (await s3Fake.getObject(BUCKET, key))!;
    const envelope = parseEnvelope(bytes, key);
    trusted = trusted === undefined ? verifyRootAnchoredBy(envelope, bytes, readPublicKey(pub(pinned)), model, key) : verifyNextRoot(trusted, envelope, bytes, key);
  }
  return trusted!;
}

async function refusal(promise: Promise<unknown>): Promise<RootSigningError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RootSigningError);
  return error as RootSigningError;
}

describe("signNextRoot", () => {
  it("writes the first root, signed by the root key, listing it as the root key, with no-cache JSON", async () => {
    const model = newModel();
    const result = await firstRoot(model);
    expect(result).toMatchObject({ version: 1, key: rootKeyOf(model, 1), written: true, previousVersion: undefined, signedBy: [fp(rootA)] });
    expect(result.fingerprints).toEqual({ root: [fp(rootA)], release: [fp(releaseA)], timestamp: [fp(timestampA)] });
    expect(result.added).toEqual(result.fingerprints);
    expect(result.removed).toEqual({ root: [], release: [], timestamp: [] });
    expect(result.document).toMatchObject({ type: "root", modelName: model, version: 1, createdAt: NOW.toISOString() });
    expect(Date.parse(result.document.expires) - NOW.getTime()).toBe(DEFAULT_ROOT_EXPIRES_DAYS * 86_400_000);

    const bytes = await stored(model, 1);
    expect(bytes).toEqual(result.bytes);
    const head = await s3Fake.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: rootKeyOf(model, 1) }));
    expect(head.ContentType).toBe("application/json");
    expect(head.CacheControl).toBe("no-cache");
    const trusted = await boxWalk(model, rootA);
    expect(trusted.document.version).toBe(1);
    expect(trusted.keys.release.map((k) => publicKeyFingerprint(k))).toEqual([fp(releaseA)]);
  });

  it("rotating the release key adds the new one and keeps the others; revoking drops the old one, and each link verifies", async () => {
    const model = newModel();
    await firstRoot(model);
    const rotated = await sign(model, { signers: [rootA], release: [pub(releaseA), pub(releaseB)] });
    expect(rotated).toMatchObject({ version: 2, previousVersion: 1 });
    expect(rotated.fingerprints).toEqual({ root: [fp(rootA)], release: [fp(releaseA), fp(releaseB)], timestamp: [fp(timestampA)] });
    expect(rotated.added).toEqual({ root: [], release: [fp(releaseB)], timestamp: [] });
    expect(rotated.removed).toEqual({ root: [], release: [], timestamp: [] });

    const one = await boxWalk(model, rootA); // ends at 2
    expect(one.document.version).toBe(2);

    // Revocation: the new full list. A private key object is listed by its public half only.
    const revoked = await sign(model, { signers: [rootA], release: [createPrivateKey(releaseB.privateKeyPem())] });
    expect(revoked.version).toBe(3);
    expect(revoked.fingerprints.release).toEqual([fp(releaseB)]);
    expect(revoked.removed).toEqual({ root: [], release: [fp(releaseA)], timestamp: [] });
    expect(JSON.stringify(revoked.document)).not.toContain("PRIVATE");
    const v2 = await stored(model, 2);
    const previous = verifyRootAnchoredBy(parseEnvelope(v2!, "v2"), v2!, readPublicKey(pub(rootA)), model, "v2");
    const v3 = await stored(model, 3);
    const next = verifyNextRoot(previous, parseEnvelope(v3!, "v3"), v3!, "v3");
    expect(next.keys.release.map((k) => publicKeyFingerprint(k))).toEqual([fp(releaseB)]);
    expect((await readRootChain({ s3, bucket: BUCKET, modelName: model })).roots.map((r) => r.document.version)).toEqual([1, 2, 3]);
  });

  it("rotates the root key when the old and the new key sign; refuses, writing nothing, when only the new or only the old one signs", async () => {
    const model = newModel();
    await firstRoot(model);

    const onlyNew = await refusal(sign(model, { signers: [rootB], root: [pub(rootB)] }));
    expect(onlyNew.kind).toBe("invalid-input");
    expect(onlyNew.message).toContain(`no signer is a root key of version 1 (${fp(rootA)})`);
    const onlyOld = await refusal(sign(model, { signers: [rootA], root: [pub(rootB)] }));
    expect(onlyOld.kind).toBe("invalid-input");
    expect(onlyOld.message).toContain("no signer is a root key of version 2");
    expect(await stored(model, 2)).toBeUndefined();

    const rotated = await sign(model, { signers: [rootA, rootB], root: [pub(rootB)] });
    expect(rotated).toMatchObject({ version: 2, signedBy: [fp(rootA), fp(rootB)] });
    expect(rotated.added.root).toEqual([fp(rootB)]);
    expect(rotated.removed.root).toEqual([fp(rootA)]);
    expect((await boxWalk(model, rootA)).keys.root.map((k) => publicKeyFingerprint(k))).toEqual([fp(rootB)]);

    // From now on the new key alone signs; the old one is revoked.
    const after = await sign(model, { signers: [rootB] });
    expect(after.version).toBe(3);
    const stale = await refusal(sign(model, { signers: [rootA] }));
    expect(stale.message).toContain("no signer is a root key of version 3");
    expect(await stored(model, 4)).toBeUndefined();
  });

  it("reports every problem with the keys and the expiry at once and writes nothing", async () => {
    const model = newModel();
    const error = await refusal(
      sign(model, {
        signers: [rootA, rootA, releaseB],
        root: [pub(rootA)],
        release: [pub(releaseA), pub(releaseA), pub(rootA)],
        timestamp: ["not a key"],
        expiresInDays: 0,
      }),
    );
    expect(error.kind).toBe("invalid-input");
    expect(error.message).toMatch(/^Root version 1 of model-\d+ was not signed \(\d+ problems\); nothing was written/);
    const text = error.problems.join("\n");
    expect(text).toContain(`the signer ${fp(rootA)} is given more than once`);
    expect(text).toContain(`the release key ${fp(releaseA)} is listed more than once`);
    expect(text).toContain(`the key ${fp(rootA)} is listed both as a root key and as a release key`);
    expect(text).toContain("timestamp key 1 is unusable");
    expect(text).toContain(`the signer ${fp(releaseB)} is not a root key of version 1`);
    expect(text).toContain("the expiry (0 days from now) is not in the future");
    expect(await s3Fake.listKeys(BUCKET, `models/${model}/`)).toEqual([]);

    const missing = await refusal(sign(model, { signers: [rootA] }));
    expect(missing.problems).toEqual(["no release keys: the first root must name them", "no timestamp keys: the first root must name them"]);
  });

  it("refuses to extend a chain with a tampered version, naming it, and writes nothing", async () => {
    const model = newModel();
    await firstRoot(model);
    await sign(model, { signers: [rootA], release: [pub(releaseB)] });
    await sign(model, { signers: [rootA] });
    // Version 2 swapped for one that lists an attacker's release key, signed by the attacker.
    const attacker = LocalKeySigner.generate();
    const forged = buildRootDocument({ modelName: model, version: 2, createdAt: NOW, keys: { root: [pub(attacker)], release: [pub(releaseA)], timestamp: [pub(timestampA)] } });
    await s3Fake.putObject(BUCKET, rootKeyOf(model, 2), await signRootDocument(forged, [attacker]));

    const error = await refusal(sign(model, { signers: [rootA] }));
    expect(error.kind).toBe("broken-chain");
    expect(error.message).toContain("is broken at version 2");
    expect(error.message).toContain("is not signed by any root key of version 1");
    expect(await stored(model, 4)).toBeUndefined();

    // A byte changed inside the signed part of version 2 breaks it too.
    const original = await signRootDocument(buildRootDocument({ modelName: model, version: 2, createdAt: NOW, keys: { root: [pub(rootA)], release: [pub(releaseB)], timestamp: [pub(timestampA)] } }), [rootA]);
    const envelope = JSON.parse(original.toString("utf8")) as { signed: { expires: string } };
    envelope.signed.expires = "2099-01-01T00:00:00.000Z";
    await s3Fake.putObject(BUCKET, rootKeyOf(model, 2), canonicalJson(envelope));
    const tampered = await refusal(sign(model, { signers: [rootA] }));
    expect(tampered.kind).toBe("broken-chain");
    expect(tampered.message).toContain("is broken at version 2");
  });

  it("refuses a chain with a missing version", async () => {
    const model = newModel();
    await firstRoot(model);
    const v3 = buildRootDocument({ modelName: model, version: 3, createdAt: NOW, keys: { root: [pub(rootA)], release: [pub(releaseA)], timestamp: [pub(timestampA)] } });
    await s3Fake.putObject(BUCKET, rootKeyOf(model, 3), await signRootDocument(v3, [rootA]));
    const error = await refusal(sign(model, { signers: [rootA] }));
    expect(error.kind).toBe("broken-chain");
    expect(error.message).toContain("broken at version 2: it is missing (found 1, 3)");
  });

  it("refuses a first version that its own root keys did not sign, or that belongs to another model", async () => {
    const model = newModel();
    const other = newModel();
    await firstRoot(other);
    await s3Fake.putObject(BUCKET, rootKeyOf(model, 1), (await stored(other, 1))!);
    const copied = await refusal(sign(model, { signers: [rootA] }));
    expect(copied.kind).toBe("broken-chain");
    expect(copied.message).toContain(`is broken at version 1: root version 1 (s3://${BUCKET}/${rootKeyOf(model, 1)}) is the root of model "${other}"`);

    const unsigned = await signRootDocument(buildRootDocument({ modelName: model, version: 1, createdAt: NOW, keys: { root: [pub(rootB)], release: [pub(releaseA)], timestamp: [pub(timestampA)] } }), [rootA]);
    await s3Fake.putObject(BUCKET, rootKeyOf(model, 1), unsigned);
    const notSelfSigned = await refusal(sign(model, { signers: [rootA] }));
    expect(notSelfSigned.message).toContain("is not signed by any of the root keys it lists");
    expect(await stored(model, 2)).toBeUndefined();
  });

  it("follows the listing's pages to the newest root", async () => {
    const model = newModel();
    await firstRoot(model);
    await sign(model, { signers: [rootA], release: [pub(releaseB)] });
    // s3rver 3.7 cannot truncate a listing (its continuation tokens use DES, which OpenSSL 3 lacks),
    // so this client's listings are served one key a page from what s3rver holds; reads go to S3.
    const paging = localS3Client(s3Fake.endpoint);
    const tokens: Array<string | undefined> = [];
    paging.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== "ListObjectsV2Command") return next(args);
        const input = args.input as { Prefix: string; ContinuationToken?: string };
        tokens.push(input.ContinuationToken);
        const keys = await s3Fake.listKeys(BUCKET, input.Prefix);
        const at = input.ContinuationToken === undefined ? 0 : Number(input.ContinuationToken);
        const truncated = at + 1 < keys.length;
        return { response: {}, output: { $metadata: {}, Contents: keys.slice(at, at + 1).map((Key) => ({ Key })), IsTruncated: truncated, ...(truncated ? { NextContinuationToken: String(at + 1) } : {}) } } as never;
      },
      { step: "initialize" },
    );
    try {
      const third = await signNextRoot({ s3: paging, bucket: BUCKET, modelName: model, now: NOW, signers: [rootA], dryRun: true });
      expect(third).toMatchObject({ version: 3, previousVersion: 2 });
      expect(tokens).toEqual([undefined, "1"]);
    } finally {
      paging.destroy();
    }
  });

  it("fails cleanly when another signer takes the version first, overwriting nothing", async () => {
    const model = newModel();
    await firstRoot(model);
    const rival = await signRootDocument(
      buildRootDocument({ modelName: model, version: 2, createdAt: NOW, keys: { root: [pub(rootA)], release: [pub(releaseA), pub(releaseB)], timestamp: [pub(timestampA)] } }),
      [rootA],
    );
    // The rival's write lands between this signer's read of the chain and its write.
    const racing = localS3Client(s3Fake.endpoint);
    racing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "PutObjectCommand") await s3Fake.putObject(BUCKET, rootKeyOf(model, 2), rival);
        return next(args);
      },
      { step: "initialize" },
    );
    try {
      const error = await refusal(signNextRoot({ s3: racing, bucket: BUCKET, modelName: model, now: NOW, signers: [rootA], release: [pub(releaseB)] }));
      expect(error.kind).toBe("conflict");
      expect(error.message).toContain(`Root version 2 of ${model} was written by someone else meanwhile`);
      expect(error.message).toContain("nothing was overwritten");
    } finally {
      racing.destroy();
    }
    expect(await stored(model, 2)).toEqual(rival);
  });

  it("a dry run signs and verifies but writes nothing", async () => {
    const model = newModel();
    const dry = await sign(model, { signers: [rootA], release: [pub(releaseA)], timestamp: [pub(timestampA)], dryRun: true });
    expect(dry).toMatchObject({ version: 1, written: false });
    verifyRootAnchoredBy(parseEnvelope(dry.bytes, "dry"), dry.bytes, readPublicKey(pub(rootA)), model, "dry");
    expect(await s3Fake.listKeys(BUCKET, `models/${model}/`)).toEqual([]);
    await firstRoot(model);
    const dryNext = await sign(model, { signers: [rootA], release: [pub(releaseB)], dryRun: true });
    expect(dryNext).toMatchObject({ version: 2, written: false, removed: { release: [fp(releaseA)] } });
    expect(await stored(model, 2)).toBeUndefined();
  });

  it("honours a models prefix, the expiry and a KMS root key through the real KMS client", async () => {
    const kms = await KmsFake.start();
    const client = new KMSClient({ region: "us-east-1", endpoint: kms.endpoint, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } });
    try {
      const model = newModel();
      const signer = new KmsSigner({ keyId: kms.keyArn, client });
      const result = await signNextRoot({ s3, bucket: BUCKET, modelsPrefix: "fleet/", modelName: model, now: NOW, expiresInDays: 30, signers: [signer], release: [pub(releaseA)], timestamp: [pub(timestampA)] });
      expect(result.key).toBe(`fleet/${model}/root/0000000001.json`);
      expect(result.fingerprints.root).toEqual([publicKeyFingerprint(kms.publicKeyPem)]);
      expect(result.document.expires).toBe(new Date(NOW.getTime() + 30 * 86_400_000).toISOString());
      const bytes = (await s3Fake.getObject(BUCKET, result.key))!;
      expect(rootDocumentOf(parseEnvelope(bytes, "stored")).version).toBe(1);
      verifyRootAnchoredBy(parseEnvelope(bytes, "stored"), bytes, readPublicKey(kms.publicKeyPem), model, "stored");
      expect(kms.calls.filter((c) => c.target === "TrentService.Sign").every((c) => c.signed && c.status === 200)).toBe(true);
    } finally {
      client.destroy();
      await kms.close();
    }
  });
});
