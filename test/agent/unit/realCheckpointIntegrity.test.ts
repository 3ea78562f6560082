import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { bufferSource, inspectZip, isTornZip, ZIP_TAIL_BYTES } from "../../../agent/checkpointIntegrity";
import { describeWithRealUltralytics, REAL_TRAINING_TIMEOUT_MS } from "../../docker/realUltralytics";
import { trainRealCheckpoints } from "../fakes/realTrainer";
import { readZipLayout, zipProblem, type ZipLayout } from "../fakes/zipArchive";

/**
 * ultralytics rewrites `last.pt` in place (`Path.write_bytes`, and `torch.save` to the path in its
 * final step) and the trainer dies at once on SIGTERM, so a node stopped mid-write leaves a file cut
 * anywhere, down to the empty file `write_bytes` leaves between truncating and writing. Uploaded, it
 * would replace the whole checkpoint in S3 under the same key. The agent must tell such a file from
 * a whole one (agent/checkpointIntegrity.ts): checked here against real checkpoints cut short, and
 * damaged where a cut cannot reach (the end records, the directory), which the structural check
 * (`inspectZip`, what the agent decides by) must see as well.
 */

/** The agent's verdict on a file, from the bytes its shipper reads (agent/checkpointShipper.ts: 4 bytes of head, the tail). */
function torn(file: Buffer): boolean {
  return isTornZip(file.subarray(0, Math.min(4, file.length)), file.subarray(file.length - Math.min(file.length, ZIP_TAIL_BYTES)));
}

/** The structural check's verdict, from the bytes the agent reads of the file. */
const inspect = (file: Buffer) => inspectZip(bufferSource(file));

/** Where the directory's second entry says its local header is (the first is at 0, where the file's own signature is). */
function secondLocalHeader(file: Buffer, layout: ZipLayout): number {
  const first = layout.centralDirectory;
  const second = first + 46 + file.readUInt16LE(first + 28) + file.readUInt16LE(first + 30) + file.readUInt16LE(first + 32);
  return file.readUInt32LE(second + 42);
}

/** Where a write can stop, named after what it has written by then. */
function cuts(size: number, layout: ZipLayout): Array<[string, number]> {
  return [
    ["nothing (write_bytes has truncated the file)", 0],
    ["2 bytes ('PK')", 2],
    ["3 bytes (most of the zip signature)", 3],
    ["the zip signature alone", 4],
    ["the first 64 bytes", 64],
    ["half the file", Math.floor(size / 2)],
    ["the entries, up to the central directory", layout.centralDirectory],
    ["part of the central directory", layout.centralDirectory + Math.floor(layout.centralDirectoryBytes / 2)],
    ...(layout.zip64EndRecord !== undefined ? [["everything before the zip64 end records", layout.zip64EndRecord] as [string, number]] : []),
    ["everything before the end record", layout.endRecord],
    ["all but the end record's last byte (1 byte short)", size - 1],
  ];
}

