import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { KEEPER_ENV, KEEPER_FUNCTION_BUNDLE, KEEPER_FUNCTION_ENTRY, KEEPER_FUNCTION_HANDLER } from "../../keeper/keeperEnv";
import { ProblemList, type Problem } from "../../runspec/problems";
import { RUN_ID_PATTERN } from "../../runspec/schema";
import { lambdaArchive, lambdaBundlePath, type LambdaBundleOptions, type LambdaBundleSpec } from "../lambda/lambdaBundle";
import { scheduledFunction } from "../lambda/scheduledFunction";
import { autoName, NAME_RULES } from "../naming/physicalNames";
import { BACKSTOP_NAME_PATTERN_RULE, keeperPolicyDocument } from "./keeperPolicy";
import {
  DEFAULT_KEEPER_EVERY_MINUTES,
  KEEPER_FUNCTION_SIZES,
  KEEPER_LOG_RETENTION_DAYS,
  keeperEveryMinutesProblems,
  keeperFailureAlarmSpec,
  keeperRateExpression,
  keeperRetry,
} from "./keeperSettings";

const KEEPER_FUNCTION: LambdaBundleSpec = { entry: KEEPER_FUNCTION_ENTRY, bundle: KEEPER_FUNCTION_BUNDLE };

/** The keeper's bundle (`dist-lambda/sweepKeeper/index.js`), built from keeper/keeperLambda.ts when missing (or `rebuild`). */
export function keeperFunctionBundlePath(options: LambdaBundleOptions = {}): string {
  return lambdaBundlePath(KEEPER_FUNCTION, options);
}

/** The keeper's code: an archive holding its bundle as `index.js` (handler `index.handler`). */
export function keeperFunctionArchive(): pulumi.asset.AssetArchive {
  return lambdaArchive(KEEPER_FUNCTION);
}

export interface SweepKeeperArgs {
  /** The sweep it keeps (`deriveSweepId`): its objects under `sweeps/<sweepId>/`, its groups by their `yolo-train:sweep` tag. */
  readonly sweepId: string;
  /** The sweep's artifact bucket: the manifest, starts, state and winner, and the trials' runs. */
  readonly artifactBucket: {
    readonly bucketName: pulumi.Input<string>;
    readonly bucketArn: pulumi.Input<string>;
    /** Its customer managed key, when SSE-KMS: the keeper may use it. @default none (SSE-S3) */
    readonly kmsKeyArn?: pulumi.Input<string | undefined>;
  };
  /**
   * The name pattern of the trials' backstop schedules and roles (`<trialPrefix>-t??-guardrails-backstop-*`,
   * sweepNames.ts): the keeper moves those schedules when it starts a trial, passing their roles.
   */
  readonly backstopNamePattern: string;
  /** Where the winner is released: the OTA bucket's ARN, the model's prefix (`models/<modelName>/`) and the release key. */
  readonly ota: { readonly bucketArn: pulumi.Input<string>; readonly prefix: pulumi.Input<string>; readonly signingKeyArn: pulumi.Input<string> };
  /**
   * Minutes between rounds: a whole number from 1 to 60. A finished trial's slot waits up to this
   * long for the next trial.
   * @default 1
   */
  readonly everyMinutes?: number;
  /**
   * The SNS topic the keeper's failure alarm notifies (the sweep's).
   * @default the alarm notifies nobody (it still shows on the sweep's dashboard)
   */
  readonly alertTopicArn?: pulumi.Input<string>;
  /**
   * Resources that must exist before the first round: the sweep's manifest, which every round reads.
   * The schedule waits for them.
   * @default none
   */
  readonly runAfter?: pulumi.Input<pulumi.Resource>[];
  /**
   * The function's code: an archive with `index.js` exporting `handler`.
   * @default the bundled keeper of this package, `keeperFunctionArchive()` (built from keeper/keeperLambda.ts in a checkout)
   */
  readonly code?: pulumi.asset.Archive;
  /** Tags for every taggable child. @default none */
  readonly tags?: Record<string, string>;
}

