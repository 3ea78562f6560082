/**
 * Issue 10, item 5: a root of trust that can rotate. A box pins the root key only; the release
 * and timestamp keys come from the chain of root documents it walks, so the release key can be
 * rotated (a box on the old root follows to the new key) and revoked (a release signed by a key
 * the newest root leaves out is refused), and the root key itself can be handed over (signed by
 * the old and the new root key). A box that pins the release key (before) cannot follow any of it.
 */
import { promises as fs } from "fs";
import * as path from "path";
import { StaleViewError, VerificationRefusedError } from "../../../ota/edge/errors";
import { TRUST_FILE } from "../../../ota/edge/trustStore";
import { LocalKeySigner } from "../../../ota/signature";
import { rootDocumentKey } from "../../../ota/trust/rootDocument";
import { snapshot } from "./fakes/edgeWorld";
import { TrustWorld } from "./fakes/trustWorld";

/** The error a promise ends with. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error("expected the pull to fail");
    },
    (e: unknown) => e as Error,
  );
}

async function refusedAs(promise: Promise<unknown>, reason: string, message: RegExp): Promise<void> {
  const error = await failure(promise);
  expect(error).toBeInstanceOf(VerificationRefusedError);
  expect((error as VerificationRefusedError).reason).toBe(reason);
  expect((error as VerificationRefusedError).exitCode).toBe(3);
  expect(error.message).toMatch(message);
}

/** What a box runs and keeps, without trust.json (which a pull updates whenever it accepts a newer timestamp). */
function installed(files: Record<string, string>): Record<string, string> {
  const { [TRUST_FILE]: _trust, ...rest } = files;
  return rest;
}

/** Publishes with `signer` and re-signs the timestamp for the new stable version. */
async function publish(world: TrustWorld, signer: LocalKeySigner) {
  const release = await world.edge.publish({ signer });
  await world.writeTimestamp({ channels: { stable: release.version } });
  return release;
}

describe("rotating and revoking the release key", () => {
  let world: TrustWorld;
  const releaseA = () => world.edge.signer;
  const releaseB = LocalKeySigner.generate();
  let dest: string;
  beforeAll(async () => {
    world = await TrustWorld.start();
    await world.writeRoot({ version: 1, keys: { release: [releaseA()] } });
    await publish(world, releaseA());
    dest = await world.edge.newDest();
    expect((await world.pull(dest)).status).toBe("installed");
  });
  afterAll(async () => {
    await world.close();
  });

  it("follows a rotation: a box on root 1 walks to root 2 and installs a release signed by the new key", async () => {
    await world.writeRoot({ version: 2, keys: { release: [releaseA(), releaseB] } });
    const release = await publish(world, releaseB);
    expect(await world.pull(dest)).toMatchObject({ status: "installed", version: release.version, trust: { rootVersion: 2 } });
    // Pinning the old release key instead, the box cannot follow: the new key's release is refused.
    await refusedAs(world.edge.pull(await world.edge.newDest()), "bad-signature", /does not verify with the pinned public key/);
  });

  it("refuses a release signed by a revoked key, also with a channel membership signed by it", async () => {
    await world.writeRoot({ version: 3, keys: { release: [releaseB] } });
    await publish(world, releaseB);
    expect((await world.pull(dest)).status).toBe("installed");
    const before = installed(await snapshot(dest));
    // Whoever still holds key A (a stolen key, a node left running) publishes with it.
    await publish(world, releaseA());
    await refusedAs(world.pull(dest), "bad-signature", /does not verify with the release keys of root version 3 \(SHA256:[^)]+\)\. .*a key the root of trust does not list, or revoked/);
    expect(installed(await snapshot(dest))).toEqual(before);
  });

  it("keeps the newest root it verified: deleting root 3 from the bucket does not bring key A back", async () => {
    const saved = await world.edge.getObject(world.key(rootDocumentKey(3)));
    await world.edge.deleteObject(world.key(rootDocumentKey(3)));
    try {
      await refusedAs(world.pull(dest), "bad-signature", /root version 3/);
    } finally {
      await world.edge.putObject(world.key(rootDocumentKey(3)), saved);
    }
  });

  it("rotates the timestamp key: timestamps signed by the old one are refused once the root drops it", async () => {
    const newTimestampKey = LocalKeySigner.generate();
    await world.writeRoot({ version: 4, keys: { release: [releaseB], timestamp: [newTimestampKey] } });
    await publish(world, releaseB); // the timestamp still signed with the old timestamp key
    await refusedAs(world.pull(dest), "bad-timestamp", /not signed by a timestamp key of root version 4/);
    const release = await world.edge.publish({ signer: releaseB });
    await world.writeTimestamp({ channels: { stable: release.version }, signer: newTimestampKey });
    expect(await world.pull(dest)).toMatchObject({ status: "installed", version: release.version, trust: { rootVersion: 4 } });
  });
});

