/**
 * Integrity facts about a file the agent uploads or downloads. Pure (hashing in memory, no I/O),
 * except {@link inspectZip}, which reads through the {@link ByteSource} it is given.
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
 * the agent cannot judge them and uploads them as they are. This is the quick test on the file's
 * ends alone; the agent decides with {@link inspectZip}, which also follows the end records into the
 * central directory and the entries.
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

/**
 * Whether a checkpoint is a whole zip archive, as `torch.load` needs it: the end of central directory
 * record at the end of the file (with the zip64 locator and end record `torch.save` writes before it),
 * a central directory where those records say, ending where they begin, holding as many entries as
 * they count, and every entry's local header where the directory says, its data ending before the
 * next entry and the directory. CRCs are not checked (that would read every byte; the agent hashes
 * the file once anyway, for S3): the copy the agent takes is known to be one version of the file by
 * its (inode, size, mtime) before and after the copy, so the question here is only whether that
 * version was written to its end.
 */
export type ZipVerdict =
  | { readonly kind: "whole"; readonly entries: number }
  /** A zip cut short or damaged (`reason` says where), or a file emptied by a rewrite. Never uploaded. */
  | { readonly kind: "incomplete"; readonly reason: string }
  /** Not a zip archive at all (a stand-in trainer's checkpoint): the agent cannot judge it. */
  | { readonly kind: "not-zip" };

/** Random access to a file's bytes: a file handle on the node, a buffer in tests. */
export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes from `offset`; fewer only at the end of the file. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const END_RECORD_BYTES = 22;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_END_RECORD_BYTES = 56;
const CENTRAL_HEADER_BYTES = 46;
const LOCAL_HEADER_BYTES = 30;
/** The first read from the end: the end record with the longest comment, and the zip64 records before it. */
export const ZIP_END_BYTES = ZIP_TAIL_BYTES + ZIP64_LOCATOR_BYTES + ZIP64_END_RECORD_BYTES;
/**
 * A central directory larger than this is not read: a real checkpoint's takes about 60 bytes per
 * tensor (21 KiB for a yolov8n model alone), and a damaged end record must not make the agent
 * allocate gigabytes.
 */
export const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;

const view = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

/** Where the central directory is, as the end records say. */
export interface CentralDirectoryPlace {
  readonly offset: number;
  readonly bytes: number;
  readonly entries: number;
  /** Where the records after the directory begin (the zip64 end record, else the end record): the directory ends here. */
  readonly endsAt: number;
}

/** The classic end record, and where the zip64 end record is when a locator precedes it. */
export interface EndRecord {
  readonly at: number;
  readonly entries: number;
  readonly directoryBytes: number;
  readonly directoryOffset: number;
  /** Offsets of the zip64 locator and of the zip64 end record it points at; null for a classic archive. */
  readonly zip64: { readonly locatorAt: number; readonly recordAt: number } | null;
}

/**
 * How the first bytes of a file of `size` bytes classify it: a zip (starts with a local file
 * header), not a zip, or incomplete: shorter than a zip header and the start of one (an empty file is
 * what `open(path, "wb")` leaves before `torch.save` has written a byte).
 */
export function zipStart(head: Uint8Array, size: number): "zip" | ZipVerdict {
  if (size < ZIP_LOCAL_HEADER.length) {
    const prefix = head.subarray(0, size).every((b, i) => b === ZIP_LOCAL_HEADER[i]);
    return prefix ? { kind: "incomplete", reason: `${size} bytes: emptied by a rewrite or cut before the zip header` } : { kind: "not-zip" };
  }
  return ZIP_LOCAL_HEADER.every((b, i) => head[i] === b) ? "zip" : { kind: "not-zip" };
}

/**
 * The end record in `tail` (the file's last bytes, starting at `tailOffset` of a `size`-byte file):
 * the last end record signature whose comment reaches exactly the end of the file, checked for a
 * single-disk archive; or why there is none.
 */
