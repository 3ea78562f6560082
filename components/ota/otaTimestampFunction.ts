import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ProblemList } from "../../runspec/problems";
import { TIMESTAMP_FUNCTION_ENV, TIMESTAMP_FUNCTION_HANDLER } from "../../ota/trust/timestampFunctionEnv";
import { scheduledFunction } from "../lambda/scheduledFunction";
import {
  accountOfKeyArn,
  DEFAULT_TIMESTAMP_EXPIRES_HOURS,
  DEFAULT_TIMESTAMP_REFRESH_HOURS,
  rateExpression,
  sha256Hex,
  TIMESTAMP_LOG_RETENTION_DAYS,
  timestampFunctionPolicy,
  timestampScheduleProblems,
} from "./otaTimestampPolicies";
import { prefixProblems } from "../storage/storageArgs";
import { timestampFunctionArchive } from "./timestampFunctionCode";

export interface TimestampFunctionArgs {
  /** The OTA bucket whose models' `timestamp.json` the function re-signs. */
  readonly bucketName: pulumi.Input<string>;
  /** Its ARN; the function's policy is scoped to it. */
  readonly bucketArn: pulumi.Input<string>;
  /** Models live under this prefix (e.g. `models/`); the function reads and writes nothing outside it. */
  readonly modelsPrefix: string;
  /** The timestamp key (ECC_NIST_P256, SIGN_VERIFY): the only key the function may use. */
  readonly timestampKeyArn: pulumi.Input<string>;
  /**
   * The release keys' public halves (SPKI PEM): a channel pointer counts only when one of them
   * signed its channel membership. Passed as a JSON array in an environment variable.
   */
  readonly releasePublicKeyPems: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Hours each timestamp is valid (1–168).
   * @default 24
   */
  readonly expiresHours?: number;
  /**
   * Hours between two refreshes: a whole number from 1, at most half of `expiresHours`.
   * @default 6
   */
  readonly refreshHours?: number;
  /**
   * The function's code: an archive with `index.js` exporting `handler`.
   * @default the bundled handler of this package, `timestampFunctionArchive()`
   */
  readonly code?: pulumi.asset.Archive;
  /** Tags for every taggable child. @default none */
  readonly tags?: Record<string, string>;
}

/**
 * The scheduled signer of the OTA timestamps (docs/ota.md, "Timestamp"): a Lambda function that
 * re-signs `timestamp.json` of every model under the models prefix with the timestamp key, an
 * EventBridge Scheduler schedule running it every `refreshHours` hours, and one invocation at
 * deploy time, so the first timestamp exists when `pulumi up` returns (and is re-signed when the
 * code, the release keys or the settings change).
 *
 * Least privilege: the function's role may list and read the models prefix, write only
 * `…/timestamp.json` under it, use only the timestamp key (`kms:Sign`, `kms:GetPublicKey`), and
 * write only its own log group; the schedule's role may invoke only this function. At most one
 * refresh runs at a time (reserved concurrency 1), and each write is conditional on the timestamp
 * it read, so an overlapping retry cannot replace a newer merge with an older one.
 *
 * Physical names fit AWS's rules for any component name: characters a service refuses become
 * `-`, and a long name is cut short with a hash of it kept (see `autoName` in `physicalNames.ts`).
 */
export class TimestampFunction extends pulumi.ComponentResource {
  readonly functionName: pulumi.Output<string>;
  readonly functionArn: pulumi.Output<string>;
  readonly roleArn: pulumi.Output<string>;
  readonly logGroupName: pulumi.Output<string>;
  readonly scheduleName: pulumi.Output<string>;
  /** e.g. `rate(6 hours)` */
  readonly scheduleExpression: string;
  readonly expiresHours: number;
  readonly refreshHours: number;

