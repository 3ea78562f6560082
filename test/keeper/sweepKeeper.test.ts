import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { execFileSync, spawn } from "child_process";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { KeeperRoundError } from "../../keeper/sweepKeeper";
import { KEEPER_ENV } from "../../keeper/keeperEnv";
import { pullModel } from "../../ota/edge/puller";
import { S3ModelSource } from "../../ota/edge/s3ModelSource";
import { parseSweepState, parseSweepTrialStart, parseSweepWinner } from "../../runspec/sweep/sweepManifest";
import { S3RVER_CREDENTIALS } from "../agent/fakes/s3Fake";
import { BACKSTOP_ROLE_ARN, BACKSTOP_TARGET_ARN, KeeperWorld } from "./keeperWorld";
import { ARTIFACTS, METRIC, OTA_BUCKET, sweepManifest, SWEEP_ID, type FixtureOptions } from "./sweepFixture";

/**
 * The keeper's round against s3rver, the Auto Scaling fake, the Scheduler fake and the KMS fake,
 * through the real AWS SDK v3 clients: starts claimed once, backstops re-anchored, maxParallel and
 * the budget kept, the winner released and winner.json written once.
 */
const T0 = new Date("2026-12-05T12:00:00.000Z");
const at = (minutes: number) => () => new Date(T0.getTime() + minutes * 60_000);

let world: KeeperWorld;
async function startWorld(options: FixtureOptions = {}): Promise<KeeperWorld> {
  world = await KeeperWorld.start(sweepManifest(options));
  return world;
}
afterEach(async () => {
  await world?.close();
  world = undefined as unknown as KeeperWorld;
});

