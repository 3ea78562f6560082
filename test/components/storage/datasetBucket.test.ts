import { InvalidInputError } from "../../../runspec/problems";
import { readOnlyStatements } from "../../../components/storage/bucketPolicies";
import { DatasetBucket } from "../../../components/storage/datasetBucket";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "test" });
});


const find = (type: string, name: string) => runtime.named(type, name);

describe("DatasetBucket", () => {
  let datasets: DatasetBucket;
  beforeAll(async () => {
    datasets = new DatasetBucket("datasets", { tags: { project: "yolo" } });
    await valueOf(datasets.bucketArn);
    await runtime.settle();
  });

  it("is a private bucket inside the component", () => {
    const component = find("yolo-train:storage:DatasetBucket", "datasets");
    const storage = find("yolo-train:storage:PrivateBucket", "datasets");
    expect(storage.parentUrn).toBe(component.urn);
    expect(find("aws:s3/bucket:Bucket", "datasets").parentUrn).toBe(storage.urn);
  });

  it("keeps datasets under datasets/", () => {
    expect(datasets.datasetsPrefix).toBe("datasets/");
  });

  it("is versioned, blocks public access, is TLS-only and keeps data on destroy", () => {
    expect(find("aws:s3/bucketVersioning:BucketVersioning", "datasets-versioning").inputs.versioningConfiguration).toEqual({ status: "Enabled" });
    expect(find("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "datasets-public-access-block").inputs).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    const policy = JSON.parse(find("aws:s3/bucketPolicy:BucketPolicy", "datasets-tls-only").inputs.policy);
    expect(policy.Statement[0]).toMatchObject({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    const bucket = find("aws:s3/bucket:Bucket", "datasets");
    expect(bucket.inputs.forceDestroy).toBe(false);
    expect(bucket.inputs.tags).toEqual({ project: "yolo" });
  });

  it("aborts dataset uploads left unfinished for a week", () => {
    const lifecycle = find("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "datasets-lifecycle");
    expect(lifecycle.inputs.rules).toEqual([
      { id: "abort-incomplete-multipart-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } },
    ]);
  });

  it("gives the node role read-only statements scoped to datasets/", async () => {
    const arn = await valueOf(datasets.bucketArn);
    const [get, list] = readOnlyStatements(arn, datasets.datasetsPrefix);
    expect(get!.Resource).toBe(`${arn}/datasets/*`);
    expect(get!.Action).toEqual(["s3:GetObject"]);
    expect(list!.Condition).toEqual({ StringLike: { "s3:prefix": ["datasets/*"] } });
  });

  it("fits a name that cannot prefix a bucket name into one, instead of refusing it", async () => {
    const fitted = new DatasetBucket("My.Datasets", {});
    expect(await valueOf(fitted.bucketName)).toMatch(/^my-datasets-[0-9a-f]{8}-0a1b2c3$/);
  });

  it("rejects a bad argument, naming it, and registers nothing", async () => {
    expect(() => new DatasetBucket("data2", { abortIncompleteUploadsAfterDays: 0 })).toThrow(InvalidInputError);
    expect(() => new DatasetBucket("data2", { abortIncompleteUploadsAfterDays: 0 })).toThrow(/DatasetBucket\.abortIncompleteUploadsAfterDays/);
    await runtime.settle();
    expect(runtime.resources.filter((r) => r.name.startsWith("data2"))).toEqual([]);
  });
});
