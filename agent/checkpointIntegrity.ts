/**
 * Integrity facts about a file the agent uploads or downloads. Pure (hashing in memory, no I/O).
 */

const ZIP_LOCAL_HEADER = [0x50, 0x4b, 0x03, 0x04];
const ZIP_END_OF_CENTRAL_DIRECTORY = 0x06054b50;
/** The end record (22 bytes) plus the longest zip comment. */
export const ZIP_TAIL_BYTES = 22 + 0xffff;

/**
 * Whether a file is a zip archive cut short. `torch.save` writes a zip (PyTorch ≥ 1.6), and
 * ultralytics rewrites `last.pt` in place, so a trainer killed mid-write leaves a file that starts
 * like a zip but has no end record, or is still shorter than a zip header (0–3 bytes: emptied by
 * the rewrite, not yet written). Files that are not zips (a stand-in trainer's) are never "torn":
 * the agent cannot judge them and uploads them as they are.
 * @param head the first bytes of the file (at least 4)
 * @param tail the last `min(size, ZIP_TAIL_BYTES)` bytes
 */
export function isTornZip(head: Uint8Array, tail: Uint8Array): boolean {
  // Shorter than a zip header: torn if it is the start of one (an empty file is what
  // `open(path, "wb")` leaves before torch.save has written a byte).
  if (head.length < ZIP_LOCAL_HEADER.length) return head.every((b, i) => b === ZIP_LOCAL_HEADER[i]);
  if (!ZIP_LOCAL_HEADER.every((b, i) => head[i] === b)) return false;
  const view = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
  for (let at = view.length - 22; at >= 0; at--) {
    if (view.readUInt32LE(at) !== ZIP_END_OF_CENTRAL_DIRECTORY) continue;
    const commentLength = view.readUInt16LE(at + 20);
    if (at + 22 + commentLength === view.length) return false;
  }
  return true;
}

export interface FileDigest {
  readonly bytes: number;
  /** Hex SHA-256 of the whole file: the object's `sha256` metadata and the record's `checkpoint.sha256`. */
  readonly sha256: string;
}

/**
 * Whether an S3 `ChecksumSHA256` answer agrees with the file. A full-object checksum (a single PUT,
 * or S3's FULL_OBJECT type) must equal the file's SHA-256. A composite one (`…-<parts>`, multipart
 * uploads) is not compared: S3 checked every part's SHA-256 on receipt, and recomputing part digests
 * would cost a second hash of every byte on the spot-warning path. Endpoints that keep no checksums
 * (s3rver) answer nothing, which is no evidence either way.
 */
export function s3ChecksumAgrees(reported: string | undefined, digest: FileDigest): boolean {
  if (reported === undefined || reported === "" || /-\d+$/.test(reported)) return true;
  return reported === Buffer.from(digest.sha256, "hex").toString("base64");
}
