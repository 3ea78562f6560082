/**
 * Reading a small S3 object (a JSON document) as text, where a missing key is an answer, not an
 * error. Shared by the sweep keeper (keeper/sweepKeeper.ts) and `yolo-train sweep status|leaderboard`
 * (cli/sweep/sweepStore.ts), which both read the sweep's objects in its artifact bucket.
 */
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { isS3NotFound } from "../ota/s3Errors";

export { isS3NotFound };

/** The object's body as UTF-8 text; null when the key does not exist. Any other failure is thrown. */
export async function readS3Text(s3: S3Client, bucket: string, key: string): Promise<string | null> {
  try {
    const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await answer.Body!.transformToString("utf8");
  } catch (error) {
    if (isS3NotFound(error)) return null;
    throw error;
  }
}
