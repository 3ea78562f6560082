import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { SweepKeeper, keeperFunctionBundlePath, type SweepKeeperArgs } from "../../../components/sweep/sweepKeeper";
import { keeperFailureAlarmSpec, keeperRateExpression, keeperRetry } from "../../../components/sweep/keeperSettings";
import { KEEPER_FUNCTION_BUNDLE } from "../../../keeper/keeperEnv";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";
import { InvalidInputError } from "../../../runspec/problems";
import { statementsOf } from "./sweepFixture";

const STUB = new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset("exports.handler = async () => ({});") });
const ARGS: SweepKeeperArgs = {
  sweepId: "sweep-0123456789ab",
  artifactBucket: {
    bucketName: "vision-dev-artifacts-1a2b3c",
    bucketArn: "arn:aws:s3:::vision-dev-artifacts-1a2b3c",
    kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/abcd1234-12ab-34cd-56ef-1234567890ab",
  },
  backstopNamePattern: "vision-dev-t??-guardrails-backstop-*",
  ota: { bucketArn: "arn:aws:s3:::vision-ota-4d5e6f", prefix: "models/helmets/", signingKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" },
  everyMinutes: 5,
  alertTopicArn: "arn:aws:sns:us-east-1:123456789012:vision-dev-alerts",
  code: STUB,
  tags: { team: "vision" },
};

let runtime: OfflineRuntime;
let keeper: SweepKeeper;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "dev" });
  keeper = new SweepKeeper("k", ARGS);
  await valueOf(pulumi.all([keeper.functionName, keeper.scheduleName, keeper.failureAlarmArn, keeper.roleArn]));
  await runtime.settle();
});

const one = (type: string, name: string) => runtime.single(type, name);

describe("SweepKeeper", () => {
  it("runs a round every everyMinutes minutes, dropping a round it cannot deliver within that interval", async () => {
    const schedule = one("aws:scheduler/schedule:Schedule", "k-schedule");
    expect(schedule.inputs.scheduleExpression).toBe("rate(5 minutes)");
    expect(schedule.inputs.target).toMatchObject({ arn: await valueOf(keeper.functionArn), retryPolicy: { maximumEventAgeInSeconds: 300, maximumRetryAttempts: 0 } });
    expect(one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "k-async").inputs).toMatchObject({ maximumEventAgeInSeconds: 300, maximumRetryAttempts: 0 });
    expect(keeperRateExpression(1)).toBe("rate(1 minute)");
    expect(keeperRetry(1)).toEqual({ maximumEventAgeInSeconds: 60, maximumRetryAttempts: 0 });
  });

  it("is one Lambda function at a time, with its own log group, room for the winner's files, and the given code", async () => {
    const fn = one("aws:lambda/function:Function", "k");
    expect(fn.inputs).toMatchObject({ runtime: "nodejs22.x", architectures: ["arm64"], reservedConcurrentExecutions: 1, timeout: 300, memorySize: 512, ephemeralStorage: { size: 2048 } });
    expect(fn.inputs.loggingConfig.logGroup).toBe(await valueOf(keeper.logGroupName));
    expect(one("aws:cloudwatch/logGroup:LogGroup", "k-logs").inputs.retentionInDays).toBe(30);
    expect(fn.dependencies.length).toBeGreaterThan(0);
  });

  it("lets Lambda of this account alone assume its role, and its schedule invoke this function alone", async () => {
    const trust = JSON.parse(one("aws:iam/role:Role", "k-role").inputs.assumeRolePolicy);
    expect(trust.Statement).toEqual([{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole", Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } } }]);
    const invoke = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "k-schedule").inputs.policy);
    expect(invoke.Statement).toEqual([{ Effect: "Allow", Action: "lambda:InvokeFunction", Resource: await valueOf(keeper.functionArn) }]);
  });

  it("uses the artifact bucket's key when the bucket is SSE-KMS", () => {
    const statements = statementsOf(one("aws:iam/rolePolicy:RolePolicy", "k-role").inputs.policy);
    expect(statements.find((s) => s.Sid === "UseArtifactKey")).toMatchObject({ Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: ARGS.artifactBucket.kmsKeyArn });
    expect(statements.find((s) => s.Sid === "WriteOwnLogs")!.Resource[0]).toMatch(/^arn:aws:logs:us-east-1:123456789012:log-group:k-logs/);
  });

  it("alarms the given topic when rounds keep failing, and never on rounds that report nothing", async () => {
    const alarm = one("aws:cloudwatch/metricAlarm:MetricAlarm", "k-failed");
    expect(alarm.inputs).toMatchObject({ ...keeperFailureAlarmSpec(await valueOf(keeper.functionName)), alarmActions: [ARGS.alertTopicArn] });
  });

  it.each([
    [{ everyMinutes: 0 }, "SweepKeeper.everyMinutes"],
    [{ everyMinutes: 120 }, "SweepKeeper.everyMinutes"],
    [{ sweepId: "Sweep X" }, "SweepKeeper.sweepId"],
    [{ backstopNamePattern: "*" }, "SweepKeeper.backstopNamePattern"],
    [{ backstopNamePattern: "*-guardrails-backstop-*" }, "SweepKeeper.backstopNamePattern"],
  ])("refuses %j, naming %s, and registers nothing", async (extra, key) => {
    const before = runtime.resources.length;
    let error: unknown;
    try {
      new SweepKeeper(`bad-${key}`, { ...ARGS, ...extra });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems.map((p) => p.key)).toEqual([key]);
    await new Promise((r) => setTimeout(r, 20));
    expect(runtime.resources.length).toBe(before);
  });

  it("builds its bundle from keeper/keeperLambda.ts: one CommonJS file that exports the handler", () => {
    const bundle = keeperFunctionBundlePath({ rebuild: true });
    expect(bundle.endsWith(KEEPER_FUNCTION_BUNDLE)).toBe(true);
    const text = fs.readFileSync(bundle, "utf8");
    expect(text).toMatch(/handler/);
    expect(text).toContain("YOLO_TRAIN_SWEEP_BUCKET");
  }, 60_000);
});
