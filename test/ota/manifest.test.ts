import fc from "fast-check";
import { exampleManifest, OLD_RELEASE } from "./fakes/exampleManifest";
import {
  canonicalJson,
  createManifest,
  InvalidManifestError,
  layoutAt,
  layoutFor,
  manifestExpired,
  parseChannelPointer,
  parseManifest,
  parseVersionKey,
  serializeChannelPointer,
  serializeManifest,
  versionKey,
  type Manifest,
} from "../../ota/manifest";
import { verifyManifestSignature } from "../../ota/signature";
import { METRIC_NAME_PATTERN } from "../../runspec/metrics";

const SHA = "ab".repeat(32);

/** The `runtime` of docs/ota.md's example. */
const RUNTIME = { format: "onnx", opset: 17, inputShape: [1, 3, 640, 640], outputShape: [1, 84, 8400], nms: false, verifiedWith: { name: "onnxruntime", version: "1.20.1" } } as const;


const manifest = exampleManifest;

function problemsOf(value: unknown): Array<{ path: string; message: string }> {
  try {
    parseManifest(JSON.stringify(value));
  } catch (error) {
    if (error instanceof InvalidManifestError) return [...error.problems];
    throw error;
  }
  throw new Error("the manifest was accepted");
}

describe("parseManifest", () => {
  it("accepts the example of docs/ota.md from bytes and from text", () => {
    const text = JSON.stringify(manifest());
    expect(parseManifest(Buffer.from(text))).toEqual(manifest());
    expect(parseManifest(text).version).toBe(7);
  });

  it.each([
    ["a path with a folder", { files: [{ path: "models/model.onnx", length: 1, sha256: SHA }] }, "files[0].path", /plain file name: "\/" and "\\" are not allowed/],
    ["a path with ..", { files: [{ path: "..", length: 1, sha256: SHA }, { path: "model.onnx", length: 1, sha256: SHA }] }, "files[0].path", /".." is not allowed/],
    ["a path climbing out", { files: [{ path: "../model.onnx", length: 1, sha256: SHA }] }, "files[0].path", /".." is not allowed/],
    ["a backslash path", { files: [{ path: "a\\model.onnx", length: 1, sha256: SHA }] }, "files[0].path", /"\/" and "\\" are not allowed/],
    ["a hidden file", { files: [{ path: ".model.onnx", length: 1, sha256: SHA }] }, "files[0].path", /starting with a letter or digit/],
    ["the manifest's own name", { files: [{ path: "model.onnx", length: 1, sha256: SHA }, { path: "manifest.json", length: 1, sha256: SHA }] }, "files[1].path", /belongs to the release format/],
    ["a negative length", { files: [{ path: "model.onnx", length: -1, sha256: SHA }] }, "files[0].length", /must not be negative/],
    ["a fractional length", { files: [{ path: "model.onnx", length: 1.5, sha256: SHA }] }, "files[0].length", /must be an integer/],
    ["an upper-case sha256", { files: [{ path: "model.onnx", length: 1, sha256: SHA.toUpperCase() }] }, "files[0].sha256", /64 lowercase hex/],
    ["expires before createdAt", { expires: "2026-11-28T12:00:00.000Z" }, "expires", /must be after createdAt \(2026-11-29T12:00:00.000Z\)/],
    ["expires equal to createdAt", { expires: "2026-11-29T12:00:00.000Z" }, "expires", /must be after createdAt/],
    ["a local time", { createdAt: "2026-11-29T12:00:00" }, "createdAt", /ISO 8601 UTC time/],
    ["version 0", { version: 0 }, "version", /positive integer/],
    ["an 11-digit version", { version: 10_000_000_000 }, "version", /at most 9999999999/],
    ["another schema version", { schemaVersion: 2 }, "schemaVersion", /must be 1; this reader knows no other/],
    ["no files", { files: [] }, "files", /at least one file/],
    ["no model.onnx", { files: [{ path: "model.pt", length: 1, sha256: SHA }] }, "files", /must include a file with path "model.onnx"/],
    ["a file twice", { files: [{ path: "model.onnx", length: 1, sha256: SHA }, { path: "model.onnx", length: 2, sha256: SHA }] }, "files[1].path", /listed more than once/],
    ["a model name with a slash", { modelName: "a/b" }, "modelName", /1-64 characters/],
    ["a metric that is not a number", { metrics: { "metrics/mAP50(B)": "0.8" } }, "metrics.metrics/mAP50(B)", /finite number/],
    ["an input size of 0", { inputSize: 0 }, "inputSize", /positive integer/],
    ["a runtime of another format", { runtime: { ...RUNTIME, format: "tflite" } }, "runtime.format", /must be "onnx"; this reader knows no other model format/],
    ["opset 0", { runtime: { ...RUNTIME, opset: 0 } }, "runtime.opset", /must be an ONNX opset from 1 to 99/],
    ["opset 100", { runtime: { ...RUNTIME, opset: 100 } }, "runtime.opset", /must be an ONNX opset from 1 to 99/],
    ["a fractional opset", { runtime: { ...RUNTIME, opset: 17.5 } }, "runtime.opset", /must be an integer/],
    ["a dynamic axis", { runtime: { ...RUNTIME, inputShape: [-1, 3, 640, 640] } }, "runtime.inputShape[0]", /positive integer \(a fixed size; dynamic axes are not supported\)/],
    ["an axis of 0", { runtime: { ...RUNTIME, outputShape: [1, 0, 8400] } }, "runtime.outputShape[1]", /positive integer/],
    ["an empty shape", { runtime: { ...RUNTIME, inputShape: [] } }, "runtime.inputShape", /at least one axis/],
    ["a shape of 9 axes", { runtime: { ...RUNTIME, outputShape: [1, 1, 1, 1, 1, 1, 1, 1, 1] } }, "runtime.outputShape", /at most 8 axes/],
    ["a shape that is a string", { runtime: { ...RUNTIME, inputShape: "1x3x640x640" } }, "runtime.inputShape", /array of positive integers/],
    ["nms as a string", { runtime: { ...RUNTIME, nms: "false" } }, "runtime.nms", /must be true or false/],
    ["a version with a suffix", { runtime: { ...RUNTIME, verifiedWith: { name: "onnxruntime", version: "1.20.1+cu121" } } }, "runtime.verifiedWith.version", /2-4 dot-separated numbers, e.g. "1.20.1"/],
    ["a version without a minor", { runtime: { ...RUNTIME, verifiedWith: { name: "onnxruntime", version: "1" } } }, "runtime.verifiedWith.version", /dot-separated/],
    ["a runtime name with spaces", { runtime: { ...RUNTIME, verifiedWith: { name: "ONNX Runtime", version: "1.20.1" } } }, "runtime.verifiedWith.name", /a-z, 0-9/],
  ])("rejects %s, naming the field", (_name, overrides, path, message) => {
    const problems = problemsOf(manifest(overrides));
    expect(problems).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it.each([["__proto__"], ["mAP 50"], ["/metrics"], [""]])("rejects the metric name %j, which would not read back as it was signed", (name) => {
    // Raw JSON text: an object literal would turn "__proto__" into the prototype, not a key.
    const text = JSON.stringify(manifest({ metrics: { placeholder: 1 } })).replace('"placeholder"', JSON.stringify(name));
    let problems: Array<{ path: string; message: string }> = [];
    try {
      parseManifest(text);
    } catch (error) {
      problems = [...(error as InvalidManifestError).problems];
    }
    expect(problems).toEqual([{ path: `metrics.${name}`, message: expect.stringMatching(/is not a metric name, which must be 1-128 characters/) }]);
  });

  it("reads a manifest with runtime, and one without it (published before it existed)", () => {
    expect(parseManifest(JSON.stringify(manifest({ runtime: RUNTIME }))).runtime).toEqual(RUNTIME);
    const old = parseManifest(JSON.stringify(manifest()));
    expect(old.runtime).toBeUndefined();
    expect(Object.keys(old)).not.toContain("runtime");
  });

  it("still reads and verifies a release signed before runtime existed, and re-serializes it to the same bytes", () => {
    expect(verifyManifestSignature(OLD_RELEASE.bytes, OLD_RELEASE.signature, OLD_RELEASE.publicKeyPem)).toBe(true);
    const parsed = parseManifest(OLD_RELEASE.bytes);
    expect(parsed).toEqual(manifest());
    expect(serializeManifest(parsed).equals(OLD_RELEASE.bytes)).toBe(true);
  });

  it("rejects a runtime field it does not know, and a runtime that is not an object", () => {
    expect(problemsOf(manifest({ runtime: { ...RUNTIME, dynamic: true } }))).toEqual([{ path: "runtime", message: expect.stringMatching(/dynamic/) }]);
    expect(problemsOf(manifest({ runtime: { ...RUNTIME, verifiedWith: { ...RUNTIME.verifiedWith, build: "cuda" } } }))).toEqual([{ path: "runtime.verifiedWith", message: expect.stringMatching(/build/) }]);
    expect(problemsOf(manifest({ runtime: 17 }))).toEqual([{ path: "runtime", message: expect.stringMatching(/expected object/i) }]);
  });

  it("rejects metrics that are not an object", () => {
    expect(problemsOf(manifest({ metrics: [0.5] }))).toEqual([{ path: "metrics", message: "must be an object of metric name to number" }]);
  });

  it("rejects a field it does not know (a manifest of schema 1 has exactly these)", () => {
    expect(problemsOf(manifest({ extra: true }))).toEqual([{ path: "(manifest)", message: expect.stringMatching(/extra/) }]);
  });

  it("reports every problem at once, one per line, each with its path", () => {
    const bad = manifest({ version: -3, expires: "2020-01-01T00:00:00.000Z", files: [{ path: "../x", length: -1, sha256: "z" }] });
    let message = "";
    try {
      parseManifest(JSON.stringify(bad));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split("\n")).toEqual([
      "The manifest has 6 problems:",
      "  - version: must be a positive integer (1 or more)",
      '  - files[0].path: must be a plain file name: ".." is not allowed (got "../x")',
      "  - files[0].length: must not be negative",
      "  - files[0].sha256: must be 64 lowercase hex characters (SHA-256)",
      "  - expires: must be after createdAt (2026-11-29T12:00:00.000Z); got 2020-01-01T00:00:00.000Z",
      '  - files: must include a file with path "model.onnx"',
    ]);
  });

  it.each([
    ["not JSON", Buffer.from("{"), /is not valid JSON/],
    ["not UTF-8", Buffer.from([0x7b, 0xff, 0x7d]), /is not valid UTF-8/],
    ["an array", Buffer.from("[]"), /expected object/i],
  ])("rejects bytes that are %s", (_name, bytes, message) => {
    expect(() => parseManifest(bytes)).toThrow(InvalidManifestError);
    expect(() => parseManifest(bytes)).toThrow(message);
  });
});

const arbitraryShape = fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 8 });
const arbitraryRuntime = fc.record({
  format: fc.constant("onnx" as const),
  opset: fc.integer({ min: 1, max: 99 }),
  inputShape: arbitraryShape,
  outputShape: arbitraryShape,
  nms: fc.boolean(),
  verifiedWith: fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9._-]{0,20}$/), version: fc.stringMatching(/^\d{1,4}(\.\d{1,4}){1,3}$/) }),
});

