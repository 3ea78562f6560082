import { generateKeyPairSync } from "crypto";
import { canonicalJson, InvalidManifestError } from "../../../ota/manifest";
import { LocalKeySigner } from "../../../ota/signature";
import { buildRootDocument, signRootDocument, verifyNextRoot, verifyRootAnchoredBy, type TrustedRoot } from "../../../ota/trust/rootDocument";
import { keysThatSigned, parseEnvelope } from "../../../ota/trust/signedEnvelope";
import { buildTimestamp, staleViewProblem } from "../../../ota/trust/timestampDocument";

const root = LocalKeySigner.generate();
const release = LocalKeySigner.generate();
const timestamp = LocalKeySigner.generate();
const createdAt = new Date("2026-12-01T00:00:00.000Z");

async function keys() {
  return { root: [await root.publicKeyPem()], release: [await release.publicKeyPem()], timestamp: [await timestamp.publicKeyPem()] };
}

async function firstRoot(): Promise<TrustedRoot> {
  const bytes = await signRootDocument(buildRootDocument({ modelName: "widgets", version: 1, createdAt, keys: await keys() }), [root]);
  return verifyRootAnchoredBy(parseEnvelope(bytes, "root document"), bytes, (await import("crypto")).createPublicKey(await root.publicKeyPem()), "widgets", "root/1");
}

describe("signed envelopes", () => {
  it("round-trips: the bytes are canonical JSON and each signature covers the canonical signed document", async () => {
    const bytes = await signRootDocument(buildRootDocument({ modelName: "widgets", version: 1, createdAt, keys: await keys() }), [root, release]);
    const envelope = parseEnvelope(bytes, "root document");
    expect(bytes.toString()).toBe(canonicalJson(JSON.parse(bytes.toString())));
    expect(envelope.signatures).toHaveLength(2);
    const { createPublicKey } = await import("crypto");
    expect(keysThatSigned(envelope, [createPublicKey(await root.publicKeyPem()), createPublicKey(await timestamp.publicKeyPem())]).size).toBe(1);
  });

  it("refuses bytes that are not the canonical form (a key twice, whitespace), and lists every schema problem at once", async () => {
    const bytes = await signRootDocument(buildRootDocument({ modelName: "widgets", version: 1, createdAt, keys: await keys() }), [root]);
    const text = bytes.toString();
    const duplicated = text.replace('{"signatures":', '{"signed":{},"signatures":');
    expect(() => parseEnvelope(Buffer.from(duplicated), "root document")).toThrow(/not in canonical form/);
    expect(() => parseEnvelope(Buffer.from(text.replace(":", ": ")), "root document")).toThrow(/not in canonical form/);
    const problems = (() => {
      try {
        parseEnvelope(Buffer.from('{"signatures":[{"keyId":"nope","sig":"!"}],"signed":[],"extra":1}'), "timestamp");
      } catch (error) {
        return (error as InvalidManifestError).problems.map((p) => p.path);
      }
      return [];
    })();
    expect(problems).toEqual(expect.arrayContaining(["signatures[0].keyId", "signatures[0].sig", "signed", "(timestamp)"]));
  });
});

describe("root documents", () => {
  it("refuses a key twice, an RSA key, a key of the wrong curve and an expiry before creation, all at once", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
    const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey;
    const k = await keys();
    let error: InvalidManifestError | undefined;
    try {
      buildRootDocument({ modelName: "widgets", version: 1, createdAt, expires: new Date(createdAt.getTime() - 1), keys: { root: [k.root[0]!, k.root[0]!], release: [rsa], timestamp: [p384] } });
    } catch (e) {
      error = e as InvalidManifestError;
    }
    expect(error).toBeDefined();
    expect(error!.message).toMatch(/keys\.root: lists a key more than once/);
    expect(error!.message).toMatch(/keys\.release\[0\]|must be an EC P-256/);
    expect(error!.message).toMatch(/expires: must be after createdAt/);
  }, 20_000);

  it("needs the next version exactly, signed by an old root key and by one of its own", async () => {
    const first = await firstRoot();
    const next = LocalKeySigner.generate();
    const build = async (version: number) => buildRootDocument({ modelName: "widgets", version, createdAt, keys: { ...(await keys()), root: [await next.publicKeyPem()] } });
    const accept = async (version: number, signers: LocalKeySigner[]) => {
      const bytes = await signRootDocument(await build(version), signers);
      return verifyNextRoot(first, parseEnvelope(bytes, "root document"), bytes, `root/${version}`);
    };
    expect((await accept(2, [root, next])).document.version).toBe(2);
    await expect(accept(3, [root, next])).rejects.toMatchObject({ reason: "root-version" });
    await expect(accept(2, [next])).rejects.toMatchObject({ reason: "root-not-signed" });
    await expect(accept(2, [root])).rejects.toMatchObject({ reason: "root-not-signed" });
  });
});

describe("timestamps", () => {
  const issuedAt = new Date("2026-12-04T12:00:00.000Z");
  const ts = buildTimestamp({ modelName: "widgets", issuedAt, channels: { stable: 7, candidate: 9 } });

  it("expire a day after they are issued unless told otherwise, and list channels by version", () => {
    expect(ts.expires).toBe("2026-12-05T12:00:00.000Z");
    expect(() => buildTimestamp({ modelName: "widgets", issuedAt, channels: { Stable: 0 } })).toThrow(/channels\.Stable: is not a channel name/);
  });

  it.each([
    ["fresh, pointer at the signed version", new Date("2026-12-04T13:00:00.000Z"), undefined, 7, undefined],
    ["fresh, pointer newer than the timestamp", new Date("2026-12-04T13:00:00.000Z"), undefined, 8, undefined],
    ["expired", new Date("2026-12-05T12:00:00.000Z"), undefined, 7, /expired/],
    ["older than one already accepted", new Date("2026-12-04T13:00:00.000Z"), { issuedAt: "2026-12-04T18:00:00.000Z" }, 7, /replayed/],
    ["pointer older than the timestamp", new Date("2026-12-04T13:00:00.000Z"), undefined, 6, /points at version 6, but the timestamp .* version 7/],
  ])("judges a view %s", (_name, now, seen, pointer, problem) => {
    const found = staleViewProblem(ts, now, seen, "stable", pointer);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});
