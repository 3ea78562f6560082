/**
 * The release format of docs/ota.md: the manifest (what a release is), its canonical bytes (what
 * is signed), the channel pointer, and where each lives in the OTA bucket. Pure: no I/O. The
 * publisher (run agent) and the puller (edge box) both build on this module and meet only in the
 * bucket, so every rule here is checked the same way on both sides.
 */
import { ChannelPointerSchema, ManifestSchema, parseWith } from "./manifestSchema";
import { DEFAULT_EXPIRES_IN_DAYS, InvalidManifestError, MANIFEST_SCHEMA_VERSION, MAX_VERSION, MODEL_NAME, MODEL_NAME_RULE, canonicalJson, decodeJson, filePathProblem, nonCanonicalMessage } from "./manifestRules";

export * from "./manifestRules";

/**
 * What an edge box needs to run the release's `model.onnx` (docs/ota.md, "runtime"): the format,
 * the ONNX opset it was exported at (a runtime refuses a model stamped with an opset above its
 * own), the tensor shapes, whether NMS is inside the graph, and the runtime the export was checked
 * against PyTorch with. Optional when reading, so manifests published before it still verify; the
 * publisher always writes it.
 */
export type ModelRuntime = {
  format: "onnx";
  opset: number;
  inputShape: number[];
  outputShape: number[];
  /** True when the graph ends in NMS (boxes out); false when the box must run NMS on the raw output. */
  nms: boolean;
  /** The runtime whose output was compared with PyTorch's before the release was published. */
  verifiedWith: { name: string; version: string };
};

/** {@link ModelRuntime} as a publisher hands it over: read-only, copied into the manifest. */
export interface ModelRuntimeInput {
  readonly format: "onnx";
  readonly opset: number;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly nms: boolean;
  readonly verifiedWith: { readonly name: string; readonly version: string };
}

/** One file of a release: a plain name, its exact length and sha256. */
export type ManifestFile = {
  path: string;
  length: number;
  sha256: string;
};

/** The signed description of one release (docs/ota.md, "Manifest"). */
export type Manifest = {
  schemaVersion: typeof MANIFEST_SCHEMA_VERSION;
  modelName: string;
  version: number;
  createdAt: string;
  expires: string;
  runId: string;
  /** Training metrics by the name ultralytics reports them, e.g. `metrics/mAP50-95(B)`. */
  metrics: Record<string, number>;
  /** Square input size in pixels the model was trained (and exported) at. */
  inputSize: number;
  /** Class names in class-index order; empty when the trainer did not report them. */
  classNames: string[];
  files: ManifestFile[];
  /** What a box needs to run `model.onnx`; absent in manifests published before it existed. */
  runtime?: ModelRuntime | undefined;
};

/** Which version a channel points at (docs/ota.md, `channels/<channel>.json`). Not signed: the manifest it names is. */
export type ChannelPointer = {
  schemaVersion: typeof MANIFEST_SCHEMA_VERSION;
  modelName: string;
  channel: string;
  version: number;
  updatedAt: string;
};

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

/** Reads a channel pointer (`channels/<channel>.json`). Throws an {@link InvalidManifestError} listing every problem. */
export function parseChannelPointer(bytes: Uint8Array | string): ChannelPointer {
  return parseWith(ChannelPointerSchema, decodeJson(bytes, "channel pointer"), "channel pointer");
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
