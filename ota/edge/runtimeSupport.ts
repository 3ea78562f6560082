/**
 * What this box can run, against what a release needs (the manifest's `runtime`, docs/ota.md).
 * Pure: the puller asks before it downloads anything, so a model the box's ONNX Runtime would
 * refuse to load never replaces the one that runs.
 */
import { MAX_ONNX_OPSET, type ModelRuntime } from "../manifest";
import { EdgeUsageError } from "./errors";

/**
 * ONNX Runtime release (major.minor) → the highest ONNX opset it implements, from "ONNX Runtime
 * compatibility", https://onnxruntime.ai/docs/reference/compatibility.html#onnx-opset-support
 * (docs/reference/compatibility.md in microsoft/onnxruntime, gh-pages; the table as of ONNX Runtime
 * 1.20). A runtime runs models stamped with any opset from 7 up to its own, so this is the ceiling.
 * Newest first.
 */
export const ONNXRUNTIME_OPSETS: ReadonlyArray<{ readonly release: readonly [number, number]; readonly opset: number }> = [
  { release: [1, 20], opset: 21 },
  { release: [1, 19], opset: 21 },
  { release: [1, 18], opset: 21 },
  { release: [1, 17], opset: 20 },
  { release: [1, 16], opset: 19 },
  { release: [1, 15], opset: 19 },
  { release: [1, 14], opset: 18 },
  { release: [1, 13], opset: 17 },
  { release: [1, 12], opset: 17 },
  { release: [1, 11], opset: 16 },
  { release: [1, 10], opset: 15 },
  { release: [1, 9], opset: 15 },
  { release: [1, 8], opset: 14 },
  { release: [1, 7], opset: 13 },
  { release: [1, 6], opset: 13 },
  { release: [1, 5], opset: 12 },
  { release: [1, 4], opset: 12 },
  { release: [1, 3], opset: 12 },
  { release: [1, 2], opset: 11 },
  { release: [1, 1], opset: 11 },
  { release: [1, 0], opset: 11 },
  { release: [0, 5], opset: 10 },
  { release: [0, 4], opset: 10 },
  { release: [0, 3], opset: 9 },
  { release: [0, 2], opset: 8 },
  { release: [0, 1], opset: 8 },
];

/** What the box says it runs (`--max-opset`, `--onnxruntime`); either, both or neither. */
export interface BoxRuntime {
  /** The highest ONNX opset the box's runtime loads. */
  readonly maxOpset?: number;
  /** The box's ONNX Runtime version, e.g. `1.16.3`: its opset comes from {@link ONNXRUNTIME_OPSETS}. */
  readonly onnxruntime?: string;
}

/** The highest opset the box runs, and how that was worked out (for messages). */
export interface OpsetCeiling {
  readonly maxOpset: number;
  /** E.g. `--max-opset 17`, or `onnxruntime 1.16.3 (opset 19 per ONNX Runtime's compatibility table)`. */
  readonly basis: string;
  /** Things the operator should know (an ONNX Runtime newer than the table). */
  readonly warnings: readonly string[];
}

const ORT_VERSION = /^(\d{1,9})\.(\d{1,9})(\.\d{1,9}){0,2}$/;

/** The opset ceiling of an ONNX Runtime version; `newerThanTable` when it is past the table's newest row. */
export function onnxruntimeOpset(version: string): { readonly opset: number; readonly newerThanTable: boolean } {
  const match = ORT_VERSION.exec(version.trim());
  if (match === null) {
    throw new EdgeUsageError(`--onnxruntime must be an ONNX Runtime version such as 1.16.3 (python -c "import onnxruntime; print(onnxruntime.__version__)"), got ${JSON.stringify(version)}.`);
  }
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const newest = ONNXRUNTIME_OPSETS[0]!;
  const [newestMajor, newestMinor] = newest.release;
  if (major > newestMajor || (major === newestMajor && minor > newestMinor)) return { opset: newest.opset, newerThanTable: true };
  // The newest release at or below the version: 1.16.3 is 1.16; a version between rows gets the lower row.
  const row = ONNXRUNTIME_OPSETS.find(({ release: [ma, mi] }) => ma < major || (ma === major && mi <= minor));
  if (row === undefined) throw new EdgeUsageError(`--onnxruntime ${version} is older than any ONNX Runtime release (the first was 0.1).`);
  return { opset: row.opset, newerThanTable: false };
}

