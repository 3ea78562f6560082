import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describeWithRealUltralytics, REAL_TRAINING_TIMEOUT_MS } from "./realUltralytics";

const ROOT = path.resolve(__dirname, "..", "..");
/** ONNX Runtime 1.20.1 from npm (devDependency onnxruntime-node): CI cannot install the Python package. */
const NODE_RUNNER = path.join(ROOT, "docker", "tests", "onnxruntime_node_runner.js");

/** A word for Python's shlex.split, whatever the path holds. */
const shellWord = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

describeWithRealUltralytics("docker/trainer/onnx_check.py, run for real (ultralytics 8.3.40, PyTorch, ONNX Runtime 1.20.1)", (real) => {
  it(
    "passes its Python tests: an honest export passes; other weights, another input size or opset, and a missing runtime fail with a reason",
    () => {
      const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-train-onnx-check-config-"));
      try {
        const done = spawnSync(real.python, ["-m", "unittest", "discover", "-s", "docker/tests/real", "-p", "test_onnx_check.py", "-v"], {
          cwd: ROOT,
          encoding: "utf8",
          timeout: REAL_TRAINING_TIMEOUT_MS - 10_000,
          env: {
            ...real.env(configDir),
            // The node running jest runs the ONNX model too; CI=true turns a missing runtime into a failure.
            YOLO_TRAIN_ONNX_RUNNER: `${shellWord(process.execPath)} ${shellWord(NODE_RUNNER)}`,
            ...(process.env.CI ? { CI: process.env.CI } : {}),
          },
        });
        const output = `${done.stdout}\n${done.stderr}`;
        if (done.status !== 0) throw new Error(`the ONNX check's Python tests failed (status ${String(done.status)}, ${String(done.error ?? "")}):\n${output}`);
        expect(Number(/Ran (\d+) tests?/.exec(output)?.[1])).toBeGreaterThanOrEqual(16);
        // Plain OK: a skipped test (no ONNX Runtime found) would print "OK (skipped=N)".
        expect(output).toMatch(/\nOK\s*$/);
        // unittest reports on stderr; ultralytics logs on stdout.
        expect(done.stderr).toMatch(/^test_passes_and_records_what_an_edge_box_needs_to_run_it .* \.\.\. ok$/m);
      } finally {
        fs.rmSync(configDir, { recursive: true, force: true });
      }
    },
    REAL_TRAINING_TIMEOUT_MS,
  );
});
