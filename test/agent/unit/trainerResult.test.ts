import { exportVerdict, parseOnnxExport, parseTrainerResult, type OnnxExportReport } from "../../../agent/trainerResult";
import { PASSING_ONNX_EXPORT } from "../fakes/onnxExportFixture";

const WORKDIR = "/scratch/runs/r1";

const PASSING = PASSING_ONNX_EXPORT;
const FAILING = {
  ...PASSING,
  check: { ...PASSING.check, passed: false, maxAbsDiff: 0.8, detections: { pytorch: 37, onnx: 12, matched: 10 }, reason: "ONNX output differs from PyTorch: max |Δ| 0.8 > tolerance 0.001 on 4 images" },
};
const problems = (report: OnnxExportReport): readonly string[] => (report.kind === "malformed" ? report.problems : []);

describe("parseTrainerResult", () => {
  it("reads a completed result, resolving relative paths against the work dir", () => {
    const text = JSON.stringify({ status: "completed", best: "phase-0/weights/best.pt", onnx: "/scratch/runs/r1/phase-0/weights/best.onnx", metrics: { "metrics/mAP50-95(B)": 0.41, note: "x" }, trainingSeconds: 812.5 });
    expect(parseTrainerResult(text, WORKDIR)).toEqual({
      ok: true,
      result: {
        status: "completed",
        best: "/scratch/runs/r1/phase-0/weights/best.pt",
        onnx: "/scratch/runs/r1/phase-0/weights/best.onnx",
        metrics: { "metrics/mAP50-95(B)": 0.41 },
        trainingSeconds: 812.5,
        onnxExport: { kind: "missing" },
      },
    });
  });

  it("accepts an already-complete result without training time", () => {
    const parsed = parseTrainerResult(JSON.stringify({ status: "already-complete", best: "b.pt", onnx: "b.onnx" }), WORKDIR);
    expect(parsed.ok && parsed.result).toMatchObject({ status: "already-complete", metrics: {}, trainingSeconds: null });
  });

  it("reads the optional input size and class names, and leaves out values of the wrong shape", () => {
    const base = { status: "completed", best: "b.pt", onnx: "b.onnx" };
    const good = parseTrainerResult(JSON.stringify({ ...base, imgsz: 640, classNames: ["pallet", "box"] }), WORKDIR);
    expect(good.ok && good.result).toMatchObject({ imgsz: 640, classNames: ["pallet", "box"] });
    const odd = parseTrainerResult(JSON.stringify({ ...base, imgsz: "640", classNames: ["pallet", 1] }), WORKDIR);
    expect(odd.ok && odd.result).not.toHaveProperty("imgsz");
    expect(odd.ok && odd.result).not.toHaveProperty("classNames");
  });

  it("lists every problem of a bad result", () => {
    const parsed = parseTrainerResult(JSON.stringify({ status: "done", best: "", onnx: 3 }), WORKDIR);
    expect(parsed).toEqual({
      ok: false,
      problems: ['status must be "completed" or "already-complete", got "done"', "best must be the path of a file", "onnx must be the path of a file"],
    });
  });

  it.each([
    ["text that is not JSON", "{", /not valid JSON/],
    ["a JSON array", "[]", /not a JSON object/],
  ])("rejects %s", (_label, text, problem) => {
    const parsed = parseTrainerResult(text, WORKDIR);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.problems[0]).toMatch(problem);
  });
});

