import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  atExpression,
  BACKSTOP_RETRY_POLICY,
  backstopInput,
  backstopTargetArn,
  backstopTime,
  budgetNotifications,
  monthlyTagBudget,
  type GpuAlarmSpec,
  type GuardrailSettingsInput,
  idleAlarmSpec,
  parseArn,
  parseAtExpression,
  resolveGuardrailSettings,
  schedulerRolePolicy,
  schedulerTrustPolicy,
  starvedAlarmSpec,
} from "./guardrailPlan";
import { autoName, NAME_RULES } from "../naming/physicalNames";
import { alertTopic, subscribeAlertEmail } from "./alertTopic";
import { InvalidInputError, type Problem } from "../../runspec/problems";

export interface GuardrailsArgs extends Omit<GuardrailSettingsInput, "alertEmail"> {
  /**
   * Email address subscribed to the alert topic (AWS sends a confirmation mail that must be
   * accepted) and to the budget notifications; an output is checked once known.
   * @default alerts go to the SNS topic only
   */
  readonly alertEmail?: pulumi.Input<string>;
  /**
   * An SNS topic of someone else's to report to instead of a topic of the guardrails' own: a
   * sweep's, shared by all its trials, so one email subscription covers them. Its policy must let
   * CloudWatch alarms (and, with `budgetUsd`, AWS Budgets) of this account publish
   * (`alertTopicPolicy` in guardrailPlan.ts). Mutually exclusive with `alertEmail`: subscribe the
   * email to the given topic.
   * @default a new topic of the guardrails' own
   */
  readonly alertTopicArn?: pulumi.Input<string>;
  /** Name of the Auto Scaling group the guardrails watch and scale to zero. */
  readonly groupName: pulumi.Input<string>;
  /** ARN of that group; the backstop's IAM role may update this group only. */
  readonly groupArn: pulumi.Input<string>;
  /**
   * Tags for every taggable child (topic, alarms, role, budget).
   * @default no tags
   */
  readonly tags?: Record<string, string>;
}

/**
 * The off-node guardrails of one run: an idle-GPU alarm that scales the group to zero, a
 * starved-GPU alarm that notifies, a max-runtime backstop schedule, an optional monthly budget,
 * and the SNS topic they all report to (its own, or `alertTopicArn`). Every child's physical name
 * fits AWS's rules for any component name (see `autoName` in `physicalNames.ts`).
 *
 * A group that waits at 0 nodes (a sweep trial not started yet) is never alarmed: it publishes no
 * GPU metrics, and both alarms treat missing data as not breaching. Its backstop fires at
 * `launchTime + maxRuntimeHours` and sets an empty group to 0 again, which changes nothing; whoever
 * starts it later moves the backstop (`scheduler:UpdateSchedule`, passing {@link backstopRoleArn}),
 * and later `pulumi up`s keep the moved time (the schedule ignores changes of its expression).
 */
export class Guardrails extends pulumi.ComponentResource {
  readonly alertTopicArn: pulumi.Output<string>;
  readonly idleAlarmArn: pulumi.Output<string>;
  readonly idleAlarmName: pulumi.Output<string>;
  readonly starvedAlarmArn: pulumi.Output<string>;
  readonly starvedAlarmName: pulumi.Output<string>;
  readonly scaleToZeroPolicyArn: pulumi.Output<string>;
  /** The backstop's EventBridge Scheduler schedule (group `default`). */
  readonly backstopScheduleName: pulumi.Output<string>;
  readonly backstopScheduleArn: pulumi.Output<string>;
  /**
   * The role the backstop schedule runs as. Whoever moves the backstop (`scheduler:UpdateSchedule`,
   * e.g. a sweep's keeper when it starts a waiting trial) must be allowed `iam:PassRole` on it.
   */
  readonly backstopRoleArn: pulumi.Output<string>;
  readonly backstopRoleName: pulumi.Output<string>;
  /** When the backstop fires, ISO 8601 UTC; read from the schedule, so it stays the first time. */
  readonly backstopAt: pulumi.Output<string>;
  /** The budget's name; undefined when `budgetUsd` is not set. */
  readonly budgetName?: pulumi.Output<string>;

