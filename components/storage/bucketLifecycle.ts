/**
 * S3 lifecycle rules the storage components use. Pure: plain rule values for
 * `aws.s3.BucketLifecycleConfiguration`.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html
 */
import type * as aws from "@pulumi/aws";

export type LifecycleRule = aws.types.input.s3.BucketLifecycleConfigurationRule;

/**
 * Aborts multipart uploads still incomplete `days` after they began. An upload cut off midway
 * (a spot interruption, a closed laptop) leaves parts that are billed as storage and never
 * show up in a listing.
 */
export function abortIncompleteUploadsRule(days: number): LifecycleRule {
  assertDays(days, "days after initiation");
  return {
    id: "abort-incomplete-multipart-uploads",
    status: "Enabled",
    // An empty filter applies the rule to every object in the bucket.
    filter: {},
    abortIncompleteMultipartUpload: { daysAfterInitiation: days },
  };
}

/**
 * Deletes object versions `days` after they stopped being current, and then the delete markers
 * left with no versions behind them. Keeps a window to recover an overwritten or deleted
 * checkpoint without paying for every version forever.
 */
export function expireNoncurrentVersionsRule(days: number): LifecycleRule {
  assertDays(days, "noncurrent days");
  return {
    id: "expire-noncurrent-versions",
    status: "Enabled",
    filter: {},
    noncurrentVersionExpiration: { noncurrentDays: days },
    expiration: { expiredObjectDeleteMarker: true },
  };
}

function assertDays(days: number, what: string): void {
  if (!Number.isInteger(days) || days < 1) throw new Error(`${what} must be a whole number of days ≥ 1, got ${days}`);
}
