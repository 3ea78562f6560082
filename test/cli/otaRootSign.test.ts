import { promises as fs } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { LocalKeySigner, publicKeyFingerprint, readPublicKey } from "../../ota/signature";
import { verifyNextRoot, verifyRootAnchoredBy, type TrustedRoot } from "../../ota/trust/rootDocument";
import { parseEnvelope } from "../../ota/trust/signedEnvelope";
import { S3Fake } from "../agent/fakes/s3Fake";
import { KmsFake } from "../ota/fakes/kmsFake";
import { runYoloTrain, type CliOutcome } from "../ota/edge/fakes/cliProcess";

const BUCKET = "ota-bucket";
let s3: S3Fake;
let kms: KmsFake;
let home: string;
const root = LocalKeySigner.generate();
const release = LocalKeySigner.generate();
const timestamp = LocalKeySigner.generate();
const files = { root: "", releasePub: "", timestamp: "", other: "" };

beforeAll(async () => {
  [s3, kms] = await Promise.all([S3Fake.start([BUCKET]), KmsFake.start()]);
  home = await fs.mkdtemp(path.join(tmpdir(), "yolo-train-root-sign-"));
  files.root = path.join(home, "root.pem");
  files.releasePub = path.join(home, "release.pub.pem");
  files.timestamp = path.join(home, "timestamp.pem"); // a private key: only its public half is listed
  files.other = path.join(home, "other.pem");
  await fs.writeFile(files.root, root.privateKeyPem());
  await fs.writeFile(files.releasePub, await release.publicKeyPem());
  await fs.writeFile(files.timestamp, timestamp.privateKeyPem());
  await fs.writeFile(files.other, LocalKeySigner.generate().privateKeyPem());
});
afterAll(async () => {
  await Promise.all([s3.close(), kms.close()]);
  await fs.rm(home, { recursive: true, force: true });
});

function yoloTrain(...args: string[]): Promise<CliOutcome> {
  return runYoloTrain(["ota", "root", "sign", "--bucket", BUCKET, ...args], { home, s3Endpoint: s3.endpoint, env: { AWS_ENDPOINT_URL_KMS: kms.endpoint } });
}
const fp = async (signer: LocalKeySigner): Promise<string> => publicKeyFingerprint(await signer.publicKeyPem());
const rootKeys = (model: string): Promise<string[]> => s3.listKeys(BUCKET, `models/${model}/root/`);

/** Walks the stored chain as a box pinned to `pinnedPem` does. */
async function boxWalk(model: string, pinnedPem: string): Promise<TrustedRoot> {
  let trusted: TrustedRoot | undefined;
  for (const key of await rootKeys(model)) {
    const bytes = (await s3.getObject(BUCKET, key))!;
    const envelope = parseEnvelope(bytes, key);
    trusted = trusted ? verifyNextRoot(trusted, envelope, bytes, key) : verifyRootAnchoredBy(envelope, bytes, readPublicKey(pinnedPem), model, key);
  }
  return trusted!;
}

