import { InvalidInputError } from "../../../runspec/problems";
import { ArtifactBucket } from "../../../components/storage/artifactBucket";
import { runPrefix } from "../../../runspec/bucketLayout";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "test" });
});


const find = (type: string, name: string) => runtime.named(type, name);
const lifecycleOf = (name: string) =>
  find("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", `${name}-lifecycle`).inputs.rules as any[];

describe("ArtifactBucket", () => {
  beforeAll(async () => {
    await valueOf(new ArtifactBucket("artifacts", {}).bucketArn);
    await valueOf(new ArtifactBucket("artifacts-long", { noncurrentVersionExpirationDays: 90 }).bucketArn);
    await runtime.settle();
  });

  it("aborts multipart uploads a spot interruption left unfinished after 1 day", () => {
    const rule = lifecycleOf("artifacts").find((r) => r.id === "abort-incomplete-multipart-uploads");
    expect(rule).toMatchObject({ status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } });
  });

  it("expires noncurrent versions after 30 days by default, or the days given", () => {
    const byDefault = lifecycleOf("artifacts").find((r) => r.id === "expire-noncurrent-versions");
    expect(byDefault).toMatchObject({ status: "Enabled", noncurrentVersionExpiration: { noncurrentDays: 30 } });
    const custom = lifecycleOf("artifacts-long").find((r) => r.id === "expire-noncurrent-versions");
    expect(custom.noncurrentVersionExpiration).toEqual({ noncurrentDays: 90 });
  });

  it("is versioned, encrypted, TLS-only, private and kept on destroy", () => {
    expect(find("aws:s3/bucketVersioning:BucketVersioning", "artifacts-versioning").inputs.versioningConfiguration.status).toBe("Enabled");
    const sse = find("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "artifacts-encryption");
    expect(sse.inputs.rules[0].applyServerSideEncryptionByDefault).toEqual({ sseAlgorithm: "AES256" });
    const policy = JSON.parse(find("aws:s3/bucketPolicy:BucketPolicy", "artifacts-tls-only").inputs.policy);
    expect(policy.Statement[0]).toMatchObject({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    expect(find("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "artifacts-public-access-block").inputs.restrictPublicBuckets).toBe(true);
    expect(find("aws:s3/bucket:Bucket", "artifacts").inputs.forceDestroy).toBe(false);
  });

  it("puts each run under runs/<runId>/", () => {
    expect(runPrefix("exp-42")).toBe("runs/exp-42/");
  });

  it.each([0, 3651, 1.5])("rejects noncurrentVersionExpirationDays %p, naming it, and registers nothing", async (days) => {
    expect(() => new ArtifactBucket("bad-artifacts", { noncurrentVersionExpirationDays: days })).toThrow(InvalidInputError);
    expect(() => new ArtifactBucket("bad-artifacts", { noncurrentVersionExpirationDays: days })).toThrow(
      /ArtifactBucket\.noncurrentVersionExpirationDays/,
    );
    await runtime.settle();
    expect(runtime.resources.filter((r) => r.name.startsWith("bad-artifacts"))).toEqual([]);
  });
});
