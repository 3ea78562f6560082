import { spawnSync } from "child_process";
import { readdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import type { RealUltralytics } from "../../docker/realUltralytics";

/**
 * The real trainer (docker/train.py with the real ultralytics) for tests of the node as it ships,
 * and the inputs it trains on: docker/tests/real/synthetic.py's tiny dataset and untrained
 * checkpoint, made on the spot because nothing can be downloaded here.
 */

const ROOT = join(__dirname, "..", "..", "..");
export const TRAIN_PY = join(ROOT, "docker", "train.py");
/** Where synthetic.py is: on PYTHONPATH for the scripts below. */
const SYNTHETIC_DIR = join(ROOT, "docker", "tests", "real");
/** Checks the exported ONNX model with onnxruntime-node where Python has no onnxruntime. */
export const ONNX_RUNNER = join(ROOT, "docker", "tests", "onnxruntime_node_runner.js");

/** A single-quoted word for /bin/sh. */
export function shellWord(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs a Python script with the real ultralytics; the script writes its answer as JSON to the
 * path in `sys.argv[1]` (ultralytics prints to stdout). Throws with the output when it fails.
 */
export function runRealPython<T>(real: RealUltralytics, script: string, args: readonly string[], workDir: string, timeoutMs = 180_000): T {
  const answer = join(workDir, `answer-${process.pid}-${Date.now()}.json`);
  const env = real.env(join(workDir, "ultralytics-config"));
  const done = spawnSync(real.python, ["-c", script, answer, ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
    cwd: workDir,
    env: { ...env, PYTHONPATH: [SYNTHETIC_DIR, env.PYTHONPATH].filter(Boolean).join(":") },
  });
  if (done.status !== 0) {
    throw new Error(`${real.python} failed (status ${String(done.status)}, ${String(done.error ?? "")}):\n${done.stdout.slice(-4000)}\n${done.stderr.slice(-4000)}`);
  }
  return JSON.parse(readFileSync(answer, "utf8")) as T;
}

/** A dataset folder (data.yaml with `path: .`, images/, labels/) and an untrained yolov8n checkpoint. */
export interface SyntheticInputs {
  readonly datasetRoot: string;
  readonly dataYaml: string;
  readonly startingWeights: string;
  readonly classNames: readonly string[];
}

export function writeSyntheticInputs(real: RealUltralytics, dir: string): SyntheticInputs {
  return runRealPython<SyntheticInputs>(
    real,
    `
import json, sys
from pathlib import Path
from synthetic import CLASS_NAMES, write_dataset, write_starting_checkpoint
root = Path(sys.argv[2])
data_yaml = write_dataset(root / "dataset")
weights = write_starting_checkpoint(root / "weights" / "yolov8n-synthetic-start.pt")
Path(sys.argv[1]).write_text(json.dumps({"datasetRoot": str(root / "dataset"), "dataYaml": str(data_yaml), "startingWeights": str(weights), "classNames": list(CLASS_NAMES)}))
`,
    [dir],
    dir,
  );
}

/** What an ultralytics checkpoint says about itself (torch.load in the real Python). */
export interface CheckpointFacts {
  /** 0-based index of the last completed epoch; -1 once ultralytics finalised the run. */
  readonly epoch: number;
  readonly epochs: number | null;
  readonly hasOptimizer: boolean;
  readonly saveDir: string | null;
}

/** Loads each file with torch, as ultralytics would to resume from it. */
export function checkpointFacts(real: RealUltralytics, paths: readonly string[], workDir: string): CheckpointFacts[] {
  return runRealPython<CheckpointFacts[]>(
    real,
    `
import json, sys
import torch
facts = []
for path in sys.argv[2:]:
    ckpt = torch.load(path, map_location="cpu")
    args = ckpt.get("train_args") or {}
    facts.append({"epoch": ckpt.get("epoch"), "epochs": args.get("epochs"), "hasOptimizer": ckpt.get("optimizer") is not None, "saveDir": args.get("save_dir")})
open(sys.argv[1], "w").write(json.dumps(facts))
`,
    paths,
    workDir,
  );
}

export interface RealTrainerOptions {
  /** Folder for ultralytics' settings (YOLO_CONFIG_DIR); one per node, as each node's container has its own. */
  readonly configDir: string;
  /** The dataset folder: what a node mounts at /data. */
  readonly datasetRoot: string;
  /**
   * A copy of the run spec for the trainer alone. The schema only takes a mounted dataset under
   * `/data` (where the container mounts it) and the trainer only reads a data.yaml under
   * YOLO_TRAIN_DATA_MOUNT, without mapping `/data` onto it; here the dataset lies in a temporary
   * folder, so the trainer gets a spec whose `data.yamlPath` names it there. The agent reads the
   * real spec.
   */
  readonly trainerSpecPath: string;
}

/**
 * Agent environment (on top of NodeWorld's) that runs docker/train.py with the real ultralytics on
 * the CPU, offline, with a GPU query that reports a busy GPU (no GPU here; the idle detector must
 * not stop a training that runs on the CPU).
 */
export function realTrainerEnv(real: RealUltralytics, options: RealTrainerOptions): Record<string, string> {
  return {
    ...real.env(options.configDir),
    YOLO_TRAIN_TRAINER: `YOLO_TRAIN_RUN_SPEC=${shellWord(options.trainerSpecPath)} ${shellWord(real.python)} ${shellWord(TRAIN_PY)}`,
    YOLO_TRAIN_DEVICE: "cpu",
    YOLO_TRAIN_DATA_MOUNT: options.datasetRoot,
    YOLO_TRAIN_ONNX_RUNNER: `${shellWord(process.execPath)} ${shellWord(ONNX_RUNNER)}`,
    YOLO_TRAIN_GPU_QUERY: "echo 90",
  };
}

/** The run spec as the trainer should see it: the dataset where it lies instead of under /data. */
export function writeTrainerSpec(specPath: string, trainerSpecPath: string, dataYaml: string): void {
  const spec = JSON.parse(readFileSync(specPath, "utf8")) as { data: Record<string, unknown> };
  writeFileSync(trainerSpecPath, JSON.stringify({ ...spec, data: { kind: "mounted", yamlPath: dataYaml } }, null, 2));
}

/**
 * Live processes (zombies aside) whose environment mentions `text`: with a NodeWorld's root, every
 * agent and trainer process of that world (their run spec, scratch and work dir lie under it). The
 * real trainer keeps no journal like the stand-in's, so this is how a test finds one left running.
 */
export function processesMentioning(text: string): number[] {
  const needle = Buffer.from(text);
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") continue;
      if (readFileSync(`/proc/${entry}/environ`).includes(needle)) found.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Real `last.pt` files of one ultralytics training (1 epoch on a few synthetic images). */
export interface RealCheckpoints {
  /** As `BaseTrainer.save_model` writes it after an epoch (EMA, optimizer state): what a resume reads. */
  readonly midTraining: string;
  /** As the run's final step leaves it: rewritten by `strip_optimizer` (`epoch` -1, no optimizer). */
  readonly final: string;
}

/**
 * Trains yolov8n (from its model config, nothing downloaded) for one epoch and keeps both forms of
 * `last.pt`: a copy taken right after ultralytics saved it (its `on_model_save` callback), and the
 * file the final step rewrote.
 */
export function trainRealCheckpoints(real: RealUltralytics, dir: string): RealCheckpoints {
  return runRealPython<RealCheckpoints>(
    real,
    `
import json, shutil, sys
from pathlib import Path
from synthetic import write_dataset
from ultralytics import YOLO
root = Path(sys.argv[2])
data_yaml = write_dataset(root / "dataset", train=8, val=4)
# ultralytics resolves a relative path: against its own datasets folder; name the folder itself.
data_yaml.write_text(data_yaml.read_text(encoding="utf-8").replace("path: .", f"path: {root / 'dataset'}"), encoding="utf-8")
mid_training = root / "mid-training-last.pt"
def keep_first_save(trainer):
    if not mid_training.exists():
        shutil.copyfile(trainer.last, mid_training)
model = YOLO("yolov8n.yaml")
model.add_callback("on_model_save", keep_first_save)
model.train(data=str(data_yaml), epochs=1, imgsz=64, batch=8, workers=0, device="cpu", project=str(root / "runs"), name="train", exist_ok=True, plots=False)
final = Path(model.trainer.last)
Path(sys.argv[1]).write_text(json.dumps({"midTraining": str(mid_training), "final": str(final)}))
`,
    [dir],
    dir,
  );
}
