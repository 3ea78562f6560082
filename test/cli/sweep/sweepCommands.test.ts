import { writeFileSync } from "fs";
import { join } from "path";
import { parse as parseYaml, parseDocument } from "yaml";
import { runObjectKeys, runPrefix, sweepStateKey } from "../../../runspec/bucketLayout";
import { SWEEP_STATUS_EXIT_CODES, SWEEP_STATUS_EXIT_HELP } from "../../../cli/sweep/sweepReport";
import { ARTIFACTS, memoryIo, OperateWorld, runCli } from "../commands/operateHarness";
import { deploySweep, METRIC, PARAMS, putRecord, putStart, putState, putWinner, rising, type DeployedSweep } from "./sweepHarness";

let world: OperateWorld;
beforeAll(async () => {
  world = await OperateWorld.start();
});
afterAll(async () => {
  await world.close();
});

/** t01 and t02 training, t03 and t04 waiting for a free slot; t02 interrupted once. */
async function runningSweep(tag: string): Promise<DeployedSweep> {
  const sweep = await deploySweep(world, tag);
  await putRecord(world, sweep, "t01", { values: rising(0.5, 5) });
  await putRecord(world, sweep, "t02", { values: rising(0.4, 4), interruptions: 1 });
  await putState(world, sweep, {
    started: [],
    waiting: [
      { trialId: "t03", reason: "max-parallel" },
      { trialId: "t04", reason: "max-parallel" },
    ],
    spentUsd: 0.07,
    committedUsd: 3.1,
    budgetLeftUsd: 16.83,
    done: false,
    summary: "2 trials run (maxParallel 2): t03, t04 wait for a free slot",
  });
  return sweep;
}

/** t01 and t03 completed, t02 and t04 stopped early at rung 0; t03 won and was released. */
async function wonSweep(tag: string, options: { wandb?: boolean } = {}): Promise<DeployedSweep> {
  const sweep = await deploySweep(world, tag, options);
  await putRecord(world, sweep, "t01", { values: rising(0.5), end: "completed" });
  await putRecord(world, sweep, "t02", { values: rising(0.2, 3), end: "stopped-early" });
  await putRecord(world, sweep, "t03", { values: rising(0.6), end: "completed", interruptions: 2 });
  await putRecord(world, sweep, "t04", { values: rising(0.1, 3), end: "stopped-early" });
  await putState(world, sweep, { started: [], waiting: [], spentUsd: 0.9, committedUsd: 0, budgetLeftUsd: 19.1, done: true, summary: "every trial has ended" });
  await putWinner(world, sweep, "t03", rising(0.6)[26]!, { modelName: "widgets", version: 3, manifestKey: "models/widgets/versions/3/manifest.json", channels: ["candidate"] });
  return sweep;
}

