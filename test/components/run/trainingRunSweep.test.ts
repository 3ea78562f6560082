import * as pulumi from "@pulumi/pulumi";
import { sweepTrialProblems, TrainingRun } from "../../../components/run/trainingRun";
import { ArtifactBucket } from "../../../components/storage/artifactBucket";
import { parseExperimentConfig } from "../../../config";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";
import { parseRunSpec } from "../../../runspec";

const context = { project: "yolo-train", stack: "trials", region: "us-east-1" };
const LAUNCH = new Date("2026-03-01T08:00:00Z");
const SWEEP_ID = "sweep-0123456789ab";
const RANKING = { metric: "metrics/mAP50-95(B)", direction: "maximize" as const };

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "trials" });
});

function userSpecOf(runName: string) {
  const template = runtime.ofType("aws:ec2/launchTemplate:LaunchTemplate").find((r) => r.name.startsWith(runName))!;
  const userData = Buffer.from(template.inputs.userData, "base64").toString("utf8");
  const encoded = /RUN_SPEC_B64='?([A-Za-z0-9+/=]+)'?/.exec(userData)?.[1] ?? /base64 -d[^\n]*<<<\s*'?([A-Za-z0-9+/=]+)/.exec(userData)?.[1];
  return parseRunSpec(JSON.parse(Buffer.from(encoded!, "base64").toString("utf8")));
}

describe("a TrainingRun as a sweep trial without early stopping, on a shared artifact bucket", () => {
  let shared: ArtifactBucket;
  let run: TrainingRun;
  beforeAll(async () => {
    shared = new ArtifactBucket("shared-artifacts");
    const config = parseExperimentConfig({ stage: "debug", epochs: "5", budgetUsd: "30", alertEmail: "ml@example.com" }, context);
    run = new TrainingRun("trial", { config, artifactBucket: shared, launchTime: LAUNCH, sweep: { sweepId: SWEEP_ID, trialId: "t01", ...RANKING } });
    await valueOf(pulumi.all([run.guardrails.backstopAt, run.nodeGroup.groupArn, run.image.imageUri]));
    await runtime.settle();
  });

  it("keeps its run in the given bucket, creating none, and may touch only its own run there", async () => {
    expect(run.artifactBucket).toBe(shared);
    expect(runtime.ofType("yolo-train:storage:ArtifactBucket").map((r) => r.name)).toEqual(["shared-artifacts"]);
    const policy = JSON.parse(runtime.ofType("aws:iam/rolePolicy:RolePolicy").find((r) => r.name.startsWith("trial-gpu-role"))!.inputs.policy);
    const bucketArn = await valueOf(shared.bucketArn);
    const artifacts = policy.Statement.filter((s: { Resource: string | string[] }) => JSON.stringify(s.Resource).includes(bucketArn));
    expect(artifacts.flatMap((s: { Resource: string | string[] }) => [s.Resource].flat())).toEqual([bucketArn, `${bucketArn}/runs/${run.runId}/*`]);
    // No rung records without early stopping.
    expect(JSON.stringify(policy)).not.toContain("sweeps/");
    // The section is there all the same: it tells the agent that the sweep, not the trial, releases a model.
    expect(userSpecOf("trial").sweep).toEqual({ sweepId: SWEEP_ID, trialId: "t01", ...RANKING, reductionFactor: null, rungs: [] });
  });

  it("waits at 0 nodes, tagged with its sweep and trial, with no dashboard and no budget of its own", () => {
    const group = runtime.ofType("aws:autoscaling/group:Group").find((r) => r.name.startsWith("trial-"))!;
    expect(group.inputs).toMatchObject({ desiredCapacity: 0, maxSize: 1 });
    expect(group.inputs.tags).toEqual(
      expect.arrayContaining([
        { key: "yolo-train:sweep", value: SWEEP_ID, propagateAtLaunch: true },
        { key: "yolo-train:trial", value: "t01", propagateAtLaunch: true },
      ]),
    );
    expect(run.dashboard).toBeUndefined();
    expect(runtime.ofType("aws:cloudwatch/dashboard:Dashboard")).toEqual([]);
    expect(runtime.ofType("aws:budgets/budget:Budget")).toEqual([]);
    // Without a sweep topic, the trial's own topic gets the email.
    expect(runtime.ofType("aws:sns/topicSubscription:TopicSubscription")).toHaveLength(1);
  });
});

describe("sweepTrialProblems", () => {
  const config = { epochs: 27, progressive: undefined };
  const early = { reductionFactor: 3, rungs: [3, 9] };
  const trial = (more: object) => ({ sweepId: SWEEP_ID, trialId: "t01", ...RANKING, ...more });

  it("accepts rungs below the trial's epochs, and a trial without early stopping", () => {
    expect(sweepTrialProblems(trial({ earlyStopping: early }), config)).toEqual([]);
    expect(sweepTrialProblems(trial({}), config)).toEqual([]);
    expect(sweepTrialProblems(undefined, config)).toEqual([]);
  });

  it.each([
    [trial({ sweepId: "Sweep 1" }), config, ["TrainingRun.sweep.sweepId"]],
    [trial({ trialId: "../t01" }), config, ["TrainingRun.sweep.trialId"]],
    [trial({ metric: "mAP 50" }), config, ["TrainingRun.sweep.metric"]],
    [trial({ direction: "up" }), config, ["TrainingRun.sweep.direction"]],
    [trial({ earlyStopping: { ...early, rungs: [3, 27] } }), config, ["TrainingRun.sweep.earlyStopping.rungs"]],
    [trial({ earlyStopping: { ...early, rungs: [9, 3] } }), config, ["TrainingRun.sweep.earlyStopping.rungs"]],
    [trial({ earlyStopping: { ...early, reductionFactor: 1 } }), config, ["TrainingRun.sweep.earlyStopping.reductionFactor"]],
    [trial({ earlyStopping: early }), { epochs: 27, progressive: [{ imgsz: 320, epochs: 27 }] }, ["TrainingRun.sweep.earlyStopping"]],
  ])("refuses %j, naming the field", (sweep, trialConfig, keys) => {
    expect(sweepTrialProblems(sweep as Parameters<typeof sweepTrialProblems>[0], trialConfig).map((p) => p.key)).toEqual(keys);
  });

  it("refuses before the run registers anything", () => {
    const before = runtime.resources.length;
    const bad = parseExperimentConfig({ stage: "debug", epochs: "5" }, context);
    expect(() => new TrainingRun("bad-trial", { config: bad, sweep: trial({ earlyStopping: { ...early, rungs: [5] } }) as Parameters<typeof sweepTrialProblems>[0] })).toThrow(/TrainingRun\.sweep\.earlyStopping\.rungs/);
    expect(runtime.resources.length).toBe(before);
  });
});
