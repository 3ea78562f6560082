import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ProblemList } from "../../runspec/problems";
import type { LifecycleRule } from "./bucketLifecycle";
import { tlsOnlyBucketPolicy } from "./bucketPolicies";
import { autoName, NAME_RULES } from "../naming/physicalNames";

export interface PrivateBucketArgs {
  /**
   * Versioning of the bucket. Versions let a deleted or overwritten object be recovered.
   * `Suspended` only makes sense for a bucket that had versioning on.
   * @default "Enabled"
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html
   */
  readonly versioning?: "Enabled" | "Suspended";
  /**
   * A customer managed KMS key to encrypt objects with (SSE-KMS). Readers then also need
   * `kms:Decrypt` on this key.
   * @default SSE-S3 (AES256, keys managed by S3; no KMS cost, no key permissions to grant)
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-encryption.html
   */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /**
   * Let `pulumi destroy` delete the bucket with every object and version in it.
   * @default false — datasets, checkpoints and released models outlive a stack by default: a
   * destroy fails on a non-empty bucket instead of deleting data that may have cost GPU-days.
   * Set true for throwaway stacks.
   */
  readonly forceDestroy?: boolean;
  /**
   * Lifecycle rules (see `bucketLifecycle.ts` for the ones this package uses). Rule ids must be unique.
   * @default no lifecycle configuration
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html
   */
  readonly lifecycleRules?: readonly LifecycleRule[];
  /**
   * Tags for the bucket.
   * @default no tags beyond the provider's default tags
   */
  readonly tags?: Record<string, string>;
}

/**
 * An S3 bucket nobody can make public and nobody can reach without TLS: public access blocked
 * (all four settings), ACLs disabled (bucket owner enforced), encrypted at rest, versioned,
 * and a bucket policy denying any request without TLS. The building block of the dataset,
 * artifact and OTA buckets.
 *
 * The bucket's physical name is `<name>-<random suffix>` when `name` is a valid bucket name
 * prefix (lowercase, digits, hyphens, at most 55 characters); any other name is fitted to one
 * (lower-cased, shortened, with a hash of it: see `autoName` in `physicalNames.ts`).
 */
export class PrivateBucket extends pulumi.ComponentResource {
  /** The bucket itself, for resources that need the object (e.g. `dependsOn`). */
  readonly bucket: aws.s3.Bucket;
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;
  /** The KMS key objects are encrypted with, when SSE-KMS; undefined for SSE-S3. */
  readonly kmsKeyArn: pulumi.Output<string> | undefined;

  constructor(name: string, args: PrivateBucketArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const problems = new ProblemList();
    if (args.versioning !== undefined && args.versioning !== "Enabled" && args.versioning !== "Suspended") {
      problems.add({ key: "PrivateBucket.versioning", value: args.versioning, allowed: '"Enabled" or "Suspended"', fix: 'omit it for "Enabled"' });
    }
    const ids = (args.lifecycleRules ?? []).map((r) => r.id);
    const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (duplicates.length > 0) {
      problems.add({ key: "PrivateBucket.lifecycleRules", value: ids, allowed: "rules with unique ids", fix: "rename or merge the rules with the same id" });
    }
    problems.throwIfAny(`PrivateBucket "${name}"`);

    super("yolo-train:storage:PrivateBucket", name, {}, opts);

    // Named like the component (a different type, so a different URN): the bucket's physical
    // name is derived from it, and `<name>-bucket-<suffix>` would only be longer.
    this.bucket = new aws.s3.Bucket(
      autoName(NAME_RULES.s3Bucket, name),
      { forceDestroy: args.forceDestroy ?? false, tags: args.tags },
      { parent: this },
    );
    const bucketName = this.bucket.bucket;

    const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access-block`,
      { bucket: bucketName, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
      { parent: this },
    );

    // ACLs off: access is decided by policies alone, and every object belongs to the bucket owner.
    const ownership = new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      { bucket: bucketName, rule: { objectOwnership: "BucketOwnerEnforced" } },
      { parent: this },
    );

    this.kmsKeyArn = args.kmsKeyArn === undefined ? undefined : pulumi.output(args.kmsKeyArn);
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket: bucketName,
        rules: [
          {
            applyServerSideEncryptionByDefault:
              args.kmsKeyArn === undefined
                ? { sseAlgorithm: "AES256" }
                : { sseAlgorithm: "aws:kms", kmsMasterKeyId: args.kmsKeyArn },
            // Cuts KMS requests (and their cost) by ~99 % with SSE-KMS; S3 accepts and ignores it with SSE-S3.
            bucketKeyEnabled: true,
          },
        ],
      },
      { parent: this },
    );

    const versioning = new aws.s3.BucketVersioning(
      `${name}-versioning`,
      { bucket: bucketName, versioningConfiguration: { status: args.versioning ?? "Enabled" } },
      { parent: this },
    );

    // Putting a bucket policy while the public access block is being applied can fail with
    // AccessDenied / OperationAborted; ordering them avoids the race.
    new aws.s3.BucketPolicy(
      `${name}-tls-only`,
      { bucket: bucketName, policy: this.bucket.arn.apply((arn) => JSON.stringify(tlsOnlyBucketPolicy(arn))) },
      { parent: this, dependsOn: [publicAccessBlock, ownership] },
    );

    if (args.lifecycleRules && args.lifecycleRules.length > 0) {
      // Rules about noncurrent versions need versioning in place first.
      new aws.s3.BucketLifecycleConfiguration(
        `${name}-lifecycle`,
        { bucket: bucketName, rules: [...args.lifecycleRules] },
        { parent: this, dependsOn: [versioning] },
      );
    }

    this.bucketName = bucketName;
    this.bucketArn = this.bucket.arn;
    this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn });
  }
}
