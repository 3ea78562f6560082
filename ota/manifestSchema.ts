/**
 * The zod schemas of the release format (docs/ota.md). Internal: the public module (manifest.ts)
 * parses with them and exposes plain interfaces, so no zod type reaches the package's public
 * declarations. The type assertions at the end keep the interfaces and the schemas the same.
 */
import { z } from "zod";
import { METRIC_NAME_PATTERN, METRIC_NAME_RULE } from "../runspec/metrics";
import type { ChannelPointer, Manifest, ModelRuntime } from "./manifest";
import {
  DOTTED_VERSION,
  DOTTED_VERSION_RULE,
  InvalidManifestError,
  MANIFEST_SCHEMA_VERSION,
  MAX_ONNX_OPSET,
  MAX_TENSOR_AXES,
  MAX_VERSION,
  MODEL_FILE,
  MODEL_NAME,
  MODEL_NAME_RULE,
  RUNTIME_NAME,
  SHA256_HEX,
  filePathProblem,
  formatPath,
} from "./manifestRules";

export const versionSchema = z
  .int({ error: "must be an integer" })
  .min(1, { error: "must be a positive integer (1 or more)" })
  .max(MAX_VERSION, { error: `must be at most ${MAX_VERSION} (10 digits)` });

export const isoTimeSchema = z.iso.datetime({ error: 'must be an ISO 8601 UTC time, e.g. "2026-11-29T12:00:00.000Z"' });

/**
 * The refinement of a signed document whose `expires` must come after its start field
 * (`createdAt`, `issuedAt`). Pass it with {@link EVEN_WHEN_INVALID}, so every problem shows at once.
 */
export function expiresAfter(startField: string): (value: unknown, ctx: z.RefinementCtx) => void {
  return (value, ctx) => {
    const document = value as Record<string, unknown>;
    const start = typeof document[startField] === "string" ? Date.parse(document[startField] as string) : Number.NaN;
    const expires = typeof document.expires === "string" ? Date.parse(document.expires) : Number.NaN;
    if (!Number.isNaN(start) && !Number.isNaN(expires) && expires <= start) {
      ctx.addIssue({ code: "custom", path: ["expires"], message: `must be after ${startField} (${String(document[startField])})`, input: document.expires });
    }
  };
}

/** Run a refinement even when other fields already failed. */
export const EVEN_WHEN_INVALID = { when: () => true } as const;

export const modelNameSchema = z.string({ error: "must be a string" }).regex(MODEL_NAME, { error: MODEL_NAME_RULE });

const filePath = z.string({ error: "must be a string" }).check((ctx) => {
  const path = ctx.value;
  const problem = filePathProblem(path);
  if (problem !== undefined) ctx.issues.push({ code: "custom", message: problem, input: path });
});

/**
 * Checked entry by entry on the raw value rather than with `z.record`, which skips a `__proto__`
 * key silently: a manifest must read back exactly as it was signed, so such a key is an error.
 */
const metrics = z
  .unknown()
  .check((ctx) => {
    const value = ctx.value;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      ctx.issues.push({ code: "custom", message: "must be an object of metric name to number", input: value });
      return;
    }
    for (const [name, metric] of Object.entries(value)) {
      if (!METRIC_NAME_PATTERN.test(name)) ctx.issues.push({ code: "custom", path: [name], message: `is not a metric name, which ${METRIC_NAME_RULE}`, input: name });
      else if (typeof metric !== "number" || !Number.isFinite(metric)) ctx.issues.push({ code: "custom", path: [name], message: "must be a finite number", input: metric });
    }
  })
  .transform((value) => ({ ...(value as Record<string, number>) }));

/** A tensor shape of fixed sizes: the export is static (`dynamic=False`), so every axis is a positive integer. */
const tensorShape = z
  .array(z.int({ error: "must be an integer" }).min(1, { error: "must be a positive integer (a fixed size; dynamic axes are not supported)" }), {
    error: "must be an array of positive integers, e.g. [1, 3, 640, 640]",
  })
  .min(1, { error: "must have at least one axis" })
  .max(MAX_TENSOR_AXES, { error: `must have at most ${MAX_TENSOR_AXES} axes` });

/**
 * What an edge box needs to run the release's `model.onnx` (docs/ota.md, "runtime"): the format,
 * the ONNX opset it was exported at (a runtime refuses a model stamped with an opset above its
 * own), the tensor shapes, whether NMS is inside the graph, and the runtime the export was checked
 * against PyTorch with. Optional when reading, so manifests published before it still verify; the
 * publisher always writes it.
 */
