import { reduceEvents, startRecord } from "../../agent/runRecord";
import { runObjectKeys } from "../../runspec/bucketLayout";
import { parseStoredRecord, RUN_PHASES } from "../../runspec/runRecord";

// The reducer that writes records is the agent's (test/agent/unit/runRecord.test.ts); here, the
// contract every reader relies on: what the agent writes reads back the same, and junk is dropped.
const T0 = Date.parse("2026-03-01T10:00:00.000Z");
const KEYS = runObjectKeys("runs/r1/");
const KEY = KEYS.checkpointKey;
const SHA = "a".repeat(64);

const fresh = () => startRecord({ runId: "r1", previous: null, atMs: T0, trainingPhases: 1, firstPhaseEpochs: 10, usdPerHour: 3.6 });

describe("parseStoredRecord", () => {
  const stored = (): Record<string, unknown> => JSON.parse(JSON.stringify(reduceEvents(fresh(), [{ type: "trainer-started", atMs: T0 }]).record));

  it("reads back what the agent writes", () => {
    const record = reduceEvents(fresh(), [
      { type: "trainer-started", atMs: T0 },
      { type: "checkpoint-uploaded", atMs: T0 + 1, checkpoint: { key: KEY(0), sha256: SHA, bytes: 5, phase: 0, epoch: 2, versionId: null } },
      { type: "ended", atMs: T0 + 2, phase: "interrupted", note: "spot" },
    ]).record;
    expect(parseStoredRecord(JSON.parse(JSON.stringify(record)), "r1", KEYS)).toEqual(record);
  });

  it.each([
    ["another run's record", { runId: "r2" }],
    ["an unknown phase", { phase: "exploded" }],
  ])("rejects %s", (_label, patch) => {
    expect(parseStoredRecord({ ...stored(), ...patch }, "r1")).toBeNull();
  });

  it("rejects what is not an object", () => {
    expect(parseStoredRecord("run.json", "r1")).toBeNull();
    expect(parseStoredRecord(null, "r1")).toBeNull();
  });

  it("drops a checkpoint outside the run's own checkpoint keys (never downloads from elsewhere)", () => {
    const json = { ...stored(), checkpoint: { key: "runs/other/checkpoints/phase-0/last.pt", sha256: SHA, bytes: 1, phase: 0, epoch: 1, versionId: null } };
    expect(parseStoredRecord(json, "r1", KEYS)?.checkpoint).toBeNull();
  });

  it("drops a checkpoint without a proper sha256", () => {
    const json = { ...stored(), checkpoint: { key: KEY(0), sha256: "abc", bytes: 1, phase: 0, epoch: 1, versionId: null } };
    expect(parseStoredRecord(json, "r1", KEYS)?.checkpoint).toBeNull();
  });

  it("fills missing or malformed numbers with defaults", () => {
    const parsed = parseStoredRecord({ runId: "r1", phase: "training", attempts: "two", billedSeconds: -4, history: [{ phase: "bogus", at: "x" }, { phase: "training", at: "t" }] }, "r1");
    expect(parsed).toMatchObject({ attempts: 0, billedSeconds: 0, interruptions: 0, checkpoint: null, history: [{ phase: "training", at: "t", attempt: 0 }] });
  });
});

describe("the run record's phases", () => {
  it("are the ones docs/node-runtime.md lists", () => {
    expect(RUN_PHASES).toEqual(["starting", "training", "uploading", "completed", "stopped-early", "interrupted", "hung", "timed-out", "failed"]);
  });
});