export function findEndRecord(tail: Uint8Array, tailOffset: number, size: number): EndRecord | string {
  const bytes = view(tail);
  for (let i = bytes.length - END_RECORD_BYTES; i >= 0; i--) {
    if (bytes.readUInt32LE(i) !== ZIP_END_OF_CENTRAL_DIRECTORY) continue;
    if (tailOffset + i + END_RECORD_BYTES + bytes.readUInt16LE(i + 20) !== size) continue;
    const at = tailOffset + i;
    const [disk, directoryDisk, entriesHere, entries] = [4, 6, 8, 10].map((o) => bytes.readUInt16LE(i + o)) as [number, number, number, number];
    if ((disk !== 0 && disk !== U16_MAX) || (directoryDisk !== 0 && directoryDisk !== U16_MAX)) return `the end record at ${at} names disk ${disk}, directory disk ${directoryDisk}: not a single-file archive`;
    if (entriesHere !== entries) return `the end record at ${at} counts ${entriesHere} entries on this disk but ${entries} in all`;
    const record = { at, entries, directoryBytes: bytes.readUInt32LE(i + 12), directoryOffset: bytes.readUInt32LE(i + 16) };
    const locator = i - ZIP64_LOCATOR_BYTES;
    if (locator < 0 || bytes.readUInt32LE(locator) !== ZIP64_LOCATOR) return { ...record, zip64: null };
    const recordAt = Number(bytes.readBigUInt64LE(locator + 8));
    const locatorAt = tailOffset + locator;
    if (bytes.readUInt32LE(locator + 4) !== 0 || bytes.readUInt32LE(locator + 16) !== 1) return `the zip64 locator at ${locatorAt} is not that of a single-file archive`;
    if (recordAt + ZIP64_END_RECORD_BYTES > locatorAt) return `the zip64 locator at ${locatorAt} points at ${recordAt}, past where a zip64 end record fits`;
    return { ...record, zip64: { locatorAt, recordAt } };
  }
  return "no end of central directory record at the end of the file";
}

/** The directory's place from a classic end record (no zip64 locator). */
export function classicDirectory(end: EndRecord): CentralDirectoryPlace {
  return { offset: end.directoryOffset, bytes: end.directoryBytes, entries: end.entries, endsAt: end.at };
}

/**
 * The directory's place from the zip64 end record (`record`: its first 56 bytes, at
 * `end.zip64.recordAt`). The classic record's fields must be saturated or agree with it: `torch.save`
 * writes both, and a disagreement means one of them is damaged.
 */
export function zip64Directory(record: Uint8Array, end: EndRecord & { readonly zip64: NonNullable<EndRecord["zip64"]> }): CentralDirectoryPlace | string {
  const { recordAt, locatorAt } = end.zip64;
  if (record.length < ZIP64_END_RECORD_BYTES) return `the zip64 end record at ${recordAt} is cut short`;
  const bytes = view(record);
  if (bytes.readUInt32LE(0) !== ZIP64_END_OF_CENTRAL_DIRECTORY) return `no zip64 end record at ${recordAt}, where the locator points`;
  const u64 = (o: number): number => Number(bytes.readBigUInt64LE(o));
  // The record's own length (after its first 12 bytes) takes it exactly to the locator.
  if (recordAt + 12 + u64(4) !== locatorAt) return `the zip64 end record at ${recordAt} (${u64(4) + 12} bytes) does not end at the locator (${locatorAt})`;
  if (bytes.readUInt32LE(16) !== 0 || bytes.readUInt32LE(20) !== 0) return `the zip64 end record at ${recordAt} is not that of a single-file archive`;
  const [entriesHere, entries, directoryBytes, directoryOffset] = [24, 32, 40, 48].map(u64) as [number, number, number, number];
  if (entriesHere !== entries) return `the zip64 end record counts ${entriesHere} entries on this disk but ${entries} in all`;
  const disagreements = [
    end.entries !== U16_MAX && end.entries !== entries ? `${end.entries} entries instead of ${entries}` : null,
    end.directoryBytes !== U32_MAX && end.directoryBytes !== directoryBytes ? `a directory of ${end.directoryBytes} bytes instead of ${directoryBytes}` : null,
    end.directoryOffset !== U32_MAX && end.directoryOffset !== directoryOffset ? `the directory at ${end.directoryOffset} instead of ${directoryOffset}` : null,
  ].filter((d): d is string => d !== null);
  if (disagreements.length > 0) return `the end record disagrees with the zip64 end record: ${disagreements.join(", ")}`;
  return { offset: directoryOffset, bytes: directoryBytes, entries, endsAt: recordAt };
}

