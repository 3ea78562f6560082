import * as pulumi from "@pulumi/pulumi";
import { Guardrails, type GuardrailsArgs } from "../../../components/guardrails/guardrails";
import { InvalidInputError } from "../../../runspec/problems";
import { FAKE_ACCOUNT_ID, type RecordedResource } from "../../../offline/fakeAws";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";

const GROUP_NAME = "gpu-asg";
const GROUP_ARN = `arn:aws:autoscaling:us-east-1:${FAKE_ACCOUNT_ID}:autoScalingGroup:0b1c2d3e-aaaa-bbbb-cccc-1234567890ab:autoScalingGroupName/${GROUP_NAME}`;
const TAGS = { "yolo-train:stack": "test" };

const TYPES = {
  topic: "aws:sns/topic:Topic",
  topicPolicy: "aws:sns/topicPolicy:TopicPolicy",
  subscription: "aws:sns/topicSubscription:TopicSubscription",
  policy: "aws:autoscaling/policy:Policy",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  schedule: "aws:scheduler/schedule:Schedule",
  budget: "aws:budgets/budget:Budget",
} as const;

let runtime: OfflineRuntime;
/** Resource options the component passed, by resource name (the recorder keeps only inputs). */
const ignoreChangesByName = new Map<string, string[]>();
const replaceOnChangesByName = new Map<string, string[]>();

beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "test" });
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    ignoreChangesByName.set(req.getName(), req.getIgnorechangesList());
    replaceOnChangesByName.set(req.getName(), req.getReplaceonchangesList());
    return register(req, callback);
  };
});

function args(extra: Partial<GuardrailsArgs> = {}): GuardrailsArgs {
  return {
    groupName: GROUP_NAME,
    groupArn: GROUP_ARN,
    maxRuntimeHours: 2,
    launchTime: new Date("2026-01-01T00:00:00Z"),
    costAllocationTag: { key: "yolo-train:stack", value: "test" },
    tags: TAGS,
    ...extra,
  };
}

