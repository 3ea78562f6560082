/**
 * The rules of the release format that need no schema library: limits, name patterns, the error
 * every reader throws, strict JSON decoding and the canonical form. Shared by the public format
 * module (manifest.ts) and the schemas (manifestSchema.ts), and free of zod, so the package's
 * public declarations import nothing of it.
 */
/** The manifest format this code writes and reads. A reader refuses any other. */
export const MANIFEST_SCHEMA_VERSION = 1;

/** A release expires this long after it was made unless the publisher says otherwise. */
export const DEFAULT_EXPIRES_IN_DAYS = 90;

/** The file every release carries: the edge runtime loads it. */
export const MODEL_FILE = "model.onnx";

/** Versions are written as 10 decimal digits so listings sort; this is the largest that fits. */
export const MAX_VERSION = 9_999_999_999;

/** File names in a version folder that belong to the release format, not to the model. */
export const RESERVED_FILE_NAMES = new Set(["manifest.json", "manifest.json.sig", ".claim"]);

/** Same rule as the run spec's `ota.modelName`: one key segment. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MODEL_NAME_RULE = "must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit";

/** A plain file name: no folders, no hidden files, nothing a shell or a path join would read as more. */
export const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const SHA256_HEX = /^[0-9a-f]{64}$/;

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
 * Highest ONNX opset a manifest may name. ONNX is at opset 23 (ONNX 1.18, 2025); the headroom lets
 * later exports through without admitting nonsense like 1700.
 */
export const MAX_ONNX_OPSET = 99;

/** `1.20.1`: two to four dot-separated decimal numbers, as ONNX Runtime's `__version__` reads. */
export const DOTTED_VERSION = /^\d{1,9}(\.\d{1,9}){1,3}$/;
export const DOTTED_VERSION_RULE = 'must be a version of 2-4 dot-separated numbers, e.g. "1.20.1"';

export const RUNTIME_NAME = /^[a-z][a-z0-9._-]{0,63}$/;

/** Most axes a tensor shape may have in `runtime` (detection models have 3 or 4). */
export const MAX_TENSOR_AXES = 8;

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

export function formatPath(path: readonly PropertyKey[], root: string): string {
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