describe("yolo-train sweep status", () => {
  it("shows each trial's line, what waits for a slot and the money while the sweep runs, and exits 10", async () => {
    const sweep = await runningSweep("run");
    const io = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile], io)).toBe(SWEEP_STATUS_EXIT_CODES.running);
    const text = io.text();
    expect(text).toContain(`Sweep ${sweep.sweepId}: 4 trials, maximize ${METRIC}, 2 at once, ASHA at epochs 3, 9 (η 3)`);
    // One line per trial in the sweep's order: params, phase, epochs, metric, rung, $ and why.
    expect(text).toMatch(/^ {2}t01 {2}model=yolov8n\.pt imgsz=416 {2}training +5\/27 +0\.2827 +rung 0 +\$0\.04 +training$/m);
    expect(text).toMatch(/^ {2}t02 {2}model=yolov8n\.pt imgsz=640 {2}training +4\/27 .*rung 0 +1 interr\. +\$0\.03 /m);
    expect(text).toMatch(/^ {2}t03 {2}model=yolov8s\.pt imgsz=416 {2}pending +- +- +- +\$0\.00 +waiting for a free slot \(maxParallel\)$/m);
    expect(text).toMatch(/^ {2}t04 .*waiting for a free slot \(maxParallel\)$/m);
    // The keeper's round was at 11:00; the clock says 12:00.
    expect(text).toContain("Keeper at 2026-03-01T11:00:00.000Z (1h 00m ago): t03, t04 wait for a free slot (maxParallel 2); spent $0.07 + committed $3.10 ($16.83 of the budget left).");
    expect(text).toContain("2 trials run (maxParallel 2): t03, t04 wait for a free slot");
    // Planned: 1 + 2 + 3 + 4.
    expect(text).toMatch(/^Spent \$0\.07 of the \$20\.00 budget; every trial to its end would have cost about \$\d+\.\d\d \(the plan estimated \$10\.00\)$/m);
    expect(text).toContain(`Winner: none completed yet; best so far t01, ${METRIC} 0.2827 at epoch 5 (training)`);
    expect(text).toContain("Running: 2 of 4 trials running, 2 waiting for a free slot (maxParallel 2).");
  });

  it("says a trial the keeper started is starting before its node writes a record", async () => {
    const sweep = await runningSweep("sta");
    await putStart(world, sweep, "t03", Date.parse("2026-03-01T11:00:00.000Z"));
    const io = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile], io)).toBe(10);
    expect(io.text()).toMatch(/^ {2}t03 .*pending \(started\) .* started at 2026-03-01T11:00:00\.000Z; its node has not written a run record yet$/m);
  });

  it("shows why the budget stopped the sweep and what to do, and exits 13", async () => {
    const sweep = await deploySweep(world, "bud", { budgetUsd: 2 });
    await putRecord(world, sweep, "t01", { values: rising(0.5, 2), end: "failed" });
    await putRecord(world, sweep, "t02", { values: rising(0.2, 3), end: "stopped-early" });
    const summary = "t03 does not start: spent $1.10 + committed $0.00 + its worst case $1.60 would pass the budget of $2.00";
    await putState(world, sweep, {
      started: [],
      waiting: [
        { trialId: "t03", reason: "budget" },
        { trialId: "t04", reason: "budget" },
      ],
      spentUsd: 1.1,
      committedUsd: 0,
      budgetLeftUsd: 0.9,
      done: true,
      summary,
    });
    const io = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile], io)).toBe(SWEEP_STATUS_EXIT_CODES.budgetStopped);
    const text = io.text();
    expect(text).toMatch(/^ {2}t03 .*never started: the budget ran out/m);
    expect(text).toContain("t03, t04 wait for the budget; spent $1.10 + committed $0.00 ($0.90 of the budget left).");
    expect(text).toContain(`Stopped by the budget: nothing runs, no trial completed, and t03, t04 cannot start: spent + committed + their cost would pass the $2.00 budget (${summary})`);
    expect(text).toContain("pulumi config set --path 'yolo-train:sweep.budgetUsd' <more>");
    expect(text).toMatch(/^ {2}t01 .*failed +2\/27 .*failed: CUDA out of memory$/m);
  });

  it("exits 20 when the sweep ended with every trial failed or stopped", async () => {
    const sweep = await deploySweep(world, "nowin");
    for (const [trialId, end] of [["t01", "failed"], ["t02", "stopped-early"], ["t03", "stopped-early"], ["t04", "failed"]] as const) {
      await putRecord(world, sweep, trialId, { values: rising(0.3, 3), end });
    }
    await putState(world, sweep, { started: [], waiting: [], spentUsd: 0.2, committedUsd: 0, budgetLeftUsd: 19.8, done: true, summary: "every trial has ended" });
    const io = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile], io)).toBe(SWEEP_STATUS_EXIT_CODES.noWinner);
    expect(io.text()).toContain("Ended without a winner: no trial completed (2 failed, 2 stopped early).");
  });

  it("names the winner and its release once the sweep has ended, and exits 0", async () => {
    const sweep = await wonSweep("won");
    const io = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile], io)).toBe(SWEEP_STATUS_EXIT_CODES.won);
    const text = io.text();
    expect(text).toMatch(new RegExp(`^Winner: t03 \\(${sweep.runIdOf("t03")}\\), ${METRIC.replace(/[()]/g, "\\$&")} 0\\.5[0-9]{3}, released as widgets version 3 on candidate$`, "m"));
    expect(text).toMatch(/^Ended: the winner is t03/m);
    expect(text).toMatch(/^ {2}t02 .*stopped-early +3\/27 .*rung 0 .*stopped at rung 0 \(epoch 3\)/m);
  });

  it("says why the winner was not released", async () => {
    const sweep = await wonSweep("norel");
    await putWinner(world, sweep, "t01", 0.45, null, "the ONNX export was not verified");
    const io = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile], io)).toBe(0);
    expect(io.text()).toMatch(/^Winner: t01 .* 0\.4500, not released: the ONNX export was not verified$/m);
  });

  it("still shows every other trial when one run record is corrupt, naming the bad one", async () => {
    const sweep = await runningSweep("bad");
    const badKey = runObjectKeys(runPrefix(sweep.runIdOf("t02"))).recordKey;
    await world.s3.putObject(ARTIFACTS, badKey, "{ not json");
    const io = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile], io)).toBe(10);
    const text = io.text();
    expect(text).toMatch(/^ {2}t01 .*training +5\/27/m);
    expect(text).toMatch(/^ {2}t02 .*unreadable .*run record unreadable: s3:\/\/yolo-artifacts-test\/runs\/.*\/run\.json is not JSON/m);
    expect(text).toContain(`Could not read 1 object(s); shown without them:\n  - s3://${ARTIFACTS}/${badKey}: trial t02: s3://${ARTIFACTS}/${badKey} is not JSON`);
  });

  it("names an unreadable state file and shows the trials without it", async () => {
    const sweep = await runningSweep("badstate");
    await world.s3.putObject(ARTIFACTS, sweepStateKey(sweep.sweepId), JSON.stringify({ schemaVersion: 1, sweepId: sweep.sweepId, done: "yes" }));
    const io = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile], io)).toBe(10);
    expect(io.text()).toMatch(/^Keeper: no round yet/m);
    expect(io.text()).toMatch(new RegExp(`- s3://${ARTIFACTS}/${sweepStateKey(sweep.sweepId)}: not a valid sweep state: .*done: `));
  });

  it("exits 4 with what to run when the stack has no deployed sweep", async () => {
    const outputsFile = join(world.dir, "outputs-none.json");
    writeFileSync(outputsFile, JSON.stringify({ sweepId: "sweep-000000000000", artifactBucketName: ARTIFACTS, region: "us-east-1" }));
    const io = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", outputsFile], io)).toBe(SWEEP_STATUS_EXIT_CODES.noSweep);
    expect(io.err.join("")).toContain(
      `yolo-train sweep status: ${outputsFile} has no deployed sweep: s3://${ARTIFACTS}/sweeps/sweep-000000000000/sweep.json does not exist. Deploy it with \`pulumi up\``,
    );
    const json = memoryIo();
    expect(await runCli(["sweep", "leaderboard", "--outputs-file", outputsFile, "--json"], json)).toBe(4);
    expect(JSON.parse(json.text())).toMatchObject({ error: { exitCode: 4 } });
  });

  it("exits 2 naming the missing output when the outputs are not a sweep stack's", async () => {
    const io = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", world.outputsFile], io)).toBe(2);
    expect(io.err.join("")).toContain(`${world.outputsFile}: missing stack output sweepId; is it a sweep stack?`);
  });

  it("exits 2 saying which stack to name when neither --stack, PULUMI_STACK nor --outputs-file is given", async () => {
    world.setEnv({ PULUMI_STACK: undefined });
    const io = memoryIo();
    expect(await runCli(["sweep", "leaderboard"], io)).toBe(2);
    expect(io.err.join("")).toContain("Say which sweep stack: --stack NAME (or PULUMI_STACK), or --outputs-file outputs.json");
    const partial = join(world.dir, "outputs-partial.json");
    writeFileSync(partial, JSON.stringify({ sweepId: "sweep-000000000000" }));
    const missing = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", partial], missing)).toBe(2);
    expect(missing.err.join("")).toContain(`${partial}: missing stack outputs artifactBucketName, region; was the stack deployed with \`pulumi up\`?`);
  });

  it("exits 2 on a wrong --watch or --csv, or both --json and --csv", async () => {
    const sweep = await runningSweep("usage");
    for (const args of [["--watch", "soon"], ["--csv", "epochs"], ["--json", "--csv"]]) {
      const io = memoryIo();
      expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile, ...args], io)).toBe(2);
      expect(io.err.join("")).toMatch(/yolo-train sweep status: --(watch|csv|json)/);
    }
  });

  it("lists its exit codes in --help", async () => {
    const io = memoryIo();
    expect(await runCli(["sweep", "status", "--help"], io)).toBe(0);
    expect(io.text()).toContain(SWEEP_STATUS_EXIT_HELP.trim());
    expect(SWEEP_STATUS_EXIT_HELP).toMatch(/^ {2}13 {2}stopped by the budget/m);
  });
});

