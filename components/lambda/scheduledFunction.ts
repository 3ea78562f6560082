/**
 * The scheduled Lambda function both the OTA timestamp function (ota/otaTimestampFunction.ts) and
 * the sweep keeper (sweep/sweepKeeper.ts) are built on: its own log group, an execution role with
 * one inline policy, the function (Node.js 22, arm64, one at a time, JSON logs to that log group),
 * and an EventBridge Scheduler schedule whose role may invoke this function and nothing else.
 *
 * Not a component of its own: the children are created under the caller's component with the names
 * they have always had (`<name>-logs`, `<name>-role`, `<name>`, `<name>-schedule`), so moving a
 * component onto this helper replaces nothing that is deployed.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { schedulerTrustPolicy } from "../guardrails/guardrailPlan";
import { autoName, NAME_RULES } from "../naming/physicalNames";
import { invokeFunctionPolicy, lambdaTrustPolicy } from "../ota/otaTimestampPolicies";

export interface ScheduledFunctionArgs {
  /** The caller component's name: the base of every child's logical and physical name. */
  readonly name: string;
  /** The component the children belong to. */
  readonly parent: pulumi.Resource;
  /** The account both roles trust (Lambda's and EventBridge Scheduler's, of this account only). */
  readonly account: pulumi.Output<string>;
  /** Days the function's log group keeps its logs. */
  readonly logRetentionDays: number;
  /** The function's execution role. */
  readonly role: {
    readonly description: string;
    /** Its inline policy (JSON), given the function's own log group's ARN, the only log group it may write. */
    readonly policy: (logGroupArn: pulumi.Output<string>) => pulumi.Input<string>;
  };
  /** The function. */
  readonly function: {
    readonly description: string;
    readonly handler: string;
    readonly code: pulumi.asset.Archive;
    readonly memorySizeMb: number;
    readonly timeoutSeconds: number;
    /** @default Lambda's default (512 MB), the input left unset */
    readonly ephemeralStorageMb?: number;
    readonly environment: pulumi.Input<Record<string, pulumi.Input<string>>>;
  };
  /** The schedule running it, and its role. */
  readonly schedule: {
    readonly description: string;
    readonly roleDescription: string;
    /** e.g. `rate(6 hours)` */
    readonly expression: string;
    readonly retryPolicy: pulumi.Input<aws.types.input.scheduler.ScheduleTargetRetryPolicy>;
    /** What the schedule waits for. @default its role's policy */
    readonly dependsOn?: (made: { readonly fn: aws.lambda.Function; readonly schedulerPolicy: aws.iam.RolePolicy }) => pulumi.Input<pulumi.Input<pulumi.Resource>[]>;
  };
  /** Tags for every taggable child. @default none */
  readonly tags?: Record<string, string>;
}

export interface ScheduledFunctionParts {
  readonly logGroup: aws.cloudwatch.LogGroup;
  readonly role: aws.iam.Role;
  readonly rolePolicy: aws.iam.RolePolicy;
  readonly fn: aws.lambda.Function;
  readonly schedulerRole: aws.iam.Role;
  readonly schedulerPolicy: aws.iam.RolePolicy;
  readonly schedule: aws.scheduler.Schedule;
}

/** Creates the log group, the roles, the function and its schedule under `args.parent`. */
export function scheduledFunction(args: ScheduledFunctionArgs): ScheduledFunctionParts {
  const { name, tags, account } = args;
  const parent = { parent: args.parent };

  // Lambda would create /aws/lambda/<name> itself, kept forever; this one is ours, with a
  // retention, and the function's role may write to it alone.
  const logGroup = new aws.cloudwatch.LogGroup(autoName(NAME_RULES.logGroup, `${name}-logs`), { retentionInDays: args.logRetentionDays, tags }, parent);

  const role = new aws.iam.Role(
    autoName(NAME_RULES.iamRole, `${name}-role`),
    { description: args.role.description, assumeRolePolicy: account.apply((a) => JSON.stringify(lambdaTrustPolicy(a))), tags },
    parent,
  );
  const rolePolicy = new aws.iam.RolePolicy(autoName(NAME_RULES.iamRolePolicy, `${name}-role`), { role: role.id, policy: args.role.policy(logGroup.arn) }, parent);

  const f = args.function;
  const fn = new aws.lambda.Function(
    autoName(NAME_RULES.lambdaFunction, name),
    {
      description: f.description,
      runtime: aws.lambda.Runtime.NodeJS22dX,
      architectures: ["arm64"],
      handler: f.handler,
      code: f.code,
      memorySize: f.memorySizeMb,
      timeout: f.timeoutSeconds,
      ...(f.ephemeralStorageMb !== undefined ? { ephemeralStorage: { size: f.ephemeralStorageMb } } : {}),
      role: role.arn,
      // One run at a time: two at once would only race for the same conditional writes.
      reservedConcurrentExecutions: 1,
      environment: { variables: f.environment },
      loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
      tags,
    },
    // The policy first: the function may run as soon as it exists.
    { ...parent, dependsOn: [rolePolicy] },
  );

  const s = args.schedule;
  const schedulerRole = new aws.iam.Role(
    autoName(NAME_RULES.iamRole, `${name}-schedule`),
    { description: s.roleDescription, assumeRolePolicy: account.apply(schedulerTrustPolicy), tags },
    parent,
  );
  const schedulerPolicy = new aws.iam.RolePolicy(
    autoName(NAME_RULES.iamRolePolicy, `${name}-schedule`),
    { role: schedulerRole.id, policy: fn.arn.apply((arn) => JSON.stringify(invokeFunctionPolicy(arn))) },
    parent,
  );
  const schedule = new aws.scheduler.Schedule(
    autoName(NAME_RULES.schedule, `${name}-schedule`),
    {
      description: s.description,
      scheduleExpression: s.expression,
      flexibleTimeWindow: { mode: "OFF" },
      target: { arn: fn.arn, roleArn: schedulerRole.arn, input: JSON.stringify({ source: "yolo-train:schedule" }), retryPolicy: s.retryPolicy },
    },
    { ...parent, dependsOn: s.dependsOn ? s.dependsOn({ fn, schedulerPolicy }) : [schedulerPolicy] },
  );

  return { logGroup, role, rolePolicy, fn, schedulerRole, schedulerPolicy, schedule };
}
