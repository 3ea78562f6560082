import { createHash } from "crypto";
import fc from "fast-check";
import {
  bufferSource,
  directoryPlaceProblem,
  inspectZip,
  isTornZip,
  MAX_CENTRAL_DIRECTORY_BYTES,
  s3ChecksumAgrees,
  ZIP_TAIL_BYTES,
  type ByteSource,
  type FileDigest,
} from "../../../agent/checkpointIntegrity";
import { storedZip, type StoredZipOptions } from "../fakes/storedZip";

/** A minimal stored zip: one local file header + data, a central directory entry, and the end record. */
function zip(content: Buffer, comment = ""): Buffer {
  const name = Buffer.from("archive/data.pkl");
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt32LE(content.length, 18);
  local.writeUInt32LE(content.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(name.length, 28);
  const centralOffset = 30 + name.length + content.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + name.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  end.writeUInt16LE(Buffer.byteLength(comment), 20);
  return Buffer.concat([local, name, content, central, name, end, Buffer.from(comment)]);
}

const headTail = (file: Buffer) => [file.subarray(0, 4), file.subarray(Math.max(0, file.length - ZIP_TAIL_BYTES))] as const;

describe("isTornZip", () => {
  it("accepts a complete zip, with or without a comment", () => {
    expect(isTornZip(...headTail(zip(Buffer.alloc(1000, 7))))).toBe(false);
    expect(isTornZip(...headTail(zip(Buffer.alloc(1000, 7), "torch")))).toBe(false);
  });

  it("flags a zip cut short anywhere, as a trainer killed mid-write leaves it", () => {
    const whole = zip(Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251)));
    fc.assert(
      fc.property(fc.integer({ min: 4, max: whole.length - 1 }), (cut) => {
        const torn = whole.subarray(0, cut);
        return isTornZip(...headTail(torn));
      }),
    );
  });

  it("never judges a file that is not a zip (a stand-in trainer's checkpoint)", () => {
    const text = Buffer.from('{"magic":"YOLO-TRAIN-STANDIN-CHECKPOINT"}\nabc');
    expect(isTornZip(...headTail(text))).toBe(false);
    expect(isTornZip(Buffer.from("ab"), Buffer.from("ab"))).toBe(false);
  });

  it("flags a file emptied by the rewrite or holding less than a zip header", () => {
    for (const head of [Buffer.alloc(0), Buffer.from("P"), Buffer.from("PK"), Buffer.from([0x50, 0x4b, 0x03])]) {
      expect(isTornZip(head, head)).toBe(true);
    }
  });
});

/** Bytes that differ from entry to entry, so a cut or a misplaced offset never lands on a copy. */
const filler = (length: number, seed: number): Buffer => Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed * 17) % 251));
const ENTRIES: ReadonlyArray<readonly [string, Buffer]> = [
  ["archive/data.pkl", filler(700, 1)],
  ["archive/data/0", filler(4096, 2)],
  ["archive/data/1", filler(64, 3)],
  ["archive/version", Buffer.from("3\n")],
];

const verdict = (bytes: Buffer) => inspectZip(bufferSource(bytes));
const damaged = (bytes: Buffer, change: (copy: Buffer) => void): Buffer => {
  const copy = Buffer.from(bytes);
  change(copy);
  return copy;
};

