import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { isTornZip, ZIP_TAIL_BYTES } from "../../../agent/checkpointIntegrity";
import { describeWithRealUltralytics, REAL_TRAINING_TIMEOUT_MS } from "../../docker/realUltralytics";
import { trainRealCheckpoints } from "../fakes/realTrainer";
import { readZipLayout, zipProblem, type ZipLayout } from "../fakes/zipArchive";

/**
 * ultralytics rewrites `last.pt` in place (`Path.write_bytes`, and `torch.save` to the path in its
 * final step) and the trainer dies at once on SIGTERM, so a node stopped mid-write leaves a file cut
 * anywhere, down to the empty file `write_bytes` leaves between truncating and writing. Uploaded, it
 * would replace the whole checkpoint in S3 under the same key. The agent must tell such a file from
 * a whole one (agent/checkpointIntegrity.ts): checked here against real checkpoints cut short.
 */

/** The agent's verdict on a file, from the bytes its shipper reads (agent/checkpointShipper.ts: 4 bytes of head, the tail). */
function torn(file: Buffer): boolean {
  return isTornZip(file.subarray(0, Math.min(4, file.length)), file.subarray(file.length - Math.min(file.length, ZIP_TAIL_BYTES)));
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