/**
 * The sweep keeper (issue 12): a Lambda function (Node.js 22, arm64) that an EventBridge
 * Scheduler schedule runs every `everyMinutes` minutes. Each round reads the sweep's manifest and
 * what S3 and Auto Scaling say of its trials, gives the next pending trials capacity while fewer
 * than `maxParallel` run and the budget allows (moving each started trial's max-runtime backstop
 * first), writes the sweep's state, and once the sweep has ended releases the winner over the air.
 * Nothing depends on a laptop staying on, and a trial ended by a guardrail or a lost node never
 * stalls the sweep.
 *
 * One round at a time (reserved concurrency 1); a round that cannot start within its own interval
 * is dropped, not queued (rounds are idempotent). Its own log group (30 days), and an alarm on rounds
 * that keep failing, to `alertTopicArn`.
 *
 * Least privilege (`keeperPolicyDocument`, keeperPolicy.ts): read the trials' runs; read and write
 * its own sweep's objects only; set the capacity of groups tagged with its own sweep's id only; move
 * the backstops named by the sweep's pattern, passing their roles to EventBridge Scheduler only;
 * publish under the model's OTA prefix and sign with the release key; write its own logs. Its
 * schedule's role may invoke this function and nothing else.
 *
 * @example
 * const keeper = new SweepKeeper("vision-dev-keeper", {
 *   sweepId,                                // deriveSweepId(...)
 *   artifactBucket,                         // an ArtifactBucket
 *   backstopNamePattern: naming.backstopNamePattern,
 *   ota: { bucketArn: ota.bucketArn, prefix: "models/helmets/", signingKeyArn: ota.signingKeyArn },
 *   alertTopicArn: topic.arn,
 *   runAfter: [manifestObject],
 * });
 */
export class SweepKeeper extends pulumi.ComponentResource {
  readonly functionName: pulumi.Output<string>;
  readonly functionArn: pulumi.Output<string>;
  readonly roleArn: pulumi.Output<string>;
  readonly logGroupName: pulumi.Output<string>;
  readonly scheduleName: pulumi.Output<string>;
  readonly failureAlarmArn: pulumi.Output<string>;
  /** e.g. `rate(1 minute)` */
  readonly scheduleExpression: string;
  readonly everyMinutes: number;

