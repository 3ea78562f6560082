import * as crypto from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { TimestampFunction, type TimestampFunctionArgs } from "../../../components/ota/otaTimestampFunction";
import { TIMESTAMP_FUNCTION_BUNDLE } from "../../../components/ota/timestampFunctionCode";
import { FAKE_ACCOUNT_ID, type RecordedResource } from "../../../offline/fakeAws";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";
import { TIMESTAMP_FUNCTION_ENV, TIMESTAMP_FUNCTION_HANDLER } from "../../../ota/trust/timestampFunctionEnv";
import { expectRejectedWithNothingRegistered } from "../../offline/rejection";

const BUCKET = "ota-0a1b2c3";
const BUCKET_ARN = `arn:aws:s3:::${BUCKET}`;
const KEY_ARN = `arn:aws:kms:us-east-1:${FAKE_ACCOUNT_ID}:key/ts-key-id`;
const newPem = () => crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();
const RELEASE_PEM = newPem();

const TYPES = {
  fn: "aws:lambda/function:Function",
  invocation: "aws:lambda/invocation:Invocation",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  schedule: "aws:scheduler/schedule:Schedule",
} as const;

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "test" });
});

function args(extra: Partial<TimestampFunctionArgs> = {}): TimestampFunctionArgs {
  return {
    bucketName: BUCKET,
    bucketArn: BUCKET_ARN,
    modelsPrefix: "models/",
    timestampKeyArn: KEY_ARN,
    releasePublicKeyPems: [RELEASE_PEM],
    tags: { project: "yolo" },
    ...extra,
  };
}

async function built(fn: TimestampFunction): Promise<void> {
  await Promise.all([valueOf(fn.functionName), valueOf(fn.functionArn), valueOf(fn.roleArn), valueOf(fn.scheduleName), valueOf(fn.logGroupName)]);
  await runtime.settle();
}

const children = (component: string) => {
  const parent = runtime.ofType("yolo-train:ota:TimestampFunction").find((r) => r.name === component)!;
  return runtime.childrenOf(parent.urn);
};
const childOf = (component: string, type: string, suffix?: string): RecordedResource => {
  const found = children(component).filter((r) => r.type === type && (suffix === undefined || r.name.endsWith(suffix)));
  if (found.length !== 1) throw new Error(`expected one ${type}${suffix ? ` ending ${suffix}` : ""} under ${component}, found ${found.length}`);
  return found[0]!;
};
const urnOf = (r: RecordedResource) => r.urn;
const asList = (v: string | string[]) => (typeof v === "string" ? [v] : v);

