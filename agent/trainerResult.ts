import { isAbsolute, resolve } from "path";
import { DOTTED_VERSION, MAX_ONNX_OPSET, MAX_TENSOR_AXES } from "../ota/manifest";
import { finiteMetrics } from "../runspec/metrics";

/**
 * `<workdir>/result.json`, the trainer's last word (docs/node-runtime.md). Pure parsing; paths
 * are resolved against the work dir so the trainer may write them relative.
 */
export interface TrainerResult {
  readonly status: "completed" | "already-complete";
  readonly best: string;
  readonly onnx: string;
  readonly metrics: Readonly<Record<string, number>>;
  readonly trainingSeconds: number | null;
  /** Input size of the ONNX model (optional; for the OTA manifest). */
  readonly imgsz?: number;
  /** Class names in class-index order (optional; for the OTA manifest). */
  readonly classNames?: readonly string[];
  /**
   * The trainer's report on the ONNX export and its check against PyTorch. Missing or malformed
   * does not make result.json unusable (the model files are still kept), but the export then counts
   * as unverified and is not released (see {@link exportVerdict}).
   */
  readonly onnxExport: OnnxExportReport;
}

/** `onnxExport.check`: the export run in ONNX Runtime on validation images and compared with PyTorch. */
export interface OnnxExportCheck {
  readonly passed: boolean;
  readonly runtime: "onnxruntime";
  /** ONNX Runtime's `__version__`, e.g. `1.20.1`. */
  readonly runtimeVersion: string;
  /** Validation images both models ran on. */
  readonly images: number;
  /** Largest absolute difference between the raw outputs. */
  readonly maxAbsDiff: number;
  /** What `maxAbsDiff` may be for the check to pass. */
  readonly tolerance: number;
  /** Detections after NMS: PyTorch's, ONNX Runtime's, and how many of them matched. */
  readonly detections: { readonly pytorch: number; readonly onnx: number; readonly matched: number };
  /** Why the check failed; present exactly when `passed` is false. */
  readonly reason?: string;
}

/** `onnxExport` of result.json (docs/node-runtime.md). */
export interface OnnxExport {
  readonly opset: number;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly simplified: boolean;
  /** Whether NMS is part of the exported graph. */
  readonly nms: boolean;
  readonly check: OnnxExportCheck;
}

export type OnnxExportReport =
  | { readonly kind: "reported"; readonly export: OnnxExport }
  | { readonly kind: "missing" }
  /** A check that stopped before it could compare (no runtime, wrong opset or input size, unreadable file): its numbers are null, its reason is what matters. */
  | { readonly kind: "failed-early"; readonly reason: string }
  | { readonly kind: "malformed"; readonly problems: readonly string[] };

/** Whether the model may be released, from the trainer's ONNX check; `reason` is for the run record and the log. */
export type ExportVerdict = { readonly release: true; readonly export: OnnxExport } | { readonly release: false; readonly reason: string };

export type TrainerResultParse = { readonly ok: true; readonly result: TrainerResult } | { readonly ok: false; readonly problems: readonly string[] };

export function parseTrainerResult(text: string, workdir: string): TrainerResultParse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`result.json is not valid JSON: ${(error as Error).message}`] };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, problems: ["result.json is not a JSON object"] };
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  if (v.status !== "completed" && v.status !== "already-complete") problems.push(`status must be "completed" or "already-complete", got ${JSON.stringify(v.status)}`);
  const path = (name: "best" | "onnx"): string => {
    const p = v[name];
    if (typeof p !== "string" || p.trim() === "") {
      problems.push(`${name} must be the path of a file`);
      return "";
    }
    return isAbsolute(p) ? p : resolve(workdir, p);
  };
  const best = path("best");
  const onnx = path("onnx");
  const metrics = finiteMetrics(v.metrics);
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    result: {
      status: v.status as TrainerResult["status"],
      best,
      onnx,
      metrics,
      trainingSeconds: typeof v.trainingSeconds === "number" && Number.isFinite(v.trainingSeconds) ? v.trainingSeconds : null,
      // Optional and informational: a value of the wrong shape is left out, not an error.
      ...(typeof v.imgsz === "number" && Number.isInteger(v.imgsz) && v.imgsz > 0 ? { imgsz: v.imgsz } : {}),
      ...(Array.isArray(v.classNames) && v.classNames.every((n) => typeof n === "string") ? { classNames: v.classNames as string[] } : {}),
      onnxExport: "onnxExport" in v ? parseOnnxExport(v.onnxExport) : { kind: "missing" },
    },
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const shown = (v: unknown): string => (v === undefined ? "nothing" : JSON.stringify(v));

