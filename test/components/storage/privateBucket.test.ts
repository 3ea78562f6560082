import { expectRejectedWithNothingRegistered } from "../../offline/rejection";
import * as pulumi from "@pulumi/pulumi";
import { abortIncompleteUploadsRule, expireNoncurrentVersionsRule } from "../../../components/storage/bucketLifecycle";
import { PrivateBucket } from "../../../components/storage/privateBucket";
import { nameHash } from "../../../components/naming/physicalNames";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "test" });
});

/** URNs the resource named `name` was registered to depend on. */
const dependencies = { get: (name: string): readonly string[] => runtime.resources.find((r) => r.name === name)?.dependencies ?? [] };

/** Waits until no new resource has been registered for a while: children register as their inputs resolve. */

const find = (type: string, name: string) => runtime.named(type, name);

describe("PrivateBucket with defaults", () => {
  let bucket: PrivateBucket;
  beforeAll(async () => {
    bucket = new PrivateBucket("plain", {});
    await valueOf(bucket.bucketArn);
    await runtime.settle();
  });

  it("creates its bucket and every setting as children of the component", () => {
    const component = find("yolo-train:storage:PrivateBucket", "plain");
    const children = runtime.childrenOf(component.urn).map((r) => r.type).sort();
    expect(children).toEqual([
      "aws:s3/bucket:Bucket",
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
      "aws:s3/bucketPolicy:BucketPolicy",
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      "aws:s3/bucketVersioning:BucketVersioning",
    ]);
  });

  it("blocks all four kinds of public access", async () => {
    const pab = find("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "plain-public-access-block");
    expect(pab.inputs).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    expect(pab.inputs.bucket).toBe(await valueOf(bucket.bucketName));
  });

  it("disables ACLs: the bucket owner owns every object", () => {
    expect(find("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "plain-ownership").inputs.rule).toEqual({
      objectOwnership: "BucketOwnerEnforced",
    });
  });

  it("encrypts with SSE-S3 (AES256) and a bucket key", () => {
    const sse = find("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "plain-encryption");
    expect(sse.inputs.rules).toEqual([{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }]);
    expect(bucket.kmsKeyArn).toBeUndefined();
  });

  it("enables versioning", () => {
    expect(find("aws:s3/bucketVersioning:BucketVersioning", "plain-versioning").inputs.versioningConfiguration).toEqual({ status: "Enabled" });
  });

  it("denies every request without TLS, to the bucket and to its objects", async () => {
    const arn = await valueOf(bucket.bucketArn);
    const policy = JSON.parse(find("aws:s3/bucketPolicy:BucketPolicy", "plain-tls-only").inputs.policy);
    expect(policy.Statement).toEqual([
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [arn, `${arn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ]);
  });

  it("puts the bucket policy only after the public access block (avoids the known race)", () => {
    const pab = find("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "plain-public-access-block");
    expect(dependencies.get("plain-tls-only")).toContain(pab.urn);
  });

  it("refuses to delete a non-empty bucket on destroy", () => {
    expect(find("aws:s3/bucket:Bucket", "plain").inputs.forceDestroy).toBe(false);
  });

  it("has no lifecycle configuration unless given rules", () => {
    expect(runtime.ofType("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").filter((r) => r.name.startsWith("plain"))).toEqual([]);
  });

  it("outputs the bucket's name and ARN", async () => {
    expect(await valueOf(bucket.bucketName)).toMatch(/^plain-/);
    expect(await valueOf(bucket.bucketArn)).toBe(`arn:aws:s3:::${await valueOf(bucket.bucketName)}`);
  });
});

describe("PrivateBucket with options", () => {
  beforeAll(async () => {
    const b = new PrivateBucket("custom", {
      kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/abcd",
      versioning: "Suspended",
      forceDestroy: true,
      lifecycleRules: [abortIncompleteUploadsRule(2), expireNoncurrentVersionsRule(9)],
      tags: { team: "vision" },
    });
    await valueOf(b.bucketArn);
    await runtime.settle();
  });

  it("encrypts with the given KMS key", () => {
    const sse = find("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "custom-encryption");
    expect(sse.inputs.rules).toEqual([
      {
        applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: "arn:aws:kms:us-east-1:123456789012:key/abcd" },
        bucketKeyEnabled: true,
      },
    ]);
  });

  it("applies the versioning status, forceDestroy and tags given", () => {
    expect(find("aws:s3/bucketVersioning:BucketVersioning", "custom-versioning").inputs.versioningConfiguration.status).toBe("Suspended");
    const bucket = find("aws:s3/bucket:Bucket", "custom");
    expect(bucket.inputs.forceDestroy).toBe(true);
    expect(bucket.inputs.tags).toEqual({ team: "vision" });
  });

  it("sets the lifecycle rules after versioning", () => {
    const lifecycle = find("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "custom-lifecycle");
    expect(lifecycle.inputs.rules.map((r: any) => r.id)).toEqual(["abort-incomplete-multipart-uploads", "expire-noncurrent-versions"]);
    expect(lifecycle.inputs.rules[0].abortIncompleteMultipartUpload).toEqual({ daysAfterInitiation: 2 });
    expect(lifecycle.inputs.rules[1].noncurrentVersionExpiration).toEqual({ noncurrentDays: 9 });
    expect(dependencies.get("custom-lifecycle")).toContain(find("aws:s3/bucketVersioning:BucketVersioning", "custom-versioning").urn);
  });
});

describe("PrivateBucket with a name that is no bucket name", () => {
  it.each(["Bad_Name", `Yolo-Train-${"Very-Long-Stack-".repeat(4)}datasets`])("%s still gets a valid bucket, lower-cased, shortened and hashed", async (name) => {
    const bucket = new PrivateBucket(name, {});
    const physical = await valueOf(bucket.bucketName);
    expect(physical.length).toBeLessThanOrEqual(63);
    expect(physical).toMatch(/^[a-z0-9][a-z0-9-]*-[0-9a-f]{8}-0a1b2c3$/);
    expect(physical.startsWith(name.toLowerCase().replace(/_/g, "-").slice(0, 20))).toBe(true);
    expect(physical.endsWith(`-${nameHash(name)}-0a1b2c3`)).toBe(true);
  });
});

describe("PrivateBucket with invalid arguments", () => {
  it.each([
    ["an unknown versioning status", "bad-versioning", { versioning: "Disabled" as any }, ["PrivateBucket.versioning"]],
    ["two lifecycle rules with one id", "bad-rules", { lifecycleRules: [abortIncompleteUploadsRule(1), abortIncompleteUploadsRule(2)] }, ["PrivateBucket.lifecycleRules"]],
  ])("rejects %s, naming the argument, and registers nothing", async (_label, name, args, keys) => {
    await expectRejectedWithNothingRegistered(runtime, name, () => new PrivateBucket(name, args), keys);
  });
});
