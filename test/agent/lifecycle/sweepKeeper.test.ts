import { mkdirSync, writeFileSync } from "fs";
import { join } from "path";
import { pullModel } from "../../../ota/edge/puller";
import { S3ModelSource } from "../../../ota/edge/s3ModelSource";
import type { SweepManifestTrial } from "../../../runspec/sweep/sweepManifest";
import { runSpecDocument } from "../../runspec/experimentConfig";
import { KeeperWorld } from "../../keeper/keeperWorld";
import { ARTIFACTS, METRIC, OTA_BUCKET, SIGNING_KEY, sweepManifest, SWEEP_ID } from "../../keeper/sweepFixture";
import { ensureAgentBuilt } from "../fakes/agentBuild";
import { CloudWatchFake } from "../fakes/cloudWatchFake";
import { ImdsFake } from "../fakes/imdsFake";
import { agentEnvironment, AgentRun, EXIT, type AgentExit } from "../fakes/nodeWorld";
import type { RunRecord } from "../fakes/runRecordAuditor";

/**
 * A whole sweep on loopback (issue 12): four trials, two at a time, each trained by the real agent
 * bundle as its own process with a stand-in trainer emitting a chosen curve, early-stopped by ASHA
 * (η = 2, rungs at epochs 1 and 2 of 4) through the rung records in s3rver; the keeper's rounds run
 * in-process through the real SDK. Whenever the keeper gives a trial's group capacity, a node comes
 * up for it: an instance in the Auto Scaling fake and an agent process that terminates it when done.
 */
const CURVES: Record<string, { values: number[]; env?: Record<string, string> }> = {
  // The first two start together; t02 loads data for 3 s, so t01 is first at every rung.
  t01: { values: [0.5, 0.6, 0.7, 0.8] },
  t02: { values: [0.1, 0.15, 0.2, 0.25], env: { STANDIN_STARTUP_MS: "3000" } },
  // Starts in t02's slot: above every entry at both rungs, and the best at the end.
  t03: { values: [0.55, 0.65, 0.75, 0.85] },
  t04: { values: [0.05, 0.1, 0.15, 0.2] },
};
const MAX_PARALLEL = 2;

let world: KeeperWorld;
let cloudWatch: CloudWatchFake;
const imds: ImdsFake[] = [];
afterEach(async () => {
  await Promise.all(imds.splice(0).map((i) => i.close()));
  await cloudWatch?.close();
  await world?.close();
});

