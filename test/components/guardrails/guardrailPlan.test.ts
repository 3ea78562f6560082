import fc from "fast-check";
import { IDLE_MINUTES, MAX_RUNTIME_HOURS } from "../../../runspec/limits";
import { InvalidInputError } from "../../../runspec/problems";
import {
  alertTopicPolicy,
  atExpression,
  backstopInput,
  backstopTargetArn,
  backstopTime,
  budgetNotifications,
  costAllocationFilterValue,
  GUARDRAIL_DEFAULTS,
  type GuardrailSettingsInput,
  idleAlarmSpec,
  parseArn,
  parseAtExpression,
  resolveGuardrailSettings,
  schedulerRolePolicy,
  schedulerTrustPolicy,
  starvedAlarmSpec,
} from "../../../components/guardrails/guardrailPlan";

const BASE: GuardrailSettingsInput = {
  maxRuntimeHours: 2,
  launchTime: new Date("2026-01-01T00:00:00Z"),
  costAllocationTag: { key: "yolo-train:stack", value: "dev" },
};

function problemKeys(input: GuardrailSettingsInput): string[] {
  try {
    resolveGuardrailSettings(input);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    return (e as InvalidInputError).problems.map((p) => p.key);
  }
  return [];
}

describe("resolveGuardrailSettings", () => {
  it("fills the documented defaults: 15 idle minutes at 5 %, starved below 60 % for 15 minutes", () => {
    const s = resolveGuardrailSettings(BASE);
    expect(s).toMatchObject({ idleMinutes: 15, idleGpuPercent: 5, starvedGpuPercent: 60, starvedMinutes: 15, maxRuntimeHours: 2 });
    expect(GUARDRAIL_DEFAULTS).toEqual({ idleMinutes: 15, idleGpuPercent: 5, starvedGpuPercent: 60, starvedMinutes: 15 });
    expect(s.budgetUsd).toBeUndefined();
    expect(s.alertEmail).toBeUndefined();
  });

  it("uses the injected clock when launchTime is omitted", () => {
    const now = new Date("2030-05-06T07:08:09Z");
    const { launchTime: _omitted, ...rest } = BASE;
    expect(resolveGuardrailSettings(rest, "Guardrails", () => now).launchTime).toBe(now);
  });

  it.each<[string, Partial<GuardrailSettingsInput>, string]>([
    ["idleMinutes 0", { idleMinutes: 0 }, "Guardrails.idleMinutes"],
    ["idleMinutes below the range", { idleMinutes: IDLE_MINUTES.min - 1 }, "Guardrails.idleMinutes"],
    ["idleMinutes above the range", { idleMinutes: IDLE_MINUTES.max + 1 }, "Guardrails.idleMinutes"],
    ["starvedMinutes above one day", { starvedMinutes: 1441 }, "Guardrails.starvedMinutes"],
    ["idleMinutes fractional", { idleMinutes: 2.5 }, "Guardrails.idleMinutes"],
    ["starvedMinutes 0", { starvedMinutes: 0 }, "Guardrails.starvedMinutes"],
    ["idleGpuPercent 0", { idleGpuPercent: 0 }, "Guardrails.idleGpuPercent"],
    ["idleGpuPercent 100", { idleGpuPercent: 100 }, "Guardrails.idleGpuPercent"],
    ["starvedGpuPercent negative", { starvedGpuPercent: -1 }, "Guardrails.starvedGpuPercent"],
    ["starvedGpuPercent not above idle", { idleGpuPercent: 50, starvedGpuPercent: 40 }, "Guardrails.starvedGpuPercent"],
    ["maxRuntimeHours 0", { maxRuntimeHours: 0 }, "Guardrails.maxRuntimeHours"],
    ["maxRuntimeHours infinite", { maxRuntimeHours: Infinity }, "Guardrails.maxRuntimeHours"],
    ["maxRuntimeHours over 30 days", { maxRuntimeHours: MAX_RUNTIME_HOURS.max + 1 }, "Guardrails.maxRuntimeHours"],
    ["launchTime invalid", { launchTime: new Date("not a date") }, "Guardrails.launchTime"],
    ["budgetUsd 0", { budgetUsd: 0 }, "Guardrails.budgetUsd"],
    ["budgetUsd negative", { budgetUsd: -5 }, "Guardrails.budgetUsd"],
    ["alertEmail without @", { alertEmail: "ml-team.example.com" }, "Guardrails.alertEmail"],
    ["alertEmail with a space", { alertEmail: "ml team@example.com" }, "Guardrails.alertEmail"],
    ["tag key with $", { costAllocationTag: { key: "a$b", value: "x" } }, "Guardrails.costAllocationTag.key"],
    ["tag key reserved aws:", { costAllocationTag: { key: "aws:createdBy", value: "x" } }, "Guardrails.costAllocationTag.key"],
    ["tag value with $", { costAllocationTag: { key: "k", value: "a$b" } }, "Guardrails.costAllocationTag.value"],
  ])("rejects %s, naming the argument", (_case, override, key) => {
    expect(problemKeys({ ...BASE, ...override })).toEqual([key]);
  });

  it("reports every problem at once", () => {
    const keys = problemKeys({ ...BASE, idleMinutes: 0, idleGpuPercent: 120, maxRuntimeHours: -1, budgetUsd: 0, alertEmail: "nope" });
    expect(keys).toEqual(
      expect.arrayContaining([
        "Guardrails.idleMinutes",
        "Guardrails.idleGpuPercent",
        "Guardrails.maxRuntimeHours",
        "Guardrails.budgetUsd",
        "Guardrails.alertEmail",
      ]),
    );
    expect(() => resolveGuardrailSettings({ ...BASE, idleMinutes: 0 })).toThrow(/nothing was created/);
  });

  it("accepts every whole number of idle minutes the run's limits allow (5 to 240, as the stack config) and nothing outside", () => {
    expect([IDLE_MINUTES.min, IDLE_MINUTES.max]).toEqual([5, 240]);
    fc.assert(
      fc.property(fc.integer({ min: -5000, max: 5000 }), (minutes) => {
        const ok = problemKeys({ ...BASE, idleMinutes: minutes }).length === 0;
        return ok === (minutes >= IDLE_MINUTES.min && minutes <= IDLE_MINUTES.max);
      }),
    );
  });

  it("words the idle range from the same numbers", () => {
    const [problem] = (() => {
      try {
        resolveGuardrailSettings({ ...BASE, idleMinutes: 1 });
      } catch (error) {
        return (error as InvalidInputError).problems;
      }
      return [];
    })();
    expect(problem?.allowed).toBe("a whole number of minutes from 5 to 240");
  });
});

