/**
 * Issue 10, item 7: a signed manifest is read only from its canonical bytes. `JSON.parse` accepts
 * many spellings of one value (a key twice, whitespace, any key order, `640.0`, `\u0077`, a BOM);
 * the signature covers the spelling, so two readers could read different things from the same
 * signed bytes. `parseSignedManifest` refuses every spelling but `serializeManifest`'s.
 */
import fc from "fast-check";
import { exampleManifest, OLD_RELEASE } from "./fakes/exampleManifest";
import { InvalidManifestError, parseManifest, parseSignedManifest, serializeManifest, type Manifest } from "../../ota/manifest";
import { LocalKeySigner, verifyManifestSignature } from "../../ota/signature";
import { METRIC_NAME_PATTERN } from "../../runspec/metrics";

const SHA = "ab".repeat(32);
const RUNTIME = { format: "onnx", opset: 17, inputShape: [1, 3, 640, 640], outputShape: [1, 84, 8400], nms: false, verifiedWith: { name: "onnxruntime", version: "1.20.1" } } as const;

/** docs/ota.md's example, in the order the docs write it (not canonical), with a non-ASCII class name. */
function example(withRuntime: boolean): Manifest {
  const runtime = { ...RUNTIME, inputShape: [...RUNTIME.inputShape], outputShape: [...RUNTIME.outputShape], verifiedWith: { ...RUNTIME.verifiedWith } };
  return exampleManifest({ classNames: ["pallet", "boîte"], ...(withRuntime ? { runtime } : {}) }) as Manifest;
}


const CANONICAL = serializeManifest(example(true));
const canonicalText = CANONICAL.toString("utf8");

/** `canonicalText` with `from` (which must occur exactly once) replaced by `to`. */
function respell(from: string, to: string): Buffer {
  expect(canonicalText.split(from)).toHaveLength(2);
  return Buffer.from(canonicalText.replace(from, to), "utf8");
}

function refusal(bytes: Buffer | string): InvalidManifestError {
  try {
    parseSignedManifest(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidManifestError);
    return error as InvalidManifestError;
  }
  throw new Error("the non-canonical manifest was accepted");
}

describe("parseSignedManifest accepts canonical bytes", () => {
  it("reads what serializeManifest writes, with and without runtime, from bytes and from text", () => {
    for (const withRuntime of [true, false]) {
      const bytes = serializeManifest(example(withRuntime));
      expect(parseSignedManifest(bytes)).toEqual(parseManifest(bytes));
      expect(parseSignedManifest(bytes.toString("utf8"))).toEqual(parseManifest(bytes));
      expect("runtime" in parseSignedManifest(bytes)).toBe(withRuntime);
    }
    // The publisher writes a non-ASCII class name raw (UTF-8), not as \u escapes.
    expect(canonicalText).toContain('"boîte"');
  });

  it("still reads a release signed before runtime existed, byte for byte", () => {
    expect(verifyManifestSignature(OLD_RELEASE.bytes, OLD_RELEASE.signature, OLD_RELEASE.publicKeyPem)).toBe(true);
    expect(parseSignedManifest(OLD_RELEASE.bytes)).toEqual(parseManifest(OLD_RELEASE.bytes));
    // A view into a larger buffer is read as its own bytes only.
    const padded = Buffer.concat([Buffer.from("xx"), OLD_RELEASE.bytes, Buffer.from("yy")]);
    expect(parseSignedManifest(padded.subarray(2, 2 + OLD_RELEASE.bytes.length)).version).toBe(7);
  });

  it("reads every manifest serializeManifest writes", () => {
    const arbitrary = fc
      .record({
        version: fc.integer({ min: 1, max: 9_999_999_999 }),
        runId: fc.string({ minLength: 1, maxLength: 40 }),
        metrics: fc.dictionary(fc.stringMatching(METRIC_NAME_PATTERN), fc.double({ noNaN: true, noDefaultInfinity: true })),
        classNames: fc.array(fc.string({ maxLength: 12, unit: "grapheme" }), { maxLength: 6 }),
        lengths: fc.tuple(fc.integer({ min: 0, max: 2 ** 52 }), fc.integer({ min: 0, max: 2 ** 52 })),
        runtime: fc.boolean(),
      })
      .map((r) => ({ ...example(r.runtime), version: r.version, runId: r.runId, metrics: r.metrics, classNames: r.classNames, files: [{ path: "model.onnx", length: r.lengths[0], sha256: SHA }, { path: "model.pt", length: r.lengths[1], sha256: SHA }] }));
    fc.assert(
      fc.property(arbitrary, (m) => {
        const bytes = serializeManifest(m);
        expect(serializeManifest(parseSignedManifest(bytes)).equals(bytes)).toBe(true);
      }),
    );
  });
});