/** A manifest with arbitrary metrics, class names, files (always with model.onnx) and, or not, a runtime. */
const arbitraryManifest: fc.Arbitrary<Manifest> = fc
  .record({
    version: fc.integer({ min: 1, max: 9_999_999_999 }),
    createdMs: fc.integer({ min: Date.parse("2020-01-01T00:00:00Z"), max: Date.parse("2040-01-01T00:00:00Z") }),
    lifetimeMs: fc.integer({ min: 1, max: 400 * 86_400_000 }),
    runId: fc.string({ minLength: 1, maxLength: 40 }),
    // JSON has no -0 (it reads back as 0), so a manifest never holds one.
    metrics: fc.dictionary(fc.stringMatching(METRIC_NAME_PATTERN), fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x))),
    inputSize: fc.integer({ min: 32, max: 2048 }),
    classNames: fc.array(fc.string({ maxLength: 12 }), { maxLength: 8 }),
    extra: fc.uniqueArray(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/).filter((p) => !p.includes("..") && p !== "model.onnx" && !p.startsWith("manifest.json")), { maxLength: 3 }),
    lengths: fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 4, maxLength: 4 }),
    digest: fc.stringMatching(/^[0-9a-f]{64}$/),
    runtime: fc.option(arbitraryRuntime, { nil: undefined }),
  })
  .map((r) => ({
    schemaVersion: 1 as const,
    modelName: "widgets",
    version: r.version,
    createdAt: new Date(r.createdMs).toISOString(),
    expires: new Date(r.createdMs + r.lifetimeMs).toISOString(),
    runId: r.runId,
    metrics: r.metrics,
    inputSize: r.inputSize,
    classNames: r.classNames,
    files: ["model.onnx", ...r.extra].map((path, i) => ({ path, length: r.lengths[i] ?? 0, sha256: r.digest })),
    ...(r.runtime !== undefined ? { runtime: r.runtime } : {}),
  }));

