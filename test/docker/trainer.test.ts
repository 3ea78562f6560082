import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseProgressLine, takeCompleteLines } from "../../agent/progress";
import { parseTrainerResult } from "../../agent/trainerResult";
import { parseRunSpec } from "../../runspec/schema";
import { runSpecDocument } from "../runspec/experimentConfig";

const ROOT = path.resolve(__dirname, "..", "..");
const STUBS = path.join(ROOT, "docker", "tests", "stubs");

/** python3 with only what these tests choose in its environment (no secrets, no ranks from outside). */
function python(args: string[], env: Record<string, string> = {}): ReturnType<typeof spawnSync> & { stdout: string; stderr: string } {
  const done = spawnSync("python3", args, {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 180_000,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir(), ...env },
  });
  return done as typeof done & { stdout: string; stderr: string };
}

describe("docker/train.py", () => {
  it("passes its Python test suite (python3 -m unittest with the stand-in ultralytics)", () => {
    const done = python(["-m", "unittest", "discover", "-s", "docker/tests", "-v"]);
    const output = `${done.stdout}\n${done.stderr}`;
    if (done.status !== 0) throw new Error(`python3 -m unittest failed (status ${String(done.status)}, ${String(done.error ?? "")}):\n${output}`);
    const ran = /Ran (\d+) tests?/.exec(output);
    expect(Number(ran?.[1])).toBeGreaterThanOrEqual(40);
    expect(output).toMatch(/\nOK\s*$/);
  });

  it("trains from a run spec the TypeScript side renders, and writes files the agent's parsers accept", () => {
    const spec = parseRunSpec(
      runSpecDocument({
        data: { kind: "builtin", yaml: "coco8.yaml" },
        train: { epochs: 4, imgsz: 320, batch: 8, gpus: 2, hyperparameters: { optimizer: "SGD", lr0: 0.005, cos_lr: true }, progressive: [{ imgsz: 256, epochs: 1 }, { imgsz: 320, epochs: 3 }] },
        tracking: { kind: "mlflow", uri: "https://mlflow.example.com" },
      }),
    );
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-train-trainer-"));
    try {
      const specPath = path.join(root, "run-spec.json");
      fs.writeFileSync(specPath, JSON.stringify(spec));
      const workdir = path.join(root, "scratch", "runs", spec.runId);
      const done = python([path.join("docker", "train.py")], {
        PYTHONPATH: STUBS,
        YOLO_TRAIN_RUN_SPEC: specPath,
        YOLO_TRAIN_WORKDIR: workdir,
        YOLO_TRAIN_SCRATCH: path.join(root, "scratch"),
        YOLO_CONFIG_DIR: path.join(root, "ultralytics"),
      });
      if (done.status !== 0) throw new Error(`train.py failed (status ${String(done.status)}):\n${done.stdout}\n${done.stderr}`);

      const { lines } = takeCompleteLines(fs.readFileSync(path.join(workdir, "progress.jsonl")));
      const epochs = lines.map(parseProgressLine).map((line) => (line.kind === "epoch" ? line.progress : line));
      expect(epochs.map((p) => ("phase" in p ? [p.phase, p.phases, p.epoch, p.epochs] : p))).toEqual([
        [0, 2, 1, 1],
        [1, 2, 1, 3],
        [1, 2, 2, 3],
        [1, 2, 3, 3],
      ]);
      for (const p of epochs) {
        if (!("metrics" in p)) continue;
        expect(p.metrics["metrics/mAP50-95(B)"]).toBeGreaterThan(0);
        expect(p.imagesPerSecond).toBeGreaterThan(0);
      }

      const parsed = parseTrainerResult(fs.readFileSync(path.join(workdir, "result.json"), "utf8"), workdir);
      expect(parsed).toEqual({
        ok: true,
        result: {
          status: "completed",
          best: path.join(workdir, "phase-1", "weights", "best.pt"),
          onnx: path.join(workdir, "phase-1", "weights", "best.onnx"),
          // The stand-in's export is no ONNX model, so the check against PyTorch cannot run: the
          // agent would not release it (test/docker/realTraining.test.ts checks a real export).
          onnxExport: { kind: "failed-early", reason: expect.stringContaining("the ONNX check could not run") },
          metrics: expect.objectContaining({ "metrics/mAP50-95(B)": expect.any(Number) }),
          trainingSeconds: expect.any(Number),
          // For the OTA manifest: the last phase's imgsz and the (stand-in) model's classes.
          imgsz: 320,
          classNames: ["pallet", "box"],
        },
      });
      if (parsed.ok) {
        expect(fs.existsSync(parsed.result.best)).toBe(true);
        expect(fs.existsSync(parsed.result.onnx)).toBe(true);
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