describe("parseSignedManifest refuses any other spelling of the same manifest", () => {
  const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
  it.each<[string, Buffer]>([
    ["a key twice, the first value hidden by the last", Buffer.from(`{"inputSize":320,${canonicalText.slice(1)}`, "utf8")],
    ["a key twice, the last value winning", Buffer.from(`${canonicalText.slice(0, -1)},"version":8}`, "utf8")],
    ["a nested key twice", respell('"nms":false', '"nms":true,"nms":false')],
    ["keys out of order (as JSON.stringify writes the docs' example)", Buffer.from(JSON.stringify(example(true)), "utf8")],
    ["indentation", Buffer.from(JSON.stringify(JSON.parse(canonicalText), null, 2), "utf8")],
    ["one space after a colon", respell('"inputSize":640', '"inputSize": 640')],
    ["a space inside an array", respell('"classNames":["pallet",', '"classNames":["pallet", ')],
    ["a trailing newline", Buffer.from(canonicalText + "\n", "utf8")],
    ["a trailing CRLF", Buffer.from(canonicalText + "\r\n", "utf8")],
    ["a leading space", Buffer.from(" " + canonicalText, "utf8")],
    ["a UTF-8 byte order mark", Buffer.concat([BOM, CANONICAL])],
    ["an integer spelt 640.0", respell('"inputSize":640', '"inputSize":640.0')],
    ["an integer spelt 6.4e2", respell('"inputSize":640', '"inputSize":6.4e2')],
    ["an integer spelt 64E1", respell('"opset":17', '"opset":1.7E1')],
    ["a fraction spelt 6.12e-1", respell(":0.612", ":6.12e-1")],
    ["a fraction with a trailing zero", respell(":0.81", ":0.810")],
    ["a length spelt 1.2345678e7", respell('"length":12345678', '"length":1.2345678e7')],
    ["an escaped letter", respell('"modelName":"widgets"', '"modelName":"\\u0077idgets"')],
    ["an escaped slash", respell('"metrics/mAP50(B)"', '"metrics\\/mAP50(B)"')],
    ["an escaped non-ASCII letter the canonical form writes raw", respell('"boîte"', '"bo\\u00eete"')],
  ])("%s", (_name, bytes) => {
    // Each is a valid manifest to a lenient reader: only its spelling differs.
    expect(() => parseManifest(bytes)).not.toThrow();
    const error = refusal(bytes);
    expect(error.problems).toEqual([{ path: "(manifest)", message: expect.stringMatching(/^is not in canonical form: its bytes are not the canonical serialisation of what they parse to/) }]);
    expect(error.message).toMatch(/^The manifest has 1 problem:\n {2}- \(manifest\): is not in canonical form/);
    expect(error.message).toMatch(/differ at byte \d+/);
  });

  it("says which bytes differ, and names a byte order mark and a trailing newline", () => {
    expect(refusal(Buffer.concat([BOM, CANONICAL])).message).toMatch(/starts with a UTF-8 byte order mark/);
    expect(refusal(Buffer.from(canonicalText + "\n")).message).toMatch(new RegExp(`bytes follow the end of the canonical form, e.g. a trailing newline\\); they differ at byte ${CANONICAL.length}: "\\\\n" where the canonical form has \\(end\\)`));
    expect(refusal(respell('"inputSize":640', '"inputSize":640.0')).message).toMatch(/differ at byte \d+: "\.0,\\"metrics\\":\{.*" where the canonical form has ",\\"metrics\\":\{/);
  });

  it("refuses a duplicate key even when the signature over it verifies: signed is not enough", async () => {
    const signer = LocalKeySigner.generate();
    const bytes = Buffer.from(`{"expires":"2099-01-01T00:00:00.000Z",${canonicalText.slice(1)}`, "utf8");
    expect(verifyManifestSignature(bytes, await signer.sign(bytes), await signer.publicKeyPem())).toBe(true);
    // A reader keeping the first value would see a manifest that never expires; JSON.parse keeps the last.
    expect(parseManifest(bytes).expires).toBe("2027-02-27T12:00:00.000Z");
    expect(refusal(bytes).message).toMatch(/not in canonical form/);
  });

  it("reports a manifest's own problems first, as parseManifest does", () => {
    const bytes = Buffer.from(JSON.stringify({ ...example(true), version: 0 }, null, 2));
    expect(refusal(bytes).problems).toEqual([{ path: "version", message: "must be a positive integer (1 or more)" }]);
  });
});
