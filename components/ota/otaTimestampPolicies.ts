/**
 * The pure parts of the OTA timestamp function (components/ota/otaTimestampFunction.ts): argument
 * validation, the schedule expression and the IAM documents (physical names: `physicalNames.ts`). No resources,
 * no I/O; every document checks the ARNs and prefix it is given, so none can come out with a `*`
 * resource, another bucket or another key.
 */
import { createHash } from "crypto";
import type { Problem } from "../../runspec/problems";
import { DEFAULT_TIMESTAMP_EXPIRES_HOURS, DEFAULT_TIMESTAMP_REFRESH_HOURS, TIMESTAMP_FILE } from "../../ota/trust/timestampDocument";
import { assertKeyPrefix } from "../../runspec/bucketLayout";
import { readOnlyStatements, type PolicyDocument } from "../storage/bucketPolicies";
import { CLOUDWATCH_LOG_GROUP_ARN_PATTERN, KMS_KEY_ARN_ANY_ID_PATTERN, LAMBDA_FUNCTION_ARN_PATTERN } from "../../runspec/awsPatterns";
import { serviceTrustPolicy, type TrustPolicyDocument } from "../iam/trustPolicies";

export type { TrustPolicyDocument };

export { DEFAULT_TIMESTAMP_EXPIRES_HOURS, DEFAULT_TIMESTAMP_REFRESH_HOURS };

/** Longest timestamp lifetime accepted: a week. Longer, and a frozen view of the bucket goes unseen for too long. */
export const MAX_TIMESTAMP_EXPIRES_HOURS = 168;

/** Days the function's log group keeps its logs. */
export const TIMESTAMP_LOG_RETENTION_DAYS = 30;

/**
 * Problems with the timestamp lifetime and refresh period: whole hours, the lifetime from 1 to
 * {@link MAX_TIMESTAMP_EXPIRES_HOURS}, the refresh at least 1 and at most half the lifetime, so one
 * failed refresh never lets a timestamp lapse. Every problem at once; undefined means the default.
 */
export function timestampScheduleProblems(
  keys: { readonly expiresHours: string; readonly refreshHours: string },
  expiresHours: number | undefined,
  refreshHours: number | undefined,
): Problem[] {
  const problems: Problem[] = [];
  const expires = expiresHours ?? DEFAULT_TIMESTAMP_EXPIRES_HOURS;
  const refresh = refreshHours ?? DEFAULT_TIMESTAMP_REFRESH_HOURS;
  const expiresValid = Number.isInteger(expires) && expires >= 1 && expires <= MAX_TIMESTAMP_EXPIRES_HOURS;
  if (!expiresValid) {
    problems.push({
      key: keys.expiresHours,
      value: expiresHours,
      allowed: `a whole number of hours from 1 to ${MAX_TIMESTAMP_EXPIRES_HOURS}`,
      fix: `e.g. ${DEFAULT_TIMESTAMP_EXPIRES_HOURS}`,
    });
  }
  if (!Number.isInteger(refresh) || refresh < 1) {
    problems.push({
      key: keys.refreshHours,
      value: refreshHours,
      allowed: "a whole number of hours, at least 1",
      fix: `e.g. ${DEFAULT_TIMESTAMP_REFRESH_HOURS}`,
    });
  } else if (expiresValid && refresh * 2 > expires) {
    const most = Math.floor(expires / 2);
    problems.push({
      key: keys.refreshHours,
      value: refreshHours,
      allowed:
        `at most half of ${keys.expiresHours} (${expires} h), so that one failed refresh never lets a timestamp ` +
        "expire on the boxes",
      fix: most >= 1 ? `e.g. ${most}, or a longer ${keys.expiresHours}` : `a longer ${keys.expiresHours} (at least 2)`,
    });
  }
  return problems;
}

/** EventBridge Scheduler rate expression for every `hours` hours: `rate(1 hour)`, `rate(6 hours)`. */
export function rateExpression(hours: number): string {
  if (!Number.isInteger(hours) || hours < 1) throw new RangeError(`rate expression: hours must be a whole number from 1; got ${hours}`);
  return `rate(${hours} ${hours === 1 ? "hour" : "hours"})`;
}

// ---------------------------------------------------------------------------------------------
// IAM documents

// ARNs are checked against AWS's formats (runspec/awsPatterns.ts). The key ARN comes from the
// provider, so any key id passes (the offline mocks' are logical, `key/timestamp-key-id`).

function assertMatches(pattern: RegExp, value: string, what: string, example: string): void {
  if (!pattern.test(value)) throw new Error(`${what} ${JSON.stringify(value)} is not ${example}`);
}