/** Waits for every output, then until the recorder has seen the expected children (or gives up). */
async function built(g: Guardrails, expectedChildren: number): Promise<void> {
  await Promise.all([
    valueOf(g.alertTopicArn),
    valueOf(g.idleAlarmArn),
    valueOf(g.starvedAlarmArn),
    valueOf(g.scaleToZeroPolicyArn),
    valueOf(g.backstopAt),
    ...(g.budgetName ? [valueOf(g.budgetName)] : []),
  ]);
  for (let i = 0; i < 100 && childrenNamed(nameOf(g)).length < expectedChildren; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  // A little longer, so resources that should NOT exist would have had the time to appear.
  await new Promise((r) => setTimeout(r, 20));
}

const names = new WeakMap<Guardrails, string>();
function make(name: string, extra: Partial<GuardrailsArgs> = {}): Guardrails {
  const g = new Guardrails(name, args(extra));
  names.set(g, name);
  return g;
}
function nameOf(g: Guardrails): string {
  return names.get(g)!;
}
function childrenNamed(prefix: string): RecordedResource[] {
  return runtime.resources.filter((r) => r.custom && r.name.startsWith(`${prefix}-`));
}
function mine(prefix: string, type: string): RecordedResource[] {
  return childrenNamed(prefix).filter((r) => r.type === type);
}
function one(prefix: string, type: string): RecordedResource {
  const found = mine(prefix, type);
  if (found.length !== 1) throw new Error(`expected one ${type} under ${prefix}, found ${found.length}`);
  return found[0]!;
}
function alarm(prefix: string, suffix: "gpu-idle" | "gpu-starved"): RecordedResource {
  const found = mine(prefix, TYPES.alarm).filter((r) => r.name === `${prefix}-${suffix}`);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe("Guardrails with budget and alert email", () => {
  let g: Guardrails;
  beforeAll(async () => {
    g = make("full", { budgetUsd: 120, alertEmail: "ml-team@example.com" });
    // topic, topic policy, subscription, scaling policy, 2 alarms, role, role policy, schedule, budget
    await built(g, 10);
  });

  it("parents every child to the component", () => {
    const component = runtime.ofType("yolo-train:guardrails:Guardrails").filter((r) => r.name === "full");
    expect(component).toHaveLength(1);
    const children = childrenNamed("full");
    expect(children).toHaveLength(10);
    for (const child of children) expect(child.parentUrn).toBe(component[0]!.urn);
  });

  it("scales the group to exactly zero with a simple scaling policy", () => {
    expect(one("full", TYPES.policy).inputs).toMatchObject({
      autoscalingGroupName: GROUP_NAME,
      policyType: "SimpleScaling",
      adjustmentType: "ExactCapacity",
      scalingAdjustment: 0,
    });
  });

  it.each<[string, unknown]>([
    ["namespace", "CWAgent"],
    ["metricName", "nvidia_smi_utilization_gpu"],
    ["dimensions", { AutoScalingGroupName: GROUP_NAME }],
    ["statistic", "Maximum"],
    ["period", 60],
    ["evaluationPeriods", 15],
    ["datapointsToAlarm", 15],
    ["threshold", 5],
    ["comparisonOperator", "LessThanThreshold"],
    ["treatMissingData", "notBreaching"],
    ["actionsEnabled", true],
  ])("idle alarm: %s is %j", (property, expected) => {
    expect(alarm("full", "gpu-idle").inputs[property]).toEqual(expected);
  });

  it("idle alarm scales to zero and notifies, and does nothing on OK or missing data", async () => {
    const inputs = alarm("full", "gpu-idle").inputs;
    expect(inputs.alarmActions).toEqual([await valueOf(g.scaleToZeroPolicyArn), await valueOf(g.alertTopicArn)]);
    expect(inputs.okActions ?? []).toEqual([]);
    expect(inputs.insufficientDataActions ?? []).toEqual([]);
  });

  it.each<[string, unknown]>([
    ["namespace", "CWAgent"],
    ["metricName", "nvidia_smi_utilization_gpu"],
    ["dimensions", { AutoScalingGroupName: GROUP_NAME }],
    ["statistic", "Average"],
    ["period", 60],
    ["evaluationPeriods", 15],
    ["datapointsToAlarm", 15],
    ["threshold", 60],
    ["comparisonOperator", "LessThanThreshold"],
    ["treatMissingData", "notBreaching"],
  ])("starved alarm: %s is %j", (property, expected) => {
    expect(alarm("full", "gpu-starved").inputs[property]).toEqual(expected);
  });

  it("starved alarm only notifies", async () => {
    const inputs = alarm("full", "gpu-starved").inputs;
    expect(inputs.alarmActions).toEqual([await valueOf(g.alertTopicArn)]);
    expect(inputs.okActions ?? []).toEqual([]);
  });

  it("exposes the alarm ARNs and names", async () => {
    expect(await valueOf(g.idleAlarmArn)).toMatch(/^arn:aws:cloudwatch:us-east-1:\d{12}:alarm:full-gpu-idle/);
    expect(await valueOf(g.idleAlarmName)).toMatch(/^full-gpu-idle/);
    expect(await valueOf(g.starvedAlarmArn)).toMatch(/:alarm:full-gpu-starved/);
  });

  it("does not encrypt the alert topic with a KMS key (aws/sns would silence CloudWatch alarms)", () => {
    expect(one("full", TYPES.topic).inputs.kmsMasterKeyId).toBeUndefined();
  });

  it("lets only CloudWatch and Budgets publish to the topic, for this account", async () => {
    const topicArn = await valueOf(g.alertTopicArn);
    const topicPolicy = one("full", TYPES.topicPolicy).inputs;
    expect(topicPolicy.arn).toBe(topicArn);
    const doc = JSON.parse(topicPolicy.policy);
    expect(doc.Statement.map((s: any) => s.Principal.Service).sort()).toEqual(["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]);
    for (const s of doc.Statement) {
      expect(s).toMatchObject({ Effect: "Allow", Action: "sns:Publish", Resource: topicArn });
      expect(s.Condition.StringEquals["aws:SourceAccount"]).toBe(FAKE_ACCOUNT_ID);
    }
  });

  it("subscribes the alert email to the topic", async () => {
    expect(one("full", TYPES.subscription).inputs).toEqual(
      expect.objectContaining({ topic: await valueOf(g.alertTopicArn), protocol: "email", endpoint: "ml-team@example.com" }),
    );
  });

  it("schedules the backstop once, at launch + max runtime in UTC, with no flexible window", async () => {
    const schedule = one("full", TYPES.schedule).inputs;
    expect(schedule.scheduleExpression).toBe("at(2026-01-01T02:00:00)");
    expect(schedule.scheduleExpressionTimezone).toBe("UTC");
    expect(schedule.flexibleTimeWindow).toEqual({ mode: "OFF" });
    expect(await valueOf(g.backstopAt)).toBe("2026-01-01T02:00:00Z");
    expect(await valueOf(g.backstopScheduleName)).toMatch(/^full-backstop/);
  });

  it("keeps the first backstop time on later updates of the same run", () => {
    const schedule = one("full", TYPES.schedule);
    expect(ignoreChangesByName.get(schedule.name)).toEqual(["scheduleExpression"]);
    // ...but a new run (a new group in the target input) gets a new schedule, re-anchored.
    expect(replaceOnChangesByName.get(schedule.name)).toEqual(["target.input"]);
  });

  it("backstop calls UpdateAutoScalingGroup with min and desired 0, as the scheduler role, with retries", () => {
    const target = one("full", TYPES.schedule).inputs.target;
    expect(target.arn).toBe("arn:aws:scheduler:::aws-sdk:autoscaling:updateAutoScalingGroup");
    expect(JSON.parse(target.input)).toEqual({ AutoScalingGroupName: GROUP_NAME, MinSize: 0, DesiredCapacity: 0 });
    const role = one("full", TYPES.role);
    expect(target.roleArn).toBe(`arn:aws:iam::${FAKE_ACCOUNT_ID}:role/${role.name}-0a1b2c3`);
    expect(target.retryPolicy.maximumRetryAttempts).toBeGreaterThan(0);
    expect(target.retryPolicy.maximumEventAgeInSeconds).toBeGreaterThanOrEqual(3600);
  });

  it("scheduler role is assumable only by EventBridge Scheduler for this account", () => {
    const trust = JSON.parse(one("full", TYPES.role).inputs.assumeRolePolicy);
    expect(trust.Statement).toHaveLength(1);
    expect(trust.Statement[0]).toEqual({
      Effect: "Allow",
      Principal: { Service: "scheduler.amazonaws.com" },
      Action: "sts:AssumeRole",
      Condition: { StringEquals: { "aws:SourceAccount": FAKE_ACCOUNT_ID } },
    });
  });

  it("scheduler role may only update this group", () => {
    const rolePolicy = one("full", TYPES.rolePolicy).inputs;
    expect(rolePolicy.role).toBe(`${one("full", TYPES.role).name}-id`);
    const doc = JSON.parse(rolePolicy.policy);
    expect(doc.Statement).toEqual([{ Effect: "Allow", Action: "autoscaling:UpdateAutoScalingGroup", Resource: GROUP_ARN }]);
  });

  it("budgets monthly cost for the stack's cost allocation tag", async () => {
    const budget = one("full", TYPES.budget).inputs;
    expect(budget).toMatchObject({ budgetType: "COST", timeUnit: "MONTHLY", limitAmount: "120", limitUnit: "USD" });
    expect(budget.costFilters).toEqual([{ name: "TagKeyValue", values: ["user:yolo-train:stack$test"] }]);
    expect(await valueOf(g.budgetName!)).toMatch(/^full-budget/);
  });

  it("budget alerts at 80 % and 100 % actual and 100 % forecast, to the topic and the email", async () => {
    const topicArn = await valueOf(g.alertTopicArn);
    const notifications = one("full", TYPES.budget).inputs.notifications as any[];
    expect(notifications.map((n) => `${n.notificationType}:${n.threshold}`).sort()).toEqual(["ACTUAL:100", "ACTUAL:80", "FORECASTED:100"]);
    for (const n of notifications) {
      expect(n).toMatchObject({
        comparisonOperator: "GREATER_THAN",
        thresholdType: "PERCENTAGE",
        subscriberSnsTopicArns: [topicArn],
        subscriberEmailAddresses: ["ml-team@example.com"],
      });
    }
  });

  it.each([TYPES.topic, TYPES.alarm, TYPES.role, TYPES.budget])("tags every %s", (type) => {
    const found = mine("full", type);
    expect(found.length).toBeGreaterThan(0);
    for (const r of found) expect(r.inputs.tags).toEqual(TAGS);
  });
});

describe("Guardrails without budget or email", () => {
  let g: Guardrails;
  beforeAll(async () => {
    g = make("bare", { idleMinutes: 30, idleGpuPercent: 10, maxRuntimeHours: 72.5 });
    await built(g, 8);
  });

  it("creates no budget and no email subscription", () => {
    expect(mine("bare", TYPES.budget)).toEqual([]);
    expect(mine("bare", TYPES.subscription)).toEqual([]);
    expect(g.budgetName).toBeUndefined();
    expect(childrenNamed("bare")).toHaveLength(8);
  });

  it("applies the idle settings to the idle alarm", () => {
    expect(alarm("bare", "gpu-idle").inputs).toMatchObject({ evaluationPeriods: 30, datapointsToAlarm: 30, threshold: 10 });
  });

  it("backstops at launch + 72.5 h", async () => {
    expect(one("bare", TYPES.schedule).inputs.scheduleExpression).toBe("at(2026-01-04T00:30:00)");
    expect(await valueOf(g.backstopAt)).toBe("2026-01-04T00:30:00Z");
  });
});

describe("Guardrails with a budget but no email", () => {
  it("sends budget alerts to the topic only", async () => {
    const g = make("topiconly", { budgetUsd: 10 });
    await built(g, 9);
    const notifications = one("topiconly", TYPES.budget).inputs.notifications as any[];
    expect(notifications).toHaveLength(3);
    for (const n of notifications) {
      expect(n.subscriberSnsTopicArns).toEqual([await valueOf(g.alertTopicArn)]);
      expect(n.subscriberEmailAddresses).toBeUndefined();
    }
    expect(mine("topiconly", TYPES.subscription)).toEqual([]);
  });
});

describe("Guardrails of a sweep trial: a given topic, a group waiting at 0", () => {
  const TOPIC = `arn:aws:sns:us-east-1:${FAKE_ACCOUNT_ID}:sweep-alerts`;
  let g: Guardrails;
  beforeAll(async () => {
    g = make("trial", { alertTopicArn: TOPIC, budgetUsd: 10 });
    // scaling policy, 2 alarms, role, role policy, schedule, budget: no topic, policy or subscription
    await built(g, 7);
  });

  it("creates no topic of its own: every alarm and the budget report to the given one", async () => {
    expect(mine("trial", TYPES.topic)).toEqual([]);
    expect(mine("trial", TYPES.topicPolicy)).toEqual([]);
    expect(mine("trial", TYPES.subscription)).toEqual([]);
    expect(await valueOf(g.alertTopicArn)).toBe(TOPIC);
    expect(alarm("trial", "gpu-idle").inputs.alarmActions).toEqual([await valueOf(g.scaleToZeroPolicyArn), TOPIC]);
    expect(alarm("trial", "gpu-starved").inputs.alarmActions).toEqual([TOPIC]);
    for (const n of one("trial", TYPES.budget).inputs.notifications as { subscriberSnsTopicArns: string[] }[]) expect(n.subscriberSnsTopicArns).toEqual([TOPIC]);
  });

  it("never alarms a group that waits at 0 nodes: it publishes no GPU metrics, and missing data is not breaching", () => {
    for (const suffix of ["gpu-idle", "gpu-starved"] as const) {
      const inputs = alarm("trial", suffix).inputs;
      expect([suffix, inputs.treatMissingData]).toEqual([suffix, "notBreaching"]);
      expect(inputs.insufficientDataActions ?? []).toEqual([]);
    }
  });

  it("exports the backstop's schedule and role, which whoever starts the trial moves and passes", async () => {
    const role = mine("trial", TYPES.role)[0]!;
    const schedule = one("trial", TYPES.schedule);
    expect(await valueOf(g.backstopRoleArn)).toBe(role.outputs!.arn);
    expect(await valueOf(g.backstopRoleName)).toBe(role.outputs!.name);
    expect(await valueOf(g.backstopScheduleArn)).toBe(schedule.outputs!.arn);
    expect(schedule.inputs.target.roleArn).toBe(await valueOf(g.backstopRoleArn));
  });

  it("refuses an email with a given topic, naming it, with the other problems", () => {
    let error: unknown;
    try {
      make("trial-email", { alertTopicArn: TOPIC, alertEmail: "ml-team@example.com", idleMinutes: 0 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems.map((p) => p.key).sort()).toEqual(["Guardrails.alertEmail", "Guardrails.idleMinutes"]);
  });
});

describe("Guardrails with invalid arguments", () => {
  it.each<[string, Partial<GuardrailsArgs>, string]>([
    ["idleMinutes", { idleMinutes: 0 }, "Guardrails.idleMinutes"],
    ["idleGpuPercent", { idleGpuPercent: 100 }, "Guardrails.idleGpuPercent"],
    ["starvedGpuPercent", { starvedGpuPercent: 0 }, "Guardrails.starvedGpuPercent"],
    ["starvedMinutes", { starvedMinutes: 2000 }, "Guardrails.starvedMinutes"],
    ["maxRuntimeHours", { maxRuntimeHours: 0 }, "Guardrails.maxRuntimeHours"],
    ["budgetUsd", { budgetUsd: -1 }, "Guardrails.budgetUsd"],
    ["alertEmail", { alertEmail: "not-an-email" }, "Guardrails.alertEmail"],
    ["launchTime", { launchTime: new Date(Number.NaN) }, "Guardrails.launchTime"],
  ])("rejects a bad %s, naming it, and registers nothing", async (_arg, extra, key) => {
    const before = runtime.resources.length;
    expect(() => make(`bad-${key}`, extra)).toThrow(InvalidInputError);
    expect(() => make(`bad2-${key}`, extra)).toThrow(key);
    await new Promise((r) => setTimeout(r, 20));
    expect(runtime.resources.length).toBe(before);
  });

  it("lists every bad argument in one error", () => {
    let error: unknown;
    try {
      make("bad-many", { idleMinutes: 0, idleGpuPercent: 0, maxRuntimeHours: -2, alertEmail: "x" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems.map((p) => p.key)).toEqual(
      expect.arrayContaining(["Guardrails.idleMinutes", "Guardrails.idleGpuPercent", "Guardrails.maxRuntimeHours", "Guardrails.alertEmail"]),
    );
  });
});

afterAll(() => {
  expect(runtime.cloud.unknownInvokes).toEqual([]);
});