describe("yolo-train ota root sign (a subprocess)", () => {
  it("signs the first root with PEM files, then a release key rotation to a KMS key, then revokes the old one", async () => {
    const model = "widgets";
    const first = await yoloTrain("--model", model, "--sign-with", files.root, "--release-key", files.releasePub, "--timestamp-key", files.timestamp);
    expect(first.stderr).not.toContain("yolo-train ota root sign");
    expect(first.status).toBe(0);
    expect(first.stdout).toContain(`wrote root version 1 of widgets to s3://${BUCKET}/models/widgets/root/0000000001.json (the first root; expires `);
    expect(first.stdout).toContain(`signed by  ${await fp(root)}  (--sign-with ${files.root})`);
    expect(first.stdout).toContain(`release    ${await fp(release)}  (--release-key ${files.releasePub})`);
    expect(first.stdout).toContain(`timestamp  ${await fp(timestamp)}  (--timestamp-key ${files.timestamp})`);
    expect((await s3.getObject(BUCKET, "models/widgets/root/0000000001.json"))!.toString()).not.toContain("PRIVATE");

    const kmsId = publicKeyFingerprint(kms.publicKeyPem);
    const rotated = await yoloTrain("--model", model, "--sign-with", files.root, "--release-key", files.releasePub, "--release-key", kms.keyArn, "--json");
    expect(rotated.status).toBe(0);
    const json = JSON.parse(rotated.stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ version: 2, previousVersion: 1, written: true, key: "models/widgets/root/0000000002.json", added: { root: [], release: [kmsId], timestamp: [] } });
    expect(json.keys).toEqual({ root: [await fp(root)], release: [await fp(release), kmsId], timestamp: [await fp(timestamp)] });
    expect(kms.calls.some((c) => c.target === "TrentService.GetPublicKey" && c.request.KeyId === kms.keyArn && c.signed)).toBe(true);

    const revoked = await yoloTrain("--model", model, "--sign-with", files.root, "--release-key", kms.alias);
    expect(revoked.status).toBe(0);
    expect(revoked.stdout).toContain("wrote root version 3 of widgets");
    expect(revoked.stdout).toContain(`revoked    release ${await fp(release)}`);
    const trusted = await boxWalk(model, await root.publicKeyPem());
    expect(trusted.document.version).toBe(3);
    expect(trusted.keys.release.map((k) => publicKeyFingerprint(k))).toEqual([kmsId]);
  });

  it("signs with a KMS root key, dry-runs without writing, and refuses a signer that is no root key (exit 2, nothing written)", async () => {
    const model = "gadgets";
    const dry = await yoloTrain("--model", model, "--sign-with", kms.alias, "--release-key", files.releasePub, "--timestamp-key", files.timestamp, "--dry-run");
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain("dry run: root version 1 of gadgets signed and verified, not written");
    expect(dry.stdout).toContain('"signatures":[{"keyId":"');
    expect(await rootKeys(model)).toEqual([]);

    // The timestamp key as PEM text, as `pulumi stack output otaTimestampPublicKeyPem` prints it.
    const signed = await yoloTrain("--model", model, "--sign-with", kms.keyArn, "--release-key", files.releasePub, "--timestamp-key", await timestamp.publicKeyPem(), "--expires-days", "30");
    expect(signed.status).toBe(0);
    expect(signed.stdout).toContain(`timestamp  ${await fp(timestamp)}  (--timestamp-key (PEM))`);
    expect(kms.calls.some((c) => c.target === "TrentService.Sign" && c.request.KeyId === kms.keyArn && c.status === 200)).toBe(true);
    expect((await boxWalk(model, kms.publicKeyPem)).document.version).toBe(1);

    const wrongSigner = await yoloTrain("--model", model, "--sign-with", files.other, "--json");
    expect(wrongSigner.status).toBe(2);
    expect(wrongSigner.stderr).toContain("yolo-train ota root sign: usage error: Root version 2 of gadgets was not signed");
    expect(wrongSigner.stderr).toContain("no signer is a root key of version 1");
    expect(JSON.parse(wrongSigner.stdout)).toMatchObject({ error: { kind: "invalid-input", exitCode: 2 } });
    expect(await rootKeys(model)).toEqual(["models/gadgets/root/0000000001.json"]);
  });

  it("exits 2 naming every bad flag, 1 on a broken chain; --help shows the examples", async () => {
    const noSigner = await yoloTrain("--model", "things", "--expires-days", "soon");
    expect(noSigner.status).toBe(2);
    expect(noSigner.stderr).toContain("2 options are unusable");
    expect(noSigner.stderr).toContain("`--sign-with` is not set");
    expect(noSigner.stderr).toContain('`--expires-days` is "soon"');

    const badKeys = await yoloTrain("--model", "things", "--sign-with", files.releasePub, "--release-key", path.join(home, "nope.pem"), "--timestamp-key", "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000");
    expect(badKeys.status).toBe(2);
    expect(badKeys.stderr).toContain("3 key arguments are unusable");
    expect(badKeys.stderr).toContain(`\`--sign-with\` is ${JSON.stringify(files.releasePub)}`);
    expect(badKeys.stderr).toContain(`\`--release-key\` is ${JSON.stringify(path.join(home, "nope.pem"))}`);
    expect(badKeys.stderr).toContain("`--timestamp-key` is \"arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000\"");

    const missingBucket = await runYoloTrain(["ota", "root", "sign", "--model", "things", "--sign-with", files.root], { home, s3Endpoint: s3.endpoint });
    expect(missingBucket.status).toBe(2);
    expect(missingBucket.stderr).toContain("required option '--bucket <name>' not specified");

    await s3.putObject(BUCKET, "models/things/root/0000000001.json", '{"signatures":[],"signed":{}}');
    const broken = await yoloTrain("--model", "things", "--sign-with", files.root, "--release-key", files.releasePub, "--timestamp-key", files.timestamp);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toContain("yolo-train ota root sign: BROKEN CHAIN: The root chain of things is broken at version 1");
    expect(await rootKeys("things")).toEqual(["models/things/root/0000000001.json"]);

    const help = await runYoloTrain(["ota", "root", "sign", "--help"], { home, s3Endpoint: s3.endpoint });
    expect(help.status).toBe(0);
    for (const example of ["otaRootKeyArn", "otaPublicKeyPem", "otaTimestampPublicKeyPem", "Rotate the release key", "Revoke a compromised release key", "Rotate the root key"]) {
      expect(help.stdout).toContain(example);
    }
  });
});
