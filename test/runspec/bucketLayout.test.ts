import fc from "fast-check";
import {
  DATASETS_PREFIX,
  DEFAULT_MODELS_PREFIX,
  KEY_PREFIX_PATTERN,
  RUNS_PREFIX,
  assertKeyPrefix,
  datasetPrefix,
  keyPrefixProblem,
  modelPrefix,
  runObjectKeys,
  runPrefix,
} from "../../runspec/bucketLayout";

describe("bucket layout", () => {
  it("puts datasets, runs and models under their documented prefixes", () => {
    expect(DATASETS_PREFIX).toBe("datasets/");
    expect(RUNS_PREFIX).toBe("runs/");
    expect(DEFAULT_MODELS_PREFIX).toBe("models/");
    expect(datasetPrefix("coco-person")).toBe("datasets/coco-person/");
    expect(runPrefix("r-1a2b3c4d")).toBe("runs/r-1a2b3c4d/");
    expect(modelPrefix(DEFAULT_MODELS_PREFIX, "widgets")).toBe("models/widgets/");
    expect(modelPrefix("", "widgets")).toBe("widgets/");
  });

  it.each(["", "a/b", "../x", ".", "..", "-leading", "has space", "x*", "ünïcode"])(
    "rejects %j as a run id or dataset name (it must stay one key segment)",
    (bad) => {
      expect(() => runPrefix(bad)).toThrow(/run id/);
      expect(() => datasetPrefix(bad)).toThrow(/dataset name/);
      expect(() => modelPrefix("models/", bad)).toThrow(/model name/);
    },
  );

  it("refuses a models prefix outside the key-prefix rule", () => {
    expect(() => modelPrefix("it's/", "widgets")).toThrow(/models prefix "it's\/" has a segment/);
  });

  it("keeps every run inside runs/ and every dataset inside datasets/", () => {
    const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/).filter((s) => s !== "." && s !== "..");
    fc.assert(
      fc.property(id, (runId) => {
        const prefix = runPrefix(runId);
        expect(prefix.startsWith(RUNS_PREFIX)).toBe(true);
        expect(prefix.slice(RUNS_PREFIX.length, -1)).toBe(runId);
        expect(keyPrefixProblem(prefix, { allowEmpty: false })).toBeUndefined();
        expect(datasetPrefix(runId).startsWith(DATASETS_PREFIX)).toBe(true);
      }),
    );
  });

  it("puts every object of a run under the run's prefix, as the artifact layout says", () => {
    const keys = runObjectKeys("runs/r1/");
    expect([keys.recordKey, keys.leaseKey, keys.progressKey, keys.checkpointKey(2), keys.bestCheckpointKey(0), keys.cacheKeyPrefix]).toEqual([
      "runs/r1/run.json",
      "runs/r1/lease.json",
      "runs/r1/progress.jsonl",
      "runs/r1/checkpoints/phase-2/last.pt",
      "runs/r1/checkpoints/phase-0/best.pt",
      "runs/r1/cache/",
    ]);
    expect(keys.modelKeys).toEqual({ best: "runs/r1/model/best.pt", onnx: "runs/r1/model/best.onnx", result: "runs/r1/model/result.json" });
  });
});

describe("the key-prefix rule", () => {
  it.each([
    ["models/", undefined],
    ["team-a/models/", undefined],
    ["(v2)/x!_.-/", undefined],
    ["models", /does not end with \//],
    ["/models/", /starts with \//],
    ["models//", /empty segment/],
    ["a/../b/", /".." segment/],
    ["./", /"\." segment/],
    ["models*/", /characters outside/],
    ["mo?dels/", /characters outside/],
    ["it's/", /characters outside/],
    ["has space/", /characters outside/],
    ["ünïcode/", /characters outside/],
    [`${"a".repeat(512)}/`, /longer than 512/],
  ])("judges prefix %j", (prefix, expected) => {
    const problem = keyPrefixProblem(prefix);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
    expect(KEY_PREFIX_PATTERN.test(prefix)).toBe(expected === undefined);
  });

  it("accepts \"\" (the whole bucket) only where allowed", () => {
    expect(keyPrefixProblem("")).toBeUndefined();
    expect(KEY_PREFIX_PATTERN.test("")).toBe(true);
    expect(keyPrefixProblem("", { allowEmpty: false })).toBe("is empty");
  });

  it("is one rule: the pattern and the function accept exactly the same values", () => {
    const char = fc.constantFrom(..."aZ09!_.()-/'*? ü".split(""));
    const text = fc.oneof(fc.string({ unit: char, maxLength: 24 }), fc.string({ maxLength: 24 }));
    fc.assert(
      fc.property(text, (prefix) => {
        expect(KEY_PREFIX_PATTERN.test(prefix)).toBe(keyPrefixProblem(prefix) === undefined);
      }),
      { numRuns: 2000 },
    );
  });

  it("names the prefix and the rule when asserting", () => {
    expect(() => assertKeyPrefix("models", "modelsPrefix")).toThrow(/modelsPrefix "models" does not end with \/; it must be a key prefix ending with \//);
    expect(() => assertKeyPrefix("", "prefix")).toThrow(/prefix "" is empty/);
  });
});
