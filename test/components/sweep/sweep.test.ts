import * as pulumi from "@pulumi/pulumi";
import { Sweep } from "../../../components/sweep/sweep";
import { matchesIamPattern } from "../../../components/sweep/sweepNames";
import { SWEEP_TAG_KEY } from "../../../components/sweep/sweepTags";
import { KEEPER_ENV, KEEPER_FUNCTION_HANDLER } from "../../../keeper/keeperEnv";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";
import type { RecordedResource } from "../../../offline/fakeAws";
import { parseRunSpec } from "../../../runspec";
import { sweepManifestKey } from "../../../runspec/bucketLayout";
import { deriveSweepId, parseSweepManifest } from "../../../runspec/sweep/sweepManifest";
import { TRAINING_METRIC_NAMESPACE } from "../../../runspec/trainingMetricNames";
import { fourTrialPlan, LAUNCH, list, statementsOf, type Statement } from "./sweepFixture";

const TYPES = {
  group: "aws:autoscaling/group:Group",
  template: "aws:ec2/launchTemplate:LaunchTemplate",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  role: "aws:iam/role:Role",
  schedule: "aws:scheduler/schedule:Schedule",
  fn: "aws:lambda/function:Function",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  topic: "aws:sns/topic:Topic",
  budget: "aws:budgets/budget:Budget",
  dashboard: "aws:cloudwatch/dashboard:Dashboard",
  object: "aws:s3/bucketObjectv2:BucketObjectv2",
} as const;

let runtime: OfflineRuntime;
let sweep: Sweep;
const plan = fourTrialPlan();

beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "dev" });
  sweep = new Sweep("yolo-train-dev", { plan, launchTime: LAUNCH });
  await valueOf(pulumi.all([sweep.dashboardUrl, sweep.trialOutputs, sweep.keeper.functionName, sweep.manifest.content, sweep.budget!.name]));
  await runtime.settle();
}, 60_000);

/** Resources of a type under the component named `prefix` (by logical name). */
const named = (type: string, prefix: string): RecordedResource[] => runtime.ofType(type).filter((r) => r.name.startsWith(prefix));

function userDataOf(template: RecordedResource): string {
  return Buffer.from(template.inputs.userData, "base64").toString("utf8");
}

function runSpecIn(userData: string) {
  const encoded = /RUN_SPEC_B64='?([A-Za-z0-9+/=]+)'?/.exec(userData)?.[1] ?? /base64 -d[^\n]*<<<\s*'?([A-Za-z0-9+/=]+)/.exec(userData)?.[1];
  expect(encoded).toBeDefined();
  return parseRunSpec(JSON.parse(Buffer.from(encoded!, "base64").toString("utf8")));
}

function keeperStatements(): Statement[] {
  const [policy] = named(TYPES.rolePolicy, "yolo-train-dev-keeper-role");
  expect(policy).toBeDefined();
  return statementsOf(policy!.inputs.policy);
}

const bySid = (statements: Statement[], sid: string): Statement => {
  const found = statements.filter((s) => s.Sid === sid);
  expect([sid, found.length]).toEqual([sid, 1]);
  return found[0]!;
};