describe("onnxExport in result.json", () => {
  const base = { status: "completed", best: "b.pt", onnx: "b.onnx" };

  it("reads the trainer's report of a passing check", () => {
    const parsed = parseTrainerResult(JSON.stringify({ ...base, onnxExport: PASSING }), WORKDIR);
    expect(parsed.ok && parsed.result.onnxExport).toEqual({ kind: "reported", export: PASSING });
  });

  it("keeps result.json usable when onnxExport is missing or malformed: only the export is unverified", () => {
    const missing = parseTrainerResult(JSON.stringify(base), WORKDIR);
    expect(missing.ok && missing.result.onnxExport).toEqual({ kind: "missing" });
    const malformed = parseTrainerResult(JSON.stringify({ ...base, onnxExport: { ...PASSING, opset: "17" } }), WORKDIR);
    expect(malformed.ok).toBe(true);
    expect(malformed.ok && malformed.result.onnxExport).toEqual({ kind: "malformed", problems: ['onnxExport.opset must be an ONNX opset, an integer from 1 to 99, got "17"'] });
  });

  it.each([
    ["not an object", [1, 2], ["onnxExport must be an object, got [1,2]"]],
    ["null", null, ["onnxExport must be an object, got null"]],
    ["opset 0", { ...PASSING, opset: 0 }, ["onnxExport.opset must be an ONNX opset, an integer from 1 to 99, got 0"]],
    ["a dynamic axis", { ...PASSING, inputShape: [-1, 3, 640, 640] }, [/^onnxExport\.inputShape must be 1-8 positive integers \(a static export, e\.g\. \[1, 3, 640, 640\]\), got \[-1,3,640,640\]$/]],
    ["an empty output shape", { ...PASSING, outputShape: [] }, [/^onnxExport\.outputShape must be 1-8 positive integers/]],
    ["nms as a string", { ...PASSING, nms: "no" }, ['onnxExport.nms must be true or false, got "no"']],
    ["no simplified", (({ simplified: _s, ...rest }) => rest)(PASSING), ["onnxExport.simplified must be true or false, got nothing"]],
    ["an unknown field", { ...PASSING, dynamic: false }, [/^onnxExport\.dynamic is not a field of onnxExport \(allowed: opset, inputShape, outputShape, simplified, nms, check\); remove it or update the agent$/]],
    ["no check", { ...PASSING, check: undefined }, [/^onnxExport\.check must be an object \(the comparison of ONNX Runtime's output with PyTorch's\), got nothing$/]],
    ["another runtime", { ...PASSING, check: { ...PASSING.check, runtime: "tensorrt" } }, ['onnxExport.check.runtime must be "onnxruntime", got "tensorrt"']],
    ["a version with a suffix", { ...PASSING, check: { ...PASSING.check, runtimeVersion: "1.20.1+cu121" } }, [/^onnxExport\.check\.runtimeVersion must be onnxruntime\.__version__, 2-4 dot-separated numbers such as "1\.20\.1", got "1\.20\.1\+cu121"$/]],
    ["no images", { ...PASSING, check: { ...PASSING.check, images: 0 } }, ["onnxExport.check.images must be the number of validation images compared, an integer of 1 or more, got 0"]],
    ["a NaN difference (written as null)", { ...PASSING, check: { ...PASSING.check, maxAbsDiff: null } }, ["onnxExport.check.maxAbsDiff must be a finite number of 0 or more, got null"]],
    ["a tolerance of 0", { ...PASSING, check: { ...PASSING.check, tolerance: 0 } }, [/^onnxExport\.check\.tolerance must be a finite number above 0, got 0$/, /maxAbsDiff 0\.00012 exceeds tolerance 0$/]],
    ["a negative count", { ...PASSING, check: { ...PASSING.check, detections: { pytorch: 37, onnx: -1, matched: 0 } } }, [/^onnxExport\.check\.detections\.onnx must be a count, an integer of 0 or more, got -1$/]],
    ["more matches than detections", { ...PASSING, check: { ...PASSING.check, detections: { pytorch: 37, onnx: 30, matched: 31 } } }, ["onnxExport.check.detections.matched (31) cannot exceed the detections of either model (pytorch 37, onnx 30)"]],
    ["a pass above its own tolerance", { ...PASSING, check: { ...PASSING.check, maxAbsDiff: 0.8 } }, ["onnxExport.check.passed is true but maxAbsDiff 0.8 exceeds tolerance 0.001"]],
    ["a pass with a reason", { ...PASSING, check: { ...PASSING.check, reason: "fine" } }, ['onnxExport.check.reason belongs only to a failed check, but passed is true (reason "fine")']],
    ["a failure without a reason", { ...FAILING, check: { ...FAILING.check, reason: " " } }, ['onnxExport.check.reason must say what differed when passed is false, got " "']],
    ["passed as a string", { ...PASSING, check: { ...PASSING.check, passed: "true" } }, ['onnxExport.check.passed must be true or false, got "true"']],
  ] as const)("calls an onnxExport with %s malformed, naming the field, the value and what is allowed", (_name, value, expected) => {
    expect(problems(parseOnnxExport(value))).toEqual(expected.map((e) => (typeof e === "string" ? e : expect.stringMatching(e))));
  });

  it("lists every problem at once", () => {
    expect(problems(parseOnnxExport({ ...PASSING, opset: 200, nms: 1, check: { ...PASSING.check, runtime: "ort", images: 1.5 } }))).toHaveLength(4);
  });
});

