import { join } from "path";
import type { RunSpec } from "../runspec";

/**
 * Where things live for one run: object keys under `runs/<runId>/` in the artifact bucket and
 * paths under the node's work dir (docs/node-runtime.md, "Artifact layout"). Pure.
 */
export interface RunLayout {
  readonly bucket: string;
  readonly prefix: string;
  readonly recordKey: string;
  /** `<prefix>lease.json`: the single-writer lease of the run (agent/runLease.ts). */
  readonly leaseKey: string;
  readonly progressKey: string;
  readonly modelKeys: { readonly best: string; readonly onnx: string; readonly result: string };
  checkpointKey(phase: number): string;
  /** Where the trainer's `best.pt` of a phase is kept durable while the run trains. */
  bestCheckpointKey(phase: number): string;
  /** `<prefix>cache/`: named weights and label caches carried from node to node (agent/runCache.ts). */
  readonly cacheKeyPrefix: string;
  readonly workdir: string;
  readonly progressFile: string;
  readonly resultFile: string;
  /** Agent-private files (snapshots being uploaded); the trainer never looks here. */
  readonly agentDir: string;
  phaseDir(phase: number): string;
  lastCheckpointFile(phase: number): string;
  bestCheckpointFile(phase: number): string;
  /** `<scratch>/weights`: where the trainer has ultralytics fetch weights by name (the spec's model, the AMP check's yolo11n.pt). */
  readonly weightsCacheDir: string;
  /** `<workdir>/label-cache`: ultralytics' dataset label caches, kept off the read-only dataset mount. */
  readonly labelCacheDir: string;
}

export function runLayout(spec: Pick<RunSpec, "runId" | "artifacts">, scratch: string): RunLayout {
  const prefix = spec.artifacts.prefix;
  const workdir = join(scratch, "runs", spec.runId);
  return {
    bucket: spec.artifacts.bucket,
    prefix,
    recordKey: `${prefix}run.json`,
    leaseKey: `${prefix}lease.json`,
    progressKey: `${prefix}progress.jsonl`,
    modelKeys: { best: `${prefix}model/best.pt`, onnx: `${prefix}model/best.onnx`, result: `${prefix}model/result.json` },
    checkpointKey: (phase) => `${prefix}checkpoints/phase-${phase}/last.pt`,
    bestCheckpointKey: (phase) => `${prefix}checkpoints/phase-${phase}/best.pt`,
    cacheKeyPrefix: `${prefix}cache/`,
    workdir,
    progressFile: join(workdir, "progress.jsonl"),
    resultFile: join(workdir, "result.json"),
    agentDir: join(workdir, ".agent"),
    phaseDir: (phase) => join(workdir, `phase-${phase}`),
    lastCheckpointFile: (phase) => join(workdir, `phase-${phase}`, "weights", "last.pt"),
    bestCheckpointFile: (phase) => join(workdir, `phase-${phase}`, "weights", "best.pt"),
    weightsCacheDir: join(scratch, "weights"),
    labelCacheDir: join(workdir, "label-cache"),
  };
}

/** Phase number of a `phase-<k>` folder name, or null. */
export function phaseOfFolder(name: string): number | null {
  const match = /^phase-(0|[1-9]\d{0,3})$/.exec(name);
  return match ? Number(match[1]) : null;
}

/** Phases the spec trains: `progressive` phases, or one. */
export function specPhases(spec: Pick<RunSpec, "train">): { readonly imgsz: number; readonly epochs: number }[] {
  return spec.train.progressive ?? [{ imgsz: spec.train.imgsz, epochs: spec.train.epochs }];
}