describeWithRealUltralytics("the agent's torn-checkpoint check, on real ultralytics last.pt files", (real) => {
  let dir: string;
  const files: Record<string, Buffer> = {};

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "yolo-train-real-checkpoints-"));
    const written = trainRealCheckpoints(real, dir);
    files["mid-training"] = readFileSync(written.midTraining);
    files["final"] = readFileSync(written.final);
  }, REAL_TRAINING_TIMEOUT_MS);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(["mid-training", "final"])("a %s last.pt", (form) => {
    it("is accepted whole", () => {
      const file = files[form]!;
      // The premise, by an independent reading of the zip: the file is a whole archive.
      expect(zipProblem(file)).toBeUndefined();
      expect(torn(file)).toBe(false);
    });

    it("is rejected when the write stopped anywhere before its end", () => {
      const file = files[form]!;
      const layout = readZipLayout(file) as ZipLayout;
      const verdicts = cuts(file.length, layout).map(([what, at]) => ({ what, at, wholeZip: zipProblem(file.subarray(0, at)) === undefined, torn: torn(file.subarray(0, at)) }));
      // Every case listed with its verdict, so a failure names each cut the agent would upload.
      expect(verdicts).toEqual(verdicts.map((v) => ({ ...v, wholeZip: false, torn: true })));
    });

    it("is judged whole by the structural check, every entry found", async () => {
      const file = files[form]!;
      const layout = readZipLayout(file) as ZipLayout;
      // torch.save writes the zip64 end records whatever the size: the agent's zip64 path is the one taken.
      expect(layout.zip64EndRecord).toBeDefined();
      await expect(inspect(file)).resolves.toEqual({ kind: "whole", entries: layout.entries });
    });

    it("is judged incomplete by the structural check wherever the write stopped", async () => {
      const file = files[form]!;
      const layout = readZipLayout(file) as ZipLayout;
      const verdicts = await Promise.all(cuts(file.length, layout).map(async ([what, at]) => ({ what, verdict: (await inspect(file.subarray(0, at))).kind })));
      expect(verdicts).toEqual(verdicts.map((v) => ({ ...v, verdict: "incomplete" })));
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: file.length - 1 }), async (at) => (await inspect(file.subarray(0, at))).kind === "incomplete"),
        { numRuns: 200 },
      );
    });

    it("is judged incomplete when its end records or directory are damaged, though its end record is in place", async () => {
      const file = files[form]!;
      const layout = readZipLayout(file) as ZipLayout;
      const zip64 = layout.zip64EndRecord!;
      const locator = layout.endRecord - 20;
      const change = (edit: (copy: Buffer) => void): Buffer => {
        const copy = Buffer.from(file);
        edit(copy);
        return copy;
      };
      const damages: Array<[string, Buffer]> = [
        ["cut inside the central directory, the end records kept", Buffer.concat([file.subarray(0, layout.centralDirectory + Math.floor(layout.centralDirectoryBytes / 2)), file.subarray(zip64)])],
        ["the end record's directory offset one byte off", change((b) => b.writeUInt32LE(layout.centralDirectory + 1, layout.endRecord + 16))],
        ["the end record's directory offset off, the zip64 one too", change((b) => (b.writeUInt32LE(layout.centralDirectory + 46, layout.endRecord + 16), b.writeBigUInt64LE(BigInt(layout.centralDirectory + 46), zip64 + 48)))],
        ["the zip64 end record's entry count one short", change((b) => (b.writeBigUInt64LE(BigInt(layout.entries - 1), zip64 + 24), b.writeBigUInt64LE(BigInt(layout.entries - 1), zip64 + 32)))],
        ["the zip64 locator pointing elsewhere", change((b) => b.writeBigUInt64LE(BigInt(zip64 - 56), locator + 8))],
        ["the first directory entry's signature gone", change((b) => b.writeUInt32LE(0, layout.centralDirectory))],
        ["the second entry's local header overwritten", change((b) => b.writeUInt32LE(0, secondLocalHeader(file, layout)))],
      ];
      // The premise: each still ends in an end record, so the end-record test alone passes it.
      expect(damages.filter(([, bytes]) => torn(bytes)).map(([what]) => what)).toEqual([]);
      const verdicts = await Promise.all(damages.map(async ([what, bytes]) => ({ what, verdict: (await inspect(bytes)).kind })));
      expect(verdicts).toEqual(verdicts.map((v) => ({ ...v, verdict: "incomplete" })));
    });

    it("is judged whole as a classic zip too (the zip64 records left out), and incomplete once its end record is damaged", async () => {
      const file = files[form]!;
      const layout = readZipLayout(file) as ZipLayout;
      // Everything fits 32 bits here, so the end record alone describes the archive.
      const classic = Buffer.concat([file.subarray(0, layout.zip64EndRecord!), file.subarray(layout.endRecord)]);
      await expect(inspect(classic)).resolves.toEqual({ kind: "whole", entries: layout.entries });
      const end = classic.length - 22;
      const offsetOff = Buffer.from(classic);
      offsetOff.writeUInt32LE(layout.centralDirectory - 1, end + 16);
      await expect(inspect(offsetOff)).resolves.toMatchObject({ kind: "incomplete" });
    });

    it("is rejected when cut at any offset past the zip signature", () => {
      const file = files[form]!;
      // Cuts within the first 4 bytes are the named cases above.
      fc.assert(
        fc.property(fc.integer({ min: 4, max: file.length - 1 }), (at) => torn(file.subarray(0, at))),
        { numRuns: 200 },
      );
    });
  });
});