describe("GPU alarm specs", () => {
  const settings = resolveGuardrailSettings({ ...BASE, idleMinutes: 20, idleGpuPercent: 7, starvedMinutes: 30, starvedGpuPercent: 55 });

  it("idle: the busiest GPU (Maximum) below the idle threshold for every one of idleMinutes 1-minute periods", () => {
    expect(idleAlarmSpec(settings)).toMatchObject({
      namespace: "CWAgent",
      metricName: "nvidia_smi_utilization_gpu",
      statistic: "Maximum",
      period: 60,
      evaluationPeriods: 20,
      datapointsToAlarm: 20,
      threshold: 7,
      comparisonOperator: "LessThanThreshold",
      treatMissingData: "notBreaching",
    });
  });

  it("starved: the mean GPU (Average) below the starved threshold for starvedMinutes", () => {
    expect(starvedAlarmSpec(settings)).toMatchObject({
      namespace: "CWAgent",
      metricName: "nvidia_smi_utilization_gpu",
      statistic: "Average",
      period: 60,
      evaluationPeriods: 30,
      datapointsToAlarm: 30,
      threshold: 55,
      comparisonOperator: "LessThanThreshold",
      treatMissingData: "notBreaching",
    });
  });
});

describe("max-runtime backstop time", () => {
  it("is launch + max runtime as a UTC at() expression", () => {
    const at = backstopTime(new Date("2026-01-01T00:00:00Z"), 2);
    expect(atExpression(at)).toBe("at(2026-01-01T02:00:00)");
    expect(parseAtExpression("at(2026-01-01T02:00:00)")).toBe("2026-01-01T02:00:00Z");
  });

  it("crosses days and years in UTC", () => {
    expect(atExpression(backstopTime(new Date("2026-12-31T23:30:00Z"), 72))).toBe("at(2027-01-03T23:30:00)");
  });

  it("rounds a fractional second up, never firing before the cap", () => {
    expect(atExpression(backstopTime(new Date("2026-01-01T00:00:00Z"), 1 / 7200))).toBe("at(2026-01-01T00:00:01)");
  });

  it("is never earlier than the cap and less than a second later, and parses back", () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date("2020-01-01T00:00:00Z"), max: new Date("2090-01-01T00:00:00Z"), noInvalidDate: true }),
        fc.double({ min: 0.001, max: 1000, noNaN: true }),
        (launch, hours) => {
          const at = backstopTime(launch, hours);
          const cap = launch.getTime() + hours * 3_600_000;
          const back = new Date(parseAtExpression(atExpression(at))).getTime();
          return at.getTime() >= cap && at.getTime() - cap < 1000 && back === at.getTime();
        },
      ),
    );
  });

  it("rejects anything but a one-time expression", () => {
    expect(() => parseAtExpression("rate(5 minutes)")).toThrow(/not a one-time/);
  });

  it("targets UpdateAutoScalingGroup through the universal target, setting min and desired to 0", () => {
    expect(backstopTargetArn()).toBe("arn:aws:scheduler:::aws-sdk:autoscaling:updateAutoScalingGroup");
    expect(JSON.parse(backstopInput("gpu-asg"))).toEqual({ AutoScalingGroupName: "gpu-asg", MinSize: 0, DesiredCapacity: 0 });
  });
});