describe("TimestampFunction", () => {
  let ts: TimestampFunction;
  beforeAll(async () => {
    ts = new TimestampFunction("ts", args());
    await built(ts);
  });

  it("declares a log group, two roles with their policies, the function, its schedule and a deploy-time invocation", () => {
    expect(
      children("ts")
        .map((r) => r.type)
        .sort(),
    ).toEqual([TYPES.logGroup, TYPES.role, TYPES.role, TYPES.rolePolicy, TYPES.rolePolicy, TYPES.fn, TYPES.invocation, TYPES.schedule].sort());
  });

  it("runs the bundled handler on Node.js 20, arm64, 256 MB, 60 s, one at a time", async () => {
    const fn = childOf("ts", TYPES.fn);
    expect(fn.inputs).toMatchObject({
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      handler: TIMESTAMP_FUNCTION_HANDLER,
      memorySize: 256,
      timeout: 60,
      reservedConcurrentExecutions: 1,
      role: await valueOf(ts.roleArn),
      tags: { project: "yolo" },
    });
    expect(TIMESTAMP_FUNCTION_HANDLER).toBe("index.handler");
    const code = fn.inputs.code as pulumi.asset.AssetArchive;
    expect(pulumi.asset.Archive.isInstance(code)).toBe(true);
    const assets = (await code.assets) as Record<string, pulumi.asset.FileAsset>;
    expect(Object.keys(assets)).toEqual(["index.js"]);
    expect(await assets["index.js"]!.path).toBe(path.resolve(__dirname, "..", "..", "..", TIMESTAMP_FUNCTION_BUNDLE));
  });

  it("configures the handler through the shared environment variable names", async () => {
    const variables = childOf("ts", TYPES.fn).inputs.environment.variables;
    expect(variables).toEqual({
      [TIMESTAMP_FUNCTION_ENV.bucket]: BUCKET,
      [TIMESTAMP_FUNCTION_ENV.modelsPrefix]: "models/",
      [TIMESTAMP_FUNCTION_ENV.keyId]: KEY_ARN,
      [TIMESTAMP_FUNCTION_ENV.releasePublicKeys]: JSON.stringify([RELEASE_PEM]),
      [TIMESTAMP_FUNCTION_ENV.expiresHours]: "24",
    });
    expect(JSON.parse(variables[TIMESTAMP_FUNCTION_ENV.releasePublicKeys])).toEqual([RELEASE_PEM]);
  });

  it("logs to its own log group, kept 30 days", async () => {
    const logGroup = childOf("ts", TYPES.logGroup);
    expect(logGroup.inputs.retentionInDays).toBe(30);
    expect(childOf("ts", TYPES.fn).inputs.loggingConfig).toEqual({ logFormat: "JSON", logGroup: await valueOf(ts.logGroupName) });
  });

  it("lets only Lambda, acting for this account, assume the function's role", () => {
    const trust = JSON.parse(childOf("ts", TYPES.role, "-role").inputs.assumeRolePolicy);
    expect(trust.Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "lambda.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": FAKE_ACCOUNT_ID } },
      },
    ]);
  });

  it("gives the function list/read of the models prefix, writes of timestamp.json, the timestamp key and its own logs, nothing else", async () => {
    const policy = JSON.parse(childOf("ts", TYPES.rolePolicy, "-role").inputs.policy);
    const logGroupArn = `arn:aws:logs:us-east-1:${FAKE_ACCOUNT_ID}:log-group:${await valueOf(ts.logGroupName)}`;
    const byAction = new Map<string, { resources: string[]; condition: unknown }>();
    for (const s of policy.Statement) {
      expect(s.Effect).toBe("Allow");
      for (const action of asList(s.Action)) byAction.set(action, { resources: asList(s.Resource), condition: s.Condition });
    }
    expect([...byAction.keys()].sort()).toEqual(
      ["kms:GetPublicKey", "kms:Sign", "logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "s3:ListBucket", "s3:PutObject"].sort(),
    );
    expect(byAction.get("s3:ListBucket")).toEqual({ resources: [BUCKET_ARN], condition: { StringLike: { "s3:prefix": ["models/*"] } } });
    expect(byAction.get("s3:GetObject")!.resources).toEqual([`${BUCKET_ARN}/models/*`]);
    expect(byAction.get("s3:PutObject")!.resources).toEqual([`${BUCKET_ARN}/models/*/timestamp.json`]);
    expect(byAction.get("kms:Sign")!.resources).toEqual([KEY_ARN]);
    expect(byAction.get("kms:GetPublicKey")!.resources).toEqual([KEY_ARN]);
    expect(byAction.get("logs:PutLogEvents")!.resources).toEqual([logGroupArn, `${logGroupArn}:*`]);
    expect(byAction.get("logs:CreateLogStream")!.resources).toEqual([logGroupArn, `${logGroupArn}:*`]);
  });

  it("runs every 6 hours, on the dot, through a role that may invoke this one function", async () => {
    const schedule = childOf("ts", TYPES.schedule);
    const functionArn = await valueOf(ts.functionArn);
    expect(functionArn).toMatch(new RegExp(`^arn:aws:lambda:us-east-1:${FAKE_ACCOUNT_ID}:function:ts-0a1b2c3$`));
    expect(schedule.inputs.scheduleExpression).toBe("rate(6 hours)");
    expect(ts.scheduleExpression).toBe("rate(6 hours)");
    expect(schedule.inputs.flexibleTimeWindow).toEqual({ mode: "OFF" });
    expect(schedule.inputs.target.arn).toBe(functionArn);
    expect(JSON.parse(schedule.inputs.target.input)).toEqual({ source: "yolo-train:schedule" });
    expect(schedule.inputs.target.retryPolicy).toEqual({ maximumEventAgeInSeconds: 6 * 3600, maximumRetryAttempts: 185 });

    const schedulerRole = childOf("ts", TYPES.role, "-schedule");
    expect(schedule.inputs.target.roleArn).toBe(`arn:aws:iam::${FAKE_ACCOUNT_ID}:role/${schedulerRole.name}-0a1b2c3`);
    expect(JSON.parse(schedulerRole.inputs.assumeRolePolicy).Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": FAKE_ACCOUNT_ID } },
      },
    ]);
    expect(JSON.parse(childOf("ts", TYPES.rolePolicy, "-schedule").inputs.policy).Statement).toEqual([
      { Effect: "Allow", Action: "lambda:InvokeFunction", Resource: functionArn },
    ]);
  });

  it("invokes the function once at deploy, keyed on the code, the release keys and the settings", async () => {
    const invocation = childOf("ts", TYPES.invocation);
    const fn = childOf("ts", TYPES.fn);
    expect(invocation.inputs.functionName).toBe(await valueOf(ts.functionName));
    expect(JSON.parse(invocation.inputs.input)).toEqual({ source: "yolo-train:deploy" });
    expect(invocation.inputs.lifecycleScope).toBeUndefined(); // CREATE_ONLY: nothing runs on destroy
    const triggers = invocation.inputs.triggers;
    expect(Object.keys(triggers).sort()).toEqual(["bucket", "codeSha256", "expiresHours", "modelsPrefix", "releasePublicKeys", "timestampKeyArn"]);
    expect(triggers.codeSha256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(triggers).toMatchObject({
      releasePublicKeys: crypto.createHash("sha256").update(JSON.stringify([RELEASE_PEM])).digest("hex"),
      timestampKeyArn: KEY_ARN,
      bucket: BUCKET,
      modelsPrefix: "models/",
      expiresHours: "24",
    });
    // The policy exists before the function runs, and the invocation waits for the function's update.
    const rolePolicy = childOf("ts", TYPES.rolePolicy, "-role");
    expect(invocation.dependencies).toEqual(expect.arrayContaining([urnOf(fn), urnOf(rolePolicy)]));
    expect(fn.dependencies).toEqual(expect.arrayContaining([urnOf(rolePolicy)]));
    const schedule = childOf("ts", TYPES.schedule);
    expect(schedule.dependencies).toEqual(expect.arrayContaining([urnOf(childOf("ts", TYPES.rolePolicy, "-schedule"))]));
  });

  it("re-signs on a redeploy that changes the code or the release keys: the invocation's triggers change", async () => {
    const otherKeys = new TimestampFunction("ts-keys", args({ releasePublicKeyPems: [RELEASE_PEM, newPem()] }));
    const otherCode = new TimestampFunction(
      "ts-code",
      args({ code: new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset("exports.handler = async () => [];") }) }),
    );
    await Promise.all([built(otherKeys), built(otherCode)]);
    const triggersOf = (component: string) => childOf(component, TYPES.invocation).inputs.triggers;
    expect(triggersOf("ts-keys").codeSha256).toBe(triggersOf("ts").codeSha256);
    expect(triggersOf("ts-keys").releasePublicKeys).not.toBe(triggersOf("ts").releasePublicKeys);
    expect(triggersOf("ts-code").codeSha256).not.toBe(triggersOf("ts").codeSha256);
    expect(triggersOf("ts-code").releasePublicKeys).toBe(triggersOf("ts").releasePublicKeys);
  });

  it("takes another lifetime and refresh period, with a singular rate for one hour", async () => {
    const hourly = new TimestampFunction("ts-hourly", args({ expiresHours: 2, refreshHours: 1, modelsPrefix: "fleet/models/" }));
    await built(hourly);
    expect(childOf("ts-hourly", TYPES.schedule).inputs.scheduleExpression).toBe("rate(1 hour)");
    expect(childOf("ts-hourly", TYPES.schedule).inputs.target.retryPolicy.maximumEventAgeInSeconds).toBe(3600);
    expect(childOf("ts-hourly", TYPES.fn).inputs.environment.variables[TIMESTAMP_FUNCTION_ENV.expiresHours]).toBe("2");
    expect(childOf("ts-hourly", TYPES.fn).inputs.environment.variables[TIMESTAMP_FUNCTION_ENV.modelsPrefix]).toBe("fleet/models/");
    const put = JSON.parse(childOf("ts-hourly", TYPES.rolePolicy, "-role").inputs.policy).Statement.find((s: any) => s.Action === "s3:PutObject");
    expect(put.Resource).toBe(`${BUCKET_ARN}/fleet/models/*/timestamp.json`);
    expect(hourly.refreshHours).toBe(1);
    expect(hourly.expiresHours).toBe(2);
  });
});

