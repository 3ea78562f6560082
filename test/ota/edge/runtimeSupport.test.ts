import fc from "fast-check";
import { EdgeUsageError } from "../../../ota/edge/errors";
import { ONNXRUNTIME_OPSETS, oldestOnnxruntimeFor, onnxruntimeOpset, opsetCeiling, runtimeVerdict } from "../../../ota/edge/runtimeSupport";
import { RUNTIME } from "./fakes/edgeWorld";

describe("ONNX Runtime → opset (ONNX Runtime compatibility table)", () => {
  it.each([
    ["1.20", 21],
    ["1.19", 21],
    ["1.18", 21],
    ["1.17", 20],
    ["1.16", 19],
    ["1.15", 19],
    ["1.14", 18],
    ["1.13", 17],
    ["1.12", 17],
    ["1.11", 16],
    ["1.10", 15],
    ["1.9", 15],
    ["1.0", 11],
  ])("onnxruntime %s runs up to opset %d", (release, opset) => {
    expect(onnxruntimeOpset(release)).toEqual({ opset, newerThanTable: false });
    expect(onnxruntimeOpset(`${release}.3`)).toEqual({ opset, newerThanTable: false });
  });

  it("never runs a lower opset in a newer release (the table is newest first)", () => {
    for (let i = 1; i < ONNXRUNTIME_OPSETS.length; i += 1) expect(ONNXRUNTIME_OPSETS[i]!.opset).toBeLessThanOrEqual(ONNXRUNTIME_OPSETS[i - 1]!.opset);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 40 }), (ma, mi, mb, mj) => {
        fc.pre((ma > 0 || mi > 0) && (mb > 0 || mj > 0));
        const a = onnxruntimeOpset(`${ma}.${mi}`).opset;
        const b = onnxruntimeOpset(`${mb}.${mj}`).opset;
        if (ma < mb || (ma === mb && mi <= mj)) expect(a).toBeLessThanOrEqual(b);
      }),
    );
  });

  it("takes a release newer than the table as running the table's newest opset", () => {
    expect(onnxruntimeOpset("1.22.0")).toEqual({ opset: 21, newerThanTable: true });
    expect(onnxruntimeOpset("2.0")).toEqual({ opset: 21, newerThanTable: true });
  });

  it.each(["", "latest", "1", "v1.16.3", "1.16.3-rc1", "0.0"])("refuses the version %j", (version) => {
    expect(() => onnxruntimeOpset(version)).toThrow(EdgeUsageError);
  });

  it("names the oldest release that runs an opset, for the fix in a refusal", () => {
    expect([oldestOnnxruntimeFor(17), oldestOnnxruntimeFor(19), oldestOnnxruntimeFor(21), oldestOnnxruntimeFor(15), oldestOnnxruntimeFor(7)]).toEqual(["1.12", "1.15", "1.18", "1.9", "0.1"]);
    expect(oldestOnnxruntimeFor(22)).toBeUndefined();
  });
});

describe("opsetCeiling and runtimeVerdict", () => {
  it("is undefined for a box that said nothing, and then everything runs", () => {
    expect(opsetCeiling({})).toBeUndefined();
    expect(runtimeVerdict({ ...RUNTIME, opset: 99 }, undefined)).toEqual({ runs: true });
  });

  it("takes the lower of --max-opset and --onnxruntime", () => {
    expect(opsetCeiling({ maxOpset: 20, onnxruntime: "1.13.1" })).toEqual({ maxOpset: 17, basis: "onnxruntime 1.13.1 (opset 17 per ONNX Runtime's compatibility table)", warnings: [] });
    expect(opsetCeiling({ maxOpset: 15, onnxruntime: "1.13.1" })).toMatchObject({ maxOpset: 15, basis: "--max-opset 15" });
  });

  it("runs a release at or below the ceiling and refuses one above, with the fix", () => {
    const ceiling = opsetCeiling({ onnxruntime: "1.14.1" })!;
    const runtime = RUNTIME;
    expect(runtimeVerdict({ ...runtime, opset: 18 }, ceiling)).toEqual({ runs: true });
    expect(runtimeVerdict({ ...runtime, opset: 19 }, ceiling)).toEqual({
      runs: false,
      needs: 19,
      ceiling,
      fix: "Upgrade ONNX Runtime on this box to 1.15 or later (then pass the new --onnxruntime or --max-opset), or publish a model exported at opset 18 or lower.",
    });
    expect(runtimeVerdict(undefined, ceiling)).toEqual({ runs: true, warning: expect.stringMatching(/could not be checked against onnxruntime 1\.14\.1/) });
  });
});
