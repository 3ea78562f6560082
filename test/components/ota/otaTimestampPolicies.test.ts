import {
  accountOfKeyArn,
  invokeFunctionPolicy,
  lambdaTrustPolicy,
  MAX_TIMESTAMP_EXPIRES_HOURS,
  rateExpression,
  timestampFunctionPolicy,
  timestampScheduleProblems,
} from "../../../components/ota/otaTimestampPolicies";
import { DEFAULT_TIMESTAMP_EXPIRES_HOURS, DEFAULT_TIMESTAMP_REFRESH_HOURS } from "../../../ota/trust/timestampDocument";

const BUCKET_ARN = "arn:aws:s3:::ota-0a1b2c3";
const KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const LOG_GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:ota-timestamp-logs-0a1b2c3";
const KEYS = { expiresHours: "X.expiresHours", refreshHours: "X.refreshHours" };

const asList = (v: string | readonly string[]) => (typeof v === "string" ? [v] : [...v]);

describe("timestampScheduleProblems", () => {
  it("accepts the defaults (24 h valid, refreshed every 6 h) and a refresh of exactly half the lifetime", () => {
    expect(DEFAULT_TIMESTAMP_EXPIRES_HOURS).toBe(24);
    expect(DEFAULT_TIMESTAMP_REFRESH_HOURS).toBe(6);
    expect(timestampScheduleProblems(KEYS, undefined, undefined)).toEqual([]);
    expect(timestampScheduleProblems(KEYS, 24, 12)).toEqual([]);
    expect(timestampScheduleProblems(KEYS, 2, 1)).toEqual([]);
    expect(timestampScheduleProblems(KEYS, MAX_TIMESTAMP_EXPIRES_HOURS, 84)).toEqual([]);
  });

  it.each<[string, number | undefined, number | undefined, string[]]>([
    ["a lifetime of 0 h", 0, undefined, ["X.expiresHours"]],
    ["a lifetime over a week", 169, undefined, ["X.expiresHours"]],
    ["a fractional lifetime", 24.5, undefined, ["X.expiresHours"]],
    ["a refresh of 0 h", undefined, 0, ["X.refreshHours"]],
    ["a fractional refresh", undefined, 2.5, ["X.refreshHours"]],
    ["a refresh over half the default lifetime", undefined, 13, ["X.refreshHours"]],
    ["a refresh over half a given lifetime", 10, 6, ["X.refreshHours"]],
    ["a lifetime of 1 h, which no whole refresh fits", 1, 1, ["X.refreshHours"]],
    ["both wrong at once", 0, 0, ["X.expiresHours", "X.refreshHours"]],
  ])("refuses %s, naming the argument", (_label, expires, refresh, keys) => {
    expect(timestampScheduleProblems(KEYS, expires, refresh).map((p) => p.key)).toEqual(keys);
  });

  it("says why a refresh must be at most half the lifetime, and offers one that fits", () => {
    const [problem] = timestampScheduleProblems(KEYS, 24, 13);
    expect(problem!.allowed).toContain("at most half of X.expiresHours (24 h)");
    expect(problem!.allowed).toContain("one failed refresh");
    expect(problem!.fix).toContain("e.g. 12");
  });
});

describe("rateExpression", () => {
  it("writes EventBridge Scheduler rate expressions, singular for one hour", () => {
    expect(rateExpression(1)).toBe("rate(1 hour)");
    expect(rateExpression(6)).toBe("rate(6 hours)");
  });

  it.each([0, -1, 1.5])("refuses %p hours", (hours) => {
    expect(() => rateExpression(hours)).toThrow(RangeError);
  });
});