describe("rotating the root key", () => {
  let world: TrustWorld;
  const rootB = LocalKeySigner.generate();
  beforeAll(async () => {
    world = await TrustWorld.start();
    await world.writeRoot({ version: 1 });
    await world.writeRoot({ version: 2 });
    await publish(world, world.edge.signer);
  });
  afterAll(async () => {
    await world.close();
  });

  it("hands over to a new root key with a root signed by the old and the new one; a box pinned to the new key starts there", async () => {
    const dest = await world.edge.newDest();
    await world.pull(dest);
    await world.writeRoot({ version: 3, keys: { root: [rootB] }, signers: [world.rootSigner, rootB] });
    const release = await publish(world, world.edge.signer);
    expect(await world.pull(dest)).toMatchObject({ version: release.version, trust: { rootVersion: 3 } });

    const newBox = await world.edge.newDest();
    const result = await world.pull(newBox, { rootPublicKeyPem: await rootB.publicKeyPem() });
    expect(result).toMatchObject({ status: "installed", trust: { rootVersion: 3 } });
    expect(JSON.parse(await fs.readFile(path.join(newBox, TRUST_FILE), "utf8")).anchor).toMatch(/^SHA256:/);
  });

  it("refuses a root signed only by the retired root key, and keeps trusting what it trusted", async () => {
    const dest = await world.edge.newDest();
    await world.pull(dest);
    const trustBefore = await fs.readFile(path.join(dest, TRUST_FILE), "utf8");
    const attacker = LocalKeySigner.generate();
    // The old root key (retired in root 3, perhaps leaked) tries to hand trust to an attacker's release key.
    await world.writeRoot({ version: 4, keys: { root: [world.rootSigner], release: [attacker] }, signers: [world.rootSigner] });
    try {
      await refusedAs(world.pull(dest), "bad-root", /root\/0000000004\.json is not signed by any root key of version 3/);
      expect(await fs.readFile(path.join(dest, TRUST_FILE), "utf8")).toBe(trustBefore);
    } finally {
      await world.edge.deleteObject(world.key(rootDocumentKey(4)));
    }
  });

  it("refuses a root that introduces a root key which did not sign it", async () => {
    await world.writeRoot({ version: 4, keys: { root: [LocalKeySigner.generate()] }, signers: [rootB] });
    try {
      await refusedAs(world.pull(await world.edge.newDest(), { rootPublicKeyPem: await rootB.publicKeyPem() }), "bad-root", /not signed by any of the root keys it lists itself/);
    } finally {
      await world.edge.deleteObject(world.key(rootDocumentKey(4)));
    }
  });
});

describe("a root chain that is broken or stale", () => {
  let world: TrustWorld;
  beforeAll(async () => {
    world = await TrustWorld.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it("says how to publish the first root when there is none (exit 4)", async () => {
    await world.edge.publish();
    const error = await failure(world.pull(await world.edge.newDest()));
    expect((error as { exitCode?: number }).exitCode).toBe(4);
    expect(error.message).toMatch(/No root document signed by the pinned root key .* yolo-train ota root sign/);
  });

  it("refuses a root document stored under another version's key (a skipped or replayed root)", async () => {
    await world.writeRoot({ version: 1 });
    await world.writeRoot({ version: 3 });
    await world.edge.putObject(world.key(rootDocumentKey(2)), await world.edge.getObject(world.key(rootDocumentKey(3))));
    try {
      await refusedAs(world.pull(await world.edge.newDest()), "bad-root", /says it is root version 3, not 2/);
    } finally {
      await world.edge.deleteObject(world.key(rootDocumentKey(2)));
      await world.edge.deleteObject(world.key(rootDocumentKey(3)));
    }
  });

  it("refuses a root for another model", async () => {
    await world.writeRoot({ version: 2, modelName: "gadgets" });
    try {
      await refusedAs(world.pull(await world.edge.newDest()), "bad-root", /is the root of model "gadgets", not of "widgets"/);
    } finally {
      await world.edge.deleteObject(world.key(rootDocumentKey(2)));
    }
  });

  it("calls an expired root a stale view (exit 7): the root key holder must sign a new one", async () => {
    const createdAt = new Date(Date.now() - 10 * 86_400_000);
    await world.writeRoot({ version: 2, createdAt, expires: new Date(Date.now() - 86_400_000) });
    try {
      const error = await failure(world.pull(await world.edge.newDest()));
      expect(error).toBeInstanceOf(StaleViewError);
      expect(error.message).toMatch(/root document version 2 expired at .*yolo-train ota root sign/);
    } finally {
      await world.edge.deleteObject(world.key(rootDocumentKey(2)));
    }
  });
});