  constructor(name: string, args: SweepKeeperArgs, opts?: pulumi.ComponentResourceOptions) {
    const problems = new ProblemList();
    for (const p of sweepKeeperArgsProblems(args)) problems.add(p);
    problems.throwIfAny(`SweepKeeper "${name}"`);
    // Built (or found) before any resource: a missing bundle fails here, creating nothing.
    const code = args.code ?? keeperFunctionArchive();

    super("yolo-train:sweep:SweepKeeper", name, {}, opts);
    const tags = args.tags;
    const parent = { parent: this };
    const everyMinutes = args.everyMinutes ?? DEFAULT_KEEPER_EVERY_MINUTES;
    const scheduleExpression = keeperRateExpression(everyMinutes);
    const retry = keeperRetry(everyMinutes);

    const identity = aws.getCallerIdentityOutput({}, parent);
    const partition = aws.getPartitionOutput({}, parent);
    const region = aws.getRegionOutput({}, parent);
    const account = identity.accountId;

    const { logGroup, role, fn, schedule } = scheduledFunction({
      name,
      parent: this,
      account,
      logRetentionDays: KEEPER_LOG_RETENTION_DAYS,
      role: {
        description: `yolo-train sweep keeper of ${args.sweepId}: starts its trials, keeps its state, releases its winner`,
        policy: (ownLogGroupArn) =>
          pulumi
            .all([
              pulumi.all([partition.partition, region.region, account, ownLogGroupArn]),
              pulumi.all([args.artifactBucket.bucketArn, args.artifactBucket.kmsKeyArn]),
              pulumi.all([args.ota.bucketArn, args.ota.prefix, args.ota.signingKeyArn]),
            ])
            .apply(([[part, reg, accountId, logGroupArn], [artifactBucketArn, artifactKmsKeyArn], [otaBucketArn, otaPrefix, signingKeyArn]]) =>
              JSON.stringify(
                keeperPolicyDocument({
                  partition: part,
                  region: reg,
                  accountId,
                  sweepId: args.sweepId,
                  artifactBucketArn,
                  ...(artifactKmsKeyArn ? { artifactKmsKeyArn } : {}),
                  backstopNamePattern: args.backstopNamePattern,
                  ota: { bucketArn: otaBucketArn, prefix: otaPrefix, signingKeyArn },
                  logGroupArn,
                }),
              ),
            ),
      },
      function: {
        description: `yolo-train sweep keeper of ${args.sweepId}: one round every ${everyMinutes} min`,
        handler: KEEPER_FUNCTION_HANDLER,
        code,
        memorySizeMb: KEEPER_FUNCTION_SIZES.memoryMb,
        timeoutSeconds: KEEPER_FUNCTION_SIZES.timeoutSeconds,
        ephemeralStorageMb: KEEPER_FUNCTION_SIZES.ephemeralStorageMb,
        environment: { [KEEPER_ENV.bucket]: args.artifactBucket.bucketName, [KEEPER_ENV.sweepId]: args.sweepId },
      },
      schedule: {
        description: `yolo-train sweep ${args.sweepId}: a keeper round every ${everyMinutes} min`,
        roleDescription: "Lets EventBridge Scheduler run one yolo-train sweep keeper.",
        expression: scheduleExpression,
        retryPolicy: { ...retry },
        // The manifest (runAfter) must exist when the first round reads it.
        dependsOn: ({ fn, schedulerPolicy }) => pulumi.output(args.runAfter ?? []).apply((after) => [schedulerPolicy, fn, ...after]),
      },
      tags,
    });
    // A round throttled behind a long one (the winner's release) is dropped, not retried for hours.
    new aws.lambda.FunctionEventInvokeConfig(`${name}-async`, { functionName: fn.name, ...retry }, parent);

    const alarm = new aws.cloudwatch.MetricAlarm(
      autoName(NAME_RULES.metricAlarm, `${name}-failed`),
      { ...keeperFailureAlarmSpec(fn.name), alarmActions: args.alertTopicArn !== undefined ? [args.alertTopicArn] : [], tags },
      parent,
    );

    this.functionName = fn.name;
    this.functionArn = fn.arn;
    this.roleArn = role.arn;
    this.logGroupName = logGroup.name;
    this.scheduleName = schedule.name;
    this.failureAlarmArn = alarm.arn;
    this.scheduleExpression = scheduleExpression;
    this.everyMinutes = everyMinutes;
    this.registerOutputs({
      functionName: this.functionName,
      functionArn: this.functionArn,
      roleArn: this.roleArn,
      logGroupName: this.logGroupName,
      scheduleName: this.scheduleName,
      failureAlarmArn: this.failureAlarmArn,
      scheduleExpression,
    });
  }
}

/** Every problem with the keeper's plain arguments, keys `SweepKeeper.<arg>`; outputs are checked by the policy builder once known. */
export function sweepKeeperArgsProblems(args: Pick<SweepKeeperArgs, "sweepId" | "everyMinutes" | "backstopNamePattern">): Problem[] {
  const problems = [...keeperEveryMinutesProblems("SweepKeeper.everyMinutes", args.everyMinutes)];
  if (typeof args.sweepId !== "string" || !RUN_ID_PATTERN.test(args.sweepId)) {
    problems.push({ key: "SweepKeeper.sweepId", value: args.sweepId, allowed: "a sweep id: 1-48 characters of a-z, 0-9 and '-'", fix: "derive it with deriveSweepId (runspec/sweep/sweepManifest.ts)" });
  }
  if (typeof args.backstopNamePattern !== "string" || !BACKSTOP_NAME_PATTERN_RULE.test(args.backstopNamePattern)) {
    problems.push({
      key: "SweepKeeper.backstopNamePattern",
      value: args.backstopNamePattern,
      allowed: "a name pattern with a literal head, then ? wildcards and literal parts, ending with at most one * (a leading wildcard would match other stacks' schedules)",
      fix: "use sweepTrialNaming(...).backstopNamePattern",
    });
  }
  return problems;
}
