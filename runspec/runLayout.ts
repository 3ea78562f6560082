import { join } from "path";
import { runObjectKeys, type RunObjectKeys } from "./bucketLayout";
import type { RunSpec } from "./schema";

/**
 * Where things live for one run on a node: its object keys under `runs/<runId>/` in the artifact
 * bucket (from the bucket layout) and the paths under the node's work dir that the run agent and
 * the trainer (docker/trainer, given `YOLO_TRAIN_WORKDIR`) share (docs/node-runtime.md,
 * "Artifact layout"). Pure.
 */
export interface RunLayout extends RunObjectKeys {
  readonly bucket: string;
  readonly prefix: string;
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
    ...runObjectKeys(prefix),
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