/** The same value with every object's keys in another order. */
function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => shuffleKeys(v, seed + i));
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value);
  const rotated = entries.map((_, i) => entries[(i + seed) % entries.length]!).reverse();
  return Object.fromEntries(rotated.map(([k, v]) => [k, shuffleKeys(v, seed + 1)]));
}

describe("serializeManifest", () => {
  it("gives the same bytes whatever order the keys were built in", () => {
    fc.assert(
      fc.property(arbitraryManifest, fc.nat(50), (m, seed) => {
        expect(serializeManifest(shuffleKeys(m, seed) as Manifest).equals(serializeManifest(m))).toBe(true);
      }),
    );
  });

  it("writes sorted keys without whitespace, and reading the bytes back gives the manifest and the same bytes", () => {
    fc.assert(
      fc.property(arbitraryManifest, (m) => {
        const bytes = serializeManifest(m);
        const text = bytes.toString("utf8");
        const parsed = parseManifest(bytes);
        expect(parsed).toEqual(m);
        expect(serializeManifest(parsed).equals(bytes)).toBe(true);
        expect(Object.keys(JSON.parse(text) as object)).toEqual(Object.keys(m).sort());
        // JSON.stringify adds no whitespace either; it may order keys like "0" differently, not add bytes.
        expect(text.length).toBe(JSON.stringify(JSON.parse(text)).length);
      }),
    );
  });

  it("writes the docs/ota.md example as canonical UTF-8", () => {
    const bytes = serializeManifest({ ...(manifest() as Manifest), classNames: ["caja", "palé"] });
    expect(bytes.toString("utf8")).toBe(
      `{"classNames":["caja","palé"],"createdAt":"2026-11-29T12:00:00.000Z","expires":"2027-02-27T12:00:00.000Z",` +
        `"files":[{"length":12345678,"path":"model.onnx","sha256":"${SHA}"},{"length":6543210,"path":"model.pt","sha256":"${"cd".repeat(32)}"}],` +
        `"inputSize":640,"metrics":{"metrics/mAP50(B)":0.81,"metrics/mAP50-95(B)":0.612},"modelName":"widgets","runId":"yolov8n-widgets-0123456789","schemaVersion":1,"version":7}`,
    );
    expect(bytes.includes(Buffer.from("palé", "utf8"))).toBe(true);
  });

  it("writes runtime with its keys sorted like the rest, and an old manifest's bytes without any trace of it", () => {
    const text = serializeManifest({ ...(manifest() as Manifest), runtime: { ...RUNTIME, inputShape: [...RUNTIME.inputShape], outputShape: [...RUNTIME.outputShape] } }).toString("utf8");
    expect(text).toContain(
      `"runId":"yolov8n-widgets-0123456789","runtime":{"format":"onnx","inputShape":[1,3,640,640],"nms":false,"opset":17,"outputShape":[1,84,8400],"verifiedWith":{"name":"onnxruntime","version":"1.20.1"}},"schemaVersion":1`,
    );
    expect(serializeManifest(manifest() as Manifest).equals(OLD_RELEASE.bytes)).toBe(true);
  });

  it("refuses to serialize an invalid manifest, so one is never signed", () => {
    expect(() => serializeManifest({ ...(manifest() as Manifest), version: 0 })).toThrow(/version: must be a positive integer/);
  });

  it("canonicalJson refuses values JSON cannot carry", () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/no JSON form/);
    expect(canonicalJson({ b: [2, { d: 1, c: null }], a: "x", u: undefined })).toBe('{"a":"x","b":[2,{"c":null,"d":1}]}');
  });
});

