/**
 * The release format of docs/ota.md: the manifest (what a release is), its canonical bytes (what
 * is signed), the channel pointer, and where each lives in the OTA bucket. Pure: no I/O. The
 * publisher (run agent) and the puller (edge box) both build on this module and meet only in the
 * bucket, so every rule here is checked the same way on both sides.
 */
import { z } from "zod";
import { METRIC_NAME_PATTERN, METRIC_NAME_RULE } from "../runspec/metrics";

/** The manifest format this code writes and reads. A reader refuses any other. */
export const MANIFEST_SCHEMA_VERSION = 1;

/** A release expires this long after it was made unless the publisher says otherwise. */
export const DEFAULT_EXPIRES_IN_DAYS = 90;

/** The file every release carries: the edge runtime loads it. */
export const MODEL_FILE = "model.onnx";

/** Versions are written as 10 decimal digits so listings sort; this is the largest that fits. */
export const MAX_VERSION = 9_999_999_999;

/** File names in a version folder that belong to the release format, not to the model. */
const RESERVED_FILE_NAMES = new Set(["manifest.json", "manifest.json.sig", ".claim"]);

/** Same rule as the run spec's `ota.modelName`: one key segment. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MODEL_NAME_RULE = "must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit";

/** A plain file name: no folders, no hidden files, nothing a shell or a path join would read as more. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const SHA256_HEX = /^[0-9a-f]{64}$/;

export const versionSchema = z
  .int({ error: "must be an integer" })
  .min(1, { error: "must be a positive integer (1 or more)" })
  .max(MAX_VERSION, { error: `must be at most ${MAX_VERSION} (10 digits)` });

export const isoTimeSchema = z.iso.datetime({ error: 'must be an ISO 8601 UTC time, e.g. "2026-11-29T12:00:00.000Z"' });

export const modelNameSchema = z.string({ error: "must be a string" }).regex(MODEL_NAME, { error: MODEL_NAME_RULE });

const filePath = z.string({ error: "must be a string" }).check((ctx) => {
  const path = ctx.value;
  const problem = filePathProblem(path);
  if (problem !== undefined) ctx.issues.push({ code: "custom", message: problem, input: path });
});

/** Why `path` cannot name a file of a release, or undefined when it can. */
export function filePathProblem(path: string): string | undefined {
  if (path.includes("..")) return `must be a plain file name: ".." is not allowed (got ${JSON.stringify(path)})`;
  if (path.includes("/") || path.includes("\\")) return `must be a plain file name: "/" and "\\" are not allowed (got ${JSON.stringify(path)})`;
  if (!FILE_NAME.test(path)) {
    return `must be a plain file name of 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit (got ${JSON.stringify(path)})`;
  }
  if (RESERVED_FILE_NAMES.has(path)) return `must not be ${JSON.stringify(path)}: that name belongs to the release format`;
  return undefined;
}

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

/**
 * Highest ONNX opset a manifest may name. ONNX is at opset 23 (ONNX 1.18, 2025); the headroom lets
 * later exports through without admitting nonsense like 1700.
 */
export const MAX_ONNX_OPSET = 99;

/** `1.20.1`: two to four dot-separated decimal numbers, as ONNX Runtime's `__version__` reads. */
export const DOTTED_VERSION = /^\d{1,9}(\.\d{1,9}){1,3}$/;
const DOTTED_VERSION_RULE = 'must be a version of 2-4 dot-separated numbers, e.g. "1.20.1"';

const RUNTIME_NAME = /^[a-z][a-z0-9._-]{0,63}$/;

/** Most axes a tensor shape may have in `runtime` (detection models have 3 or 4). */
export const MAX_TENSOR_AXES = 8;

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
export type ModelRuntime = z.output<typeof ModelRuntimeSchema>;

/** {@link ModelRuntime} as a publisher hands it over: read-only, copied into the manifest. */
export interface ModelRuntimeInput {
  readonly format: "onnx";
  readonly opset: number;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly nms: boolean;
  readonly verifiedWith: { readonly name: string; readonly version: string };
}

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

export type Manifest = z.output<typeof ManifestSchema>;
export type ManifestFile = Manifest["files"][number];

