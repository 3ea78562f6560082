import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ONNX_RUNNER, shellWord } from "../agent/fakes/realTrainer";
import { describeWithRealUltralytics, REAL_TRAINING_TIMEOUT_MS } from "./realUltralytics";

/**
 * docker/tests/gpu-check.sh (issue 8): the real-training check meant for a GPU machine, proven
 * here on the CPU at its --tiny size, plus its GPU-only arithmetic with a fake nvidia-smi.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const SCRIPT = path.join(ROOT, "docker", "tests", "gpu-check.sh");

interface Summary {
  readonly passed: boolean;
  readonly failures: readonly string[];
  readonly timedOut: boolean;
  readonly config: { readonly images: number; readonly imgsz: number; readonly batch: number; readonly epochs: number; readonly device: string };
  readonly steps: Record<string, number>;
  readonly checks: ReadonlyArray<{ readonly name: string; readonly ok: boolean | null; readonly detail: string }>;
  readonly dataset: { readonly trainImages: number; readonly valImages: number };
  readonly versions: { readonly ultralytics: string | null; readonly torch: string | null };
  readonly progress: { readonly linesPerEpoch: Record<string, number>; readonly ok: boolean };
  readonly epochs: ReadonlyArray<{ readonly epoch: number; readonly process: string; readonly imagesPerSecond: number | null }>;
  readonly interruption: {
    readonly signal: string;
    readonly epochAtSigterm: number;
    readonly linesAfterSigterm: number;
    readonly trainerExit: number;
    readonly resumedFromEpoch: number;
    readonly resumedToEpoch: number;
    readonly ok: boolean;
    readonly resumedOk: boolean;
  };
  readonly gpuUtilisation: { readonly median: number | null; readonly p10: number | null; readonly p90: number | null; readonly reason: string | null };
  readonly gpuMemoryPeakMiB: number | null;
  readonly result: { readonly status: string };
  readonly onnx: { readonly bytes: number | null; readonly export: unknown };
}

describe("docker/tests/gpu-check.sh", () => {
  it("passes shellcheck without findings", () => {
    const done = spawnSync("shellcheck", [SCRIPT], { encoding: "utf8" });
    if (done.error) throw new Error(`shellcheck could not run (${done.error.message}); install it: apt-get install -y shellcheck`);
    expect(`${done.stdout}${done.stderr}`).toBe("");
    expect(done.status).toBe(0);
  });

  it("summarises nvidia-smi samples of the trainer's GPU over the training epochs (a fake nvidia-smi)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-train-gpu-check-fake-"));
    try {
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      // Two GPUs; the sampling loop reports GPU 0 at 55 % then 90 %, GPU 1 idle.
      fs.writeFileSync(
        path.join(bin, "nvidia-smi"),
        [
          "#!/bin/sh",
          'case "$*" in',
          '  -L) echo "GPU 0: NVIDIA H200 (UUID: GPU-aaaa)"; echo "GPU 1: NVIDIA H200 (UUID: GPU-bbbb)" ;;',
          '  *index,name,driver_version*) echo "0, NVIDIA H200, 550.54.15, 143771, GPU-aaaa"; echo "1, NVIDIA H200, 550.54.15, 143771, GPU-bbbb" ;;',
          '  *-lms*) i=0; while :; do t=$(date "+%Y/%m/%d %H:%M:%S.%3N"); if [ $i -lt 2 ]; then u=55; else u=90; fi; echo "$t, 0, $u, $((1000 + i))"; echo "$t, 1, 0, 5"; i=$((i + 1)); sleep 0.2; done ;;',
          "  *) exit 1 ;;",
          "esac",
          "",
        ].join("\n"),
        { mode: 0o755 },
      );
      const script = `
import json, sys, time
from pathlib import Path
sys.path.insert(0, ${JSON.stringify(path.join(ROOT, "docker", "tests"))})
import gpu_check as g

out = Path(sys.argv[1])
inventory = g.gpu_inventory()
samples = out / "samples.csv"
sampler = g.start_group(["nvidia-smi", "--query-gpu=" + g.GPU_QUERY, "--format=csv,noheader,nounits", "-lms200"], dict(__import__("os").environ), samples)
t0 = time.time()
time.sleep(2.2)
g.stop_group(sampler, grace=2)

# A fresh run SIGTERMed 1.2 s in, resumed; epoch lines at 0.8 s (fresh), 1.5 s and 1.9 s (resume).
args = g.parse_args(["--device", "0", "--epochs", "3", "--out", str(out / "s.json")])
check = g.Check(args, t0)
check.summary["windows"] = {"fresh": {"start": t0, "sigterm": t0 + 1.2, "end": t0 + 1.25}, "resume": {"start": t0 + 1.3, "end": t0 + 2.2}}
check.summary["interruption"] = {"ok": True}
progress = g.Progress(out / "progress.jsonl")
for epoch, at, process in ((1, 0.8, "fresh"), (2, 1.5, "resume"), (3, 1.9, "resume")):
    progress.lines.append({"type": "epoch", "phase": 0, "phases": 1, "epoch": epoch, "epochs": 3, "imagesPerSecond": 100.0 * epoch, "_seenAt": t0 + at, "_process": process})
g.measure(check, progress, samples, inventory, [0])
s = check.summary
print(json.dumps({"inventory": inventory, "gpu": s["gpuUtilisation"], "peak": s["gpuMemoryPeakMiB"], "ips": s["imagesPerSecond"], "progress": s["progress"], "checks": s["checks"],
                  "mapped": g.physical_gpus([0], inventory, "1"), "uuid": g.physical_gpus([0], inventory, "GPU-bbbb")}))
`;
      const done = spawnSync("python3", ["-c", script, dir], {
        encoding: "utf8",
        timeout: 60_000,
        env: { PATH: `${bin}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: dir },
      });
      if (done.status !== 0) throw new Error(`python3 failed (status ${String(done.status)}):\n${done.stdout}\n${done.stderr}`);
      const got = JSON.parse(done.stdout.trim().split("\n").pop() ?? "{}") as {
        inventory: { count: number; gpus: Array<{ name: string; uuid: string }> };
        gpu: { median: number; p10: number; p90: number; samples: number; devices: number[]; wholeRuns: { samples: number }; reason: string | null };
        peak: number;
        ips: { median: number; steadyMedian: number };
        progress: { linesPerEpoch: Record<string, number>; ok: boolean };
        checks: Array<{ name: string; ok: boolean | null }>;
        mapped: [number[] | null, string | null];
        uuid: [number[] | null, string | null];
      };
      expect(got.inventory.count).toBe(2);
      expect(got.inventory.gpus.map((g) => [g.name, g.uuid])).toEqual([
        ["NVIDIA H200", "GPU-aaaa"],
        ["NVIDIA H200", "GPU-bbbb"],
      ]);
      // Steady windows (0.8-1.2 s and 1.5-1.9 s) hold GPU 0's 90 % samples only; GPU 1's are not counted.
      expect(got.gpu.reason).toBeNull();
      expect(got.gpu.devices).toEqual([0]);
      expect(got.gpu.samples).toBeGreaterThanOrEqual(2);
      expect([got.gpu.median, got.gpu.p10, got.gpu.p90]).toEqual([90, 90, 90]);
      expect(got.gpu.wholeRuns.samples).toBeGreaterThan(got.gpu.samples);
      expect(got.peak).toBeGreaterThanOrEqual(1002);
      expect(got.ips).toMatchObject({ median: 200, steadyMedian: 300 });
      expect(got.progress).toMatchObject({ linesPerEpoch: { "1": 1, "2": 1, "3": 1 }, ok: true });
      expect(got.checks.filter((c) => c.ok === false)).toEqual([]);
      expect(got.mapped[0]).toEqual([1]);
      expect(got.uuid[0]).toEqual([1]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describeWithRealUltralytics("docker/tests/gpu-check.sh --tiny (real training on the CPU)", (real) => {
  it(
    "trains, is SIGTERMed in epoch 2, resumes to the last epoch, exports and checks ONNX, and says so in its summary",
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-train-gpu-check-"));
      try {
        const out = path.join(dir, "out", "gpu-check.json");
        const started = Date.now();
        const done = spawnSync(
          "bash",
          [SCRIPT, "--tiny", "--device", "cpu", "--python", real.python, "--onnx-runner", `${shellWord(process.execPath)} ${shellWord(ONNX_RUNNER)}`, "--time-limit", "200", "--out", out],
          { cwd: ROOT, encoding: "utf8", timeout: REAL_TRAINING_TIMEOUT_MS - 10_000, env: { ...real.env(path.join(dir, "ultralytics-config")), TMPDIR: dir } },
        );
        const seconds = (Date.now() - started) / 1000;
        const output = `${done.stdout}\n${done.stderr}`;
        if (!fs.existsSync(out)) throw new Error(`no summary (status ${String(done.status)}, ${String(done.error ?? "")}):\n${output.slice(-6000)}`);
        const summary = JSON.parse(fs.readFileSync(out, "utf8")) as Summary;
        if (!summary.passed) throw new Error(`gpu-check failed:\n${summary.failures.join("\n")}\n${output.slice(-4000)}`);
        expect(done.status).toBe(0);
        expect(summary.timedOut).toBe(false);
        expect(seconds).toBeLessThan(200);
        expect(summary.config).toMatchObject({ images: 24, imgsz: 64, batch: 8, epochs: 3, device: "cpu" });
        expect(summary.dataset).toMatchObject({ trainImages: 24, valImages: 8 });
        expect(summary.versions.ultralytics).toBe(real.versions.ultralytics);
        for (const step of ["dataset", "prepare", "freshRun", "resumeRun", "total"]) expect(summary.steps[step]).toBeGreaterThan(0);

        // Exactly one progress line per epoch, the fresh trainer's and then the resumed one's.
        expect(summary.progress).toEqual(expect.objectContaining({ linesPerEpoch: { "1": 1, "2": 1, "3": 1 }, ok: true }));
        expect(summary.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
        for (const epoch of summary.epochs) expect(epoch.imagesPerSecond).toBeGreaterThan(0);

        const interruption = summary.interruption;
        expect(interruption).toMatchObject({ signal: "SIGTERM", linesAfterSigterm: 0, ok: true, resumedOk: true, resumedToEpoch: 3 });
        expect(interruption.epochAtSigterm).toBeGreaterThanOrEqual(2);
        expect(interruption.trainerExit).not.toBe(0);
        expect(interruption.resumedFromEpoch).toBe(interruption.epochAtSigterm);
        expect(summary.epochs.filter((e) => e.process === "fresh").map((e) => e.epoch)).toEqual(
          Array.from({ length: interruption.epochAtSigterm - 1 }, (_, i) => i + 1),
        );

        expect(summary.result.status).toBe("completed");
        expect(summary.onnx.bytes).toBeGreaterThan(0);
        expect(summary.checks.find((c) => c.name === "onnx vs pytorch")?.ok).not.toBe(false);

        // No GPU trains: no utilisation figures, and the reason instead.
        expect(summary.gpuUtilisation).toMatchObject({ median: null, p10: null, p90: null });
        expect(summary.gpuUtilisation.reason).toMatch(/cpu/);
        expect(summary.gpuMemoryPeakMiB).toBeNull();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    REAL_TRAINING_TIMEOUT_MS,
  );
});