describe("createManifest", () => {
  it("fills createdAt and expires 90 days later by default", () => {
    const m = createManifest({ modelName: "widgets", version: 1, runId: "r", metrics: {}, inputSize: 640, classNames: [], files: [{ path: "model.onnx", length: 1, sha256: SHA }], runtime: RUNTIME, now: new Date("2026-11-29T12:00:00Z") });
    expect(m).toMatchObject({ schemaVersion: 1, createdAt: "2026-11-29T12:00:00.000Z", expires: "2027-02-27T12:00:00.000Z", runtime: RUNTIME });
    expect(manifestExpired(m, new Date("2027-02-27T11:59:59.999Z"))).toBe(false);
    expect(manifestExpired(m, new Date("2027-02-27T12:00:00.000Z"))).toBe(true);
  });
});

describe("createManifest's runtime", () => {
  const input = { modelName: "widgets", version: 1, runId: "r", metrics: {}, inputSize: 640, classNames: [], files: [{ path: "model.onnx", length: 1, sha256: SHA }], now: new Date("2026-11-29T12:00:00Z") };

  it("always writes it, and it reads back from the bytes as written", () => {
    const m = createManifest({ ...input, runtime: RUNTIME });
    expect(parseManifest(serializeManifest(m))).toEqual(m);
    expect(parseManifest(serializeManifest(m)).runtime).toEqual(RUNTIME);
  });

  it("refuses a runtime a box could not rely on, before anything is signed", () => {
    expect(() => createManifest({ ...input, runtime: { ...RUNTIME, opset: 0, verifiedWith: { name: "onnxruntime", version: "latest" } } })).toThrow(
      /The manifest has 2 problems:\n {2}- runtime\.opset: must be an ONNX opset from 1 to 99\n {2}- runtime\.verifiedWith\.version: must be a version of 2-4 dot-separated numbers/,
    );
  });
});

