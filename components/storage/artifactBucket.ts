import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ProblemList } from "../../runspec/problems";
import { abortIncompleteUploadsRule, expireNoncurrentVersionsRule } from "./bucketLifecycle";
import { RUNS_PREFIX } from "../../runspec/bucketLayout";
import { PrivateBucket } from "./privateBucket";
import { daysProblems } from "./storageArgs";
import { grantRunArtifacts, type Grantee } from "../iam/grants";

export interface ArtifactBucketArgs {
  /**
   * Days an overwritten or deleted object version (an older `last.pt`, a replaced status
   * record) is kept before it is deleted. Checkpoints are large and rewritten every epoch, so
   * keeping every version would cost more than the runs.
   * @default 30
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * A customer managed KMS key to encrypt artifacts with (SSE-KMS). The node role then also
   * needs `kms:Encrypt`/`kms:Decrypt`/`kms:GenerateDataKey` on it.
   * @default SSE-S3 (AES256)
   */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /**
   * Let `pulumi destroy` delete the bucket with every checkpoint, run record and model in it.
   * @default false — trained weights cost GPU-hours; destroy fails on a non-empty bucket instead.
   */
  readonly forceDestroy?: boolean;
  /** Tags for every taggable child. @default none */
  readonly tags?: Record<string, string>;
}

/**
 * The bucket each run writes to, under `runs/<runId>/` (see `runPrefix` in `runspec/bucketLayout.ts`):
 * checkpoints, results, the status record and the exported model. Private, TLS-only,
 * encrypted, versioned; multipart uploads left incomplete (a spot interruption mid-upload)
 * are aborted after 1 day, and old versions expire after `noncurrentVersionExpirationDays`.
 */
export class ArtifactBucket extends pulumi.ComponentResource {
  /** Key prefix under which every run lives (`runs/<runId>/`). */
  readonly runsPrefix: typeof RUNS_PREFIX = RUNS_PREFIX;
  readonly bucket: aws.s3.Bucket;
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;
  /** The KMS key artifacts are encrypted with, when SSE-KMS; undefined for SSE-S3. */
  readonly kmsKeyArn: pulumi.Output<string> | undefined;

  constructor(name: string, args: ArtifactBucketArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const problems = new ProblemList();
    for (const p of daysProblems("ArtifactBucket.noncurrentVersionExpirationDays", args.noncurrentVersionExpirationDays, 1, 3650)) {
      problems.add(p);
    }
    problems.throwIfAny(`ArtifactBucket "${name}"`);

    super("yolo-train:storage:ArtifactBucket", name, {}, opts);

    const storage = new PrivateBucket(
      name,
      {
        versioning: "Enabled",
        kmsKeyArn: args.kmsKeyArn,
        forceDestroy: args.forceDestroy ?? false,
        lifecycleRules: [
          // A node interrupted mid-upload leaves parts that are billed and never listed.
          abortIncompleteUploadsRule(1),
          expireNoncurrentVersionsRule(args.noncurrentVersionExpirationDays ?? 30),
        ],
        tags: args.tags,
      },
      { parent: this },
    );

    this.bucket = storage.bucket;
    this.bucketName = storage.bucketName;
    this.bucketArn = storage.bucketArn;
    this.kmsKeyArn = storage.kmsKeyArn;
    this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn, runsPrefix: this.runsPrefix });
  }

  /**
   * Lets `grantee` read and write (never delete) the objects under `prefix`: one run's
   * `runs/<runId>/`, never the whole bucket; with a customer managed key, also use it.
   */
  grantReadWrite(grantee: Grantee, prefix: pulumi.Input<string>): void {
    grantRunArtifacts(grantee, this, prefix);
  }
}