describe("inspectZip: is a checkpoint a whole zip archive?", () => {
  const forms: Array<[string, StoredZipOptions]> = [
    ["a classic archive", {}],
    ["a classic archive with a comment", { comment: "written by torch" }],
    ["an archive with zip64 end records (torch.save)", { zip64: true }],
    ["an archive whose entries need zip64 fields (past 4 GiB)", { zip64: true, zip64Entries: true }],
  ];

  it.each(forms)("accepts %s", async (_form, options) => {
    await expect(verdict(storedZip(ENTRIES, options).bytes)).resolves.toEqual({ kind: "whole", entries: ENTRIES.length });
  });

  it.each(forms)("rejects %s cut short anywhere", async (_form, options) => {
    const { bytes } = storedZip(ENTRIES, options);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: bytes.length - 1 }), async (cut) => (await verdict(bytes.subarray(0, cut))).kind === "incomplete"),
      { numRuns: 300 },
    );
  });

  it("never uploads an empty file, nor one holding less than a zip header", async () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from("P"), Buffer.from("PK"), Buffer.from([0x50, 0x4b, 0x03])]) {
      await expect(verdict(bytes)).resolves.toMatchObject({ kind: "incomplete", reason: expect.stringMatching(/emptied|cut before the zip header/) });
    }
  });

  it("cannot judge a file that is not a zip (a stand-in trainer's checkpoint)", async () => {
    await expect(verdict(Buffer.from('{"magic":"YOLO-TRAIN-STANDIN-CHECKPOINT"}\nabc'))).resolves.toEqual({ kind: "not-zip" });
    await expect(verdict(Buffer.from("ab"))).resolves.toEqual({ kind: "not-zip" });
  });

  describe("rejects an archive whose end records, directory or entries do not hold together", () => {
    const classic = storedZip(ENTRIES);
    const zip64 = storedZip(ENTRIES, { zip64: true });
    const { centralDirectory, centralHeaders, localHeaders, endRecord } = classic.layout;
    const cases: Array<[string, Buffer, RegExp]> = [
      ["the end record's directory offset is one byte off", damaged(classic.bytes, (b) => b.writeUInt32LE(centralDirectory + 1, endRecord + 16)), /does not end where the end records begin/],
      ["the end record's directory offset points past the file", damaged(classic.bytes, (b) => b.writeUInt32LE(0x7ffffff0, endRecord + 16)), /does not end where/],
      ["the end record counts one entry more", damaged(classic.bytes, (b) => (b.writeUInt16LE(5, endRecord + 8), b.writeUInt16LE(5, endRecord + 10))), /entry 4 of 5 is missing/],
      ["the end record counts one entry fewer", damaged(classic.bytes, (b) => (b.writeUInt16LE(3, endRecord + 8), b.writeUInt16LE(3, endRecord + 10))), /count too few/],
      ["a directory entry lost its signature", damaged(classic.bytes, (b) => b.writeUInt32LE(0, centralHeaders[2]!)), /entry 2 of 4 is missing/],
      ["an entry points into another entry's data", damaged(classic.bytes, (b) => b.writeUInt32LE(localHeaders[1]! + 100, centralHeaders[1]! + 42)), /no local header there|does not fit/],
      ["an entry points past the directory", damaged(classic.bytes, (b) => b.writeUInt32LE(centralDirectory + 4, centralHeaders[3]! + 42)), /does not fit before|no local header/],
      ["an entry's local header was overwritten", damaged(classic.bytes, (b) => b.fill(0, localHeaders[2]!, localHeaders[2]! + 4)), /no local header there/],
      ["an entry's data runs into the next entry", damaged(classic.bytes, (b) => b.writeUInt32LE(4096 + 1, centralHeaders[1]! + 20)), /run to/],
      ["the first entry is not at the start", damaged(classic.bytes, (b) => b.writeUInt32LE(0xffff, centralHeaders[0]! + 42)), /not at 0|no local header|does not fit/],
      [
        "the directory is cut in the middle, the end records kept",
        Buffer.concat([classic.bytes.subarray(0, centralHeaders[2]!), classic.bytes.subarray(endRecord)]),
        /does not end where the end records begin/,
      ],
      ["the zip64 end record's directory offset is off", damaged(zip64.bytes, (b) => b.writeBigUInt64LE(BigInt(centralDirectory + 1), zip64.layout.zip64EndRecord! + 48)), /disagrees with the zip64 end record/],
      [
        "the zip64 directory offset is off and the end record saturated",
        damaged(zip64.bytes, (b) => (b.writeBigUInt64LE(BigInt(centralDirectory - 1), zip64.layout.zip64EndRecord! + 48), b.writeUInt32LE(0xffffffff, zip64.layout.endRecord + 16))),
        /does not end where the end records begin/,
      ],
      ["the zip64 end record counts another number of entries", damaged(zip64.bytes, (b) => (b.writeBigUInt64LE(5n, zip64.layout.zip64EndRecord! + 24), b.writeBigUInt64LE(5n, zip64.layout.zip64EndRecord! + 32))), /disagrees/],
      ["the zip64 locator points one byte off", damaged(zip64.bytes, (b) => b.writeBigUInt64LE(BigInt(zip64.layout.zip64EndRecord! + 1), zip64.layout.zip64Locator! + 8)), /no zip64 end record|past where/],
      ["the zip64 locator points before the file's records", damaged(zip64.bytes, (b) => b.writeBigUInt64LE(0n, zip64.layout.zip64Locator! + 8)), /no zip64 end record/],
      ["the zip64 end record lost its signature", damaged(zip64.bytes, (b) => b.writeUInt32LE(0, zip64.layout.zip64EndRecord!)), /no zip64 end record/],
    ];

    it.each(cases)("%s", async (_what, bytes, reason) => {
      await expect(verdict(bytes)).resolves.toEqual({ kind: "incomplete", reason: expect.stringMatching(reason) });
    });

    it("(each of which has an end record at its end, all the older test looked for)", () => {
      expect(cases.filter(([, bytes]) => isTornZip(...headTail(bytes))).map(([what]) => what)).toEqual([]);
    });
  });

  it("does not read a central directory larger than any checkpoint's (a damaged end record must not allocate gigabytes)", () => {
    const bytes = MAX_CENTRAL_DIRECTORY_BYTES + 1;
    expect(directoryPlaceProblem({ offset: 1000, bytes, entries: 1, endsAt: 1000 + bytes })).toMatch(/larger than a checkpoint's/);
    expect(directoryPlaceProblem({ offset: 1000, bytes: 500, entries: 1, endsAt: 1500 })).toBeNull();
  });

  it("reads the ends, the directory and the local headers, not the entries' data", async () => {
    const big = storedZip(
      Array.from({ length: 4 }, (_, i) => [`archive/data/${i}`, Buffer.alloc(10 * 1024 * 1024, i + 1)] as const),
      { zip64: true },
    );
    const source = bufferSource(big.bytes);
    let read = 0;
    const counting: ByteSource = {
      size: source.size,
      read: async (offset, length) => {
        const bytes = await source.read(offset, length);
        read += bytes.length;
        return bytes;
      },
    };
    await expect(inspectZip(counting)).resolves.toEqual({ kind: "whole", entries: 4 });
    expect(read).toBeLessThan(80 * 1024);
  });
});

describe("s3ChecksumAgrees", () => {
  const bytes = Buffer.from("checkpoint");
  const digest: FileDigest = { bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
  const base64 = createHash("sha256").update(bytes).digest("base64");

  it("accepts S3's full-object checksum when it is the file's SHA-256", () => {
    expect(s3ChecksumAgrees(base64, digest)).toBe(true);
  });

  it("rejects a full-object checksum of other bytes", () => {
    expect(s3ChecksumAgrees(createHash("sha256").update("other").digest("base64"), digest)).toBe(false);
  });

  it("leaves composite multipart checksums and missing ones to the per-part checks", () => {
    expect(s3ChecksumAgrees(`${Buffer.alloc(32).toString("base64")}-3`, digest)).toBe(true);
    expect(s3ChecksumAgrees(undefined, digest)).toBe(true);
    expect(s3ChecksumAgrees("", digest)).toBe(true);
  });
});