/** Why the directory cannot be where the end records say, or null when it can. */
export function directoryPlaceProblem(place: CentralDirectoryPlace): string | null {
  if (place.offset + place.bytes !== place.endsAt) {
    return `the central directory (${place.bytes} bytes at ${place.offset}) does not end where the end records begin (${place.endsAt})`;
  }
  if (place.bytes > MAX_CENTRAL_DIRECTORY_BYTES) return `a central directory of ${place.bytes} bytes is larger than a checkpoint's (${MAX_CENTRAL_DIRECTORY_BYTES} at most)`;
  if (place.entries > 0 && place.offset < LOCAL_HEADER_BYTES) return `the central directory at ${place.offset} leaves no room for the entries before it`;
  return null;
}

/** One entry as the central directory describes it. */
export interface ZipEntry {
  readonly name: Buffer;
  readonly localHeaderAt: number;
  readonly compressedBytes: number;
}

/**
 * The entries of the central directory `directory` (its bytes, read from `place`): each one starting
 * with the central header signature, as many as the end records count, filling the directory exactly.
 */
export function readCentralDirectory(directory: Uint8Array, place: CentralDirectoryPlace): ZipEntry[] | string {
  if (directory.length !== place.bytes) return `the central directory at ${place.offset} is cut short (${directory.length} of ${place.bytes} bytes)`;
  const bytes = view(directory);
  const entries: ZipEntry[] = [];
  let at = 0;
  while (entries.length < place.entries) {
    if (at + CENTRAL_HEADER_BYTES > bytes.length || bytes.readUInt32LE(at) !== CENTRAL_HEADER) {
      return `central directory entry ${entries.length} of ${place.entries} is missing at ${place.offset + at}`;
    }
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    const commentLength = bytes.readUInt16LE(at + 32);
    const next = at + CENTRAL_HEADER_BYTES + nameLength + extraLength + commentLength;
    if (next > bytes.length) return `central directory entry ${entries.length} at ${place.offset + at} runs past the directory`;
    const fields = zip64Fields(bytes, at, nameLength, extraLength);
    if (typeof fields === "string") return `central directory entry ${entries.length}: ${fields}`;
    entries.push({ name: Buffer.from(bytes.subarray(at + CENTRAL_HEADER_BYTES, at + CENTRAL_HEADER_BYTES + nameLength)), ...fields });
    at = next;
  }
  if (at !== bytes.length) return `the central directory's ${place.entries} entries end at ${place.offset + at}, not at ${place.offset + bytes.length}: the end records count too few`;
  return entries;
}

/**
 * An entry's compressed size and local header offset, from the zip64 extra field where the 32-bit
 * fields are saturated (the field holds, in order, only the saturated values: uncompressed size,
 * compressed size, local header offset).
 */
function zip64Fields(bytes: Buffer, entry: number, nameLength: number, extraLength: number): Omit<ZipEntry, "name"> | string {
  let compressedBytes = bytes.readUInt32LE(entry + 20);
  let localHeaderAt = bytes.readUInt32LE(entry + 42);
  const uncompressedSaturated = bytes.readUInt32LE(entry + 24) === U32_MAX;
  if (!uncompressedSaturated && compressedBytes !== U32_MAX && localHeaderAt !== U32_MAX) return { compressedBytes, localHeaderAt };
  let at = entry + CENTRAL_HEADER_BYTES + nameLength;
  const end = at + extraLength;
  while (at + 4 <= end) {
    const id = bytes.readUInt16LE(at);
    const size = bytes.readUInt16LE(at + 2);
    if (id === 0x0001) {
      let field = at + 4;
      const take = (): number | null => {
        if (field + 8 > at + 4 + size) return null;
        const value = Number(bytes.readBigUInt64LE(field));
        field += 8;
        return value;
      };
      if (uncompressedSaturated && take() === null) break;
      if (compressedBytes === U32_MAX) compressedBytes = take() ?? -1;
      if (localHeaderAt === U32_MAX) localHeaderAt = take() ?? -1;
      if (compressedBytes < 0 || localHeaderAt < 0) break;
      return { compressedBytes, localHeaderAt };
    }
    at += 4 + size;
  }
  return "saturated sizes or offset without a zip64 extra field holding them";
}