describe("versions and layout", () => {
  it.each([
    [1, "0000000001"],
    [7, "0000000007"],
    [9_999_999_999, "9999999999"],
  ])("writes version %d as %s and reads it back", (v, key) => {
    expect(versionKey(v)).toBe(key);
    expect(parseVersionKey(key)).toBe(v);
  });

  it.each([0, -1, 1.5, 10_000_000_000, Number.NaN])("refuses version %d", (v) => {
    expect(() => versionKey(v)).toThrow(RangeError);
  });

  it("sorts version keys as numbers", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9_999_999_999 }), fc.integer({ min: 1, max: 9_999_999_999 }), (a, b) => {
        expect(Math.sign(versionKey(a).localeCompare(versionKey(b)))).toBe(Math.sign(a - b));
      }),
    );
  });

  it("lays a model out as docs/ota.md says", () => {
    const layout = layoutFor("models/", "widgets");
    expect(layout).toMatchObject({ modelName: "widgets", modelPrefix: "models/widgets/", versionsPrefix: "models/widgets/versions/" });
    expect([layout.claim(7), layout.file(7, "model.onnx"), layout.manifest(7), layout.signature(7), layout.channel("stable")]).toEqual([
      "models/widgets/versions/0000000007/.claim",
      "models/widgets/versions/0000000007/model.onnx",
      "models/widgets/versions/0000000007/manifest.json",
      "models/widgets/versions/0000000007/manifest.json.sig",
      "models/widgets/channels/stable.json",
    ]);
    expect(layout.versionOf("models/widgets/versions/0000000012/")).toBe(12);
    expect(layout.versionOf("models/widgets/versions/latest/")).toBeUndefined();
    expect(layoutAt("models/widgets/").claim(7)).toBe(layout.claim(7));
    expect(layoutFor("", "widgets").manifest(1)).toBe("widgets/versions/0000000001/manifest.json");
  });

  it.each([
    ["a file path with a folder", () => layoutFor("models/", "w").file(1, "a/b")],
    ["a models prefix without /", () => layoutFor("models", "w")],
    ["a model name with /", () => layoutFor("models/", "a/b")],
    ["a channel with /", () => layoutFor("models/", "w").channel("../x")],
    ["a model prefix without /", () => layoutAt("models/widgets")],
  ])("refuses %s", (_name, build) => {
    expect(build).toThrow(RangeError);
  });
});

describe("channel pointers", () => {
  it("round-trip through canonical bytes and reject a pointer to version 0", () => {
    const pointer = { schemaVersion: 1 as const, modelName: "widgets", channel: "stable", version: 3, updatedAt: "2026-11-29T12:00:00.000Z" };
    expect(serializeChannelPointer(pointer).toString()).toBe('{"channel":"stable","modelName":"widgets","schemaVersion":1,"updatedAt":"2026-11-29T12:00:00.000Z","version":3}');
    expect(parseChannelPointer(serializeChannelPointer(pointer))).toEqual(pointer);
    expect(() => parseChannelPointer(JSON.stringify({ ...pointer, version: 0 }))).toThrow(/channel pointer has 1 problem:\n  - version: must be a positive integer/);
  });
});