describe("policy documents", () => {
  const groupArn = "arn:aws:autoscaling:eu-west-1:111122223333:autoScalingGroup:0b1c2d3e-aaaa:autoScalingGroupName/gpu-asg";

  it("parses ARNs whose resource part contains colons", () => {
    expect(parseArn(groupArn)).toEqual({
      partition: "aws",
      service: "autoscaling",
      region: "eu-west-1",
      account: "111122223333",
      resource: "autoScalingGroup:0b1c2d3e-aaaa:autoScalingGroupName/gpu-asg",
    });
    expect(() => parseArn("gpu-asg")).toThrow(/not an ARN/);
  });

  it("lets only CloudWatch alarms and Budgets of the topic's own account publish, in its partition", () => {
    const topicArn = "arn:aws-cn:sns:cn-north-1:111122223333:alerts";
    const doc = JSON.parse(alertTopicPolicy(topicArn));
    expect(doc.Statement).toHaveLength(2);
    for (const s of doc.Statement) {
      expect(s.Effect).toBe("Allow");
      expect(s.Action).toBe("sns:Publish");
      expect(s.Resource).toBe(topicArn);
      expect(s.Condition.StringEquals["aws:SourceAccount"]).toBe("111122223333");
    }
    expect(doc.Statement.map((s: any) => s.Principal)).toEqual([
      { Service: "cloudwatch.amazonaws.com" },
      { Service: "budgets.amazonaws.com" },
    ]);
    expect(doc.Statement[0].Condition.ArnLike["aws:SourceArn"]).toBe("arn:aws-cn:cloudwatch:cn-north-1:111122223333:alarm:*");
    expect(doc.Statement[1].Condition.ArnLike["aws:SourceArn"]).toBe("arn:aws-cn:budgets::111122223333:*");
  });

  it("trusts EventBridge Scheduler for this account only, and allows only UpdateAutoScalingGroup on the group", () => {
    const trust = JSON.parse(schedulerTrustPolicy("111122223333"));
    expect(trust.Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": "111122223333" } },
      },
    ]);
    const policy = JSON.parse(schedulerRolePolicy(groupArn));
    expect(policy.Statement).toEqual([{ Effect: "Allow", Action: "autoscaling:UpdateAutoScalingGroup", Resource: groupArn }]);
  });
});

describe("budget", () => {
  it("filters on the user cost allocation tag as user:<key>$<value>", () => {
    expect(costAllocationFilterValue({ key: "yolo-train:stack", value: "dev" })).toBe("user:yolo-train:stack$dev");
  });

  it("notifies at 80 % and 100 % actual and 100 % forecast, to the topic and the email", () => {
    const n = budgetNotifications("arn:aws:sns:us-east-1:1:t", "a@example.com");
    expect(n.map((x) => [x.notificationType, x.threshold])).toEqual([
      ["ACTUAL", 80],
      ["ACTUAL", 100],
      ["FORECASTED", 100],
    ]);
    for (const x of n) {
      expect(x).toMatchObject({
        comparisonOperator: "GREATER_THAN",
        thresholdType: "PERCENTAGE",
        subscriberSnsTopicArns: ["arn:aws:sns:us-east-1:1:t"],
        subscriberEmailAddresses: ["a@example.com"],
      });
    }
  });

  it("has no email subscribers without an alert email", () => {
    for (const x of budgetNotifications("arn:aws:sns:us-east-1:1:t")) {
      expect(x.subscriberEmailAddresses).toBeUndefined();
    }
  });
});