describe("a sweep kept by the keeper", () => {
  it("runs every trial under maxParallel, lets ASHA stop the bad ones, and releases the best completed trial", async () => {
    await ensureAgentBuilt();
    world = await KeeperWorld.start(sweepManifest({ trials: 4, maxParallel: MAX_PARALLEL }));
    cloudWatch = await CloudWatchFake.start();
    const root = world.scratch;

    /** Agent processes alive now, by trial (one that tore its node down may take a moment to exit). */
    const alive = new Map<string, AgentRun>();
    const exits: Array<Promise<AgentExit>> = [];
    let nodeCount = 0;
    /** Trials whose group has capacity or an instance in service: sampled every 10 ms, the most at once. */
    const busyTrials = (): string[] => world.manifest.trials.filter((t) => (world.asg.desiredCapacity(t.groupName) ?? 0) > 0 || world.asg.instances(t.groupName).length > 0).map((t) => t.trialId);
    let mostBusy: string[] = [];
    const sampler = setInterval(() => {
      const busy = busyTrials();
      if (busy.length > mostBusy.length) mostBusy = busy;
    }, 10);

    const launch = async (trial: SweepManifestTrial): Promise<void> => {
      nodeCount += 1;
      const instanceId = `i-0keeper${String(nodeCount).padStart(9, "0")}`;
      const dir = join(root, trial.trialId);
      mkdirSync(join(dir, "scratch"), { recursive: true });
      const spec = runSpecDocument({
        runId: trial.runId,
        autoScalingGroupName: trial.groupName,
        artifacts: { bucket: ARTIFACTS, prefix: `runs/${trial.runId}/` },
        ota: { bucket: OTA_BUCKET, prefix: "models/widgets/", modelName: "widgets", channel: "candidate", signingKeyId: SIGNING_KEY },
        train: { epochs: 4, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} },
        sweep: { sweepId: SWEEP_ID, trialId: trial.trialId, metric: METRIC, direction: "maximize", reductionFactor: 2, rungs: [1, 2] },
      });
      const specPath = join(dir, "run-spec.json");
      writeFileSync(specPath, JSON.stringify(spec));
      const gpuFile = join(dir, "gpu");
      writeFileSync(gpuFile, "0\n");
      const node = await ImdsFake.start({ instanceId });
      imds.push(node);
      // The group launches the instance the keeper asked for; its container starts the agent.
      world.asg.replaceInstance(trial.groupName, undefined, instanceId);
      const curve = CURVES[trial.trialId]!;
      const env = agentEnvironment({
        root: dir,
        s3Endpoint: world.s3.endpoint,
        autoScalingEndpoint: world.asg.endpoint,
        kmsEndpoint: world.kms.endpoint,
        cloudWatchEndpoint: cloudWatch.endpoint,
        imdsEndpoint: node.endpoint,
        specPath,
        scratch: join(dir, "scratch"),
        gpuFile,
        standInLogPath: join(dir, "stand-in.jsonl"),
        env: { STANDIN_METRIC_CURVE: JSON.stringify({ [METRIC]: curve.values }), ...curve.env },
      });
      const agent = new AgentRun(nodeCount, env, join(dir, `node-${nodeCount}`), 40_000, join(dir, "stand-in.jsonl"));
      alive.set(trial.trialId, agent);
      exits.push(
        agent.exit.then((exit) => {
          alive.delete(trial.trialId);
          if (exit.code !== EXIT.done) throw new Error(`the agent of ${trial.trialId} exited ${String(exit.code)}\n${agent.output}`);
          return exit;
        }),
      );
    };

    const deadline = Date.now() + 50_000;
    let rounds = 0;
    try {
      for (;;) {
        const summary = await world.round();
        rounds += 1;
        // Nodes for the groups the keeper gave capacity that have none yet.
        for (const trial of world.manifest.trials) {
          if ((world.asg.desiredCapacity(trial.groupName) ?? 0) > 0 && world.asg.instances(trial.groupName).length === 0 && !alive.has(trial.trialId)) await launch(trial);
        }
        if (summary.done && summary.winner !== null) break;
        if (Date.now() > deadline) throw new Error(`the sweep did not end in time; last state: ${summary.summary}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      await Promise.all(exits);
    } finally {
      clearInterval(sampler);
    }

    // Never more than maxParallel trials had capacity or a node, and that many did at times.
    expect(mostBusy).toHaveLength(MAX_PARALLEL);
    expect(nodeCount).toBe(4);
    expect(rounds).toBeGreaterThan(2);
    // Every trial started once and ended: ASHA stopped the two whose curves fell below the cutoff.
    expect((await world.starts()).map((s) => s.trialId).sort()).toEqual(["t01", "t02", "t03", "t04"]);
    const records = await Promise.all(world.manifest.trials.map(async (t) => (await world.s3.getJson<RunRecord>(ARTIFACTS, `runs/${t.runId}/run.json`))!));
    expect(records.map((r) => r.phase)).toEqual(["completed", "stopped-early", "completed", "stopped-early"]);
    expect(records.map((r) => (r.phase === "completed" ? r.metrics?.[METRIC] : r.sweep?.stoppedAt))).toEqual([
      0.8,
      expect.objectContaining({ rung: 0, epoch: 1, value: 0.1 }),
      0.85,
      expect.objectContaining({ rung: 0, epoch: 1, value: 0.05 }),
    ]);
    expect(records.every((r) => r.release === null)).toBe(true);
    expect(world.groupsWithCapacity()).toEqual([]);

    // The winner, t03, released once to candidate by the keeper alone, installable by an edge box.
    const winner = await world.winner();
    expect(winner).toMatchObject({ trialId: "t03", runId: world.trial("t03").runId, value: 0.85, release: { version: 1, channels: ["candidate"] } });
    const pulled = await pullModel({
      source: new S3ModelSource({ bucket: OTA_BUCKET, modelsPrefix: "models/", modelName: "widgets", client: world.client }),
      modelName: "widgets",
      channel: "candidate",
      publicKeyPem: world.kms.publicKeyPem,
      dest: join(root, "edge"),
    });
    expect(pulled).toMatchObject({ status: "installed", version: 1, manifest: { runId: world.trial("t03").runId, metrics: expect.objectContaining({ [METRIC]: 0.85 }) } });
    expect((await world.s3.listKeys(OTA_BUCKET)).filter((k) => k.endsWith("/manifest.json"))).toEqual(["models/widgets/versions/0000000001/manifest.json"]);
    const state = await world.state();
    expect(state).toMatchObject({ done: true, waiting: [] });
    expect(state?.summary).toBe("every trial has ended; the sweep has ended: the winner is t03 (metrics/mAP50-95(B) 0.85)");
  }, 90_000);
});