describe("yolo-train sweep leaderboard", () => {
  it("ranks the trials and prints the winner's config as a stack config that parses back with the trial's values", async () => {
    const sweep = await wonSweep("lb", { wandb: true });
    const io = memoryIo();
    expect(await runCli(["sweep", "leaderboard", "--outputs-file", sweep.outputsFile, "--stack", "vision"], io)).toBe(0);
    const text = io.text();
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^#\s+trial\s+model\s+imgsz\s+phase/);
    expect(lines.slice(1, 5).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      ["1", "t03"],
      ["2", "t01"],
      ["3", "t02"],
      ["4", "t04"],
    ]);
    expect(text).toMatch(/^1\s+t03\s+yolov8s\.pt\s+416\s+completed\s+27\/27\s+0\.5\d{3}\s+1\s+1\s+2\s/m);
    expect(text).toContain("Budget $20.00; the plan estimated $10.00 for every trial to its end");
    expect(text).toContain("The winner as a stack config (save it as Pulumi.vision-t03.yaml):");

    const yamlText = text.slice(text.indexOf("The winner as a stack config"));
    const body = yamlText.slice(yamlText.indexOf("\n\n") + 2);
    const doc = parseYaml(body) as { config: Record<string, unknown> };
    const trial = sweep.manifest.trials.find((t) => t.trialId === "t03")!;
    expect(doc.config["aws:region"]).toBe("us-east-1");
    expect(doc.config["yolo-train:model"]).toBe(PARAMS[2].model);
    expect(doc.config["yolo-train:imgsz"]).toBe(PARAMS[2].imgsz);
    expect(doc.config["yolo-train:hyperparameters"]).toEqual({ optimizer: "SGD", lr0: 0.01 });
    for (const [key, value] of Object.entries(trial.stackConfig)) if (key !== "tracking") expect(doc.config[`yolo-train:${key}`]).toEqual(value);
    // The W&B key is not in the sweep's records: a placeholder, and how to set it as a secret.
    expect(doc.config["yolo-train:tracking"]).toEqual({ wandbProject: "widgets", wandbApiKey: "[secret, not shown]" });
    expect(body).toMatch(/wandbApiKey: "?\[secret, not shown\]"? # a secret, not in the sweep's records: set it with pulumi config set --stack vision-t03 --secret --path 'yolo-train:tracking\.wandbApiKey' <value>/);
    expect(parseDocument(body).commentBefore).toContain("pulumi stack init vision-t03");
    expect(body).toContain(`s3://${ARTIFACTS}/runs/${sweep.runIdOf("t03")}/model/best.pt`);
  });

  it("prints no stack config while the sweep runs", async () => {
    const sweep = await runningSweep("lbrun");
    const io = memoryIo();
    expect(await runCli(["sweep", "leaderboard", "--outputs-file", sweep.outputsFile], io)).toBe(10);
    expect(io.text()).not.toContain("stack config");
    expect(io.text()).toMatch(/^Spent \$0\.07 \(2 pending, 2 running\); every trial to its end would have cost about \$\d+\.\d\d$/m);
  });

  it("--json prints one document with the trials, state, totals, winner and its stack config", async () => {
    const sweep = await wonSweep("json");
    const io = memoryIo();
    expect(await runCli(["sweep", "leaderboard", "--outputs-file", sweep.outputsFile, "--json"], io)).toBe(0);
    const doc = JSON.parse(io.text());
    expect(doc).toMatchObject({ sweepId: sweep.sweepId, metric: METRIC, outcome: "won", exitCode: 0, state: { done: true }, winner: { trialId: "t03", params: PARAMS[2], release: { version: 3 } } });
    expect(doc.trials.map((t: { trialId: string }) => t.trialId)).toEqual(["t03", "t01", "t02", "t04"]);
    expect(doc.trials[2].rungs).toEqual([expect.objectContaining({ rung: 0, epoch: 3, promote: false })]);
    expect(doc.totals).toMatchObject({ budgetUsd: 20, plannedAllToEndUsd: 10 });
    expect(doc.totals.spentUsd).toBeGreaterThan(0);
    expect(doc.winnerStackConfig).toMatchObject({ stack: "sweep-t03", fileName: "Pulumi.sweep-t03.yaml", config: { "yolo-train:model": "yolov8s.pt", "yolo-train:imgsz": 416 } });
    expect(parseYaml(doc.winnerStackConfig.yaml).config["yolo-train:imgsz"]).toBe(416);
  });

  it("--csv prints one row per trial, and --csv rungs one per trial and rung with each curve's latest point", async () => {
    const sweep = await wonSweep("csv");
    const io = memoryIo();
    expect(await runCli(["sweep", "leaderboard", "--outputs-file", sweep.outputsFile, "--csv"], io)).toBe(0);
    const rows = io.text().split("\r\n");
    expect(rows[0]).toBe("rank,trial,runId,model,imgsz,phase,outcome,epoch,epochs,metric,rung,attempts,interruptions,spentUsd,why");
    expect(rows[1]).toMatch(new RegExp(`^1,t03,${sweep.runIdOf("t03")},yolov8s\\.pt,416,completed,completed,27,27,0\\.5\\d+,1,1,2,`));
    expect(rows).toHaveLength(6);

    const rungs = memoryIo();
    expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile, "--csv", "rungs"], rungs)).toBe(0);
    const lines = rungs.text().split("\r\n");
    expect(lines[0]).toBe("trial,runId,model,imgsz,point,rung,epoch,value,promoted,cutoff,outcome");
    const t03 = lines.filter((l) => l.startsWith("t03,"));
    expect(t03.map((l) => l.split(",").slice(4, 7))).toEqual([
      ["rung", "0", "3"],
      ["rung", "1", "9"],
      ["latest", "", "27"],
    ]);
    const t02 = lines.filter((l) => l.startsWith("t02,"));
    expect(t02).toHaveLength(1);
    expect(t02[0]).toMatch(/,rung,0,3,0\.\d+,false,0\.\d+,stopped-early$/);
  });
});