/** Which version a channel points at (docs/ota.md, `channels/<channel>.json`). Not signed: the manifest it names is. */
export const ChannelPointerSchema = z.strictObject({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION, { error: `must be ${MANIFEST_SCHEMA_VERSION}` }),
  modelName: modelNameSchema,
  channel: z.string({ error: "must be a string" }).regex(/^[a-z][a-z0-9-]{0,31}$/, { error: "must be 1-32 characters of a-z, 0-9 and '-', starting with a letter" }),
  version: versionSchema,
  updatedAt: isoTimeSchema,
});
export type ChannelPointer = z.output<typeof ChannelPointerSchema>;

/** One thing wrong with a manifest or channel pointer: where (`files[0].path`) and what. */
export interface ManifestProblem {
  readonly path: string;
  readonly message: string;
}

/** Thrown by {@link parseManifest} and {@link parseChannelPointer}: every problem, one per line. */
export class InvalidManifestError extends Error {
  readonly problems: readonly ManifestProblem[];

  constructor(subject: string, problems: readonly ManifestProblem[]) {
    const plural = problems.length === 1 ? "problem" : "problems";
    super(`The ${subject} has ${problems.length} ${plural}:\n` + problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n"));
    this.name = "InvalidManifestError";
    this.problems = problems;
  }
}

function formatPath(path: readonly PropertyKey[], root: string): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out === "" ? root : out;
}

/** Decodes strict UTF-8 JSON, or throws an {@link InvalidManifestError} about `subject`. */
export function decodeJson(bytes: Uint8Array | string, subject: string): unknown {
  let text: string;
  if (typeof bytes === "string") text = bytes;
  else {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new InvalidManifestError(subject, [{ path: `(${subject})`, message: "is not valid UTF-8" }]);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidManifestError(subject, [{ path: `(${subject})`, message: `is not valid JSON: ${(error as Error).message}` }]);
  }
}

/** Parses `value` with `schema`, or throws an {@link InvalidManifestError} listing every problem. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, subject: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidManifestError(
    subject,
    result.error.issues.map((issue) => ({ path: formatPath(issue.path, `(${subject})`), message: issue.message })),
  );
}

/**
 * Reads a manifest from its bytes (as downloaded) or text. Throws an {@link InvalidManifestError}
 * listing every problem. Does not check the signature or expiry: see `verifyManifestSignature`
 * and {@link manifestExpired}.
 */
export function parseManifest(bytes: Uint8Array | string): Manifest {
  return parseWith(ManifestSchema, decodeJson(bytes, "manifest"), "manifest");
}

/**
 * Reads a manifest from the exact bytes that were signed, and refuses them unless they are the
 * canonical serialisation ({@link serializeManifest}) of what they parse to: one spelling per
 * manifest, so what was signed and what is read are the same thing. Refused with an
 * {@link InvalidManifestError}: a key twice (`JSON.parse` keeps the last; another reader may keep
 * the first), whitespace, keys out of order, numbers spelt otherwise than `JSON.stringify` writes
 * them (`640.0`, `6.4e2`), escapes where the canonical form writes the character (`\u0077`, `\/`),
 * a byte order mark, a trailing newline. A manifest's own problems (fields, types) are reported first;
 * the canonical check runs only on a manifest that is otherwise valid. What a box installs goes
 * through here (after the signature verifies); {@link parseManifest} stays lenient for JSON that
 * was never signed.
 */
export function parseSignedManifest(bytes: Uint8Array | string): Manifest {
  const raw = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const manifest = parseWith(ManifestSchema, decodeJson(raw, "manifest"), "manifest");
  const canonical = serializeManifest(manifest);
  if (!canonical.equals(raw)) {
    throw new InvalidManifestError("manifest", [{ path: "(manifest)", message: nonCanonicalMessage(raw, canonical) }]);
  }
  return manifest;
}

