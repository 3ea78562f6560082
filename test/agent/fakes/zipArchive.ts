/**
 * An independent reading of a zip archive's structure, for tests that hold real `torch.save`
 * checkpoints: the end record, the central directory it points at, and the local header each entry
 * points at. Deliberately not agent/checkpointIntegrity.ts (whose verdicts some of these tests
 * check), and stricter: it walks the whole directory instead of looking for the end record only.
 */

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const END_RECORD_BYTES = 22;

/** Where the archive's records are, as its end records say. */
export interface ZipLayout {
  /** Offset of the (classic) end of central directory record. */
  readonly endRecord: number;
  /** Offset of the zip64 end record, which `torch.save` always writes before the classic one. */
  readonly zip64EndRecord?: number;
  readonly centralDirectory: number;
  readonly centralDirectoryBytes: number;
  readonly entries: number;
}

/** The archive's layout, or a string saying why the bytes are not a whole zip archive. */
export function readZipLayout(bytes: Buffer): ZipLayout | string {
  if (bytes.length < END_RECORD_BYTES) return `${bytes.length} bytes: too short for a zip end record`;
  if (bytes.readUInt32LE(0) !== LOCAL_HEADER) return "does not start with a zip local file header";
  // The end record is the last thing in the file, followed only by its comment.
  let endRecord = -1;
  for (let at = bytes.length - END_RECORD_BYTES; at >= Math.max(0, bytes.length - END_RECORD_BYTES - 0xffff); at--) {
    if (bytes.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY && at + END_RECORD_BYTES + bytes.readUInt16LE(at + 20) === bytes.length) {
      endRecord = at;
      break;
    }
  }
  if (endRecord < 0) return "no end of central directory record at the end";
  let entries = bytes.readUInt16LE(endRecord + 10);
  let centralDirectoryBytes = bytes.readUInt32LE(endRecord + 12);
  let centralDirectory = bytes.readUInt32LE(endRecord + 16);
  let zip64EndRecord: number | undefined;
  const locator = endRecord - 20;
  if (locator >= 0 && bytes.readUInt32LE(locator) === ZIP64_LOCATOR) {
    const at = Number(bytes.readBigUInt64LE(locator + 8));
    if (at + 56 > locator || bytes.readUInt32LE(at) !== ZIP64_END_OF_CENTRAL_DIRECTORY) return `the zip64 locator points at ${at}, where there is no zip64 end record`;
    zip64EndRecord = at;
    entries = Number(bytes.readBigUInt64LE(at + 32));
    centralDirectoryBytes = Number(bytes.readBigUInt64LE(at + 40));
    centralDirectory = Number(bytes.readBigUInt64LE(at + 48));
  }
  const directoryEnd = zip64EndRecord ?? endRecord;
  if (centralDirectory + centralDirectoryBytes !== directoryEnd) {
    return `the central directory (${centralDirectoryBytes} bytes at ${centralDirectory}) does not end where the end record starts (${directoryEnd})`;
  }
  let at = centralDirectory;
  for (let n = 0; n < entries; n++) {
    if (at + 46 > directoryEnd || bytes.readUInt32LE(at) !== CENTRAL_HEADER) return `central directory entry ${n} at ${at} is missing`;
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    const commentLength = bytes.readUInt16LE(at + 32);
    let localHeader = bytes.readUInt32LE(at + 42);
    if (localHeader === 0xffffffff) localHeader = zip64LocalOffset(bytes, at, nameLength, extraLength);
    if (localHeader < 0 || localHeader + 30 > centralDirectory || bytes.readUInt32LE(localHeader) !== LOCAL_HEADER) return `entry ${n} names a local header at ${localHeader}, which is not there`;
    at += 46 + nameLength + extraLength + commentLength;
  }
  if (at !== directoryEnd) return `the central directory's ${entries} entries end at ${at}, not at ${directoryEnd}`;
  return { endRecord, ...(zip64EndRecord !== undefined ? { zip64EndRecord } : {}), centralDirectory, centralDirectoryBytes, entries };
}

/** Why the bytes are not a whole zip archive, or undefined when they are. */
export function zipProblem(bytes: Buffer): string | undefined {
  const layout = readZipLayout(bytes);
  return typeof layout === "string" ? layout : undefined;
}

/** The local header offset from an entry's zip64 extra field (after the sizes that are saturated too). */
function zip64LocalOffset(bytes: Buffer, entry: number, nameLength: number, extraLength: number): number {
  let at = entry + 46 + nameLength;
  const end = at + extraLength;
  while (at + 4 <= end) {
    const id = bytes.readUInt16LE(at);
    const size = bytes.readUInt16LE(at + 2);
    if (id === 0x0001) {
      let field = at + 4;
      if (bytes.readUInt32LE(entry + 24) === 0xffffffff) field += 8; // uncompressed size
      if (bytes.readUInt32LE(entry + 20) === 0xffffffff) field += 8; // compressed size
      return Number(bytes.readBigUInt64LE(field));
    }
    at += 4 + size;
  }
  return -1;
}
