import { spawn } from "child_process";
import { parseGpuUtilisation } from "./idleDetector";

/**
 * Runs the GPU query (`YOLO_TRAIN_GPU_QUERY`, nvidia-smi by default) and returns one utilisation
 * percentage per GPU, or null when the query failed or printed nothing usable (not idle: missing data).
 */
export function sampleGpuUtilisation(command: string, timeoutMs = 15_000): Promise<number[] | null> {
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", command], { stdio: ["ignore", "pipe", "ignore"] });
    let stdout = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      if (stdout.length < 64 * 1024) stdout += chunk;
    });
    child.on("error", () => {
      clearTimeout(timer);
      resolve(null);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? parseGpuUtilisation(stdout) : null);
    });
  });
}