describe("a 4-trial sweep, 2 at once, on parts it creates", () => {
  it("creates the shared parts once: one VPC, one image build, one dataset bucket, one OTA bucket, one artifact bucket, one dashboard, one topic", () => {
    expect(runtime.ofType("awsx:ec2:Vpc")).toHaveLength(1);
    expect(runtime.ofType("docker:index/image:Image")).toHaveLength(1);
    expect(runtime.ofType("yolo-train:storage:DatasetBucket")).toHaveLength(1);
    expect(runtime.ofType("yolo-train:ota:OtaBucket")).toHaveLength(1);
    expect(runtime.ofType("yolo-train:storage:ArtifactBucket")).toHaveLength(1);
    expect(runtime.ofType(TYPES.dashboard)).toHaveLength(1);
    expect(runtime.ofType(TYPES.topic)).toHaveLength(1);
    expect(runtime.ofType("yolo-train:observability:RunDashboard")).toEqual([]);
  });

  it("makes every trial an ordinary TrainingRun: 4 runs, 4 node roles, 4 groups", () => {
    expect(runtime.ofType("yolo-train:run:TrainingRun").map((r) => r.name)).toEqual(["yolo-train-dev-t01", "yolo-train-dev-t02", "yolo-train-dev-t03", "yolo-train-dev-t04"]);
    expect(runtime.ofType("yolo-train:compute:NodeRole")).toHaveLength(4);
    expect(runtime.ofType(TYPES.group)).toHaveLength(4);
    expect(sweep.trials.map((t) => t.runId)).toEqual(plan.trials.map((t) => t.runId));
  });

  it("creates every group empty, at most one node, tagged with the sweep id for its instances too", () => {
    for (const group of runtime.ofType(TYPES.group)) {
      expect(group.inputs).toMatchObject({ desiredCapacity: 0, maxSize: 1, minSize: 0 });
      expect(group.ignoreChanges).toContain("desiredCapacity");
      expect(group.inputs.tags).toEqual(expect.arrayContaining([{ key: SWEEP_TAG_KEY, value: sweep.sweepId, propagateAtLaunch: true }]));
    }
    for (const template of runtime.ofType(TYPES.template)) {
      expect(template.inputs.tagSpecifications[0].tags[SWEEP_TAG_KEY]).toBe(sweep.sweepId);
    }
  });

  it("gives each trial's run spec its sweep section: the ids, the metric and the rungs below its epochs", () => {
    const specs = runtime.ofType(TYPES.template).map((t) => runSpecIn(userDataOf(t)));
    expect(specs.map((s) => s.sweep?.trialId).sort()).toEqual(["t01", "t02", "t03", "t04"]);
    for (const spec of specs) {
      expect(spec.sweep).toEqual({ sweepId: sweep.sweepId, trialId: expect.any(String), metric: "metrics/mAP50-95(B)", direction: "maximize", reductionFactor: 3, rungs: [3, 9] });
      expect(spec.artifacts.bucket).toBe(specs[0]!.artifacts.bucket);
    }
  });

  it("scopes each node role to its own run's prefix and the sweep's rung records, nothing of the other trials, no release rights", async () => {
    const bucketArn = await valueOf(sweep.artifactBucket.bucketArn);
    for (const trial of plan.trials) {
      const [policy] = named(TYPES.rolePolicy, `yolo-train-dev-${trial.id}-gpu-role`);
      const statements = statementsOf(policy!.inputs.policy);
      expect(list(bySid(statements, "ReadWriteRunArtifacts").Resource)).toEqual([`${bucketArn}/runs/${trial.runId}/*`]);
      expect(list(bySid(statements, "ReadWriteSweepRungs").Resource)).toEqual([`${bucketArn}/sweeps/${sweep.sweepId}/*`]);
      expect(bySid(statements, "ReadWriteSweepRungs").Action).toEqual(["s3:GetObject", "s3:PutObject"]);
      const text = JSON.stringify(statements);
      for (const other of plan.trials.filter((t) => t !== trial)) expect(text).not.toContain(other.runId);
      // Only the keeper starts trials and releases the winner: no node moves schedules, passes roles, publishes or signs.
      expect(text).not.toContain("scheduler:");
      expect(text).not.toContain("iam:PassRole");
      expect(text).not.toContain("kms:Sign");
      expect(text).not.toContain(await valueOf(sweep.ota.bucketArn));
    }
  });

  it("reports every trial's alarms to the sweep's one topic, with no topic, budget or dashboard per trial", async () => {
    const topicArn = await valueOf(sweep.alertTopicArn);
    const trialAlarms = runtime.ofType(TYPES.alarm).filter((a) => /-t0\d-guardrails-/.test(a.name));
    expect(trialAlarms).toHaveLength(8);
    for (const alarm of trialAlarms) {
      expect(alarm.inputs.alarmActions).toContain(topicArn);
      // A waiting trial's group publishes no GPU metrics: never alarmed for that.
      expect(alarm.inputs.treatMissingData).toBe("notBreaching");
    }
    expect(runtime.ofType(TYPES.budget).map((b) => b.name)).toEqual(["yolo-train-dev-budget"]);
    expect(runtime.ofType("aws:sns/topicSubscription:TopicSubscription")).toEqual([]);
  });

  it("writes the manifest at sweeps/<sweepId>/sweep.json in the artifact bucket, naming the real groups and backstop schedules", async () => {
    const [object] = runtime.ofType(TYPES.object);
    expect(object!.inputs.key).toBe(sweepManifestKey(sweep.sweepId));
    expect(object!.inputs.bucket).toBe(await valueOf(sweep.artifactBucket.bucketName));
    const manifest = parseSweepManifest(object!.inputs.content, sweep.sweepId);
    const groups = runtime.ofType(TYPES.group).map((g) => g.inputs.name as string);
    const schedules = runtime.ofType(TYPES.schedule).map((s) => s.outputs?.name as string);
    expect(manifest.trials.map((t) => t.trialId)).toEqual(["t01", "t02", "t03", "t04"]);
    for (const [i, trial] of manifest.trials.entries()) {
      expect(trial.runId).toBe(plan.trials[i]!.runId);
      expect(groups).toContain(trial.groupName);
      expect(schedules).toContain(trial.backstopScheduleName);
      expect(trial.usdPerHour).toBe(sweep.trials[i]!.estimate.capacityRates.chosen.usdPerHour);
      expect(trial.estimatedUsd).toBe(sweep.trials[i]!.estimate.cost!.estimatedUsd);
      expect(trial.maxRuntimeHours).toBe(2);
      expect(trial.stackConfig).toMatchObject({ stage: "debug", epochs: 27, imgsz: plan.trials[i]!.params.imgsz, hyperparameters: { optimizer: "SGD", lr0: plan.trials[i]!.params.lr0 } });
    }
    expect(manifest).toMatchObject({ maxParallel: 2, budgetUsd: 40, metric: "metrics/mAP50-95(B)", asha: { rungs: [3, 9], reductionFactor: 3 } });
    expect(manifest.ota).toEqual({
      bucket: await valueOf(sweep.ota.bucketName),
      prefix: "models/dev/",
      modelName: "dev",
      channel: "candidate",
      signingKeyId: await valueOf(sweep.ota.signingKeyArn),
    });
    // Each backstop in the manifest scales its own trial's group.
    for (const trial of manifest.trials) {
      const schedule = runtime.ofType(TYPES.schedule).find((s) => s.outputs?.name === trial.backstopScheduleName)!;
      expect(JSON.parse(schedule.inputs.target.input).AutoScalingGroupName).toBe(trial.groupName);
    }
  });

  it("creates one keeper: Node.js 22 on arm64, one round at a time, its environment naming the bucket and the sweep", async () => {
    const fns = runtime.ofType(TYPES.fn).filter((f) => f.name.includes("keeper"));
    expect(fns).toHaveLength(1);
    expect(fns[0]!.inputs).toMatchObject({
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      handler: KEEPER_FUNCTION_HANDLER,
      reservedConcurrentExecutions: 1,
      environment: { variables: { [KEEPER_ENV.bucket]: await valueOf(sweep.artifactBucket.bucketName), [KEEPER_ENV.sweepId]: sweep.sweepId } },
    });
  });

  it("runs the keeper every minute, only once the manifest exists", async () => {
    const [schedule] = named(TYPES.schedule, "yolo-train-dev-keeper-schedule");
    expect(schedule!.inputs.scheduleExpression).toBe("rate(1 minute)");
    expect(schedule!.inputs.target.arn).toBe(await valueOf(sweep.keeper.functionArn));
    expect(schedule!.dependencies).toContain(await valueOf(sweep.manifest.urn));
  });

  it("gives the keeper least privilege: its own sweep's objects, the trials' runs, its own groups by tag, their backstops by name", async () => {
    const statements = keeperStatements();
    const bucketArn = await valueOf(sweep.artifactBucket.bucketArn);
    expect(statements.map((s) => s.Sid)).toEqual([
      "ReadTrialRuns",
      "ReadWriteOwnSweep",
      "ListOwnSweepAndRuns",
      "DescribeGroups",
      "StartOwnTrials",
      "MoveTrialBackstops",
      "PassBackstopRoles",
      "ListModelReleases",
      "PublishModelRelease",
      "SignModelRelease",
      "WriteOwnLogs",
    ]);
    expect(bySid(statements, "ReadTrialRuns")).toMatchObject({ Action: ["s3:GetObject"], Resource: `${bucketArn}/runs/*` });
    expect(bySid(statements, "ReadWriteOwnSweep")).toMatchObject({ Action: ["s3:GetObject", "s3:PutObject"], Resource: `${bucketArn}/sweeps/${sweep.sweepId}/*` });
    expect(bySid(statements, "ListOwnSweepAndRuns").Condition).toEqual({ StringLike: { "s3:prefix": [`sweeps/${sweep.sweepId}/`, `sweeps/${sweep.sweepId}/*`, "runs/", "runs/*"] } });
    expect(bySid(statements, "DescribeGroups")).toMatchObject({ Action: ["autoscaling:DescribeAutoScalingGroups"], Resource: "*" });
    expect(bySid(statements, "StartOwnTrials")).toMatchObject({
      Action: ["autoscaling:UpdateAutoScalingGroup"],
      Condition: { StringEquals: { [`autoscaling:ResourceTag/${SWEEP_TAG_KEY}`]: sweep.sweepId } },
    });
    expect(bySid(statements, "PassBackstopRoles")).toMatchObject({ Action: ["iam:PassRole"], Condition: { StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" } } });
    expect(list(bySid(statements, "PublishModelRelease").Resource)).toEqual([`${await valueOf(sweep.ota.bucketArn)}/models/dev/*`]);
    expect(list(bySid(statements, "SignModelRelease").Resource)).toEqual([await valueOf(sweep.ota.signingKeyArn)]);
    const everything = JSON.stringify(statements);
    expect(everything).not.toMatch(/s3:DeleteObject|s3:\*|autoscaling:\*|CreateOrUpdateTags|kms:Decrypt/);
    expect(everything).not.toContain(await valueOf(sweep.otaBucket!.rootKeyArn));
    expect(everything).not.toContain(await valueOf(sweep.otaBucket!.timestampKeyArn));
  });

  it("matches every trial's real backstop schedule and role by its pattern, and nothing of the keeper's own", () => {
    const statements = keeperStatements();
    const scheduleArnPattern = list(bySid(statements, "MoveTrialBackstops").Resource)[0]!;
    const roleArnPattern = list(bySid(statements, "PassBackstopRoles").Resource)[0]!;
    const backstops = runtime.ofType(TYPES.schedule).filter((s) => s.name.includes("guardrails-backstop"));
    expect(backstops).toHaveLength(4);
    for (const schedule of backstops) expect(matchesIamPattern(scheduleArnPattern, String(schedule.outputs!.arn))).toBe(true);
    const roles = runtime.ofType(TYPES.role);
    const backstopRoles = roles.filter((r) => r.name.includes("guardrails-backstop"));
    expect(backstopRoles).toHaveLength(4);
    for (const role of backstopRoles) expect(matchesIamPattern(roleArnPattern, String(role.outputs!.arn))).toBe(true);
    // Not the node roles, the keeper's roles, the timestamp function's or the keeper's own schedule.
    for (const role of roles.filter((r) => !r.name.includes("guardrails-backstop"))) expect([role.name, matchesIamPattern(roleArnPattern, String(role.outputs!.arn))]).toEqual([role.name, false]);
    for (const schedule of runtime.ofType(TYPES.schedule).filter((s) => !s.name.includes("guardrails-backstop"))) {
      expect(matchesIamPattern(scheduleArnPattern, String(schedule.outputs!.arn))).toBe(false);
    }
  });

  it("budgets the sweep over its tag, alerting the sweep's topic", async () => {
    const [budget] = runtime.ofType(TYPES.budget);
    expect(budget!.inputs).toMatchObject({ limitAmount: "40", costFilters: [{ name: "TagKeyValue", values: [`user:${SWEEP_TAG_KEY}$${sweep.sweepId}`] }] });
    const topicArn = await valueOf(sweep.alertTopicArn);
    expect(budget!.inputs.notifications.every((n: { subscriberSnsTopicArns: string[] }) => n.subscriberSnsTopicArns[0] === topicArn)).toBe(true);
  });

  it("alarms the topic when the keeper's rounds keep failing", async () => {
    const [alarm] = named(TYPES.alarm, "yolo-train-dev-keeper-failed");
    expect(alarm!.inputs).toMatchObject({ namespace: "AWS/Lambda", metricName: "Errors", dimensions: { FunctionName: await valueOf(sweep.keeper.functionName) }, treatMissingData: "notBreaching" });
    expect(alarm!.inputs.alarmActions).toEqual([await valueOf(sweep.alertTopicArn)]);
  });

  it("shows every trial's metric and epoch on one dashboard, with the alarms and the trials' logs", async () => {
    const [dashboard] = runtime.ofType(TYPES.dashboard);
    const body = JSON.parse(dashboard!.inputs.dashboardBody) as { widgets: { type: string; properties: Record<string, any> }[] };
    const graphs = body.widgets.filter((w) => w.type === "metric");
    expect(graphs.map((g) => g.properties.title)).toEqual(["mAP50-95 per trial, against time", "Epoch per trial, against time (current phase)"]);
    const groups = await valueOf(sweep.trialOutputs);
    const lines = graphs[0]!.properties.metrics as unknown[][];
    expect(lines).toHaveLength(4);
    expect(lines[0]).toEqual([TRAINING_METRIC_NAMESPACE, "mAP50-95", "RunId", plan.trials[0]!.runId, "AutoScalingGroupName", groups[0]!.groupName, { stat: "Maximum", label: "t01 imgsz=320 lr0=0.01" }]);
    const alarms = body.widgets.filter((w) => w.type === "alarm").flatMap((w) => w.properties.alarms as string[]);
    expect(alarms).toHaveLength(9);
    const logs = body.widgets.filter((w) => w.type === "log").map((w) => w.properties.query as string);
    for (const trial of sweep.trials) expect(logs[0]).toContain(`SOURCE '${await valueOf(trial.nodeGroup.logGroupName)}'`);
    expect(body.widgets[0]!.properties.markdown).toContain("against time, not epochs");
  });

  it("exports the sweep id, the bucket, the trials and the keeper", async () => {
    expect(sweep.sweepId).toMatch(/^sweep-[0-9a-f]{12}$/);
    expect(await valueOf(sweep.trialOutputs)).toEqual(
      plan.trials.map((t) => ({ trialId: t.id, runId: t.runId, groupName: expect.stringMatching(new RegExp(`^yolo-train-dev-${t.id}-${t.runId}$`)) })),
    );
    expect(await valueOf(sweep.keeper.functionName)).toMatch(/keeper/);
    expect(await valueOf(sweep.dashboardUrl)).toContain("dashboards:name=yolo-train-dev-sweep");
  });

  it("keeps its sweep id for the same plan, and changes it with the trials or ASHA", () => {
    const again = fourTrialPlan();
    const other = fourTrialPlan({}, { asha: { minEpochs: 2 } });
    expect(idOf(again)).toBe(sweep.sweepId);
    expect(idOf(other)).not.toBe(sweep.sweepId);
  });
});

/** The id a Sweep of this plan gets: what deriveSweepId makes of its runs, metric and ASHA. */
function idOf(p: ReturnType<typeof fourTrialPlan>): string {
  return deriveSweepId({ runIds: p.trials.map((t) => t.runId), metric: p.metric, direction: p.direction, rungs: p.asha ? [...p.asha.rungs] : null, reductionFactor: p.asha?.reductionFactor ?? null });
}
