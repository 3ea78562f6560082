import { spawnSync } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { describeWithRealUltralytics, REAL_TRAINING_TIMEOUT_MS } from "./realUltralytics";

const ROOT = resolve(__dirname, "..", "..");
/** The exported model is checked in ONNX Runtime: its Python binding in the image, its Node binding (same engine, 1.20.1) here. */
const ONNX_RUNNER = `node ${join(ROOT, "docker", "tests", "onnxruntime_node_runner.js")}`;

describeWithRealUltralytics("docker/train.py with the real ultralytics on CPU", (real) => {
  it(
    "trains, is interrupted and resumes, finishes progressive phases and exports a checked ONNX model (docker/tests/real)",
    () => {
      const config = mkdtempSync(join(tmpdir(), "yolo-train-real-config-"));
      try {
        const done = spawnSync(real.python, ["-m", "unittest", "discover", "-s", "docker/tests/real", "-p", "test_real_training.py", "-v"], {
          cwd: ROOT,
          encoding: "utf8",
          timeout: REAL_TRAINING_TIMEOUT_MS - 10_000,
          env: { ...real.env(config), YOLO_TRAIN_ONNX_RUNNER: ONNX_RUNNER },
        });
        const output = `${done.stdout}\n${done.stderr}`;
        if (done.status !== 0) throw new Error(`real-training tests failed (status ${String(done.status)}, ${String(done.error ?? "")}):\n${output.slice(-20_000)}`);
        expect(Number(/Ran (\d+) tests?/.exec(output)?.[1])).toBeGreaterThanOrEqual(10);
        expect(output).toMatch(/\nOK\s*$/);
        expect(output).not.toMatch(/skipped/i);
      } finally {
        rmSync(config, { recursive: true, force: true });
      }
    },
    REAL_TRAINING_TIMEOUT_MS,
  );
});
