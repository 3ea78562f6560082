import { DeleteObjectsCommand, ListObjectVersionsCommand, type ObjectIdentifier, type S3Client } from "@aws-sdk/client-s3";

/**
 * What `yolo-train down --all` needs to know and do about the stack's buckets before
 * `pulumi destroy`. The buckets are versioned, and S3 refuses to delete a bucket while any object
 * version or delete marker remains: listing current objects (ListObjectsV2) would call a bucket
 * of old versions empty, and deleting current objects would only add delete markers.
 */

/** S3's limit on keys per DeleteObjects request (and the most ListObjectVersions returns). */
const BATCH = 1000;

/** Whether the bucket holds any object version or delete marker; false for a bucket that no longer exists. */
export async function bucketHoldsData(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 1 }));
    return (page.Versions?.length ?? 0) + (page.DeleteMarkers?.length ?? 0) > 0;
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchBucket") return false;
    throw error;
  }
}

export class BucketNotEmptiedError extends Error {
  constructor(
    readonly bucket: string,
    readonly failures: ReadonlyArray<{ readonly key: string; readonly versionId: string | undefined; readonly code: string }>,
  ) {
    const shown = failures.slice(0, 5).map((f) => `${f.key}${f.versionId ? ` (version ${f.versionId})` : ""}: ${f.code}`);
    const more = failures.length > shown.length ? `, and ${failures.length - shown.length} more` : "";
    super(`could not delete ${failures.length} object version${failures.length === 1 ? "" : "s"} in bucket ${bucket}: ${shown.join("; ")}${more}. The stack was not destroyed; fix the access and run the command again.`);
    this.name = "BucketNotEmptiedError";
  }
}

/**
 * Deletes every object version and delete marker in the bucket, a page at a time, and returns how
 * many it deleted. Keys S3 refuses to delete are collected across all pages and reported
 * together in a {@link BucketNotEmptiedError}, so one run shows every problem.
 */
export async function emptyBucket(s3: S3Client, bucket: string, onProgress?: (deleted: number) => void): Promise<number> {
  let deleted = 0;
  const failures: Array<{ key: string; versionId: string | undefined; code: string }> = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: BATCH, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
    const targets: ObjectIdentifier[] = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
      .filter((entry) => entry.Key !== undefined)
      .map((entry) => ({ Key: entry.Key!, VersionId: entry.VersionId }));
    if (targets.length > 0) {
      // Quiet: S3 answers with the failures only, which is all this needs.
      const answer = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: targets, Quiet: true } }));
      const refused = answer.Errors ?? [];
      for (const error of refused) failures.push({ key: error.Key ?? "(unknown key)", versionId: error.VersionId, code: error.Code ?? "UnknownError" });
      deleted += targets.length - refused.length;
      onProgress?.(deleted);
    }
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
  if (failures.length > 0) throw new BucketNotEmptiedError(bucket, failures);
  return deleted;
}