  constructor(name: string, args: GuardrailsArgs, opts?: pulumi.ComponentResourceOptions) {
    const { alertEmail: givenEmail, alertTopicArn: givenTopic, ...plainArgs } = args;
    const settings = resolvedWithTopic(givenTopic, givenEmail, () =>
      resolveGuardrailSettings(typeof givenEmail === "string" ? { ...plainArgs, alertEmail: givenEmail } : plainArgs, "Guardrails"),
    );
    super("yolo-train:guardrails:Guardrails", name, {}, opts);
    // An email from an output is checked as a plain one would be, once known.
    const alertEmail: pulumi.Input<string> | undefined =
      settings.alertEmail ??
      (givenEmail === undefined
        ? undefined
        : pulumi.output(givenEmail).apply((email) => resolveGuardrailSettings({ ...plainArgs, alertEmail: email }, "Guardrails").alertEmail!));
    const tags = args.tags;

    const own = givenTopic === undefined ? alertTopic(name, tags, { parent: this }) : undefined;
    const topic = { arn: own?.topic.arn ?? pulumi.output(givenTopic!) };
    const topicPolicy = own?.policy;
    if (alertEmail !== undefined) subscribeAlertEmail(name, topic.arn, alertEmail, { parent: this });

    const scaleToZero = new aws.autoscaling.Policy(
      autoName(NAME_RULES.autoScalingPolicy, `${name}-scale-to-zero`),
      {
        autoscalingGroupName: args.groupName,
        policyType: "SimpleScaling",
        adjustmentType: "ExactCapacity",
        scalingAdjustment: 0,
      },
      { parent: this },
    );

    const alarm = (suffix: string, spec: GpuAlarmSpec, actions: pulumi.Input<string>[]) =>
      new aws.cloudwatch.MetricAlarm(
        autoName(NAME_RULES.metricAlarm, `${name}-${suffix}`),
        {
          ...spec,
          dimensions: { AutoScalingGroupName: args.groupName },
          actionsEnabled: true,
          alarmActions: actions,
          tags,
        },
        { parent: this },
      );
    const idle = alarm("gpu-idle", idleAlarmSpec(settings), [scaleToZero.arn, topic.arn]);
    const starved = alarm("gpu-starved", starvedAlarmSpec(settings), [topic.arn]);

    const groupArnParts = pulumi.output(args.groupArn).apply(parseArn);
    const schedulerRole = new aws.iam.Role(
      autoName(NAME_RULES.iamRole, `${name}-backstop`),
      {
        description: "Lets EventBridge Scheduler scale one yolo-train GPU group to zero at its max runtime.",
        assumeRolePolicy: groupArnParts.apply((arn) => schedulerTrustPolicy(arn.account)),
        tags,
      },
      { parent: this },
    );
    const schedulerRolePolicyResource = new aws.iam.RolePolicy(
      autoName(NAME_RULES.iamRolePolicy, `${name}-backstop`),
      { role: schedulerRole.id, policy: pulumi.output(args.groupArn).apply(schedulerRolePolicy) },
      { parent: this },
    );
    const at = backstopTime(settings.launchTime, settings.maxRuntimeHours);
    const schedule = new aws.scheduler.Schedule(
      autoName(NAME_RULES.schedule, `${name}-backstop`),
      {
        description: `yolo-train max-runtime backstop: ${settings.maxRuntimeHours} h after launch, scale the group to zero.`,
        scheduleExpression: atExpression(at),
        scheduleExpressionTimezone: "UTC",
        flexibleTimeWindow: { mode: "OFF" },
        target: {
          arn: groupArnParts.apply((arn) => backstopTargetArn(arn.partition)),
          roleArn: schedulerRole.arn,
          input: pulumi.output(args.groupName).apply(backstopInput),
          retryPolicy: { ...BACKSTOP_RETRY_POLICY },
        },
      },
      {
        parent: this,
        dependsOn: [schedulerRolePolicyResource],
        // launchTime defaults to "now": without this every later `pulumi up` of the same run
        // would push the backstop out.
        ignoreChanges: ["scheduleExpression"],
        // A new run is a new group (its name carries the run id), so the target input changes:
        // replace the schedule then, and the new one is anchored at the new run's launch.
        replaceOnChanges: ["target.input"],
      },
    );

    if (settings.budgetUsd !== undefined) {
      const budget = new aws.budgets.Budget(
        autoName(NAME_RULES.budget, `${name}-budget`),
        {
          ...monthlyTagBudget(settings.budgetUsd, settings.costAllocationTag),
          notifications: pulumi.all([topic.arn, alertEmail]).apply(([arn, email]) => budgetNotifications(arn, email)),
          tags,
        },
        // Budgets checks it may publish to the topic when the notification is created.
        { parent: this, dependsOn: topicPolicy ? [topicPolicy] : [] },
      );
      this.budgetName = budget.name;
    }

    this.alertTopicArn = topic.arn;
    this.idleAlarmArn = idle.arn;
    this.idleAlarmName = idle.name;
    this.starvedAlarmArn = starved.arn;
    this.starvedAlarmName = starved.name;
    this.scaleToZeroPolicyArn = scaleToZero.arn;
    this.backstopScheduleName = schedule.name;
    this.backstopScheduleArn = schedule.arn;
    this.backstopRoleArn = schedulerRole.arn;
    this.backstopRoleName = schedulerRole.name;
    this.backstopAt = schedule.scheduleExpression.apply(parseAtExpression);

    this.registerOutputs({
      alertTopicArn: this.alertTopicArn,
      idleAlarmArn: this.idleAlarmArn,
      idleAlarmName: this.idleAlarmName,
      starvedAlarmArn: this.starvedAlarmArn,
      starvedAlarmName: this.starvedAlarmName,
      scaleToZeroPolicyArn: this.scaleToZeroPolicyArn,
      backstopScheduleName: this.backstopScheduleName,
      backstopScheduleArn: this.backstopScheduleArn,
      backstopRoleArn: this.backstopRoleArn,
      backstopRoleName: this.backstopRoleName,
      backstopAt: this.backstopAt,
      budgetName: this.budgetName,
    });
  }
}

/**
 * The settings `resolve` gives, with one more rule: a given topic and an email do not go together
 * (the email would be subscribed to someone else's topic behind its owner's back). Every problem
 * at once: the settings' own and this one.
 */
function resolvedWithTopic<T>(topic: unknown, email: unknown, resolve: () => T): T {
  const topicProblems: Problem[] =
    topic !== undefined && email !== undefined
      ? [
          {
            key: "Guardrails.alertEmail",
            value: typeof email === "string" ? email : "(an output)",
            allowed: "not set together with alertTopicArn: the alerts go to that topic, whose owner subscribes who gets them",
            fix: "subscribe the email to the given topic, or leave alertTopicArn out for a topic of the guardrails' own",
          },
        ]
      : [];
  let settings: T;
  try {
    settings = resolve();
  } catch (error) {
    if (error instanceof InvalidInputError && topicProblems.length > 0) throw new InvalidInputError("Guardrails", [...error.problems, ...topicProblems]);
    throw error;
  }
  if (topicProblems.length > 0) throw new InvalidInputError("Guardrails", topicProblems);
  return settings;
}