/**
 * Reads `onnxExport` strictly: every field of docs/node-runtime.md, of its type and range, no
 * others, and a check that agrees with itself. Anything less is "malformed", with one problem per
 * field: a release rests on this report, so a report that cannot be read whole proves nothing.
 */
export function parseOnnxExport(value: unknown): OnnxExportReport {
  const problems: string[] = [];
  const unknownKeys = (v: Record<string, unknown>, where: string, known: readonly string[]): void => {
    for (const key of Object.keys(v)) if (!known.includes(key)) problems.push(`${where}.${key} is not a field of onnxExport (allowed: ${known.join(", ")}); remove it or update the agent`);
  };
  const int = (v: Record<string, unknown>, where: string, name: string, min: number, max: number, rule: string): number => {
    const x = v[name];
    if (typeof x !== "number" || !Number.isSafeInteger(x) || x < min || x > max) problems.push(`${where}.${name} must be ${rule}, got ${shown(x)}`);
    return x as number;
  };
  const bool = (v: Record<string, unknown>, where: string, name: string): boolean => {
    if (typeof v[name] !== "boolean") problems.push(`${where}.${name} must be true or false, got ${shown(v[name])}`);
    return v[name] as boolean;
  };
  const finite = (v: Record<string, unknown>, where: string, name: string, rule: string, ok: (x: number) => boolean): number => {
    const x = v[name];
    if (typeof x !== "number" || !Number.isFinite(x) || !ok(x)) problems.push(`${where}.${name} must be ${rule}, got ${shown(x)}`);
    return x as number;
  };
  const shape = (v: Record<string, unknown>, where: string, name: string): number[] => {
    const x = v[name];
    if (!Array.isArray(x) || x.length === 0 || x.length > MAX_TENSOR_AXES || !x.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d > 0)) {
      problems.push(`${where}.${name} must be 1-${MAX_TENSOR_AXES} positive integers (a static export, e.g. [1, 3, 640, 640]), got ${shown(x)}`);
      return [];
    }
    return [...(x as number[])];
  };

  if (!isRecord(value)) return { kind: "malformed", problems: [`onnxExport must be an object, got ${shown(value)}`] };
  const early = failedEarly(value);
  if (early !== undefined) return { kind: "failed-early", reason: early };
  unknownKeys(value, "onnxExport", ["opset", "inputShape", "outputShape", "simplified", "nms", "check"]);
  const opset = int(value, "onnxExport", "opset", 1, MAX_ONNX_OPSET, `an ONNX opset, an integer from 1 to ${MAX_ONNX_OPSET}`);
  const inputShape = shape(value, "onnxExport", "inputShape");
  const outputShape = shape(value, "onnxExport", "outputShape");
  const simplified = bool(value, "onnxExport", "simplified");
  const nms = bool(value, "onnxExport", "nms");

  const c = value.check;
  if (!isRecord(c)) {
    problems.push(`onnxExport.check must be an object (the comparison of ONNX Runtime's output with PyTorch's), got ${shown(c)}`);
    return { kind: "malformed", problems };
  }
  const where = "onnxExport.check";
  unknownKeys(c, where, ["passed", "runtime", "runtimeVersion", "images", "maxAbsDiff", "tolerance", "detections", "reason"]);
  const passed = bool(c, where, "passed");
  // The edge boxes' table maps ONNX Runtime versions to opsets: a check in another runtime says nothing about them.
  if (c.runtime !== "onnxruntime") problems.push(`${where}.runtime must be "onnxruntime", got ${shown(c.runtime)}`);
  if (typeof c.runtimeVersion !== "string" || !DOTTED_VERSION.test(c.runtimeVersion)) {
    problems.push(`${where}.runtimeVersion must be onnxruntime.__version__, 2-4 dot-separated numbers such as "1.20.1", got ${shown(c.runtimeVersion)}`);
  }
  const images = int(c, where, "images", 1, Number.MAX_SAFE_INTEGER, "the number of validation images compared, an integer of 1 or more");
  const maxAbsDiff = finite(c, where, "maxAbsDiff", "a finite number of 0 or more", (x) => x >= 0);
  const tolerance = finite(c, where, "tolerance", "a finite number above 0", (x) => x > 0);
  let detections = { pytorch: 0, onnx: 0, matched: 0 };
  if (!isRecord(c.detections)) problems.push(`${where}.detections must be an object {pytorch, onnx, matched}, got ${shown(c.detections)}`);
  else {
    const d = c.detections;
    unknownKeys(d, `${where}.detections`, ["pytorch", "onnx", "matched"]);
    const count = (name: string): number => int(d, `${where}.detections`, name, 0, Number.MAX_SAFE_INTEGER, "a count, an integer of 0 or more");
    detections = { pytorch: count("pytorch"), onnx: count("onnx"), matched: count("matched") };
    const counted = Object.values(detections).every((n) => Number.isSafeInteger(n) && n >= 0);
    if (counted && detections.matched > Math.min(detections.pytorch, detections.onnx)) {
      problems.push(`${where}.detections.matched (${detections.matched}) cannot exceed the detections of either model (pytorch ${detections.pytorch}, onnx ${detections.onnx})`);
    }
  }
  const reason = c.reason;
  if (passed === false && (typeof reason !== "string" || reason.trim() === "")) problems.push(`${where}.reason must say what differed when passed is false, got ${shown(reason)}`);
  if (passed === true && reason !== undefined) problems.push(`${where}.reason belongs only to a failed check, but passed is true (reason ${shown(reason)})`);
  // A check that says it passed while its own numbers say otherwise is not trusted either way.
  if (passed === true && Number.isFinite(maxAbsDiff) && Number.isFinite(tolerance) && maxAbsDiff > tolerance) {
    problems.push(`${where}.passed is true but maxAbsDiff ${maxAbsDiff} exceeds tolerance ${tolerance}`);
  }
  if (problems.length > 0) return { kind: "malformed", problems };
  return {
    kind: "reported",
    export: {
      opset,
      inputShape,
      outputShape,
      simplified,
      nms,
      check: {
        passed,
        runtime: "onnxruntime",
        runtimeVersion: c.runtimeVersion as string,
        images,
        maxAbsDiff,
        tolerance,
        detections,
        ...(passed ? {} : { reason: (reason as string).trim() }),
      },
    },
  };
}