describe("TimestampFunction physical names", () => {
  // What TrainingRun builds for project yolo-train and a 26-character stack, and far longer.
  const names = [
    `yolo-train-${"factory-line-7-widgets-stg"}-ota-timestamp`,
    `platform-${"x".repeat(40)}-models-timestamp`,
    "a".repeat(120),
  ];

  it.each(names)("fit AWS's 64-character limits with Pulumi's random suffix: %s", async (name) => {
    const ts = new TimestampFunction(name, args());
    await built(ts);
    const functionName = await valueOf(ts.functionName);
    const roleName = (await valueOf(ts.roleArn)).split("/").pop()!;
    const scheduleName = await valueOf(ts.scheduleName);
    for (const physical of [functionName, roleName, scheduleName]) {
      expect(physical.length).toBeLessThanOrEqual(64);
      expect(physical).toMatch(/^[A-Za-z0-9_-]+-0a1b2c3$/);
    }
    // `<name>-schedule`, or cut short with a hash of it when that is too long (physicalNames.ts).
    const schedulerRoles = children(name).filter((r) => r.type === TYPES.role && /-schedule(-[0-9a-f]{8})?$/.test(r.name));
    expect(schedulerRoles).toHaveLength(1);
    expect(schedulerRoles[0]!.name.length + 8).toBeLessThanOrEqual(64);
    // Recognisably this component's: the start of its name is kept.
    expect(functionName.startsWith(name.slice(0, 20))).toBe(true);
  });

  it("keeps two long names that share their first 56 characters apart", async () => {
    const base = `yolo-train-${"z".repeat(50)}`;
    const a = new TimestampFunction(`${base}-a-ota-timestamp`, args());
    const b = new TimestampFunction(`${base}-b-ota-timestamp`, args());
    await Promise.all([built(a), built(b)]);
    expect(await valueOf(a.functionName)).not.toBe(await valueOf(b.functionName));
    expect(await valueOf(a.roleArn)).not.toBe(await valueOf(b.roleArn));
  });
});

describe("TimestampFunction validation", () => {
  it("reports every problem at once and registers nothing", async () => {
    await expectRejectedWithNothingRegistered(
      runtime,
      "bad.ts",
      () => new TimestampFunction("bad.ts", args({ modelsPrefix: "models", expiresHours: 24, refreshHours: 13 })),
      ["TimestampFunction.modelsPrefix", "TimestampFunction.refreshHours"],
    );
  });

  it.each<[string, Partial<TimestampFunctionArgs>, string]>([
    ["a lifetime over a week", { expiresHours: 169 }, "TimestampFunction.expiresHours"],
    ["a refresh over half the lifetime", { expiresHours: 10, refreshHours: 6 }, "TimestampFunction.refreshHours"],
    ["a refresh of half an hour", { refreshHours: 0.5 }, "TimestampFunction.refreshHours"],
  ])("refuses %s", async (_label, extra, key) => {
    await expectRejectedWithNothingRegistered(runtime, "bad-ts", () => new TimestampFunction("bad-ts", args(extra)), [key]);
  });
});
