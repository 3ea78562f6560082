import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ProblemList, type Problem } from "../../runspec/problems";
import { abortIncompleteUploadsRule } from "./bucketLifecycle";
import { DATASETS_PREFIX } from "../../runspec/bucketLayout";
import { PrivateBucket } from "./privateBucket";
import { daysProblems } from "./storageArgs";
import { grantDatasetRead, type Grantee } from "../iam/grants";

export interface DatasetBucketArgs {
  /**
   * A customer managed KMS key to encrypt datasets with (SSE-KMS). The node role then also
   * needs `kms:Decrypt` on it, besides `readOnlyStatements`.
   * @default SSE-S3 (AES256)
   */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /**
   * Let `pulumi destroy` delete the bucket with every dataset in it.
   * @default false — a dataset may be the only copy; destroy fails on a non-empty bucket instead.
   */
  readonly forceDestroy?: boolean;
  /**
   * Days after which an unfinished multipart upload of a dataset is aborted and its parts deleted.
   * Longer than for artifacts: datasets are uploaded from people's machines, which may pause.
   * @default 7
   */
  readonly abortIncompleteUploadsAfterDays?: number;
  /** Tags for every taggable child. @default none */
  readonly tags?: Record<string, string>;
}

/**
 * The bucket training data lives in, one dataset per prefix: `datasets/<name>/data.yaml` with
 * its images and labels beside it (see `datasetPrefix` in `runspec/bucketLayout.ts`). Private,
 * TLS-only, encrypted and versioned, so a dataset a run trained on can be recovered after it is
 * overwritten. GPU nodes read it with `readOnlyStatements(bucketArn, datasetsPrefix)` from
 * `bucketPolicies.ts`.
 */
export class DatasetBucket extends pulumi.ComponentResource {
  /** Key prefix under which every dataset lives. */
  readonly datasetsPrefix: typeof DATASETS_PREFIX = DATASETS_PREFIX;
  readonly bucket: aws.s3.Bucket;
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;
  /** The KMS key datasets are encrypted with, when SSE-KMS; undefined for SSE-S3. */
  readonly kmsKeyArn: pulumi.Output<string> | undefined;

  constructor(name: string, args: DatasetBucketArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const problems = new ProblemList();
    const abortDays = args.abortIncompleteUploadsAfterDays ?? 7;
    for (const p of datasetBucketArgsProblems(args)) problems.add(p);
    problems.throwIfAny(`DatasetBucket "${name}"`);

    super("yolo-train:storage:DatasetBucket", name, {}, opts);

    const storage = new PrivateBucket(
      name,
      {
        versioning: "Enabled",
        kmsKeyArn: args.kmsKeyArn,
        forceDestroy: args.forceDestroy ?? false,
        lifecycleRules: [abortIncompleteUploadsRule(abortDays)],
        tags: args.tags,
      },
      { parent: this },
    );

    this.bucket = storage.bucket;
    this.bucketName = storage.bucketName;
    this.bucketArn = storage.bucketArn;
    this.kmsKeyArn = storage.kmsKeyArn;
    this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn, datasetsPrefix: this.datasetsPrefix });
  }

  /**
   * Lets `grantee` read (list and get, never write or delete) the objects under `prefix`, e.g. one
   * dataset's `datasets/<name>/`; with a customer managed key, also decrypt with it.
   */
  grantRead(grantee: Grantee, prefix: pulumi.Input<string>): void {
    grantDatasetRead(grantee, this, prefix);
  }
}

/** Every problem with `DatasetBucket`'s arguments (keys `DatasetBucket.<arg>`); empty when they are valid. */
export function datasetBucketArgsProblems(args: DatasetBucketArgs): Problem[] {
  return daysProblems("DatasetBucket.abortIncompleteUploadsAfterDays", args.abortIncompleteUploadsAfterDays ?? 7, 1, 365, 7);
}
