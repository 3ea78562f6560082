import fc from "fast-check";
import {
  DATASETS_PREFIX,
  DEFAULT_MODELS_PREFIX,
  RUNS_PREFIX,
  assertPrefix,
  datasetPrefix,
  prefixProblem,
  runPrefix,
} from "../../components/bucketLayout";

describe("bucket layout", () => {
  it("puts datasets, runs and models under their documented prefixes", () => {
    expect(DATASETS_PREFIX).toBe("datasets/");
    expect(RUNS_PREFIX).toBe("runs/");
    expect(DEFAULT_MODELS_PREFIX).toBe("models/");
    expect(datasetPrefix("coco-person")).toBe("datasets/coco-person/");
    expect(runPrefix("r-1a2b3c4d")).toBe("runs/r-1a2b3c4d/");
  });

  it.each(["", "a/b", "../x", ".", "..", "-leading", "has space", "x*", "ünïcode"])(
    "rejects %j as a run id or dataset name (it must stay one key segment)",
    (bad) => {
      expect(() => runPrefix(bad)).toThrow(/run id/);
      expect(() => datasetPrefix(bad)).toThrow(/dataset name/);
    },
  );

  it("keeps every run inside runs/ and every dataset inside datasets/", () => {
    const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/).filter((s) => s !== "." && s !== "..");
    fc.assert(
      fc.property(id, (runId) => {
        const prefix = runPrefix(runId);
        expect(prefix.startsWith(RUNS_PREFIX)).toBe(true);
        expect(prefix.slice(RUNS_PREFIX.length, -1)).toBe(runId);
        expect(prefixProblem(prefix)).toBeUndefined();
        expect(datasetPrefix(runId).startsWith(DATASETS_PREFIX)).toBe(true);
      }),
    );
  });

  it.each([
    ["models/", undefined],
    ["team-a/models/", undefined],
    ["", /empty/],
    ["models", /does not end with \//],
    ["/models/", /starts with \//],
    ["models//", /empty segment/],
    ["a/../b/", /".." segment/],
    ["models*/", /characters outside/],
    ["mo?dels/", /characters outside/],
  ])("judges prefix %j", (prefix, expected) => {
    const problem = prefixProblem(prefix);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });

  it("names the prefix and the rule when asserting", () => {
    expect(() => assertPrefix("models", "modelsPrefix")).toThrow(/modelsPrefix "models" does not end with \/; it must be a key prefix ending with \//);
  });
});
