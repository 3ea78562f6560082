import { createHash } from "crypto";
import fc from "fast-check";
import { isTornZip, s3ChecksumAgrees, ZIP_TAIL_BYTES, type FileDigest } from "../../../agent/checkpointIntegrity";

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
