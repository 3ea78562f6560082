import { createHash } from "crypto";
import { createReadStream } from "fs";

/** Length and SHA-256 (hex) of a local file, streamed: checkpoints and models are large. */
export async function digestFile(path: string): Promise<{ readonly length: number; readonly sha256: string }> {
  const hash = createHash("sha256");
  let length = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    length += (chunk as Buffer).length;
  }
  return { length, sha256: hash.digest("hex") };
}
