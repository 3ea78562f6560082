import * as crypto from "crypto";
import { InvalidInputError } from "../../config/problems";
import { OtaBucket } from "../../components/otaBucket";
import { OfflineRuntime, valueOf } from "../../offline/offlineRuntime";

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "test" });
});


const find = (type: string, name: string) => runtime.named(type, name);
const asList = (v: string | string[]) => (typeof v === "string" ? [v] : v);

describe("OtaBucket", () => {
  let ota: OtaBucket;
  let releases: OtaBucket;
  beforeAll(async () => {
    ota = new OtaBucket("ota", { tags: { project: "yolo" } });
    releases = new OtaBucket("ota-releases", { modelsPrefix: "fleet-a/releases/", signingKeyAlias: "alias/factory/ota", signingKeyDeletionWindowInDays: 7 });
    await Promise.all([valueOf(ota.signingPublicKeyPem), valueOf(releases.signingPublicKeyPem), valueOf(ota.edgeReadPolicyArn)]);
    await runtime.settle();
  });

  it("stores models in a versioned, private, TLS-only bucket kept on destroy", () => {
    expect(find("aws:s3/bucketVersioning:BucketVersioning", "ota-versioning").inputs.versioningConfiguration.status).toBe("Enabled");
    expect(find("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "ota-public-access-block").inputs).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    const policy = JSON.parse(find("aws:s3/bucketPolicy:BucketPolicy", "ota-tls-only").inputs.policy);
    expect(policy.Statement[0]).toMatchObject({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    const sse = find("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "ota-encryption");
    expect(sse.inputs.rules[0].applyServerSideEncryptionByDefault).toEqual({ sseAlgorithm: "AES256" });
    expect(find("aws:s3/bucket:Bucket", "ota").inputs.forceDestroy).toBe(false);
  });

  it("publishes under models/ by default", async () => {
    expect(ota.modelsPrefix).toBe("models/");
    expect(releases.modelsPrefix).toBe("fleet-a/releases/");
  });

  it("gives edge devices read-only access to the models prefix and nothing else", async () => {
    const arn = await valueOf(ota.bucketArn);
    const policy = find("aws:iam/policy:Policy", "ota-edge-read");
    const doc = JSON.parse(policy.inputs.policy);
    const actions = doc.Statement.flatMap((s: any) => asList(s.Action)).sort();
    expect(actions).toEqual(["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]);
    for (const s of doc.Statement) {
      expect(s.Effect).toBe("Allow");
      for (const r of asList(s.Resource)) expect([arn, `${arn}/models/*`]).toContain(r);
    }
    const list = doc.Statement.find((s: any) => asList(s.Action).includes("s3:ListBucket"));
    expect(list.Condition).toEqual({ StringLike: { "s3:prefix": ["models/*"] } });
    expect(policy.inputs.tags).toEqual({ project: "yolo" });
    expect(await valueOf(ota.edgeReadPolicyArn)).toMatch(/^arn:aws:iam::\d{12}:policy\//);
  });

  it("scopes the edge policy to a custom models prefix", async () => {
    const arn = await valueOf(releases.bucketArn);
    const doc = JSON.parse(find("aws:iam/policy:Policy", "ota-releases-edge-read").inputs.policy);
    const resources = doc.Statement.flatMap((s: any) => asList(s.Resource));
    expect(resources).toContain(`${arn}/fleet-a/releases/*`);
    expect(resources).not.toContain(`${arn}/models/*`);
  });

  it("creates an ECC P-256 signing key that can only sign and verify, with a 30-day deletion window", () => {
    expect(find("aws:kms/key:Key", "ota-signing-key").inputs).toMatchObject({
      keyUsage: "SIGN_VERIFY",
      customerMasterKeySpec: "ECC_NIST_P256",
      deletionWindowInDays: 30,
      tags: { project: "yolo" },
    });
    expect(find("aws:kms/key:Key", "ota-signing-key").inputs.description).toMatch(/sign/i);
    expect(find("aws:kms/key:Key", "ota-releases-signing-key").inputs.deletionWindowInDays).toBe(7);
  });

  it("names the key with a stack-specific alias, or the alias given", async () => {
    const alias = find("aws:kms/alias:Alias", "ota-signing-key-alias");
    expect(alias.inputs).toEqual({ name: "alias/yolo-train/yolo-train/test/ota", targetKeyId: await valueOf(ota.signingKeyId) });
    expect(find("aws:kms/alias:Alias", "ota-releases-signing-key-alias").inputs.name).toBe("alias/factory/ota");
    expect(await valueOf(ota.signingKeyAlias)).toBe("alias/yolo-train/yolo-train/test/ota");
  });

  it("outputs the signing key's public half as a PEM that parses as an EC P-256 key", async () => {
    const pem = await valueOf(ota.signingPublicKeyPem);
    const key = crypto.createPublicKey(pem);
    expect(key.asymmetricKeyType).toBe("ec");
    expect(key.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const lookups = runtime.cloud.invokes.filter((i) => i.token === "aws:kms/getPublicKey:getPublicKey").map((i) => i.inputs.keyId);
    expect(lookups).toContain(await valueOf(ota.signingKeyArn));
    expect(runtime.cloud.unknownInvokes).toEqual([]);
  });

  it("outputs the bucket and key identifiers", async () => {
    expect(await valueOf(ota.bucketName)).toMatch(/^ota-/);
    expect(await valueOf(ota.bucketArn)).toBe(`arn:aws:s3:::${await valueOf(ota.bucketName)}`);
    expect(await valueOf(ota.signingKeyArn)).toMatch(/^arn:aws:kms:us-east-1:\d{12}:key\//);
    expect(await valueOf(ota.signingKeyId)).toBeTruthy();
  });

  it.each([
    ["a models prefix with a wildcard", { modelsPrefix: "models/*" }, "OtaBucket.modelsPrefix"],
    ["a models prefix without a trailing slash", { modelsPrefix: "models" }, "OtaBucket.modelsPrefix"],
    ["an alias under alias/aws/", { signingKeyAlias: "alias/aws/ota" }, "OtaBucket.signingKeyAlias"],
    ["a deletion window of 3 days", { signingKeyDeletionWindowInDays: 3 }, "OtaBucket.signingKeyDeletionWindowInDays"],
  ])("rejects %s, naming the argument, and registers nothing", async (_label, args, key) => {
    let error: unknown;
    try {
      new OtaBucket("bad-ota", args);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems.map((p) => p.key)).toEqual([key]);
    await runtime.settle();
    expect(runtime.resources.filter((r) => r.name.startsWith("bad-ota"))).toEqual([]);
  });
});
