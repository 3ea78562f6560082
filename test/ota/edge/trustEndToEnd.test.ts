/**
 * The trust model's parts together, as a deployed stack runs them: the root key holder signs roots
 * with `signNextRoot` (what `yolo-train ota root sign` runs), the stack's function re-signs the
 * timestamp with `refreshTimestamps` (what the Lambda runs), publishers publish, and a box pinned
 * to the root key pulls, all through the real S3 client against s3rver.
 */
import { LocalKeySigner } from "../../../ota/signature";
import { signNextRoot } from "../../../ota/trust/rootSigning";
import { refreshTimestamps } from "../../../ota/trust/timestampRefresh";
import { StaleViewError, VerificationRefusedError } from "../../../ota/edge/errors";
import { BUCKET, MODEL, MODELS_PREFIX } from "./fakes/edgeWorld";
import { TrustWorld } from "./fakes/trustWorld";

let world: TrustWorld;
const releaseB = LocalKeySigner.generate();
beforeAll(async () => {
  world = await TrustWorld.start();
});
afterAll(async () => {
  await world.close();
});

async function refresh(releaseKeys: LocalKeySigner[]) {
  const lines: string[] = [];
  const summaries = await refreshTimestamps({
    s3: world.edge.publisherS3,
    bucket: BUCKET,
    modelsPrefix: MODELS_PREFIX,
    signer: world.timestampSigner,
    releasePublicKeys: await Promise.all(releaseKeys.map((k) => k.publicKeyPem())),
    log: (line) => lines.push(line),
  });
  const mine = summaries.find((s) => s.modelName === MODEL);
  expect(mine).toBeDefined();
  expect(mine).not.toHaveProperty("error");
  return { channels: (mine as { channels: Record<string, number> }).channels, lines };
}

it("installs, refuses a pointer moved outside its channel, follows a key rotation, and calls a rolled-back pointer stale", async () => {
  const releaseA = world.edge.signer;
  await signNextRoot({
    s3: world.edge.publisherS3,
    bucket: BUCKET,
    modelsPrefix: MODELS_PREFIX,
    modelName: MODEL,
    signers: [world.rootSigner],
    release: [await releaseA.publicKeyPem()],
    timestamp: [await world.timestampSigner.publicKeyPem()],
  });
  // The function's first run at deploy: a timestamp with no channels yet.
  await world.writeTimestamp({ issuedAt: new Date(Date.now() - 60_000) });

  const first = await world.edge.publish({ channels: ["candidate", "stable"] });
  expect((await refresh([releaseA])).channels).toEqual({ candidate: first.version, stable: first.version });
  const box = await world.edge.newDest();
  expect(await world.pull(box)).toMatchObject({ status: "installed", version: first.version, trust: { rootVersion: 1 } });

  // A release that failed the gate, and a stable pointer moved to it by hand: the function does not vouch for it, the box refuses it.
  const failedGate = await world.edge.publish({ channels: ["candidate"] });
  await world.edge.setPointer("stable", failedGate.version);
  const afterMove = await refresh([releaseA]);
  expect(afterMove.channels).toEqual({ candidate: failedGate.version, stable: first.version });
  expect(afterMove.lines.join("\n")).toMatch(/stable/);
  await expect(world.pull(box)).rejects.toMatchObject({ reason: "not-in-channel" });

  // Rotation: root 2 adds release key B; a release signed with B installs on the box.
  await signNextRoot({ s3: world.edge.publisherS3, bucket: BUCKET, modelsPrefix: MODELS_PREFIX, modelName: MODEL, signers: [world.rootSigner], release: [await releaseA.publicKeyPem(), await releaseB.publicKeyPem()] });
  const rotated = await world.edge.publish({ signer: releaseB, channels: ["candidate", "stable"] });
  expect((await refresh([releaseA, releaseB])).channels.stable).toBe(rotated.version);
  expect(await world.pull(box)).toMatchObject({ status: "installed", version: rotated.version, trust: { rootVersion: 2 } });

  // A new box behind a mirror that serves the first stable pointer again: stale, not an old model.
  await world.edge.setPointer("stable", first.version);
  const error = await world.pull(await world.edge.newDest()).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(StaleViewError);
  expect((error as Error).message).toContain(`points at version ${first.version}, but the timestamp issued at`);
  // …and the function keeps vouching for the newest stable, whatever the pointer says now.
  expect((await refresh([releaseA, releaseB])).channels.stable).toBe(rotated.version);

  // Revocation: root 3 drops key A; a release still signed with A is refused.
  await signNextRoot({ s3: world.edge.publisherS3, bucket: BUCKET, modelsPrefix: MODELS_PREFIX, modelName: MODEL, signers: [world.rootSigner], release: [await releaseB.publicKeyPem()] });
  await world.edge.publish({ signer: releaseA, channels: ["candidate", "stable"] });
  await refresh([releaseA, releaseB]);
  const revoked = await world.pull(box).catch((e: unknown) => e);
  expect(revoked).toBeInstanceOf(VerificationRefusedError);
  expect((revoked as VerificationRefusedError).reason).toBe("bad-signature");
  expect((revoked as Error).message).toMatch(/root version 3/);
});