export const ModelRuntimeSchema = z.strictObject({
  format: z.literal("onnx", { error: 'must be "onnx"; this reader knows no other model format' }),
  opset: z
    .int({ error: "must be an integer" })
    .min(1, { error: `must be an ONNX opset from 1 to ${MAX_ONNX_OPSET}` })
    .max(MAX_ONNX_OPSET, { error: `must be an ONNX opset from 1 to ${MAX_ONNX_OPSET}` }),
  inputShape: tensorShape,
  outputShape: tensorShape,
  /** True when the graph ends in NMS (boxes out); false when the box must run NMS on the raw output. */
  nms: z.boolean({ error: "must be true or false" }),
  /** The runtime whose output was compared with PyTorch's before the release was published. */
  verifiedWith: z.strictObject({
    name: z.string({ error: "must be a string" }).regex(RUNTIME_NAME, { error: 'must be 1-64 characters of a-z, 0-9, ".", "_" and "-", starting with a letter, e.g. "onnxruntime"' }),
    version: z.string({ error: "must be a string" }).regex(DOTTED_VERSION, { error: DOTTED_VERSION_RULE }),
  }),
});

const manifestFile = z.strictObject({
  path: filePath,
  length: z
    .int({ error: "must be an integer" })
    .min(0, { error: "must not be negative" })
    .max(Number.MAX_SAFE_INTEGER, { error: "is too large" }),
  sha256: z.string({ error: "must be a string" }).regex(SHA256_HEX, { error: "must be 64 lowercase hex characters (SHA-256)" }),
});

/** The signed description of one release (docs/ota.md, "Manifest"). */
export const ManifestSchema = z
  .strictObject({
    schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION, { error: `must be ${MANIFEST_SCHEMA_VERSION}; this reader knows no other manifest format` }),
    modelName: modelNameSchema,
    version: versionSchema,
    createdAt: isoTimeSchema,
    expires: isoTimeSchema,
    runId: z.string({ error: "must be a string" }).min(1, { error: "must not be empty" }).max(256, { error: "must be at most 256 characters" }),
    /** Training metrics by the name ultralytics reports them, e.g. `metrics/mAP50-95(B)`. */
    metrics,
    /** Square input size in pixels the model was trained (and exported) at. */
    inputSize: z.int({ error: "must be an integer" }).min(1, { error: "must be a positive integer" }),
    /** Class names in class-index order; empty when the trainer did not report them. */
    classNames: z.array(z.string({ error: "must be a string" })),
    files: z.array(manifestFile).min(1, { error: "must list at least one file" }),
    /** What a box needs to run `model.onnx`; absent in manifests published before it existed. */
    runtime: ModelRuntimeSchema.optional(),
  })
  // Runs even when fields are wrong, so one parse reports every problem; hence the guards.
  .superRefine(
    (value, ctx) => {
      const m = value as unknown as Record<string, unknown>;
      if (typeof m !== "object" || m === null) return;
      const created = typeof m.createdAt === "string" ? Date.parse(m.createdAt) : Number.NaN;
      const expires = typeof m.expires === "string" ? Date.parse(m.expires) : Number.NaN;
      if (!Number.isNaN(created) && !Number.isNaN(expires) && expires <= created) {
        ctx.addIssue({ code: "custom", path: ["expires"], message: `must be after createdAt (${String(m.createdAt)}); got ${String(m.expires)}`, input: m.expires });
      }
      if (!Array.isArray(m.files) || m.files.length === 0) return;
      const seen = new Set<string>();
      m.files.forEach((file: unknown, index) => {
        const path = typeof file === "object" && file !== null ? (file as { path?: unknown }).path : undefined;
        if (typeof path !== "string") return;
        if (seen.has(path)) ctx.addIssue({ code: "custom", path: ["files", index, "path"], message: `${JSON.stringify(path)} is listed more than once`, input: path });
        seen.add(path);
      });
      if (!seen.has(MODEL_FILE)) ctx.addIssue({ code: "custom", path: ["files"], message: `must include a file with path ${JSON.stringify(MODEL_FILE)}`, input: m.files });
    },
    { when: () => true },
  );


/** Which version a channel points at (docs/ota.md, `channels/<channel>.json`). Not signed: the manifest it names is. */
export const ChannelPointerSchema = z.strictObject({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION, { error: `must be ${MANIFEST_SCHEMA_VERSION}` }),
  modelName: modelNameSchema,
  channel: z.string({ error: "must be a string" }).regex(/^[a-z][a-z0-9-]{0,31}$/, { error: "must be 1-32 characters of a-z, 0-9 and '-', starting with a letter" }),
  version: versionSchema,
  updatedAt: isoTimeSchema,
});

/** Parses `value` with `schema`, or throws an {@link InvalidManifestError} listing every problem. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, subject: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidManifestError(
    subject,
    result.error.issues.map((issue) => ({ path: formatPath(issue.path, `(${subject})`), message: issue.message })),
  );
}

/** True when A and B are the same type. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only while the public interfaces say exactly what the schemas parse. */
export const schemasMatchInterfaces: [
  Same<z.output<typeof ManifestSchema>, Manifest>,
  Same<z.output<typeof ModelRuntimeSchema>, ModelRuntime>,
  Same<z.output<typeof ChannelPointerSchema>, ChannelPointer>,
] = [true, true, true];