/** Says where `raw` first departs from `canonical`, and what the canonical form is. */
export function nonCanonicalMessage(raw: Buffer, canonical: Buffer): string {
  let at = 0;
  while (at < raw.length && at < canonical.length && raw[at] === canonical[at]) at += 1;
  const excerpt = (b: Buffer): string => (at >= b.length ? "(end)" : JSON.stringify(b.subarray(at, at + 24).toString("utf8")));
  const hint =
    raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf
      ? " (it starts with a UTF-8 byte order mark)"
      : raw.length > canonical.length && raw.subarray(0, canonical.length).equals(canonical)
        ? " (bytes follow the end of the canonical form, e.g. a trailing newline)"
        : "";
  return (
    `is not in canonical form: its bytes are not the canonical serialisation of what they parse to${hint}; ` +
    `they differ at byte ${at}: ${excerpt(raw)} where the canonical form has ${excerpt(canonical)} ` +
    `(${raw.length} bytes, canonical ${canonical.length}). Every publisher writes sorted keys, each key once, no whitespace, ` +
    "numbers and strings as JSON.stringify writes them, UTF-8 without a byte order mark or trailing newline (docs/ota.md); other bytes were not written by one"
  );
}

/** Reads a channel pointer (`channels/<channel>.json`). Throws an {@link InvalidManifestError} listing every problem. */
export function parseChannelPointer(bytes: Uint8Array | string): ChannelPointer {
  return parseWith(ChannelPointerSchema, decodeJson(bytes, "channel pointer"), "channel pointer");
}

/**
 * JSON with object keys sorted (by UTF-16 code unit, recursively), no whitespace. Arrays keep
 * their order. The same value always gives the same text, whatever order its keys were built in.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
}

/**
 * The canonical bytes of a manifest: the exact bytes that are signed and uploaded. Checks the
 * manifest first (throws an {@link InvalidManifestError}), so an invalid one is never signed.
 */
export function serializeManifest(m: Manifest): Buffer {
  return Buffer.from(canonicalJson(parseWith(ManifestSchema, m, "manifest")), "utf8");
}

/** The bytes of a channel pointer (canonical JSON, like the manifest). */
export function serializeChannelPointer(p: ChannelPointer): Buffer {
  return Buffer.from(canonicalJson(parseWith(ChannelPointerSchema, p, "channel pointer")), "utf8");
}

/** True when `now` is at or past the manifest's `expires`. A device refuses an expired manifest. */
export function manifestExpired(m: Pick<Manifest, "expires">, now: Date): boolean {
  return now.getTime() >= Date.parse(m.expires);
}

/** What a publisher knows about a release; {@link createManifest} turns it into a manifest. */
export interface ManifestInput {
  readonly modelName: string;
  readonly version: number;
  readonly runId: string;
  readonly metrics: Readonly<Record<string, number>>;
  readonly inputSize: number;
  readonly classNames: readonly string[];
  readonly files: readonly ManifestFile[];
  /** What a box needs to run `model.onnx`: always written by a publisher (readers accept manifests without it). */
  readonly runtime: ModelRuntimeInput;
  /** @default now */
  readonly now?: Date;
  /** @default {@link DEFAULT_EXPIRES_IN_DAYS} */
  readonly expiresInDays?: number;
}

/** Builds and checks a manifest (throws an {@link InvalidManifestError} when it is not valid). */
export function createManifest(input: ManifestInput): Manifest {
  const now = input.now ?? new Date();
  const days = input.expiresInDays ?? DEFAULT_EXPIRES_IN_DAYS;
  const value = {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    modelName: input.modelName,
    version: input.version,
    createdAt: now.toISOString(),
    expires: new Date(now.getTime() + days * 86_400_000).toISOString(),
    runId: input.runId,
    metrics: { ...input.metrics },
    inputSize: input.inputSize,
    classNames: [...input.classNames],
    files: input.files.map((f) => ({ path: f.path, length: f.length, sha256: f.sha256 })),
    runtime: {
      format: input.runtime.format,
      opset: input.runtime.opset,
      inputShape: [...input.runtime.inputShape],
      outputShape: [...input.runtime.outputShape],
      nms: input.runtime.nms,
      verifiedWith: { name: input.runtime.verifiedWith.name, version: input.runtime.verifiedWith.version },
    },
  };
  return parseWith(ManifestSchema, value, "manifest");
}

/** `7` → `"0000000007"`: the version as it appears in keys, so listings sort by version. */
export function versionKey(v: number): string {
  if (!Number.isInteger(v) || v < 1 || v > MAX_VERSION) throw new RangeError(`versionKey: a version must be an integer from 1 to ${MAX_VERSION}; got ${v}`);
  return String(v).padStart(10, "0");
}