/**
 * The release rule of docs/node-runtime.md: only an export the trainer ran in ONNX Runtime and
 * found to match PyTorch is published over the air. Anything else keeps the model in the artifact
 * bucket only, and the reason says what was wrong, for the run record and `yolo-train status`.
 */
/**
 * The reason of a failed check whose numbers are not all there (null where it stopped before
 * measuring them); undefined for a check with every number, which is parsed strictly. The release
 * is blocked either way; this keeps the trainer's own reason instead of a list of null fields.
 */
function failedEarly(value: Record<string, unknown>): string | undefined {
  const c = value.check;
  if (!isRecord(c) || c.passed !== false || typeof c.reason !== "string" || c.reason.trim() === "") return undefined;
  const numbers = [value.opset, value.inputShape, value.outputShape, c.runtimeVersion, c.maxAbsDiff, c.tolerance, c.detections];
  const incomplete = numbers.some((x) => x === null || x === undefined) || c.images === 0;
  return incomplete ? c.reason.slice(0, 2000) : undefined;
}

export function exportVerdict(report: OnnxExportReport): ExportVerdict {
  switch (report.kind) {
    case "failed-early":
      return { release: false, reason: `the ONNX export could not be checked against PyTorch: ${report.reason}` };
    case "missing":
      return {
        release: false,
        reason: "result.json has no onnxExport: the ONNX export was never checked against PyTorch (a trainer older than this agent?)",
      };
    case "malformed":
      return { release: false, reason: `result.json's onnxExport cannot be read, so the ONNX export is unverified: ${report.problems.join("; ")}` };
    case "reported": {
      const e = report.export;
      const c = e.check;
      if (c.passed) return { release: true, export: e };
      return {
        release: false,
        reason:
          `the ONNX export failed its check against PyTorch (onnxruntime ${c.runtimeVersion}, opset ${e.opset}, ${c.images} image${c.images === 1 ? "" : "s"}): ${c.reason ?? "no reason given"} ` +
          `[max |Δ| ${c.maxAbsDiff}, tolerance ${c.tolerance}; detections PyTorch ${c.detections.pytorch}, ONNX ${c.detections.onnx}, matched ${c.detections.matched}]`,
      };
    }
  }
}