/**
 * The highest opset the box runs, from what it said; undefined when it said nothing. With both
 * options the lower ceiling holds. Throws {@link EdgeUsageError} for a value that is not usable.
 */
export function opsetCeiling(box: BoxRuntime): OpsetCeiling | undefined {
  const candidates: Array<{ maxOpset: number; basis: string }> = [];
  const warnings: string[] = [];
  if (box.maxOpset !== undefined) {
    if (!Number.isInteger(box.maxOpset) || box.maxOpset < 1 || box.maxOpset > MAX_ONNX_OPSET) {
      throw new EdgeUsageError(`--max-opset must be an ONNX opset, an integer from 1 to ${MAX_ONNX_OPSET}, got ${String(box.maxOpset)}.`);
    }
    candidates.push({ maxOpset: box.maxOpset, basis: `--max-opset ${box.maxOpset}` });
  }
  if (box.onnxruntime !== undefined) {
    const version = box.onnxruntime.trim();
    const { opset, newerThanTable } = onnxruntimeOpset(version);
    if (newerThanTable) {
      const [major, minor] = ONNXRUNTIME_OPSETS[0]!.release;
      // Newer releases run everything older ones did, so the newest row is a safe floor; it may refuse a model the box could run.
      warnings.push(
        `onnxruntime ${version} is newer than this puller's compatibility table (up to ${major}.${minor}, opset ${opset}); assuming it runs opset ${opset}. ` +
          `If it runs more, say so with --max-opset.`,
      );
    }
    candidates.push({ maxOpset: opset, basis: `onnxruntime ${version} (opset ${opset} per ONNX Runtime's compatibility table)` });
  }
  if (candidates.length === 0) return undefined;
  const lowest = candidates.reduce((a, b) => (b.maxOpset < a.maxOpset ? b : a));
  return { maxOpset: lowest.maxOpset, basis: lowest.basis, warnings };
}

/** The oldest ONNX Runtime release that runs `opset`, for the fix in a refusal; undefined when no release in the table does. */
export function oldestOnnxruntimeFor(opset: number): string | undefined {
  const rows = ONNXRUNTIME_OPSETS.filter((row) => row.opset >= opset);
  const oldest = rows[rows.length - 1];
  return oldest === undefined ? undefined : `${oldest.release[0]}.${oldest.release[1]}`;
}

/** What a pull does about a release's runtime needs. */
export type RuntimeVerdict =
  | { readonly runs: true; readonly warning?: string }
  | { readonly runs: false; readonly needs: number; readonly ceiling: OpsetCeiling; readonly fix: string };

/**
 * Whether a box with `ceiling` runs a release that needs `runtime`. A box that said nothing
 * installs anything, as before; a manifest without `runtime` (published before it existed)
 * installs with a warning when the box did say, since nothing can be checked.
 */
export function runtimeVerdict(runtime: Pick<ModelRuntime, "opset"> | undefined, ceiling: OpsetCeiling | undefined): RuntimeVerdict {
  if (ceiling === undefined) return { runs: true };
  if (runtime === undefined) {
    return { runs: true, warning: `its manifest does not say which ONNX opset the model needs (published before manifests did), so it could not be checked against ${ceiling.basis}` };
  }
  if (runtime.opset <= ceiling.maxOpset) return { runs: true };
  const oldest = oldestOnnxruntimeFor(runtime.opset);
  const fix =
    (oldest !== undefined ? `Upgrade ONNX Runtime on this box to ${oldest} or later` : `Upgrade this box's ONNX runtime to one that runs opset ${runtime.opset}`) +
    ` (then pass the new --onnxruntime or --max-opset), or publish a model exported at opset ${ceiling.maxOpset} or lower.`;
  return { runs: false, needs: runtime.opset, ceiling, fix };
}