describe("the timestamp function's policy", () => {
  const doc = timestampFunctionPolicy({ bucketArn: BUCKET_ARN, modelsPrefix: "models/", timestampKeyArn: KEY_ARN, logGroupArn: LOG_GROUP_ARN });
  const statementsWith = (action: string) => doc.Statement.filter((s) => asList(s.Action).includes(action));

  it("allows exactly list, read, write-timestamp, sign and log actions, on exactly these resources", () => {
    expect(doc.Statement.every((s) => s.Effect === "Allow")).toBe(true);
    expect(doc.Statement.flatMap((s) => asList(s.Action)).sort()).toEqual(
      ["kms:GetPublicKey", "kms:Sign", "logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "s3:ListBucket", "s3:PutObject"].sort(),
    );
    expect([...new Set(doc.Statement.flatMap((s) => asList(s.Resource)))].sort()).toEqual(
      [BUCKET_ARN, `${BUCKET_ARN}/models/*`, `${BUCKET_ARN}/models/*/timestamp.json`, KEY_ARN, LOG_GROUP_ARN, `${LOG_GROUP_ARN}:*`].sort(),
    );
  });

  it("lists the bucket only under the models prefix", () => {
    const [list] = statementsWith("s3:ListBucket");
    expect(list!.Resource).toBe(BUCKET_ARN);
    expect(list!.Condition).toEqual({ StringLike: { "s3:prefix": ["models/*"] } });
  });

  it("reads only under the models prefix, and writes only timestamp.json files under it", () => {
    expect(statementsWith("s3:GetObject").flatMap((s) => asList(s.Resource))).toEqual([`${BUCKET_ARN}/models/*`]);
    expect(statementsWith("s3:PutObject").flatMap((s) => asList(s.Resource))).toEqual([`${BUCKET_ARN}/models/*/timestamp.json`]);
  });

  it("uses the timestamp key only, to sign and to read its public half", () => {
    const kms = doc.Statement.filter((s) => asList(s.Action).some((a) => a.startsWith("kms:")));
    expect(kms).toHaveLength(1);
    expect(asList(kms[0]!.Action).sort()).toEqual(["kms:GetPublicKey", "kms:Sign"]);
    expect(kms[0]!.Resource).toBe(KEY_ARN);
  });

  it("writes only to its own log group's streams", () => {
    const logs = statementsWith("logs:PutLogEvents");
    expect(logs.flatMap((s) => asList(s.Resource))).toEqual([LOG_GROUP_ARN, `${LOG_GROUP_ARN}:*`]);
  });

  it.each([
    ["a wildcard bucket", { bucketArn: "arn:aws:s3:::*" }],
    ["a prefix with a wildcard", { modelsPrefix: "models/*" }],
    ["a key alias instead of a key", { timestampKeyArn: "arn:aws:kms:us-east-1:123456789012:alias/ota" }],
    ["a wildcard key", { timestampKeyArn: "*" }],
    ["a wildcard log group", { logGroupArn: "arn:aws:logs:us-east-1:123456789012:log-group:*" }],
  ])("refuses %s", (_label, override) => {
    expect(() =>
      timestampFunctionPolicy({ bucketArn: BUCKET_ARN, modelsPrefix: "models/", timestampKeyArn: KEY_ARN, logGroupArn: LOG_GROUP_ARN, ...override }),
    ).toThrow();
  });
});

describe("the trust and invoke policies", () => {
  it("lets only Lambda, for this account, assume the function's role", () => {
    expect(lambdaTrustPolicy("123456789012")).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "lambda.amazonaws.com" },
          Action: "sts:AssumeRole",
          Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } },
        },
      ],
    });
    expect(() => lambdaTrustPolicy("*")).toThrow();
  });

  it("reads the account off the timestamp key's ARN", () => {
    expect(accountOfKeyArn(KEY_ARN)).toBe("123456789012");
    expect(() => accountOfKeyArn("alias/ota")).toThrow();
  });

  it("lets the schedule invoke one unqualified function and nothing else", () => {
    const arn = "arn:aws:lambda:us-east-1:123456789012:function:ota-timestamp-0a1b2c3";
    expect(invokeFunctionPolicy(arn)).toEqual({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "lambda:InvokeFunction", Resource: arn }],
    });
    expect(() => invokeFunctionPolicy(`${arn}:*`)).toThrow();
    expect(() => invokeFunctionPolicy("arn:aws:lambda:us-east-1:123456789012:function:*")).toThrow();
  });
});
