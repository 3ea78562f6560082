import { rungRecordKey, sweepPrefix, SWEEPS_PREFIX } from "../../../runspec/bucketLayout";
import { InvalidRungRecordError, parseRungRecord, RUNG_RECORD_SCHEMA_VERSION } from "../../../runspec/sweep/rungRecord";

const EXPECTED = { sweepId: "widgets-sweep", rung: 1, epoch: 3 };
const entry = (trialId: string, value: number, epoch = 3) => ({ trialId, value, epoch, recordedAt: "2026-12-01T10:00:00.000Z" });
const valid = () => ({ schemaVersion: RUNG_RECORD_SCHEMA_VERSION, ...EXPECTED, entries: [entry("yolov8n-coco8-aaaaaaaaaa", 0.41), entry("yolov8s-coco8-bbbbbbbbbb", 0.52, 4)] });

describe("the sweep layout", () => {
  it("keeps a sweep's rung records under sweeps/<sweepId>/rungs/", () => {
    expect(SWEEPS_PREFIX).toBe("sweeps/");
    expect(sweepPrefix("widgets-sweep")).toBe("sweeps/widgets-sweep/");
    expect(rungRecordKey("widgets-sweep", 0)).toBe("sweeps/widgets-sweep/rungs/0.json");
    expect(rungRecordKey("widgets-sweep", 2)).toBe("sweeps/widgets-sweep/rungs/2.json");
  });

  it.each([["a/b"], [""], [".."], ["-x"], ["has space"], ["x".repeat(201)]])("refuses the sweep id %j, as run ids are refused", (sweepId) => {
    expect(() => sweepPrefix(sweepId)).toThrow(/sweep id .* is not one key segment/);
  });

  it.each([[-1], [1.5], [Number.NaN]])("refuses the rung %d", (rung) => {
    expect(() => rungRecordKey("s", rung)).toThrow(/not a rung index/);
  });
});

describe("parseRungRecord", () => {
  it("reads a valid record, from the value or its JSON text", () => {
    expect(parseRungRecord(valid(), EXPECTED)).toEqual(valid());
    expect(parseRungRecord(JSON.stringify(valid()), EXPECTED)).toEqual(valid());
    expect(parseRungRecord({ ...valid(), entries: [] }, EXPECTED).entries).toEqual([]);
  });

  it.each([
    ["text that is not JSON", "{ not json", /\(rung record\): is not valid JSON/],
    ["another schema version", { ...valid(), schemaVersion: 2 }, /schemaVersion: must be 1/],
    ["a second entry of a trial", { ...valid(), entries: [entry("t1", 0.4), entry("t2", 0.5), entry("t1", 0.6)] }, /entries\[2\]\.trialId: t1 has an earlier entry/],
    ["a NaN value (as JSON cannot hold it, a value given)", { ...valid(), entries: [entry("t1", Number.NaN)] }, /entries\[0\]\.value: must be a finite number/],
    ["an infinite value", { ...valid(), entries: [entry("t1", Number.POSITIVE_INFINITY)] }, /entries\[0\]\.value/],
    ["a value that is a string", { ...valid(), entries: [{ ...entry("t1", 0), value: "0.5" }] }, /entries\[0\]\.value/],
    ["another rung's record", { ...valid(), rung: 2 }, /rung: is 2, expected 1/],
    ["another epoch", { ...valid(), epoch: 9 }, /epoch: is 9, expected 3/],
    ["another sweep's record", { ...valid(), sweepId: "other" }, /sweepId: is "other", expected "widgets-sweep"/],
    ["an entry from before the rung's epoch", { ...valid(), entries: [entry("t1", 0.5, 2)] }, /entries\[0\]\.epoch: must be at least the rung's epoch \(3\)/],
    ["a trial id that is not a run id", { ...valid(), entries: [entry("../t1", 0.5)] }, /entries\[0\]\.trialId: must be a run id/],
    ["a recordedAt that is not a time", { ...valid(), entries: [{ ...entry("t1", 0.5), recordedAt: "yesterday" }] }, /entries\[0\]\.recordedAt: must be an ISO 8601/],
    ["no entries", { ...valid(), entries: undefined }, /entries: must be an array/],
    ["an array", [], /\(rung record\)/],
  ])("refuses %s", (_name, json, message) => {
    expect(() => parseRungRecord(json, EXPECTED)).toThrow(InvalidRungRecordError);
    expect(() => parseRungRecord(json, EXPECTED)).toThrow(message);
  });

  it("reports every problem at once", () => {
    const error = (() => {
      try {
        parseRungRecord({ ...valid(), rung: 4, epoch: 27, entries: [entry("t1", Number.NaN)] }, EXPECTED);
      } catch (e) {
        return e as InvalidRungRecordError;
      }
      throw new Error("parsed");
    })();
    expect(error.problems.map((p) => p.split(":")[0]).sort()).toEqual(["entries[0].value", "epoch", "rung"]);
  });
});