describe("a keeper round", () => {
  it("started by two keepers at once starts each trial once (the start is a conditional write)", async () => {
    await startWorld({ trials: 4, maxParallel: 2 });
    const [a, b] = await Promise.all([world.round(at(0)), world.round(at(0))]);
    const started = [...a.started, ...b.started].sort();
    expect(started).toEqual(["t01", "t02"]);
    const starts = await world.starts();
    expect(starts.map((s) => s.trialId).sort()).toEqual(["t01", "t02"]);
    for (const start of starts) expect(parseSweepTrialStart(JSON.stringify(start), SWEEP_ID)).toMatchObject({ by: "keeper", startedAt: T0.toISOString() });
    expect(world.groupsWithCapacity()).toEqual(["t01", "t02"]);
    // Each start was claimed by one keeper only; the other logged that it was taken (or, reading after
    // the claim, did not decide it at all). Capacity went to those two groups only.
    expect(world.events("trial-started").map((e) => e.trialId).sort()).toEqual(["t01", "t02"]);
    const capacityCalls = world.asg.calls.filter((c) => c.action === "UpdateAutoScalingGroup");
    expect(new Set(capacityCalls.map((c) => c.params.AutoScalingGroupName))).toEqual(new Set([world.trial("t01").groupName, world.trial("t02").groupName]));
  });

  it("re-anchors a started trial's backstop at startedAt + its cap, carrying every other field over, before giving it capacity", async () => {
    await startWorld({ trials: 1, maxParallel: 1, maxRuntimeHours: 1.5 });
    const summary = await world.round(at(0));
    expect(summary).toMatchObject({ outcome: "round", started: ["t01"], done: false });
    const trial = world.trial("t01");
    expect(world.schedulerFake.schedule(trial.backstopScheduleName)).toEqual({
      Name: trial.backstopScheduleName,
      GroupName: "default",
      ScheduleExpression: "at(2026-12-05T13:30:00)",
      ScheduleExpressionTimezone: "UTC",
      FlexibleTimeWindow: { Mode: "OFF" },
      Description: "yolo-train max-runtime backstop",
      State: "ENABLED",
      ActionAfterCompletion: "NONE",
      Target: {
        Arn: BACKSTOP_TARGET_ARN,
        RoleArn: BACKSTOP_ROLE_ARN,
        Input: JSON.stringify({ AutoScalingGroupName: trial.groupName, MinSize: 0, DesiredCapacity: 0 }),
        RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
      },
    });
    expect((await world.starts())[0]).toMatchObject({ startedAt: T0.toISOString(), backstopAt: "2026-12-05T13:30:00.000Z" });
    expect(world.asg.desiredCapacity(trial.groupName)).toBe(1);
    expect(world.asg.maxSize(trial.groupName)).toBe(1);
    // Every call signed (SigV4), the backstop moved before the group got capacity.
    const update = world.schedulerFake.updates[0]!;
    const capacity = world.asg.calls.find((c) => c.action === "UpdateAutoScalingGroup")!;
    expect(update.signed && capacity.signed).toBe(true);
    expect(update.at).toBeLessThanOrEqual(capacity.at);
    expect(capacity.params).toMatchObject({ AutoScalingGroupName: trial.groupName, DesiredCapacity: "1", MaxSize: "1" });
  });

  it("logs a trial whose start failed, starts the others, reports the failure at the end, and the next round repairs it", async () => {
    await startWorld({ trials: 3, maxParallel: 2 });
    world.schedulerFake.failNext(1);
    const failed = await world.round(at(0)).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(KeeperRoundError);
    const error = failed as KeeperRoundError;
    expect(error.failures).toHaveLength(1);
    expect(error.message).toMatch(/left 1 trial\(s\) to the next round: t0[12]: started, but giving it capacity failed: InternalServerException/);
    // Both starts are claimed and state.json written; one trial has capacity already.
    expect(error.summary.started).toEqual(["t01", "t02"]);
    expect((await world.starts()).map((s) => s.trialId).sort()).toEqual(["t01", "t02"]);
    expect(world.groupsWithCapacity()).toHaveLength(1);
    expect((await world.state())?.started).toEqual(["t01", "t02"]);

    // Five minutes later: the one without capacity gets it, with its backstop from its own start, and nothing new starts.
    const next = await world.round(at(5));
    expect(next.started).toEqual([]);
    expect(next.repaired).toHaveLength(1);
    expect(world.groupsWithCapacity()).toEqual(["t01", "t02"]);
    const repaired = world.trial(next.repaired[0]!);
    expect(world.schedulerFake.schedule(repaired.backstopScheduleName)?.ScheduleExpression).toBe("at(2026-12-05T14:00:00)");
  });

  it("refuses to re-anchor a backstop schedule that scales another group", async () => {
    await startWorld({ trials: 2, maxParallel: 2 });
    const [t1, t2] = [world.trial("t01"), world.trial("t02")];
    const wrong = world.schedulerFake.schedule(t1.backstopScheduleName)!;
    world.schedulerFake.addSchedule({ ...wrong, Target: { ...wrong.Target, Input: JSON.stringify({ AutoScalingGroupName: t2.groupName, MinSize: 0, DesiredCapacity: 0 }) } });
    const error = (await world.round(at(0)).catch((e: unknown) => e)) as KeeperRoundError;
    expect(error.failures).toEqual([
      `t01: started, but giving it capacity failed: Error: backstop schedule ${t1.backstopScheduleName} scales group "${t2.groupName}", not the trial's group ${t1.groupName}; the manifest names the wrong schedule`,
    ]);
    expect(world.groupsWithCapacity()).toEqual(["t02"]);
    expect(world.schedulerFake.schedule(t1.backstopScheduleName)?.ScheduleExpression).toBe(wrong.ScheduleExpression);
  });

  it("keeps maxParallel while trials finish and start, until every trial has ended", async () => {
    await startWorld({ trials: 5, maxParallel: 2 });
    const busy = (): string[] => world.manifest.trials.filter((t) => (world.asg.desiredCapacity(t.groupName) ?? 0) > 0 || world.asg.instances(t.groupName).length > 0).map((t) => t.trialId);
    const seen: string[][] = [];
    const round = async (minute: number) => {
      const summary = await world.round(at(minute));
      seen.push(busy());
      for (const trialId of summary.started) await world.nodeUp(trialId, `i-${trialId}`);
      return summary;
    };
    expect((await round(0)).started).toEqual(["t01", "t02"]);
    expect((await round(1)).started).toEqual([]);
    await world.trialEnds("t02", { phase: "stopped-early", estimatedCostUsd: 0.1 });
    expect((await round(2)).started).toEqual(["t03"]);
    await world.trialEnds("t01", { phase: "completed", metrics: { [METRIC]: 0.4 } });
    await world.trialEnds("t03", { phase: "stopped-early" });
    expect((await round(3)).started).toEqual(["t04", "t05"]);
    expect((await world.state())?.summary).toBe("starting t04, t05");
    await world.trialEnds("t04", { phase: "hung" });
    expect((await round(4)).started).toEqual([]);
    await world.trialEnds("t05", { phase: "completed", metrics: { [METRIC]: 0.3 } });
    await world.uploadModel("t01", { [METRIC]: 0.4 });
    const last = await round(5);
    expect(last).toMatchObject({ done: true, winner: { trialId: "t01", version: 1 } });
    expect(seen.every((trials) => trials.length <= 2)).toBe(true);
    expect(seen).toEqual([["t01", "t02"], ["t01", "t02"], ["t01", "t03"], ["t04", "t05"], ["t05"], []]);
    // Each trial was started once.
    expect((await world.starts()).map((s) => s.trialId).sort()).toEqual(["t01", "t02", "t03", "t04", "t05"]);
  });

  it("stops starting trials at the budget, says why in state.json, and ends the sweep when the running ones have ended", async () => {
    // $1 per trial at worst ($0.50/h × 2 h): $2.50 lets two start, not a third.
    await startWorld({ trials: 4, maxParallel: 4, budgetUsd: 2.5 });
    expect((await world.round(at(0))).started).toEqual(["t01", "t02"]);
    let state = parseSweepState(JSON.stringify(await world.state()), SWEEP_ID);
    expect(state.waiting).toEqual([
      { trialId: "t03", reason: "budget" },
      { trialId: "t04", reason: "budget" },
    ]);
    expect(state.summary).toBe("starting t01, t02; 2 trial(s) not started: spent $0.00 + committed $2.00 + the next trial's worst case would exceed the budget of $2.50");
    for (const id of ["t01", "t02"]) await world.nodeUp(id, `i-${id}`);

    await world.trialEnds("t01", { phase: "completed", metrics: { [METRIC]: 0.5 }, estimatedCostUsd: 0.9 });
    await world.uploadModel("t01", { [METRIC]: 0.5 });
    expect((await world.round(at(0))).started).toEqual([]);
    state = (await world.state())!;
    expect(state.summary).toBe("2 trial(s) not started: spent $0.90 + committed $1.00 + the next trial's worst case would exceed the budget of $2.50");
    expect(state.done).toBe(false);

    await world.trialEnds("t02", { phase: "stopped-early", estimatedCostUsd: 0.8 });
    const last = await world.round(at(1));
    expect(last).toMatchObject({ started: [], done: true, winner: { trialId: "t01", version: 1 } });
    state = (await world.state())!;
    expect(state).toMatchObject({ done: true, committedUsd: 0 });
    expect(state.spentUsd).toBeCloseTo(1.7);
    expect(state.summary).toBe(
      "2 trial(s) not started: spent $1.70 + committed $0.00 + the next trial's worst case would exceed the budget of $2.50; the sweep has ended: the winner is t01 (metrics/mAP50-95(B) 0.5)",
    );
    expect((await world.starts()).map((s) => s.trialId).sort()).toEqual(["t01", "t02"]);
    expect(world.groupsWithCapacity()).toEqual([]);
  });

  it("releases the winner to candidate once: signed with the release key, installable by an edge box, winner.json written once", async () => {
    await startWorld({ trials: 3, maxParallel: 3, promote: { metric: METRIC, min: 0.9, requireImprovement: false } });
    await world.round(at(0));
    const models: Record<string, { onnx: Buffer; best: Buffer }> = {};
    const values: Record<string, number> = { t01: 0.42, t02: 0.61, t03: 0.61 };
    for (const id of ["t01", "t02", "t03"]) {
      await world.nodeUp(id, `i-${id}`);
      models[id] = await world.uploadModel(id, { [METRIC]: values[id]! });
      await world.trialEnds(id, { phase: "completed", metrics: { [METRIC]: values[id]! } });
    }
    const summary = await world.round(at(30));
    // A tie between t02 and t03 goes to the earlier trial.
    expect(summary).toMatchObject({ done: true, winner: { trialId: "t02", version: 1 } });
    const winner = parseSweepWinner(JSON.stringify(await world.winner()), SWEEP_ID);
    expect(winner).toEqual({
      schemaVersion: 1,
      sweepId: SWEEP_ID,
      trialId: "t02",
      runId: world.trial("t02").runId,
      metric: METRIC,
      value: 0.61,
      decidedAt: at(30)().toISOString(),
      release: { modelName: "widgets", version: 1, manifestKey: "models/widgets/versions/0000000001/manifest.json", channels: ["candidate"] },
      // Stable only through the gate, which refuses 0.61 < 0.9.
      releaseNote: `${METRIC} 0.61 is below the minimum 0.9 (ota.promote.min)`,
    });

    // An edge box following candidate, pinning the release key, installs exactly the winner's model.
    const dest = join(world.scratch, "edge");
    const pulled = await pullModel({
      source: new S3ModelSource({ bucket: OTA_BUCKET, modelsPrefix: "models/", modelName: "widgets", client: world.client }),
      modelName: "widgets",
      channel: "candidate",
      publicKeyPem: world.kms.publicKeyPem,
      dest,
    });
    expect(pulled).toMatchObject({ status: "installed", version: 1 });
    expect(pulled.manifest).toMatchObject({ runId: world.trial("t02").runId, metrics: { [METRIC]: 0.61 }, inputSize: 640, classNames: ["widget"] });
    expect(readFileSync(join(pulled.currentPath, "model.onnx"))).toEqual(models.t02!.onnx);
    expect(readFileSync(join(pulled.currentPath, "model.pt"))).toEqual(models.t02!.best);

    // Later rounds find the sweep ended: no second release, winner.json unchanged.
    const otaKeys = await world.s3.listKeys(OTA_BUCKET);
    const again = await world.round(at(31));
    expect(again).toMatchObject({ outcome: "ended", done: true, winner: { trialId: "t02", version: 1 } });
    expect(await world.s3.listKeys(OTA_BUCKET)).toEqual(otaKeys);
    expect(await world.winner()).toEqual(winner);

    // A round that released the winner but died before writing winner.json: the next one finds the
    // release on candidate and does not publish it again.
    await world.s3.client.send(new DeleteObjectCommand({ Bucket: ARTIFACTS, Key: `sweeps/${SWEEP_ID}/winner.json` }));
    const repeated = await world.round(at(32));
    expect(repeated).toMatchObject({ outcome: "round", done: true, winner: { trialId: "t02", version: 1 } });
    expect(await world.s3.listKeys(OTA_BUCKET)).toEqual(otaKeys);
    expect(await world.winner()).toMatchObject({ trialId: "t02", release: { version: 1, channels: ["candidate"] }, releaseNote: "released by an earlier round, which ended before it wrote winner.json" });
    expect(world.events("winner-released-before")).toHaveLength(1);
  });

  it("names a winner whose ONNX export was never verified, but does not release it", async () => {
    await startWorld({ trials: 1, maxParallel: 1 });
    await world.round(at(0));
    await world.nodeUp("t01", "i-t01");
    await world.uploadModel("t01", { [METRIC]: 0.5 }, { onnxExport: undefined });
    await world.trialEnds("t01", { phase: "completed", metrics: { [METRIC]: 0.5 } });
    expect(await world.round(at(10))).toMatchObject({ done: true, winner: { trialId: "t01", version: null } });
    expect(await world.winner()).toMatchObject({ trialId: "t01", release: null, releaseNote: expect.stringContaining("not released: result.json has no onnxExport") });
    expect(await world.s3.listKeys(OTA_BUCKET)).toEqual([]);
  });

  it("ends a sweep without a winner when no trial completed, and says why", async () => {
    await startWorld({ trials: 2, maxParallel: 2 });
    await world.round(at(0));
    for (const id of ["t01", "t02"]) await world.nodeUp(id, `i-${id}`);
    await world.trialEnds("t01", { phase: "stopped-early" });
    await world.trialEnds("t02", { phase: "failed" });
    // t02's agent gave up its node after recording failed: nothing gives its group capacity again.
    const summary = await world.round(at(1));
    expect(summary).toMatchObject({ done: true, winner: null });
    expect((await world.state())?.summary).toBe("every trial has ended; the sweep has ended: no trial completed (1 stopped early, 1 ended otherwise, 0 not ended): there is no winner");
    expect(await world.winner()).toBeUndefined();
    expect(world.events("no-winner")).toHaveLength(1);
  });

  it("fails with an error naming the manifest's key and every problem when the manifest is corrupt", async () => {
    await startWorld({ trials: 2 });
    const manifest = JSON.parse(JSON.stringify(world.manifest)) as Record<string, unknown>;
    await world.writeManifest(JSON.stringify({ ...manifest, maxParallel: 0, direction: "up" }));
    await expect(world.round(at(0))).rejects.toThrow(
      `s3://${ARTIFACTS}/sweeps/${SWEEP_ID}/sweep.json: not a valid sweep manifest: direction: must be "maximize" or "minimize"; maxParallel: must be at least 1`,
    );
    await world.writeManifest("{ not json");
    await expect(world.round(at(0))).rejects.toThrow(`s3://${ARTIFACTS}/sweeps/${SWEEP_ID}/sweep.json: not a valid sweep manifest: (sweep manifest): is not valid JSON`);
    await world.s3.client.send(new DeleteObjectCommand({ Bucket: ARTIFACTS, Key: `sweeps/${SWEEP_ID}/sweep.json` }));
    await expect(world.round(at(0))).rejects.toThrow(`s3://${ARTIFACTS}/sweeps/${SWEEP_ID}/sweep.json does not exist: the sweep ${SWEEP_ID} has no manifest`);
    // Nothing was started on a manifest the keeper could not read.
    expect(await world.starts()).toEqual([]);
    expect(world.asg.calls).toEqual([]);
  });
});