describe("--watch", () => {
  it("re-renders at the interval until the sweep ends, then exits with its code", async () => {
    const sweep = await runningSweep("watch");
    const io = memoryIo({
      onSleep: async (n) => {
        if (n === 2) {
          await putRecord(world, sweep, "t01", { values: rising(0.5), end: "completed" });
          await putState(world, sweep, { started: [], waiting: [], spentUsd: 0.5, committedUsd: 0, budgetLeftUsd: 19.5, done: true, summary: "every trial has ended" });
          await putWinner(world, sweep, "t01", rising(0.5)[26]!, { modelName: "widgets", version: 4, manifestKey: "models/widgets/versions/4/manifest.json", channels: ["candidate"] });
        }
      },
    });
    expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile, "--watch", "15"], io)).toBe(0);
    expect(io.sleeps).toEqual([15_000, 15_000]);
    expect(io.text().match(/^Sweep sweep-/gm)).toHaveLength(3);
    expect(io.text()).toMatch(/Winner: t01 .*released as widgets version 4 on candidate/);
  });

  it("prints one JSON line per poll, and stops when aborted", async () => {
    const sweep = await runningSweep("abort");
    const controller = new AbortController();
    const io = memoryIo({ signal: controller.signal, onSleep: (n) => (n === 1 ? controller.abort() : undefined) });
    expect(await runCli(["sweep", "status", "--outputs-file", sweep.outputsFile, "--watch", "--json"], io)).toBe(10);
    expect(io.sleeps).toEqual([30_000]);
    const lines = io.text().trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => JSON.parse(l).outcome)).toEqual(["running", "running"]);
  });

  it("prints a CSV once, when the watch ends", async () => {
    const sweep = await runningSweep("wcsv");
    const io = memoryIo({
      onSleep: async () => {
        await putState(world, sweep, { started: [], waiting: [], spentUsd: 0.5, committedUsd: 0, budgetLeftUsd: 19.5, done: true, summary: "" });
        await putWinner(world, sweep, "t02", 0.3, null, "no signing key");
      },
    });
    expect(await runCli(["sweep", "leaderboard", "--outputs-file", sweep.outputsFile, "--watch", "1", "--csv"], io)).toBe(0);
    expect(io.sleeps).toEqual([1000]);
    expect(io.text().match(/^rank,trial/gm)).toHaveLength(1);
  });
});
