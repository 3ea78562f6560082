import { isAbsolute, resolve } from "path";
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
}

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
    },
  };
}
