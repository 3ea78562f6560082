import { execFile } from "child_process";
import { promisify } from "util";
import * as path from "path";
import { tsNodeArgs } from "../../support/tsBuild";
import { OperateWorld, memoryIo, recordAt, runCli, RUN_ID } from "./operateHarness";

const ROOT = path.resolve(__dirname, "../../..");
/** `yolo-train` in a process of its own: its sources' prebuilt JavaScript (test/support/tsBuild.ts), as tsx would run them. */
const yoloTrainArgs = (...args: string[]): string[] => [...tsNodeArgs(path.join(ROOT, "cli", "yoloTrain.ts")), ...args];

let world: OperateWorld;
beforeAll(async () => {
  world = await OperateWorld.start();
});
afterAll(async () => {
  await world.close();
});

describe("yolo-train status", () => {
  it("shows phase, epoch progress with ETA, metrics, speed, attempts, elapsed and cost of a training run, and exits 10", async () => {
    await world.putRecord(recordAt({ epoch: 4, interruptions: 1 }));
    const io = memoryIo();
    const code = await runCli(["status", "--outputs-file", world.outputsFile], io);
    const text = io.text();
    expect(code).toBe(10);
    expect(text).toMatch(/^run {7}exp-1$/m);
    expect(text).toMatch(/^phase {5}training$/m);
    // 4 of 10 epochs: 12 of 30 cells; 240 s of training for 4 epochs → 6 left × 60 s.
    expect(text).toContain(`[${"#".repeat(12)}${"-".repeat(18)}] 4/10 40%  ETA 6m 00s`);
    expect(text).toContain("metrics/mAP50(B) 0.4");
    expect(text).toContain("120.5 images/s");
    expect(text).toMatch(/^attempts {2}1, spot interruptions 1$/m);
    // Started 10:00, now 12:00.
    expect(text).toContain("elapsed   2h 00m since 2026-03-01T10:00:00.000Z");
    // 300 billed s at $0.20/h = $0.0167; 360 s more at the rate paid ≈ $0.0367.
    expect(text).toContain("cost      $0.0167 so far, about $0.0367 in total");
  });

  it("prints the status as JSON with the numbers scripts need", async () => {
    await world.putRecord(recordAt({ epoch: 4 }));
    const io = memoryIo();
    expect(await runCli(["status", "--outputs-file", world.outputsFile, "--json"], io)).toBe(10);
    const status = JSON.parse(io.text());
    expect(status).toMatchObject({ runId: RUN_ID, phase: "training", exitCode: 10, epoch: 4, epochs: 10, progress: 0.4, etaSeconds: 360, costSoFarUsd: 0.0167, imagesPerSecond: 120.5 });
    expect(status.estimatedTotalUsd).toBeCloseTo(0.0167 + 0.1 * 0.2004, 4);
  });

  it.each([
    ["completed", 0],
    ["interrupted", 11],
    ["failed", 20],
    ["hung", 21],
    ["timed-out", 22],
  ] as const)("exits with the code of phase %s (%i)", async (phase, expected) => {
    await world.putRecord(recordAt({ epoch: 3, end: phase }));
    const io = memoryIo();
    expect(await runCli(["status", "--outputs-file", world.outputsFile], io)).toBe(expected);
    expect(io.text()).toMatch(new RegExp(`^phase {5}${phase}`, "m"));
    if (phase !== "completed") expect(io.text()).toContain(`error     stopped: ${phase}`);
  });

  it("exits 12 for a sweep trial stopped early, saying at which rung and against what cutoff", async () => {
    const base = recordAt({ epoch: 3 });
    const stoppedAt = { rung: 1, epoch: 3, value: 0.15, cutoff: 0.2125, earlier: 4 };
    await world.putRecord({ ...base, phase: "stopped-early", sweep: { rungs: [{ ...stoppedAt, promote: false }], stoppedAt }, history: [...base.history, { phase: "stopped-early", at: base.updatedAt, attempt: 1 }] });
    const io = memoryIo();
    expect(await runCli(["status", "--outputs-file", world.outputsFile], io)).toBe(12);
    expect(io.text()).toMatch(/^phase {5}stopped-early: stopped early by the sweep at rung 1 \(epoch 3\): value 0\.15 < cutoff 0\.2125/m);
    expect(io.text()).not.toMatch(/^error /m);
  });

  it("exits 4 and says so when the node has not written a record yet", async () => {
    await world.deleteRecord();
    const io = memoryIo();
    expect(await runCli(["status", "--outputs-file", world.outputsFile], io)).toBe(4);
    expect(io.text()).toContain(`no run record yet at s3://yolo-artifacts-test/runs/${RUN_ID}/run.json`);
  });

  it("--watch polls at the interval until the run ends, then exits with the end phase's code", async () => {
    await world.putRecord(recordAt({ epoch: 2 }));
    const io = memoryIo({
      onSleep: async (n) => {
        if (n === 1) await world.putRecord(recordAt({ epoch: 7 }));
        if (n === 2) await world.putRecord(recordAt({ epoch: 10, end: "completed" }));
      },
    });
    const code = await runCli(["status", "--outputs-file", world.outputsFile, "--watch", "--interval", "7", "--json"], io);
    expect(code).toBe(0);
    expect(io.sleeps).toEqual([7000, 7000]);
    const polls = io.text().trim().split("\n").map((line) => JSON.parse(line));
    expect(polls.map((p) => [p.phase, p.epoch])).toEqual([["training", 2], ["training", 7], ["completed", 10]]);
  });

  it("exits 2 naming the outputs that are missing", async () => {
    const fs = await import("fs");
    const bad = path.join(world.dir, "bad-outputs.json");
    fs.writeFileSync(bad, JSON.stringify({ runId: RUN_ID, region: "us-east-1" }));
    const io = memoryIo();
    expect(await runCli(["status", "--outputs-file", bad], io)).toBe(2);
    expect(io.err.join("")).toContain("missing stack outputs artifactBucketName, artifactPrefix, autoScalingGroupName, logGroupName");
  });

  it("exits 2 when neither a stack nor an outputs file is named", async () => {
    world.setEnv({ PULUMI_STACK: undefined });
    const io = memoryIo();
    expect(await runCli(["status"], io)).toBe(2);
    expect(io.err.join("")).toContain("Say which stack: --stack NAME");
  });

  it("documents the exit codes in --help", async () => {
    const io = memoryIo();
    expect(await runCli(["status", "--help"], io)).toBe(0);
    const help = io.text();
    for (const line of ["0   completed", "10  running", "11  interrupted", "20  failed", "21  hung", "22  timed-out", "4   no run record yet"]) expect(help).toContain(line);
  });

  it.each(["launch", "status", "cost", "logs", "down"])("`%s --help` describes the command and its exit codes", async (command) => {
    const io = memoryIo();
    expect(await runCli([command, "--help"], io)).toBe(0);
    expect(io.text()).toContain(`Usage: yolo-train ${command} [options]`);
    expect(io.text()).toContain("Exit codes:");
    if (command !== "launch") expect(io.text()).toContain("--outputs-file <file>");
  });

  it("runs as a subprocess with endpoints from the standard AWS variables, exiting 11 for an interrupted run", async () => {
    await world.putRecord(recordAt({ epoch: 5, end: "interrupted" }));
    const failed = await promisify(execFile)(process.execPath, yoloTrainArgs("status", "--outputs-file", world.outputsFile), { env: world.env, encoding: "utf8", timeout: 60_000 }).then(
      () => undefined,
      (error: { code?: number; stdout?: string }) => error,
    );
    expect(failed?.code).toBe(11);
    expect(failed?.stdout).toMatch(/^phase {5}interrupted: spot capacity reclaimed/m);
    await world.putRecord(recordAt({ epoch: 10, end: "completed" }));
    // Asynchronously: s3rver runs in this process and must keep answering.
    const result = await promisify(execFile)(process.execPath, yoloTrainArgs("status", "--outputs-file", world.outputsFile, "--json"), { env: world.env, encoding: "utf8", timeout: 60_000 });
    expect(result.stderr).not.toContain("yolo-train");
    expect(JSON.parse(result.stdout)).toMatchObject({ phase: "completed", epoch: 10, etaSeconds: 0 });
  });
});
