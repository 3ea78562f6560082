import fc from "fast-check";
import { checkpointEpoch, newestEpochIn, parseProgressLine, takeCompleteLines } from "../../../agent/progress";

const line = (fields: Record<string, unknown>): string =>
  JSON.stringify({
    type: "epoch",
    phase: 0,
    phases: 1,
    epoch: 1,
    epochs: 10,
    metrics: { "metrics/mAP50-95(B)": 0.31, "metrics/mAP50(B)": 0.52 },
    losses: { "train/box_loss": 1.2 },
    imagesPerSecond: 240.5,
    time: "2026-01-01T00:00:00Z",
    ...fields,
  });

describe("parseProgressLine", () => {
  it("reads an epoch line as the trainer contract writes it", () => {
    expect(parseProgressLine(line({ epoch: 3 }))).toEqual({
      kind: "epoch",
      progress: {
        type: "epoch",
        phase: 0,
        phases: 1,
        epoch: 3,
        epochs: 10,
        metrics: { "metrics/mAP50-95(B)": 0.31, "metrics/mAP50(B)": 0.52 },
        losses: { "train/box_loss": 1.2 },
        imagesPerSecond: 240.5,
        time: "2026-01-01T00:00:00Z",
      },
    });
  });

  it("drops metric values that are not finite numbers (NaN written as null or text)", () => {
    const parsed = parseProgressLine(line({ metrics: { a: null, b: "NaN", c: 0.5 }, imagesPerSecond: null }));
    expect(parsed.kind === "epoch" && parsed.progress.metrics).toEqual({ c: 0.5 });
    expect(parsed.kind === "epoch" && parsed.progress.imagesPerSecond).toBeNull();
  });

  it("ignores lines of a type it does not know", () => {
    expect(parseProgressLine(JSON.stringify({ type: "validation", epoch: 1 }))).toEqual({ kind: "other", type: "validation" });
  });

  it.each([
    ["not JSON", "{\"type\":\"epoch\"", /not JSON/],
    ["an array", "[1,2]", /not a JSON object/],
    ["no type", "{}", /no "type"/],
    ["epoch 0", line({ epoch: 0 }), /epoch must be an integer >= 1/],
    ["a fractional phase", line({ phase: 0.5 }), /phase must be an integer >= 0/],
    ["missing epochs", line({ epochs: undefined }), /epochs must be/],
  ])("rejects %s, saying why", (_label, text, reason) => {
    const parsed = parseProgressLine(text);
    expect(parsed.kind).toBe("invalid");
    expect(parsed.kind === "invalid" && parsed.reason).toMatch(reason);
  });
});

describe("takeCompleteLines", () => {
  it("keeps a line without its newline for the next read", () => {
    const bytes = Buffer.from("{\"a\":1}\n{\"b\":2}\n{\"c\":");
    const { lines, consumed } = takeCompleteLines(bytes);
    expect(lines).toEqual(["{\"a\":1}", "{\"b\":2}"]);
    expect(consumed).toBe(16);
  });

  it("consumes nothing when no line is complete", () => {
    expect(takeCompleteLines(Buffer.from("{\"partial\""))).toEqual({ lines: [], consumed: 0 });
  });

  it("skips blank lines and strips carriage returns", () => {
    expect(takeCompleteLines(Buffer.from("a\r\n\n  \nb\n")).lines).toEqual(["a", "b"]);
  });

  it("never splits a multi-byte character, however the bytes arrive", () => {
    const text = ["{\"m\":\"größe\"}", "{\"m\":\"検出\"}", "{\"m\":\"ok\"}"].map((l) => l + "\n").join("");
    const all = Buffer.from(text);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: all.length }), { maxLength: 6 }), (cuts) => {
        // Read the stream in arbitrary pieces, as a tail would, advancing by `consumed` only.
        const ends = [...new Set(cuts)].sort((a, b) => a - b).concat(all.length);
        let offset = 0;
        const got: string[] = [];
        for (const end of ends) {
          if (end <= offset) continue;
          const { lines, consumed } = takeCompleteLines(all.subarray(offset, end));
          got.push(...lines);
          offset += consumed;
        }
        return JSON.stringify(got) === JSON.stringify(text.trimEnd().split("\n"));
      }),
    );
  });
});

describe("checkpointEpoch", () => {
  const progress = (...epochs: Array<[number, number]>) => Buffer.from(epochs.map(([phase, epoch]) => line({ phase, epoch, epochs: 5 }) + "\n").join(""));

  it("takes the newest line when progress.jsonl changed at or after the checkpoint (ultralytics saves, then reports)", () => {
    expect(checkpointEpoch({ progress: progress([0, 1], [0, 2]), progressMtimeMs: 2_000, checkpointMtimeMs: 1_990, phase: 0, phaseEpochs: 5 })).toBe(2);
    expect(checkpointEpoch({ progress: progress([0, 1], [0, 2]), progressMtimeMs: 2_000, checkpointMtimeMs: 2_000, phase: 0, phaseEpochs: 5 })).toBe(2);
  });

  it("counts one past the newest line when the checkpoint is newer than every line", () => {
    expect(checkpointEpoch({ progress: progress([0, 1], [0, 2]), progressMtimeMs: 1_000, checkpointMtimeMs: 2_000, phase: 0, phaseEpochs: 5 })).toBe(3);
  });

  it("caps at the phase's epochs: the final rewrite of last.pt comes after the last line", () => {
    expect(checkpointEpoch({ progress: progress([0, 4], [0, 5]), progressMtimeMs: 1_000, checkpointMtimeMs: 2_000, phase: 0, phaseEpochs: 5 })).toBe(5);
  });

  it("looks only at lines of the checkpoint's phase", () => {
    expect(checkpointEpoch({ progress: progress([0, 4], [0, 5]), progressMtimeMs: 1_000, checkpointMtimeMs: 2_000, phase: 1, phaseEpochs: 3 })).toBe(1);
    expect(newestEpochIn(progress([0, 4], [1, 2], [0, 5]), 1)).toBe(2);
  });

  it("says null when a newer progress file has no line for that phase", () => {
    expect(checkpointEpoch({ progress: Buffer.alloc(0), progressMtimeMs: 2_000, checkpointMtimeMs: 1_000, phase: 0, phaseEpochs: 5 })).toBeNull();
  });

  it("gives epoch 1 to the first checkpoint of a fresh run (no progress file yet)", () => {
    expect(checkpointEpoch({ progress: Buffer.alloc(0), progressMtimeMs: -Infinity, checkpointMtimeMs: 1_000, phase: 0, phaseEpochs: 5 })).toBe(1);
  });
});