/**
 * Why an entry's local header (`header`: the bytes at `entry.localHeaderAt`, 30 plus the name's
 * length) is not what the directory says, or its data does not end by `nextAt` (the next entry's
 * local header, or the central directory for the last one); null when it is whole.
 */
export function localHeaderProblem(entry: ZipEntry, header: Uint8Array, nextAt: number): string | null {
  const where = `the entry ${entry.name.toString("utf8")} at ${entry.localHeaderAt}`;
  if (header.length < LOCAL_HEADER_BYTES + entry.name.length) return `${where}: its local header is cut short`;
  const bytes = view(header);
  if (bytes.readUInt32LE(0) !== LOCAL_HEADER) return `${where}: no local header there`;
  const nameLength = bytes.readUInt16LE(26);
  if (nameLength !== entry.name.length || !entry.name.equals(bytes.subarray(LOCAL_HEADER_BYTES, LOCAL_HEADER_BYTES + nameLength))) {
    return `${where}: the local header names another entry`;
  }
  const dataEnd = entry.localHeaderAt + LOCAL_HEADER_BYTES + nameLength + bytes.readUInt16LE(28) + entry.compressedBytes;
  if (dataEnd > nextAt) return `${where}: its ${entry.compressedBytes} bytes of data run to ${dataEnd}, past ${nextAt} where the next record begins`;
  return null;
}

/**
 * Reads what {@link ZipVerdict} needs from `source`: the first 4 bytes, the last {@link ZIP_END_BYTES},
 * the zip64 end record if it lies before those, the central directory, and each entry's local header;
 * never the entries' data, so a multi-gigabyte checkpoint costs a few hundred KiB of reads.
 */
export async function inspectZip(source: ByteSource): Promise<ZipVerdict> {
  const incomplete = (reason: string): ZipVerdict => ({ kind: "incomplete", reason });
  const start = zipStart(await source.read(0, Math.min(4, source.size)), source.size);
  if (start !== "zip") return start;
  const tailOffset = Math.max(0, source.size - ZIP_END_BYTES);
  const tail = await source.read(tailOffset, source.size - tailOffset);
  const end = findEndRecord(tail, tailOffset, source.size);
  if (typeof end === "string") return incomplete(end);
  let place: CentralDirectoryPlace | string;
  if (end.zip64 === null) place = classicDirectory(end);
  else {
    const { recordAt } = end.zip64;
    const record = recordAt >= tailOffset ? tail.subarray(recordAt - tailOffset, recordAt - tailOffset + ZIP64_END_RECORD_BYTES) : await source.read(recordAt, ZIP64_END_RECORD_BYTES);
    place = zip64Directory(record, { ...end, zip64: end.zip64 });
  }
  if (typeof place === "string") return incomplete(place);
  const placeProblem = directoryPlaceProblem(place);
  if (placeProblem !== null) return incomplete(placeProblem);
  const entries = readCentralDirectory(await source.read(place.offset, place.bytes), place);
  if (typeof entries === "string") return incomplete(entries);
  const byOffset = [...entries].sort((a, b) => a.localHeaderAt - b.localHeaderAt);
  // The file starts with a local header, so the first entry is there: nothing unaccounted for comes before it.
  if (byOffset[0]?.localHeaderAt !== 0) return incomplete(entries.length === 0 ? "the central directory lists no entries" : `the first entry's local header is at ${byOffset[0]?.localHeaderAt}, not at 0`);
  for (const [i, entry] of byOffset.entries()) {
    const nextAt = byOffset[i + 1]?.localHeaderAt ?? place.offset;
    if (entry.localHeaderAt + LOCAL_HEADER_BYTES > nextAt) return incomplete(`the entry ${entry.name.toString("utf8")}'s local header at ${entry.localHeaderAt} does not fit before ${nextAt}`);
    const problem = localHeaderProblem(entry, await source.read(entry.localHeaderAt, LOCAL_HEADER_BYTES + entry.name.length), nextAt);
    if (problem !== null) return incomplete(problem);
  }
  return { kind: "whole", entries: entries.length };
}

/** A {@link ByteSource} over bytes in memory. */
export function bufferSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)) };
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