  constructor(name: string, args: TimestampFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    const problems = new ProblemList();
    for (const p of [
      ...prefixProblems("TimestampFunction.modelsPrefix", args.modelsPrefix),
      ...timestampScheduleProblems(
        { expiresHours: "TimestampFunction.expiresHours", refreshHours: "TimestampFunction.refreshHours" },
        args.expiresHours,
        args.refreshHours,
      ),
    ]) {
      problems.add(p);
    }
    problems.throwIfAny(`TimestampFunction "${name}"`);
    // Built (or found) before any resource: a missing bundle fails here, creating nothing.
    const code = args.code ?? timestampFunctionArchive();

    super("yolo-train:ota:TimestampFunction", name, {}, opts);
    const tags = args.tags;
    const expiresHours = args.expiresHours ?? DEFAULT_TIMESTAMP_EXPIRES_HOURS;
    const refreshHours = args.refreshHours ?? DEFAULT_TIMESTAMP_REFRESH_HOURS;
    const scheduleExpression = rateExpression(refreshHours);
    const keyArn = pulumi.output(args.timestampKeyArn);
    const account = keyArn.apply(accountOfKeyArn);

    const releasePublicKeys = pulumi.output(args.releasePublicKeyPems).apply((pems) => JSON.stringify(pems));
    const { logGroup, role, rolePolicy, fn, schedule } = scheduledFunction({
      name,
      parent: this,
      account,
      logRetentionDays: TIMESTAMP_LOG_RETENTION_DAYS,
      role: {
        description: "yolo-train OTA timestamp function: re-signs timestamp.json of the models with the timestamp key",
        policy: (logGroupArn) =>
          pulumi
            .all([args.bucketArn, keyArn, logGroupArn])
            .apply(([bucketArn, timestampKeyArn, ownLogGroupArn]) =>
              JSON.stringify(timestampFunctionPolicy({ bucketArn, modelsPrefix: args.modelsPrefix, timestampKeyArn, logGroupArn: ownLogGroupArn })),
            ),
      },
      function: {
        description: `yolo-train OTA: re-signs timestamp.json of each model under ${args.modelsPrefix} every ${refreshHours} h`,
        handler: TIMESTAMP_FUNCTION_HANDLER,
        code,
        memorySizeMb: 256,
        timeoutSeconds: 60,
        environment: {
          [TIMESTAMP_FUNCTION_ENV.bucket]: args.bucketName,
          [TIMESTAMP_FUNCTION_ENV.modelsPrefix]: args.modelsPrefix,
          [TIMESTAMP_FUNCTION_ENV.keyId]: keyArn,
          [TIMESTAMP_FUNCTION_ENV.releasePublicKeys]: releasePublicKeys,
          [TIMESTAMP_FUNCTION_ENV.expiresHours]: String(expiresHours),
        },
      },
      schedule: {
        description: `yolo-train OTA: re-sign the models' timestamps every ${refreshHours} h (each valid ${expiresHours} h)`,
        roleDescription: "Lets EventBridge Scheduler run one yolo-train OTA timestamp function.",
        expression: scheduleExpression,
        // A refresh delivered after the next one is due is of no use.
        retryPolicy: { maximumEventAgeInSeconds: Math.min(refreshHours * 3600, 86_400), maximumRetryAttempts: 185 },
      },
      tags,
    });

    // The first timestamp at deploy time, and a fresh one whenever what the function signs or how
    // it signs changes (the provider replaces, and so re-runs, the invocation when a trigger changes).
    new aws.lambda.Invocation(
      // No physical name: the logical one only needs to be unique among this component's children.
      `${name}-deploy`,
      {
        functionName: fn.name,
        input: JSON.stringify({ source: "yolo-train:deploy" }),
        triggers: {
          codeSha256: fn.codeSha256,
          releasePublicKeys: releasePublicKeys.apply(sha256Hex),
          timestampKeyArn: keyArn,
          bucket: args.bucketName,
          modelsPrefix: args.modelsPrefix,
          expiresHours: String(expiresHours),
        },
      },
      { parent: this, dependsOn: [fn, rolePolicy, logGroup] },
    );

    this.functionName = fn.name;
    this.functionArn = fn.arn;
    this.roleArn = role.arn;
    this.logGroupName = logGroup.name;
    this.scheduleName = schedule.name;
    this.scheduleExpression = scheduleExpression;
    this.expiresHours = expiresHours;
    this.refreshHours = refreshHours;
    this.registerOutputs({
      functionName: this.functionName,
      functionArn: this.functionArn,
      roleArn: this.roleArn,
      logGroupName: this.logGroupName,
      scheduleName: this.scheduleName,
      scheduleExpression,
      expiresHours,
      refreshHours,
    });
  }
}
