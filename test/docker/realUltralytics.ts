import { spawnSync } from "child_process";
import { existsSync } from "fs";
import { delimiter, resolve } from "path";

/**
 * The Python that runs the real ultralytics 8.3.40 for the tests that train for real.
 *
 * The tests find ultralytics on the import path, wherever it came from: `pip install
 * ultralytics==8.3.40`, or the vendored copy `.ci/run` puts on PYTHONPATH (../shared/vendor, with
 * Debian's CPU PyTorch). The interpreter is `YOLO_TRAIN_TEST_PYTHON` if set, else the first of
 * `python3` and `/usr/bin/python3` that imports torch and ultralytics (a pyenv `python3` does not
 * see Debian's dist-packages, /usr/bin/python3 does). In CI (`CI=true`) a missing ultralytics
 * fails the tests; elsewhere they are skipped with the reason.
 */
export interface RealUltralytics {
  readonly python: string;
  /** Environment for a Python process: PYTHONPATH plus ultralytics kept offline and quiet. */
  readonly env: (configDir: string) => Record<string, string>;
  readonly versions: { readonly ultralytics: string; readonly torch: string };
}

const ROOT = resolve(__dirname, "..", "..");
/** Where the sibling `shared/` folder keeps the vendored copy, for runs outside .ci/run. */
export const VENDORED_ULTRALYTICS = resolve(ROOT, "..", "shared", "vendor", "ultralytics-8.3.40");

function pythonPath(): string {
  const parts = (process.env.PYTHONPATH ?? "").split(delimiter).filter((p) => p !== "");
  if (existsSync(VENDORED_ULTRALYTICS) && !parts.includes(VENDORED_ULTRALYTICS)) parts.push(VENDORED_ULTRALYTICS);
  return parts.join(delimiter);
}

/** Keeps ultralytics from reaching the network (nothing can be downloaded here) or asking to install. */
function offlineEnv(configDir: string, path: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    PYTHONPATH: path,
    PYTHONDONTWRITEBYTECODE: "1",
    YOLO_OFFLINE: "true",
    YOLO_AUTOINSTALL: "false",
    YOLO_VERBOSE: "true",
    YOLO_CONFIG_DIR: configDir,
    // A download attempt fails at once instead of hanging on a closed network.
    http_proxy: "http://127.0.0.1:9",
    https_proxy: "http://127.0.0.1:9",
    HTTP_PROXY: "http://127.0.0.1:9",
    HTTPS_PROXY: "http://127.0.0.1:9",
    no_proxy: "127.0.0.1,localhost",
    NO_PROXY: "127.0.0.1,localhost",
    // Two CPUs in CI: more threads only contend.
    OMP_NUM_THREADS: "2",
    MKL_NUM_THREADS: "2",
  };
}

let found: RealUltralytics | string | undefined;

/** The real ultralytics, or why it cannot be used here. Probed once per test file. */
export function findRealUltralytics(): RealUltralytics | string {
  if (found !== undefined) return found;
  const path = pythonPath();
  const candidates = process.env.YOLO_TRAIN_TEST_PYTHON ? [process.env.YOLO_TRAIN_TEST_PYTHON] : ["python3", "/usr/bin/python3"];
  const reasons: string[] = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ["-c", "import torch, ultralytics; print(ultralytics.__version__, torch.__version__)"], {
      encoding: "utf8",
      timeout: 60_000,
      env: offlineEnv("/tmp/yolo-train-ultralytics-probe", path),
    });
    if (probe.status === 0) {
      const [ultralytics, torch] = probe.stdout.trim().split(/\s+/);
      found = { python, env: (configDir) => offlineEnv(configDir, path), versions: { ultralytics: ultralytics ?? "?", torch: torch ?? "?" } };
      return found;
    }
    reasons.push(`${python}: ${(probe.stderr || String(probe.error ?? "")).trim().split("\n").pop() ?? "failed"}`);
  }
  found =
    `no Python here imports torch and ultralytics (PYTHONPATH=${path || "(empty)"}): ${reasons.join("; ")}. ` +
    "Install Debian's CPU PyTorch (see ../shared/vendor/README.md) and put ultralytics 8.3.40 on PYTHONPATH, or set YOLO_TRAIN_TEST_PYTHON.";
  return found;
}

/**
 * `describe` for tests that need the real ultralytics: skipped with the reason where it is missing,
 * a failing test in CI (`CI=true`), where it must be present.
 */
export function describeWithRealUltralytics(name: string, body: (real: RealUltralytics) => void): void {
  const real = findRealUltralytics();
  if (typeof real !== "string") {
    describe(name, () => body(real));
    return;
  }
  if (process.env.CI === "true") {
    describe(name, () => {
      it("has the real ultralytics to train with (CI=true: a missing ultralytics is a failure)", () => {
        throw new Error(real);
      });
    });
    return;
  }
  // eslint-disable-next-line jest/no-disabled-tests -- visible as skipped, with the reason in the name
  describe.skip(`${name} (skipped: ${real})`, () => body(real as never));
}

/** Seconds a real-training test may take on 2 CPUs before jest gives up on it. */
export const REAL_TRAINING_TIMEOUT_MS = 240_000;
