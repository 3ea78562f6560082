import { spawn } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import type { RunSpecInput } from "../../../runspec";
import { parseOnnxExport } from "../../../agent/trainerResult";
import { runSpecDocument } from "../../runspec/experimentConfig";
import { checkpointHeader, readStandInLog, sha256Hex, STAND_IN_TRAINER, standInMetrics } from "./standInCheckpoint";
import { zipProblem } from "./zipArchive";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "yolo-train-standin-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const workdir = (): string => join(dir, "runs", "r");

/** Runs the stand-in as the agent would; resolves with its exit status. */
function train(spec: Partial<RunSpecInput>, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const specPath = join(dir, "run-spec.json");
  writeFileSync(specPath, JSON.stringify(runSpecDocument(spec)));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [STAND_IN_TRAINER], {
      env: {
        PATH: process.env.PATH,
        YOLO_TRAIN_RUN_SPEC: specPath,
        YOLO_TRAIN_WORKDIR: workdir(),
        STANDIN_LOG: join(dir, "log.jsonl"),
        STANDIN_GPU_FILE: join(dir, "gpu"),
        STANDIN_EPOCH_MS: "10",
        STANDIN_CHECKPOINT_BYTES: "20000",
        ...env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

const train3 = { train: { epochs: 3, imgsz: 640, batch: 16, gpus: 2, hyperparameters: {} } };
const file = (...parts: string[]): Buffer => readFileSync(join(workdir(), ...parts));
const progress = (): Array<Record<string, unknown>> =>
  readFileSync(join(workdir(), "progress.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("the stand-in trainer", () => {
  it("trains fresh: last.pt and best.pt per epoch, a progress line per epoch, ONNX and result.json, exit 0", async () => {
    expect((await train(train3)).code).toBe(0);
    const last = file("phase-0", "weights", "last.pt");
    expect(last.length).toBe(20000);
    expect(checkpointHeader(last)).toEqual({ kind: "last", runId: "yolov8n-widgets-0123456789", phase: 0, epoch: 3 });
    expect(checkpointHeader(file("phase-0", "weights", "best.pt"))).toMatchObject({ kind: "best", epoch: 3 });
    expect(progress().map((l) => [l.type, l.phase, l.phases, l.epoch, l.epochs])).toEqual([
      ["epoch", 0, 1, 1, 3],
      ["epoch", 0, 1, 2, 3],
      ["epoch", 0, 1, 3, 3],
    ]);
    expect(progress()[2]).toMatchObject({ metrics: standInMetrics(3), imagesPerSecond: 103 });
    const result = JSON.parse(file("result.json").toString()) as Record<string, unknown>;
    expect(result).toMatchObject({ status: "completed", best: join(workdir(), "phase-0", "weights", "best.pt"), onnx: join(workdir(), "phase-0", "weights", "best.onnx"), metrics: standInMetrics(3) });
    expect(existsSync(result.onnx as string)).toBe(true);
    // Two GPUs, idle after training.
    expect(readFileSync(join(dir, "gpu"), "utf8")).toBe("0\n0\n");
    const log = readStandInLog(join(dir, "log.jsonl"));
    expect(log[0]).toMatchObject({ event: "start", attempt: 1, resume: null });
    expect(log.filter((e) => e.event === "checkpoint").map((e) => e.sha256)).toContain(sha256Hex(last));
    expect(log.at(-1)).toMatchObject({ event: "exit", code: 0, reason: "completed" });
  });

  it("reports a passing ONNX check in result.json by default, and a failing, missing or malformed one on request", async () => {
    const report = async (mode?: string): Promise<unknown> => {
      rmSync(workdir(), { recursive: true, force: true });
      expect((await train(train3, mode ? { STANDIN_ONNX_CHECK: mode } : {})).code).toBe(0);
      return (JSON.parse(file("result.json").toString()) as Record<string, unknown>).onnxExport;
    };
    const passing = parseOnnxExport(await report());
    expect(passing).toMatchObject({ kind: "reported", export: { opset: 17, inputShape: [1, 3, 640, 640], outputShape: [1, 84, 8400], check: { passed: true } } });
    expect(parseOnnxExport(await report("fail"))).toMatchObject({ kind: "reported", export: { check: { passed: false, reason: expect.stringMatching(/^ONNX output differs from PyTorch/) } } });
    expect(await report("missing")).toBeUndefined();
    expect(parseOnnxExport(await report("malformed"))).toMatchObject({ kind: "malformed" });
  });

  it("writes the same bytes for the same (run, phase, epoch), so a test can tell checkpoints apart", async () => {
    await train(train3);
    const first = file("phase-0", "weights", "last.pt");
    rmSync(workdir(), { recursive: true });
    await train(train3);
    expect(sha256Hex(file("phase-0", "weights", "last.pt"))).toBe(sha256Hex(first));
  });

  it("resumes after the given checkpoint's epoch and reports what it resumed from", async () => {
    await train(train3, { STANDIN_CRASH_AT_EPOCH: "3" });
    const resume = join(workdir(), "phase-0", "weights", "last.pt");
    expect(checkpointHeader(readFileSync(resume)).epoch).toBe(2);
    expect((await train(train3, { YOLO_TRAIN_RESUME: resume, YOLO_TRAIN_RESUME_PHASE: "0" })).code).toBe(0);
    const log = readStandInLog(join(dir, "log.jsonl"));
    const second = log.filter((e) => e.event === "start")[1]!;
    expect(second).toMatchObject({ attempt: 2, resumePhase: "0", resumedFrom: { kind: "last", phase: 0, epoch: 2, runId: "yolov8n-widgets-0123456789" } });
    expect(log.filter((e) => e.pid === second.pid && e.event === "checkpoint").map((e) => e.epoch)).toEqual([3]);
  });

  it("reports already-complete when resumed from the final checkpoint", async () => {
    await train(train3);
    const resume = join(workdir(), "phase-0", "weights", "last.pt");
    expect((await train(train3, { YOLO_TRAIN_RESUME: resume, YOLO_TRAIN_RESUME_PHASE: "0" })).code).toBe(0);
    expect(JSON.parse(file("result.json").toString())).toMatchObject({ status: "already-complete" });
  });

  it("refuses a resume whose phase does not match the checkpoint", async () => {
    await train(train3);
    const resume = join(workdir(), "phase-0", "weights", "last.pt");
    const run = await train(train3, { YOLO_TRAIN_RESUME: resume, YOLO_TRAIN_RESUME_PHASE: "1" });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/belongs to phase 0/);
  });

  it("trains progressive phases into phase-<k> folders", async () => {
    expect((await train({ train: { epochs: 3, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {}, progressive: [{ imgsz: 320, epochs: 1 }, { imgsz: 640, epochs: 2 }] } })).code).toBe(0);
    expect(checkpointHeader(file("phase-0", "weights", "last.pt"))).toMatchObject({ phase: 0, epoch: 1 });
    expect(checkpointHeader(file("phase-1", "weights", "last.pt"))).toMatchObject({ phase: 1, epoch: 2 });
    expect(progress().map((l) => [l.phase, l.phases, l.epoch, l.epochs])).toEqual([
      [0, 2, 1, 1],
      [1, 2, 1, 2],
      [1, 2, 2, 2],
    ]);
  });

  it("crashes only on the first STANDIN_CRASH_ATTEMPTS starts, counted in its journal", async () => {
    const env = { STANDIN_CRASH_AT_EPOCH: "2", STANDIN_CRASH_ATTEMPTS: "1", STANDIN_CRASH_CODE: "9" };
    const crashed = await train(train3, env);
    expect(crashed.code).toBe(9);
    expect(crashed.stderr).toMatch(/simulated crash in epoch 2/);
    expect((await train(train3, env)).code).toBe(0);
  });

  it("hangs at STANDIN_HANG_AT_EPOCH with its GPUs idle until stopped", async () => {
    const running = train(train3, { STANDIN_HANG_AT_EPOCH: "2" });
    const log = join(dir, "log.jsonl");
    while (!readStandInLog(log).some((e) => e.event === "hang")) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(readFileSync(join(dir, "gpu"), "utf8")).toBe("0\n0\n");
    const pid = readStandInLog(log)[0]!.pid;
    process.kill(pid, "SIGTERM");
    expect((await running).code).toBe(143);
    expect(readStandInLog(log).slice(-2)).toEqual([expect.objectContaining({ event: "signal", signal: "SIGTERM" }), expect.objectContaining({ event: "exit", code: 143 })]);
  });
  it("writes zip checkpoints (STANDIN_CHECKPOINT_FORMAT=zip) that are whole archives and resume like the text ones", async () => {
    expect((await train(train3, { STANDIN_CHECKPOINT_FORMAT: "zip", STANDIN_CRASH_AT_EPOCH: "3", STANDIN_CRASH_ATTEMPTS: "1" })).code).toBe(1);
    const last = file("phase-0", "weights", "last.pt");
    expect(zipProblem(last)).toBeUndefined();
    expect(checkpointHeader(last)).toEqual({ kind: "last", runId: "yolov8n-widgets-0123456789", phase: 0, epoch: 2 });
    const resume = join(workdir(), "phase-0", "weights", "last.pt");
    expect((await train(train3, { STANDIN_CHECKPOINT_FORMAT: "zip", YOLO_TRAIN_RESUME: resume, YOLO_TRAIN_RESUME_PHASE: "0" })).code).toBe(0);
    expect(readStandInLog(join(dir, "log.jsonl")).filter((e) => e.event === "start")[1]).toMatchObject({ resumedFrom: { phase: 0, epoch: 2 } });
  });

  it.each(["empty", "half"])("leaves last.pt cut short on SIGTERM with STANDIN_ON_STOP=%s", async (mode) => {
    const log = join(dir, "log.jsonl");
    const running = train(train3, { STANDIN_CHECKPOINT_FORMAT: "zip", STANDIN_ON_STOP: mode, STANDIN_EPOCH_MS: "200" });
    while (!readStandInLog(log).some((e) => e.event === "epoch-start" && e.epoch === 2)) await new Promise((resolve) => setTimeout(resolve, 10));
    process.kill(readStandInLog(log)[0]!.pid, "SIGTERM");
    expect((await running).code).toBe(143);
    const last = file("phase-0", "weights", "last.pt");
    const whole = readStandInLog(log).find((e) => e.event === "checkpoint")!.bytes!;
    // Half of the next checkpoint (the same size as the last whole one), or nothing.
    expect(last.length).toBe(mode === "half" ? Math.floor(whole / 2) : 0);
    if (mode === "half") expect(zipProblem(last)).toBeDefined();
    expect(readStandInLog(log).find((e) => e.event === "stopped-mid-save")).toMatchObject({ phase: 0, epoch: 2, bytes: last.length });
  });

  it("trains from epoch 1 though given a checkpoint, with STANDIN_START_OVER=1", async () => {
    await train(train3, { STANDIN_CRASH_AT_EPOCH: "3", STANDIN_CRASH_ATTEMPTS: "1" });
    const resume = join(workdir(), "phase-0", "weights", "last.pt");
    expect((await train(train3, { STANDIN_START_OVER: "1", YOLO_TRAIN_RESUME: resume, YOLO_TRAIN_RESUME_PHASE: "0" })).code).toBe(0);
    const log = readStandInLog(join(dir, "log.jsonl"));
    const second = log.filter((e) => e.event === "start")[1]!;
    expect(log.filter((e) => e.pid === second.pid && e.event === "checkpoint").map((e) => e.epoch)).toEqual([1, 2, 3]);
  });
});
