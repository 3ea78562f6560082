import type { OnnxExport } from "../../../agent/trainerResult";

/** result.json's `onnxExport` exactly as docs/node-runtime.md shows it: a check that passed. */
export const PASSING_ONNX_EXPORT: OnnxExport = {
  opset: 17,
  inputShape: [1, 3, 640, 640],
  outputShape: [1, 84, 8400],
  simplified: true,
  nms: false,
  check: { passed: true, runtime: "onnxruntime", runtimeVersion: "1.20.1", images: 4, maxAbsDiff: 0.00012, tolerance: 0.001, detections: { pytorch: 37, onnx: 37, matched: 37 } },
};