/** `"0000000007"` → `7`; undefined for anything that is not a 10-digit version key. */
export function parseVersionKey(segment: string): number | undefined {
  if (!/^\d{10}$/.test(segment)) return undefined;
  const v = Number(segment);
  return v >= 1 ? v : undefined;
}

/** The keys of one model's releases in the OTA bucket (docs/ota.md, "Layout"). */
export interface ModelLayout {
  /** The model's name: the last segment of {@link modelPrefix}. */
  readonly modelName: string;
  /** `<modelsPrefix><modelName>/`: everything of this model lives under it. */
  readonly modelPrefix: string;
  /** `<modelPrefix>versions/`: list it (delimiter `/`) to find the versions taken. */
  readonly versionsPrefix: string;
  /** `<modelPrefix>versions/<v>/`. */
  versionPrefix(v: number): string;
  /** The claim written with `If-None-Match: *` that makes version `v` one publisher's. */
  claim(v: number): string;
  /** A file of release `v` (`path` a plain file name, e.g. `model.onnx`). */
  file(v: number, path: string): string;
  manifest(v: number): string;
  signature(v: number): string;
  /** `<modelPrefix>channels/<name>.json`. */
  channel(name: string): string;
  /** The version of a key under {@link versionsPrefix} (`…/versions/0000000007/…` → 7), or undefined. */
  versionOf(key: string): number | undefined;
}

/** The layout of `modelName`'s releases under `modelsPrefix` (`""` or a prefix ending with `/`, e.g. `models/`). */
export function layoutFor(modelsPrefix: string, modelName: string): ModelLayout {
  if (modelsPrefix !== "" && !modelsPrefix.endsWith("/")) throw new RangeError(`layoutFor: modelsPrefix must be "" or end with "/"; got ${JSON.stringify(modelsPrefix)}`);
  if (!MODEL_NAME.test(modelName)) throw new RangeError(`layoutFor: modelName ${MODEL_NAME_RULE}; got ${JSON.stringify(modelName)}`);
  return layoutAt(`${modelsPrefix}${modelName}/`);
}

/**
 * The layout under one model's own prefix (`models/widgets/`, whose last segment is the model
 * name), as the run spec's `ota.prefix` gives it. {@link layoutFor} builds the prefix from its parts.
 */
export function layoutAt(modelPrefix: string): ModelLayout {
  if (!modelPrefix.endsWith("/") || modelPrefix.startsWith("/")) throw new RangeError(`layoutAt: modelPrefix must end with "/" and not start with it; got ${JSON.stringify(modelPrefix)}`);
  const modelName = modelPrefix.slice(0, -1).split("/").pop() ?? "";
  if (!MODEL_NAME.test(modelName)) throw new RangeError(`layoutAt: the last segment of modelPrefix is the model name, which ${MODEL_NAME_RULE}; got ${JSON.stringify(modelName)}`);
  const versionsPrefix = `${modelPrefix}versions/`;
  const versionPrefix = (v: number): string => `${versionsPrefix}${versionKey(v)}/`;
  return {
    modelName,
    modelPrefix,
    versionsPrefix,
    versionPrefix,
    claim: (v) => `${versionPrefix(v)}.claim`,
    file: (v, path) => {
      const problem = filePathProblem(path);
      if (problem !== undefined) throw new RangeError(`layout.file: path ${problem}`);
      return `${versionPrefix(v)}${path}`;
    },
    manifest: (v) => `${versionPrefix(v)}manifest.json`,
    signature: (v) => `${versionPrefix(v)}manifest.json.sig`,
    channel: (name) => {
      if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) throw new RangeError(`layout.channel: a channel name must be 1-32 characters of a-z, 0-9 and '-'; got ${JSON.stringify(name)}`);
      return `${modelPrefix}channels/${name}.json`;
    },
    versionOf: (key) => {
      if (!key.startsWith(versionsPrefix)) return undefined;
      const segment = key.slice(versionsPrefix.length).split("/")[0] ?? "";
      return parseVersionKey(segment);
    },
  };
}
