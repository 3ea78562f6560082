import { parseTrainerResult } from "../../../agent/trainerResult";

const WORKDIR = "/scratch/runs/r1";

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
