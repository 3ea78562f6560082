import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createWriteStream } from "fs";
import { mkdir, rename, rm } from "fs/promises";
import { dirname, join, posix } from "path";
import { Readable } from "stream";
import { pipeline } from "stream/promises";
import { retry } from "./backoff";
import { UPLOAD_RETRY } from "./checkpointUploader";
import { describeError, type Logger } from "./log";

/**
 * Starting weights given as `s3://bucket/key.pt`: the agent fetches them (the trainer has no AWS
 * access) and passes the local path as `YOLO_TRAIN_MODEL`. A weights name like `yolov8n.pt` is left
 * to ultralytics.
 */
export function parseS3Uri(uri: string): { readonly bucket: string; readonly key: string } | null {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  return match ? { bucket: match[1] as string, key: match[2] as string } : null;
}

/** `<workdir>/model/<file name>`: beside the run, away from ultralytics' own weights folder. */
export function localModelPath(workdir: string, key: string): string {
  return join(workdir, "model", posix.basename(key));
}

/** `signal` cuts the download short (a spot notice or stop signal before the trainer starts). */
export async function downloadModel(s3: S3Client, uri: string, path: string, log: Logger, signal?: AbortSignal): Promise<void> {
  const location = parseS3Uri(uri);
  if (location === null) throw new Error(`${uri} is not an s3:// URI`);
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.download`;
  try {
    await retry(
      async () => {
        signal?.throwIfAborted();
        const answer = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }), { abortSignal: signal });
        if (!(answer.Body instanceof Readable)) throw new Error(`GetObject ${uri} returned no stream`);
        await pipeline(answer.Body, createWriteStream(partial), { signal });
      },
      { policy: UPLOAD_RETRY, ...(signal !== undefined ? { signal } : {}), onRetry: (error, n, delayMs) => log.warn("model-download-retry", { uri, retry: n + 1, delayMs, error: describeError(error) }) },
    );
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
}