describe("the keeper's Lambda bundle", () => {
  let bundleDir: string;
  beforeAll(() => {
    bundleDir = mkdtempSync(join(tmpdir(), "yolo-train-keeper-bundle-"));
    // The command the SweepKeeper component's build runs (keeper/keeperEnv.ts names entry and bundle).
    execFileSync(join(__dirname, "..", "..", "node_modules", ".bin", "esbuild"), ["keeper/keeperLambda.ts", "--bundle", "--platform=node", "--target=node22", "--format=cjs", `--outfile=${join(bundleDir, "index.js")}`, "--log-level=error"], {
      cwd: join(__dirname, "..", ".."),
    });
  }, 60_000);
  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

  /** Invokes `index.handler` in a fresh node with only the environment Lambda would give it. */
  function invoke(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const script = `require(${JSON.stringify(join(bundleDir, "index.js"))}).handler({}).then((r) => console.log("RESULT " + JSON.stringify(r)), (e) => { console.log("ERROR " + e.message); process.exitCode = 1; })`;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ["-e", script], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  it("runs a round with the clients configured the standard way, logging JSON lines", async () => {
    await startWorld({ trials: 3, maxParallel: 2 });
    const { code, stdout } = await invoke({
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: world.s3.endpoint,
      AWS_ENDPOINT_URL_AUTO_SCALING: world.asg.endpoint,
      AWS_ENDPOINT_URL_SCHEDULER: world.schedulerFake.endpoint,
      AWS_ENDPOINT_URL_KMS: world.kms.endpoint,
      AWS_CONFIG_FILE: join(world.scratch, "none"),
      AWS_SHARED_CREDENTIALS_FILE: join(world.scratch, "none"),
      YOLO_TRAIN_S3_FORCE_PATH_STYLE: "true",
      [KEEPER_ENV.bucket]: ARTIFACTS,
      [KEEPER_ENV.sweepId]: SWEEP_ID,
    });
    expect(code).toBe(0);
    const result = JSON.parse(stdout.split("\n").find((l) => l.startsWith("RESULT "))!.slice(7)) as Record<string, unknown>;
    expect(result).toMatchObject({ sweepId: SWEEP_ID, outcome: "round", started: ["t01", "t02"], done: false });
    const lines = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.event === "trial-started").map((l) => l.trialId)).toEqual(expect.arrayContaining(["t01", "t02"]));
    expect(lines.every((l) => l.source === "yolo-train-sweep-keeper")).toBe(true);
    expect(world.groupsWithCapacity()).toEqual(["t01", "t02"]);
  }, 60_000);

  it("refuses a missing or invalid environment, naming every variable", async () => {
    const { code, stdout } = await invoke({ [KEEPER_ENV.bucket]: "Not_A_Bucket" });
    expect(code).toBe(1);
    expect(stdout).toContain(`ERROR The sweep keeper's environment has 2 problems:`);
    expect(stdout).toContain(`${KEEPER_ENV.bucket}="Not_A_Bucket": must be an S3 bucket name`);
    expect(stdout).toContain(`${KEEPER_ENV.sweepId} is not set`);
  }, 30_000);
});
