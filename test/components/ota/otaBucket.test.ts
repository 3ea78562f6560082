import * as crypto from "crypto";
import { InvalidInputError } from "../../../runspec/problems";
import { OtaBucket } from "../../../components/ota/otaBucket";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";
import { TIMESTAMP_FUNCTION_ENV } from "../../../ota/trust/timestampFunctionEnv";

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
    releases = new OtaBucket("ota-releases", {
      modelsPrefix: "fleet-a/releases/",
      signingKeyAlias: "alias/factory/ota",
      rootKeyAlias: "alias/factory/ota-root",
      timestampKeyAlias: "alias/factory/ota-timestamp",
      signingKeyDeletionWindowInDays: 7,
      timestampExpiresHours: 48,
      timestampRefreshHours: 12,
    });
    await Promise.all(
      [ota, releases].flatMap((b) => [
        valueOf(b.signingPublicKeyPem),
        valueOf(b.rootPublicKeyPem),
        valueOf(b.timestampPublicKeyPem),
        valueOf(b.timestampFunctionName),
        valueOf(b.edgeReadPolicyArn),
      ]),
    );
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

  it("creates a root key and a timestamp key like the signing key: ECC P-256, sign and verify only, the same deletion window", () => {
    for (const [name, window] of [
      ["ota", 30],
      ["ota-releases", 7],
    ] as const) {
      for (const role of ["root", "timestamp"]) {
        expect(find("aws:kms/key:Key", `${name}-${role}-key`).inputs).toMatchObject({
          keyUsage: "SIGN_VERIFY",
          customerMasterKeySpec: "ECC_NIST_P256",
          deletionWindowInDays: window,
        });
      }
    }
    expect(find("aws:kms/key:Key", "ota-root-key").inputs.tags).toEqual({ project: "yolo" });
  });

  it("says the root key signs root documents, from an administrator's workstation only", () => {
    expect(find("aws:kms/key:Key", "ota-root-key").inputs.description).toBe(
      "yolo-train OTA: signs root documents of trust; use only from an administrator's workstation (yolo-train ota root sign)",
    );
    expect(find("aws:kms/key:Key", "ota-timestamp-key").inputs.description).toMatch(/timestamp\.json.*only by the stack's timestamp function/);
  });

  it("names the root and timestamp keys with stack-specific aliases, or the aliases given", async () => {
    expect(find("aws:kms/alias:Alias", "ota-root-key-alias").inputs).toEqual({
      name: "alias/yolo-train/yolo-train/test/ota/root",
      targetKeyId: (await valueOf(ota.rootKeyArn)).split("/").pop(),
    });
    expect(find("aws:kms/alias:Alias", "ota-timestamp-key-alias").inputs.name).toBe("alias/yolo-train/yolo-train/test/ota/timestamp");
    expect(find("aws:kms/alias:Alias", "ota-releases-root-key-alias").inputs.name).toBe("alias/factory/ota-root");
    expect(find("aws:kms/alias:Alias", "ota-releases-timestamp-key-alias").inputs.name).toBe("alias/factory/ota-timestamp");
    expect(await valueOf(ota.rootKeyAlias)).toBe("alias/yolo-train/yolo-train/test/ota/root");
    expect(await valueOf(ota.timestampKeyAlias)).toBe("alias/yolo-train/yolo-train/test/ota/timestamp");
  });

  it("outputs three different keys, each public half a PEM of its own that parses as EC P-256", async () => {
    const arns = await Promise.all([valueOf(ota.signingKeyArn), valueOf(ota.rootKeyArn), valueOf(ota.timestampKeyArn)]);
    for (const arn of arns) expect(arn).toMatch(/^arn:aws:kms:us-east-1:\d{12}:key\//);
    expect(new Set(arns).size).toBe(3);
    const pems = await Promise.all([valueOf(ota.signingPublicKeyPem), valueOf(ota.rootPublicKeyPem), valueOf(ota.timestampPublicKeyPem)]);
    expect(new Set(pems).size).toBe(3);
    for (const pem of pems) expect(crypto.createPublicKey(pem).asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const lookups = runtime.cloud.invokes.filter((i) => i.token === "aws:kms/getPublicKey:getPublicKey").map((i) => i.inputs.keyId);
    expect(lookups).toEqual(expect.arrayContaining(arns));
  });

  it("re-signs the timestamps with a function trusting the signing key as release key, every 6 h by default", async () => {
    const fn = runtime.ofType("aws:lambda/function:Function").find((r) => r.name === "ota-timestamp")!;
    const env = fn.inputs.environment.variables;
    expect(env).toEqual({
      [TIMESTAMP_FUNCTION_ENV.bucket]: await valueOf(ota.bucketName),
      [TIMESTAMP_FUNCTION_ENV.modelsPrefix]: "models/",
      [TIMESTAMP_FUNCTION_ENV.keyId]: await valueOf(ota.timestampKeyArn),
      [TIMESTAMP_FUNCTION_ENV.releasePublicKeys]: JSON.stringify([await valueOf(ota.signingPublicKeyPem)]),
      [TIMESTAMP_FUNCTION_ENV.expiresHours]: "24",
    });
    expect(fn.inputs.tags).toEqual({ project: "yolo" });
    expect(await valueOf(ota.timestampFunctionName)).toBe("ota-timestamp-0a1b2c3");
    expect(find("aws:scheduler/schedule:Schedule", "ota-timestamp-schedule").inputs.scheduleExpression).toBe("rate(6 hours)");
    expect(ota.timestampFunction.expiresHours).toBe(24);
    expect(ota.timestampFunction.refreshHours).toBe(6);
  });

  it("passes a custom lifetime, refresh period and models prefix to the function", () => {
    const fn = runtime.ofType("aws:lambda/function:Function").find((r) => r.name === "ota-releases-timestamp")!;
    expect(fn.inputs.environment.variables[TIMESTAMP_FUNCTION_ENV.expiresHours]).toBe("48");
    expect(fn.inputs.environment.variables[TIMESTAMP_FUNCTION_ENV.modelsPrefix]).toBe("fleet-a/releases/");
    expect(find("aws:scheduler/schedule:Schedule", "ota-releases-timestamp-schedule").inputs.scheduleExpression).toBe("rate(12 hours)");
  });

  it("lets no policy it creates use the root key, and only the timestamp function use the timestamp key", async () => {
    const rootArn = await valueOf(ota.rootKeyArn);
    const timestampArn = await valueOf(ota.timestampKeyArn);
    const documents = runtime.resources
      .filter((r) => r.name.startsWith("ota-") || r.name === "ota")
      .flatMap((r) => [r.inputs.policy, r.inputs.assumeRolePolicy].filter((d): d is string => typeof d === "string").map((d) => ({ r, doc: JSON.parse(d) })));
    expect(documents.length).toBeGreaterThanOrEqual(5); // edge read, TLS-only, function role + trust, scheduler role + trust
    for (const { r, doc } of documents) {
      for (const statement of doc.Statement) {
        const resources = statement.Resource === undefined ? [] : asList(statement.Resource);
        expect(resources).not.toContain(rootArn);
        expect(JSON.stringify(statement.Condition ?? {})).not.toContain(rootArn);
        if (resources.includes(timestampArn)) expect(r.name).toBe("ota-timestamp-role");
        for (const resource of resources) expect(resource).not.toMatch(/^\*$|:kms:.*:key\/\*$/);
      }
    }
    const edge = JSON.parse(find("aws:iam/policy:Policy", "ota-edge-read").inputs.policy);
    expect(edge.Statement.flatMap((st: any) => asList(st.Action)).some((a: string) => a.startsWith("kms:"))).toBe(false);
  });

  it("fits the function's names for the longest bucket name and a 26-character stack", async () => {
    const longest = new OtaBucket("yolo-train-factory-line-7-widgets-stg-ota-0123456789abc", {});
    expect("yolo-train-factory-line-7-widgets-stg-ota-0123456789abc").toHaveLength(55);
    const name = await valueOf(longest.timestampFunctionName);
    expect(name.length).toBeLessThanOrEqual(64);
    // A readable head and tail, and the hash of the whole logical name (see physicalNames.ts).
    expect(name).toMatch(/^yolo-train-factory-line-[a-z0-9-]*-timestamp-[0-9a-f]{8}-0a1b2c3$/);
  });

  it("reports every timestamp and alias problem at once, and registers nothing", async () => {
    let error: unknown;
    try {
      new OtaBucket("bad-ota-all", {
        signingKeyAlias: "alias/fleet/ota",
        timestampKeyAlias: "alias/fleet/ota",
        rootKeyAlias: "alias/aws/root",
        timestampExpiresHours: 200,
        timestampRefreshHours: 0,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems.map((p) => p.key)).toEqual([
      "OtaBucket.rootKeyAlias",
      "OtaBucket.timestampKeyAlias",
      "OtaBucket.timestampExpiresHours",
      "OtaBucket.timestampRefreshHours",
    ]);
    expect((error as Error).message).toContain("OtaBucket.signingKeyAlias is \"alias/fleet/ota\" too");
    await runtime.settle();
    expect(runtime.resources.filter((r) => r.name.startsWith("bad-ota-all"))).toEqual([]);
  });

  it.each([
    ["a models prefix with a wildcard", { modelsPrefix: "models/*" }, "OtaBucket.modelsPrefix"],
    ["a timestamp lifetime over a week", { timestampExpiresHours: 169 }, "OtaBucket.timestampExpiresHours"],
    ["a refresh over half the timestamp lifetime", { timestampRefreshHours: 13 }, "OtaBucket.timestampRefreshHours"],
    ["a refresh over half a given lifetime", { timestampExpiresHours: 8, timestampRefreshHours: 6 }, "OtaBucket.timestampRefreshHours"],
    ["a fractional refresh", { timestampRefreshHours: 1.5 }, "OtaBucket.timestampRefreshHours"],
    ["a root key alias under alias/aws/", { rootKeyAlias: "alias/aws/root" }, "OtaBucket.rootKeyAlias"],
    ["a root key alias the same as the signing key's", { signingKeyAlias: "alias/a", rootKeyAlias: "alias/a" }, "OtaBucket.rootKeyAlias"],
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
