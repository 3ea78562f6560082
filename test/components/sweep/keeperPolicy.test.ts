import { keeperPolicyDocument, type KeeperPolicyInput } from "../../../components/sweep/keeperPolicy";
import { list } from "./sweepFixture";

const INPUT: KeeperPolicyInput = {
  partition: "aws",
  region: "eu-west-1",
  accountId: "123456789012",
  sweepId: "sweep-0123456789ab",
  artifactBucketArn: "arn:aws:s3:::vision-dev-artifacts-1a2b3c",
  backstopNamePattern: "vision-dev-t??-guardrails-backstop-*",
  ota: { bucketArn: "arn:aws:s3:::vision-ota-4d5e6f", prefix: "models/helmets/", signingKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" },
  logGroupArn: "arn:aws:logs:eu-west-1:123456789012:log-group:vision-dev-keeper-logs-0a1b2c3",
};

describe("keeperPolicyDocument", () => {
  const statements = keeperPolicyDocument(INPUT).Statement;
  const sid = (id: string) => statements.find((s) => s.Sid === id)!;

  it("reads every run, reads and writes only its own sweep's objects, lists only those two prefixes", () => {
    expect(sid("ReadTrialRuns")).toEqual({ Sid: "ReadTrialRuns", Effect: "Allow", Action: ["s3:GetObject"], Resource: "arn:aws:s3:::vision-dev-artifacts-1a2b3c/runs/*" });
    expect(sid("ReadWriteOwnSweep")).toEqual({
      Sid: "ReadWriteOwnSweep",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject"],
      Resource: "arn:aws:s3:::vision-dev-artifacts-1a2b3c/sweeps/sweep-0123456789ab/*",
    });
    expect(sid("ListOwnSweepAndRuns")).toEqual({
      Sid: "ListOwnSweepAndRuns",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: "arn:aws:s3:::vision-dev-artifacts-1a2b3c",
      Condition: { StringLike: { "s3:prefix": ["sweeps/sweep-0123456789ab/", "sweeps/sweep-0123456789ab/*", "runs/", "runs/*"] } },
    });
  });

  it("sets the capacity only of groups tagged with its own sweep, in its own account and region", () => {
    expect(sid("StartOwnTrials")).toEqual({
      Sid: "StartOwnTrials",
      Effect: "Allow",
      Action: ["autoscaling:UpdateAutoScalingGroup"],
      Resource: "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/*",
      Condition: { StringEquals: { "autoscaling:ResourceTag/yolo-train:sweep": "sweep-0123456789ab" } },
    });
    // DescribeAutoScalingGroups has no resource-level permissions.
    expect(sid("DescribeGroups")).toMatchObject({ Action: ["autoscaling:DescribeAutoScalingGroups"], Resource: "*" });
    expect(statements.filter((s) => s.Resource === "*").map((s) => s.Sid)).toEqual(["DescribeGroups"]);
  });

  it("moves only the backstops of its own trials, passing their roles to EventBridge Scheduler only", () => {
    expect(sid("MoveTrialBackstops")).toEqual({
      Sid: "MoveTrialBackstops",
      Effect: "Allow",
      Action: ["scheduler:GetSchedule", "scheduler:UpdateSchedule"],
      Resource: "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/vision-dev-t??-guardrails-backstop-*",
    });
    expect(sid("PassBackstopRoles")).toEqual({
      Sid: "PassBackstopRoles",
      Effect: "Allow",
      Action: ["iam:PassRole"],
      Resource: "arn:aws:iam::123456789012:role/vision-dev-t??-guardrails-backstop-*",
      Condition: { StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" } },
    });
  });

  it("publishes the winner under the model's prefix with the release key, as a run's node would, and writes its own logs", () => {
    expect(list(sid("PublishModelRelease").Resource as string)).toEqual(["arn:aws:s3:::vision-ota-4d5e6f/models/helmets/*"]);
    expect(sid("ListModelReleases").Condition).toEqual({ StringLike: { "s3:prefix": ["models/helmets/", "models/helmets/*"] } });
    expect(sid("SignModelRelease")).toMatchObject({ Action: ["kms:Sign", "kms:GetPublicKey"], Resource: INPUT.ota.signingKeyArn });
    expect(sid("WriteOwnLogs").Resource).toEqual([INPUT.logGroupArn, `${INPUT.logGroupArn}:*`]);
  });

  it("uses an SSE-KMS artifact bucket's key only when there is one", () => {
    expect(statements.some((s) => s.Action.some((a) => a.startsWith("kms:Decrypt")))).toBe(false);
    const key = "arn:aws:kms:eu-west-1:123456789012:key/abcd1234-12ab-34cd-56ef-1234567890ab";
    const withKey = keeperPolicyDocument({ ...INPUT, artifactKmsKeyArn: key }).Statement;
    expect(withKey.find((s) => s.Sid === "UseArtifactKey")).toEqual({ Sid: "UseArtifactKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: key });
  });

  it("stays the same size whatever the sweep's size: far below IAM's 10,240 characters", () => {
    expect(JSON.stringify(keeperPolicyDocument(INPUT)).length).toBeLessThan(3_500);
  });

  it("refuses, all at once, anything that would widen it: a leading wildcard, another shape of ARN, the whole OTA bucket, a bad sweep id", () => {
    expect(() =>
      keeperPolicyDocument({
        ...INPUT,
        sweepId: "../x",
        backstopNamePattern: "*-guardrails-backstop-*",
        artifactBucketArn: "arn:aws:s3:::*",
        ota: { ...INPUT.ota, prefix: "" },
        accountId: "1234",
      }),
    ).toThrow(/5 problem\(s\)[\s\S]*accountId[\s\S]*sweepId[\s\S]*artifactBucketArn[\s\S]*backstopNamePattern[\s\S]*ota\.prefix/);
    expect(() => keeperPolicyDocument({ ...INPUT, backstopNamePattern: "vision-*-backstop-*" })).toThrow(/backstopNamePattern/);
  });
});