describe("exportVerdict: only a verified export is released", () => {
  it("releases a passing check", () => {
    expect(exportVerdict(parseOnnxExport(PASSING))).toEqual({ release: true, export: PASSING });
  });

  it("blocks a failed check, with the trainer's reason and the numbers behind it", () => {
    expect(exportVerdict(parseOnnxExport(FAILING))).toEqual({
      release: false,
      reason:
        "the ONNX export failed its check against PyTorch (onnxruntime 1.20.1, opset 17, 4 images): ONNX output differs from PyTorch: max |Δ| 0.8 > tolerance 0.001 on 4 images " +
        "[max |Δ| 0.8, tolerance 0.001; detections PyTorch 37, ONNX 12, matched 10]",
    });
  });

  it("blocks a missing check, and a malformed one with its problems", () => {
    expect(exportVerdict({ kind: "missing" })).toEqual({ release: false, reason: expect.stringMatching(/^result\.json has no onnxExport: the ONNX export was never checked against PyTorch/) });
    expect(exportVerdict(parseOnnxExport({ ...PASSING, opset: 0 }))).toEqual({
      release: false,
      reason: "result.json's onnxExport cannot be read, so the ONNX export is unverified: onnxExport.opset must be an ONNX opset, an integer from 1 to 99, got 0",
    });
  });
});

describe("a check that stopped before comparing", () => {
  it.each([
    ["no runtime", { opset: 17, inputShape: [1, 3, 64, 64], outputShape: null, simplified: false, nms: false, check: { passed: false, runtime: "onnxruntime", runtimeVersion: null, images: 0, maxAbsDiff: null, tolerance: null, detections: null, reason: "no ONNX runtime to check the export with (install onnxruntime==1.20.1)" } }],
    ["unreadable file", { opset: null, inputShape: null, outputShape: null, simplified: false, nms: false, check: { passed: false, reason: "the ONNX file cannot be read: truncated" } }],
  ])("blocks the release with the trainer's own reason (%s)", (_name, onnxExport) => {
    const report = parseOnnxExport(onnxExport);
    expect(report).toEqual({ kind: "failed-early", reason: onnxExport.check.reason });
    expect(exportVerdict(report)).toEqual({ release: false, reason: `the ONNX export could not be checked against PyTorch: ${onnxExport.check.reason}` });
  });

  it("still parses a failed check with every number strictly", () => {
    const report = parseOnnxExport({ opset: 17, inputShape: [1, 3, 64, 64], outputShape: [1, 7, 84], simplified: true, nms: false, check: { passed: false, runtime: "onnxruntime", runtimeVersion: "1.20.1", images: 4, maxAbsDiff: -1, tolerance: 0.001, detections: { pytorch: 1, onnx: 1, matched: 1 }, reason: "differs" } });
    expect(report.kind).toBe("malformed");
  });
});