/** The account of a KMS key ARN (where the function and its role live). */
export function accountOfKeyArn(keyArn: string): string {
  assertMatches(KMS_KEY_ARN_ANY_ID_PATTERN, keyArn, "timestamp key ARN", "a KMS key ARN like arn:aws:kms:us-east-1:123456789012:key/1234abcd-...");
  return KMS_KEY_ARN_ANY_ID_PATTERN.exec(keyArn)!.groups!.account!;
}

/** Trust: Lambda, acting for functions of this account only. */
export function lambdaTrustPolicy(accountId: string): TrustPolicyDocument {
  return serviceTrustPolicy("lambda.amazonaws.com", accountId);
}

export interface TimestampFunctionPolicyInput {
  readonly bucketArn: string;
  /** e.g. `models/` */
  readonly modelsPrefix: string;
  /** The timestamp key: the only key the function may use. */
  readonly timestampKeyArn: string;
  /** The function's own log group (ARN without a trailing `:*`). */
  readonly logGroupArn: string;
}

/**
 * KMS actions on the timestamp key. `Sign` signs each timestamp; `GetPublicKey` (read-only, public
 * data) lets the function check its previous timestamp and what it signs against the key's public
 * half (`KmsSigner.publicKeyPem`, ota/trust/timestampRefresh.ts). Nothing that decrypts,
 * administers or grants.
 */
export const TIMESTAMP_KEY_ACTIONS = ["kms:Sign", "kms:GetPublicKey"] as const;

/**
 * What the timestamp function may do, and nothing more: list and read the models prefix (pointers,
 * channel signatures, the previous timestamp), write only `<modelsPrefix>…/timestamp.json`, sign
 * with the timestamp key only, and write its own log group's streams.
 *
 * The `*` in the write resource is IAM's wildcard and spans `/`: the function may write any key
 * under the prefix whose name ends in `/timestamp.json`, never a manifest, a file, a pointer or a
 * channel signature.
 */
export function timestampFunctionPolicy(input: TimestampFunctionPolicyInput): PolicyDocument {
  assertKeyPrefix(input.modelsPrefix, "models prefix");
  assertMatches(KMS_KEY_ARN_ANY_ID_PATTERN, input.timestampKeyArn, "timestamp key ARN", "a KMS key ARN like arn:aws:kms:us-east-1:123456789012:key/1234abcd-...");
  assertMatches(CLOUDWATCH_LOG_GROUP_ARN_PATTERN, input.logGroupArn, "log group ARN", "a CloudWatch Logs log group ARN like arn:aws:logs:us-east-1:123456789012:log-group:name");
  return {
    Version: "2012-10-17",
    Statement: [
      // Checks the bucket ARN and the prefix: GetObject on <prefix>*, ListBucket with an s3:prefix condition.
      ...readOnlyStatements(input.bucketArn, input.modelsPrefix, { sidPrefix: "ReadModels" }),
      { Sid: "WriteTimestamps", Effect: "Allow", Action: "s3:PutObject", Resource: `${input.bucketArn}/${input.modelsPrefix}*/${TIMESTAMP_FILE}` },
      { Sid: "SignTimestamps", Effect: "Allow", Action: [...TIMESTAMP_KEY_ACTIONS], Resource: input.timestampKeyArn },
      {
        Sid: "WriteOwnLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        // The group itself (CreateLogStream) and its streams (`…:log-stream:<name>`; `:` cannot occur in a
        // log group's name, so `:*` reaches no other group).
        Resource: [input.logGroupArn, `${input.logGroupArn}:*`],
      },
    ],
  };
}

/** The schedule's role may invoke this one function (unqualified ARN) and nothing else. */
export function invokeFunctionPolicy(functionArn: string): PolicyDocument {
  assertMatches(LAMBDA_FUNCTION_ARN_PATTERN, functionArn, "function ARN", "an unqualified Lambda function ARN like arn:aws:lambda:us-east-1:123456789012:function:name");
  return { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "lambda:InvokeFunction", Resource: functionArn }] };
}

/** Hex SHA-256 of a text: trigger values stay short and change exactly when the text does. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * An alarm on the timestamp function's failed runs (AWS/Lambda `Errors`, summed per hour): one
 * failed refresh is harmless (the timestamp lives four refresh periods), but refreshes that keep
 * failing turn every box pinned to the root key stale within a day, so the first failure is news.
 */
export function timestampFailureAlarmSpec<T>(functionName: T) {
  return {
    alarmDescription: "yolo-train OTA: the timestamp function failed to re-sign timestamp.json. Boxes pinned to the root key report a stale view (exit 7) once the last timestamp expires; see the function's logs.",
    namespace: "AWS/Lambda",
    metricName: "Errors",
    dimensions: { FunctionName: functionName },
    statistic: "Sum",
    period: 3600,
    evaluationPeriods: 1,
    threshold: 1,
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    // No runs in an hour is the normal case, not a failure.
    treatMissingData: "notBreaching",
    actionsEnabled: true,
  } as const;
}
