import {
  AUTO_SCALING_GROUP_ARN_PATTERN,
  AWS_ACCOUNT_ID_PATTERN,
  AWS_PARTITION_PATTERN,
  AWS_REGION_PATTERN,
  awsPartitionOfRegion,
  CLOUDWATCH_LOG_GROUP_ARN_PATTERN,
  CLOUDWATCH_LOG_GROUP_NAME_PATTERN,
  ECR_REGISTRY_HOST_PATTERN,
  ECR_REPOSITORY_ARN_PATTERN,
  ECR_REPOSITORY_NAME_PATTERN,
  IAM_POLICY_ARN_PATTERN,
  IAM_ROLE_ARN_PATTERN,
  isAwsAccountId,
  isAwsRegion,
  isS3BucketName,
  KMS_ALIAS_ARN_PATTERN,
  KMS_ALIAS_NAME_PATTERN,
  KMS_KEY_ARN_ANY_ID_PATTERN,
  KMS_KEY_ARN_PATTERN,
  KMS_KEY_ID_PATTERN,
  KMS_KEY_REFERENCE_ANY_ID_PATTERN,
  KMS_KEY_REFERENCE_PATTERN,
  LAMBDA_FUNCTION_ARN_PATTERN,
  parseArn,
  parseKmsKeyReference,
  S3_BUCKET_ARN_PATTERN,
  S3_BUCKET_NAME_PATTERN,
  S3_BUCKET_NAME_SOURCE,
  S3_OBJECT_ARN_PATTERN,
  SNS_TOPIC_ARN_PATTERN,
  SSM_PARAMETER_ARN_PATTERN,
} from "../../runspec";

const ACCOUNT = "123456789012";
const UUID = "1234abcd-12ab-34cd-56ef-1234567890ab";
const MRK = "mrk-1234abcd12ab34cd56ef1234567890ab";

/** Each pattern's accepted and refused examples, checked both ways. */
function cases(pattern: RegExp, accepted: readonly string[], refused: readonly string[]): void {
  it.each(accepted.map((v) => [v]))("accepts %s", (value) => expect(pattern.test(value)).toBe(true));
  it.each(refused.map((v) => [v]))("refuses %j", (value) => expect(pattern.test(value)).toBe(false));
}

describe("AWS_PARTITION_PATTERN", () => {
  cases(AWS_PARTITION_PATTERN, ["aws", "aws-cn", "aws-us-gov", "aws-eusc", "aws-iso", "aws-iso-b", "aws-iso-f"], ["", "AWS", "awsx", "aws-", "aws--cn", "aws-cn-", "amazon", "aws-c1"]);
});

describe("AWS_REGION_PATTERN", () => {
  cases(
    AWS_REGION_PATTERN,
    ["us-east-1", "eu-west-3", "ap-southeast-5", "ap-southeast-7", "il-central-1", "mx-central-1", "me-central-1", "ca-west-1", "us-gov-west-1", "us-gov-east-1", "cn-north-1", "cn-northwest-1", "us-isob-east-1", "eu-isoe-west-1", "eusc-de-east-1", "us-east-12"],
    ["", "us-east", "useast1", "us-east-1a", "US-EAST-1", "us_east_1", "u-east-1", "abcde-east-1", "us-east-1 ", "-us-east-1", "us--east-1", "aws-global"],
  );
  it("is what isAwsRegion checks", () => {
    expect(isAwsRegion("ap-southeast-5")).toBe(true);
    expect(isAwsRegion("us-east-1a")).toBe(false);
  });
});

describe("AWS_ACCOUNT_ID_PATTERN", () => {
  cases(AWS_ACCOUNT_ID_PATTERN, [ACCOUNT, "000000000001"], ["", "12345678901", "1234567890123", "1234-5678-9012", "12345678901a", " 123456789012"]);
  it("is what isAwsAccountId checks", () => {
    expect(isAwsAccountId("111122223333")).toBe(true);
    expect(isAwsAccountId("aws")).toBe(false);
  });
});

describe("awsPartitionOfRegion", () => {
  it.each([
    ["us-east-1", "aws"],
    ["ap-southeast-5", "aws"],
    ["il-central-1", "aws"],
    ["cn-northwest-1", "aws-cn"],
    ["us-gov-west-1", "aws-us-gov"],
    ["eusc-de-east-1", "aws-eusc"],
    ["us-iso-east-1", "aws-iso"],
    ["us-isob-east-1", "aws-iso-b"],
    ["eu-isoe-west-1", "aws-iso-e"],
    ["us-isof-south-1", "aws-iso-f"],
  ])("puts %s in %s", (region, partition) => expect(awsPartitionOfRegion(region)).toBe(partition));
});

describe("parseArn", () => {
  it("splits an ARN into its parts, keeping the colons of the resource", () => {
    expect(parseArn(`arn:aws-us-gov:logs:us-gov-west-1:${ACCOUNT}:log-group:/yolo:*`)).toEqual({
      partition: "aws-us-gov",
      service: "logs",
      region: "us-gov-west-1",
      account: ACCOUNT,
      resource: "log-group:/yolo:*",
    });
    expect(parseArn("arn:aws:s3:::bucket/key")).toMatchObject({ service: "s3", region: "", account: "", resource: "bucket/key" });
  });
  it("throws on text that is not an ARN", () => {
    expect(() => parseArn("gpu-asg")).toThrow("not an ARN: gpu-asg");
    expect(() => parseArn("arn:aws:s3::bucket")).toThrow(/not an ARN/);
  });
});

describe("S3_BUCKET_NAME_PATTERN (every rule of the S3 User Guide)", () => {
  cases(
    S3_BUCKET_NAME_PATTERN,
    ["abc", "my-bucket", "my.bucket.example", "a".repeat(63), "123", "1.2.3", "bucket-xn--a", "amzn-s3-demo", "s3alias", "my-sthree-bucket", "10.0.0.1a"],
    [
      "",
      "ab",
      "a".repeat(64),
      "My-Bucket",
      "my_bucket",
      "-bucket",
      "bucket-",
      ".bucket",
      "bucket.",
      "my..bucket",
      "192.168.5.4",
      "xn--bucket",
      "sthree-bucket",
      "sthree-configurator",
      "amzn-s3-demo-bucket",
      "bucket-s3alias",
      "bucket--ol-s3",
      "bucket.mrap",
      "bucket--usw2-az1--x-s3",
      "bucket--table-s3",
    ],
  );
  it("is what isS3BucketName checks", () => {
    expect(isS3BucketName("yolo-datasets")).toBe(true);
    expect(isS3BucketName("yolo..datasets")).toBe(false);
  });
  it("composes: its rules hold up to where the name's characters stop", () => {
    const uri = new RegExp(`^s3://(${S3_BUCKET_NAME_SOURCE})/(.+)$`);
    expect(uri.exec("s3://my-bucket/weights/best.pt")?.[1]).toBe("my-bucket");
    for (const refused of ["s3://xn--b/k", "s3://b..c/k", "s3://10.0.0.1/k", "s3://bucket-s3alias/k", "s3://ab/k"]) expect(uri.test(refused)).toBe(false);
    // A reserved ending or two dots further on, in the key, is not the bucket's.
    expect(uri.test("s3://my-bucket/x-s3alias")).toBe(true);
    expect(uri.test("s3://my-bucket/a..b")).toBe(true);
  });
});

describe("S3_BUCKET_ARN_PATTERN", () => {
  cases(
    S3_BUCKET_ARN_PATTERN,
    ["arn:aws:s3:::my-bucket", "arn:aws-cn:s3:::my-bucket", "arn:aws-us-gov:s3:::my.bucket"],
    ["arn:aws:s3:::*", "arn:aws:s3:::my-bucket/*", "arn:aws:s3:::my-bucket/key", "arn:aws:s3:us-east-1::my-bucket", "arn:aws:s3:::My-Bucket", "arn:aws:s3:::xn--bucket", "arn:foo:s3:::bucket", "arn:aws:kms:::bucket"],
  );
  it("names the partition and the bucket", () => {
    expect(S3_BUCKET_ARN_PATTERN.exec("arn:aws-cn:s3:::data-bucket")?.groups).toMatchObject({ partition: "aws-cn", bucket: "data-bucket" });
  });
});

describe("S3_OBJECT_ARN_PATTERN (one object: no IAM wildcard)", () => {
  cases(
    S3_OBJECT_ARN_PATTERN,
    ["arn:aws:s3:::bucket/weights/best.pt", "arn:aws-us-gov:s3:::bucket/a b.pt", "arn:aws-cn:s3:::bucket/k"],
    ["arn:aws:s3:::bucket", "arn:aws:s3:::bucket/", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/weights/*.pt", "arn:aws:s3:::bucket/best?.pt", "arn:aws:s3:::Bucket/k.pt"],
  );
  it("names the bucket and the key", () => {
    expect(S3_OBJECT_ARN_PATTERN.exec("arn:aws:s3:::bucket/runs/r1/best.pt")?.groups).toMatchObject({ bucket: "bucket", key: "runs/r1/best.pt" });
  });
});

describe("KMS", () => {
  describe("KMS_KEY_ID_PATTERN", () => {
    cases(KMS_KEY_ID_PATTERN, [UUID, MRK], ["", "1234ABCD-12AB-34CD-56EF-1234567890AB", "1234abcd12ab34cd56ef1234567890ab", "mrk-1234", "signing-key", `${UUID}0`]);
  });

  describe("KMS_KEY_ARN_PATTERN (the key id as KMS makes them)", () => {
    cases(
      KMS_KEY_ARN_PATTERN,
      [`arn:aws:kms:us-east-1:${ACCOUNT}:key/${UUID}`, `arn:aws-cn:kms:cn-north-1:${ACCOUNT}:key/${MRK}`, `arn:aws-us-gov:kms:us-gov-west-1:${ACCOUNT}:key/${UUID}`, `arn:aws:kms:ap-southeast-5:${ACCOUNT}:key/${UUID}`],
      [
        `arn:aws:kms:us-east-1:${ACCOUNT}:key/signing-key`,
        `arn:aws:kms:us-east-1:${ACCOUNT}:key/mrk-1234`,
        `arn:aws:kms:us-east-1:${ACCOUNT}:alias/ota`,
        `arn:aws:kms:us-east-1:12345:key/${UUID}`,
        `arn:aws:kms::${ACCOUNT}:key/${UUID}`,
        `arn:aws:kms:us-east-1:${ACCOUNT}:key/*`,
        UUID,
      ],
    );
    it("names the partition, region, account and key id", () => {
      expect(KMS_KEY_ARN_PATTERN.exec(`arn:aws-us-gov:kms:us-gov-west-1:${ACCOUNT}:key/${UUID}`)?.groups).toEqual({
        partition: "aws-us-gov",
        region: "us-gov-west-1",
        account: ACCOUNT,
        keyId: UUID,
      });
    });
  });

  describe("KMS_KEY_ARN_ANY_ID_PATTERN (ARNs the provider or a mock hands over)", () => {
    cases(
      KMS_KEY_ARN_ANY_ID_PATTERN,
      [`arn:aws:kms:us-east-1:${ACCOUNT}:key/${UUID}`, `arn:aws:kms:us-east-1:${ACCOUNT}:key/signing-key-id`, `arn:aws-cn:kms:cn-north-1:${ACCOUNT}:key/mrk-1234`],
      [`arn:aws:kms:us-east-1:${ACCOUNT}:alias/ota`, `arn:aws:kms:us-east-1:${ACCOUNT}:key/*`, `arn:aws:kms:us-east-1:${ACCOUNT}:key/a/b`, `arn:aws:kms:us-east-1:${ACCOUNT}:key/`, `arn:aws:s3:::key`],
    );
  });

  describe("KMS_ALIAS_NAME_PATTERN", () => {
    cases(KMS_ALIAS_NAME_PATTERN, ["alias/ota", "alias/yolo-train/dev/ota_signing", "alias/aws/s3", `alias/${"a".repeat(250)}`], ["alias/", "ota", "alias/ota.key", "alias/ota key", `alias/${"a".repeat(251)}`, "Alias/ota"]);
  });

  describe("KMS_ALIAS_ARN_PATTERN", () => {
    cases(
      KMS_ALIAS_ARN_PATTERN,
      [`arn:aws:kms:eu-west-1:${ACCOUNT}:alias/yolo-train-root`, `arn:aws-cn:kms:cn-north-1:${ACCOUNT}:alias/a/b`],
      [`arn:aws:kms:eu-west-1:${ACCOUNT}:key/${UUID}`, "alias/ota", `arn:aws:kms:eu-west-1:${ACCOUNT}:alias/`],
    );
    it("names the alias with its alias/", () => {
      expect(KMS_ALIAS_ARN_PATTERN.exec(`arn:aws:kms:eu-west-1:${ACCOUNT}:alias/root`)?.groups?.aliasName).toBe("alias/root");
    });
  });

  describe("KMS_KEY_REFERENCE_PATTERN (what KMS takes as a KeyId)", () => {
    cases(
      KMS_KEY_REFERENCE_PATTERN,
      [`arn:aws:kms:us-east-1:${ACCOUNT}:key/${UUID}`, `arn:aws-us-gov:kms:us-gov-west-1:${ACCOUNT}:alias/ota`, "alias/ota", UUID, MRK],
      ["my key", "(mrk-)1234", `arn:aws:kms:us-east-1:${ACCOUNT}:key/signing-key`, "1234abcd12ab34cd56ef1234567890ab", `arn:aws:s3:::${UUID}`, ""],
    );
  });

  describe("KMS_KEY_REFERENCE_ANY_ID_PATTERN", () => {
    cases(
      KMS_KEY_REFERENCE_ANY_ID_PATTERN,
      [`arn:aws:kms:us-east-1:${ACCOUNT}:key/ota-signing-key-id`, `arn:aws:kms:us-east-1:${ACCOUNT}:alias/ota`, "alias/ota", UUID],
      ["signing-key", `arn:aws:kms:us-east-1:${ACCOUNT}:key/a/b`, `arn:aws:kms:us-east-1:${ACCOUNT}:key/*`],
    );
  });

  describe("parseKmsKeyReference", () => {
    it("reads each kind of KeyId", () => {
      expect(parseKmsKeyReference(`arn:aws-cn:kms:cn-north-1:${ACCOUNT}:key/${MRK}`)).toEqual({ kind: "key-arn", partition: "aws-cn", region: "cn-north-1", account: ACCOUNT, keyId: MRK });
      expect(parseKmsKeyReference(`arn:aws:kms:eu-west-1:${ACCOUNT}:alias/root`)).toEqual({ kind: "alias-arn", partition: "aws", region: "eu-west-1", account: ACCOUNT, aliasName: "alias/root" });
      expect(parseKmsKeyReference("alias/root")).toEqual({ kind: "alias", aliasName: "alias/root" });
      expect(parseKmsKeyReference(UUID)).toEqual({ kind: "key-id", keyId: UUID });
    });
    it("takes a key ARN's logical key id only when told to", () => {
      const logical = `arn:aws:kms:us-east-1:${ACCOUNT}:key/signing-id`;
      expect(parseKmsKeyReference(logical)).toBeUndefined();
      expect(parseKmsKeyReference(logical, { anyKeyId: true })).toMatchObject({ kind: "key-arn", keyId: "signing-id" });
      expect(parseKmsKeyReference("signing-id", { anyKeyId: true })).toBeUndefined();
    });
  });
});

describe("ECR", () => {
  describe("ECR_REGISTRY_HOST_PATTERN", () => {
    cases(
      ECR_REGISTRY_HOST_PATTERN,
      [`${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`, `${ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com`, `${ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn`, `${ACCOUNT}.dkr.ecr.ap-southeast-5.amazonaws.com`],
      ["public.ecr.aws", `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/yolo`, `1234.dkr.ecr.us-east-1.amazonaws.com`, `${ACCOUNT}.dkr.ecr.useast1.amazonaws.com`, "docker.io", `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com:443`],
    );
    it("names the account and region", () => {
      expect(ECR_REGISTRY_HOST_PATTERN.exec(`${ACCOUNT}.dkr.ecr.il-central-1.amazonaws.com`)?.groups).toEqual({ account: ACCOUNT, region: "il-central-1" });
    });
  });

  describe("ECR_REPOSITORY_NAME_PATTERN", () => {
    cases(ECR_REPOSITORY_NAME_PATTERN, ["yolo-train", "team/yolo-train", "a.b_c-d", "ab", "a".repeat(256)], ["a", "a".repeat(257), "Yolo", "yolo--train", "-yolo", "yolo/", "/yolo", "team//yolo", "yolo_"]);
  });

  describe("ECR_REPOSITORY_ARN_PATTERN", () => {
    cases(
      ECR_REPOSITORY_ARN_PATTERN,
      [`arn:aws:ecr:us-east-1:${ACCOUNT}:repository/yolo-train`, `arn:aws-cn:ecr:cn-north-1:${ACCOUNT}:repository/team/yolo`, `arn:aws-us-gov:ecr:us-gov-west-1:${ACCOUNT}:repository/yolo-train`],
      [`arn:aws:ecr:us-east-1:${ACCOUNT}:repository/*`, `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/Yolo`, `arn:aws:ecr:us-east-1:${ACCOUNT}:yolo-train`, `arn:aws:ecr::${ACCOUNT}:repository/yolo-train`],
    );
  });
});

describe("SSM_PARAMETER_ARN_PATTERN", () => {
  cases(
    SSM_PARAMETER_ARN_PATTERN,
    [`arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/yolo-train/dev/wandb-api-key`, `arn:aws-cn:ssm:cn-north-1:${ACCOUNT}:parameter/key`, `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/a.b_c-d`],
    [`arn:aws:ssm:us-east-1:${ACCOUNT}:parameter//yolo`, `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/*`, `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/`, `arn:aws:ssm:us-east-1:${ACCOUNT}:document/x`],
  );
});

describe("CloudWatch Logs", () => {
  describe("CLOUDWATCH_LOG_GROUP_NAME_PATTERN", () => {
    cases(CLOUDWATCH_LOG_GROUP_NAME_PATTERN, ["/yolo-train/dev/run", "a", "a#b.c_d", "x".repeat(512)], ["", "x".repeat(513), "a b", "a:b", "a*"]);
  });
  describe("CLOUDWATCH_LOG_GROUP_ARN_PATTERN (without the :* of its streams)", () => {
    cases(
      CLOUDWATCH_LOG_GROUP_ARN_PATTERN,
      [`arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/yolo-train/run`, `arn:aws-us-gov:logs:us-gov-west-1:${ACCOUNT}:log-group:name`],
      [`arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/yolo-train/run:*`, `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:*`, `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:`],
    );
  });
});

describe("LAMBDA_FUNCTION_ARN_PATTERN (unqualified)", () => {
  cases(
    LAMBDA_FUNCTION_ARN_PATTERN,
    [`arn:aws:lambda:us-east-1:${ACCOUNT}:function:ota-timestamp`, `arn:aws-cn:lambda:cn-north-1:${ACCOUNT}:function:f_1`],
    [`arn:aws:lambda:us-east-1:${ACCOUNT}:function:f:$LATEST`, `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${"f".repeat(65)}`, `arn:aws:lambda:us-east-1:${ACCOUNT}:function:*`],
  );
});

describe("IAM", () => {
  describe("IAM_ROLE_ARN_PATTERN", () => {
    cases(
      IAM_ROLE_ARN_PATTERN,
      [`arn:aws:iam::${ACCOUNT}:role/node-role`, `arn:aws:iam::${ACCOUNT}:role/service-role/my+role=,.@-_`, `arn:aws-us-gov:iam::${ACCOUNT}:role/r`, `arn:aws-cn:iam::${ACCOUNT}:role/a/b/c`],
      [`arn:aws:iam:us-east-1:${ACCOUNT}:role/r`, `arn:aws:iam::${ACCOUNT}:role/`, `arn:aws:iam::${ACCOUNT}:role/${"r".repeat(65)}`, `arn:aws:iam::${ACCOUNT}:role/*`, `arn:aws:iam::${ACCOUNT}:user/r`, "arn:aws:iam::aws:role/r"],
    );
    it("names the role without its path", () => {
      expect(IAM_ROLE_ARN_PATTERN.exec(`arn:aws:iam::${ACCOUNT}:role/service-role/node`)?.groups).toMatchObject({ account: ACCOUNT, roleName: "node" });
    });
  });
  describe("IAM_POLICY_ARN_PATTERN", () => {
    cases(
      IAM_POLICY_ARN_PATTERN,
      [`arn:aws:iam::${ACCOUNT}:policy/yolo-node`, "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "arn:aws-cn:iam::aws:policy/service-role/AmazonEC2RoleforSSM", `arn:aws-us-gov:iam::${ACCOUNT}:policy/p`],
      [`arn:aws:iam::${ACCOUNT}:policy/*`, `arn:aws:iam::${ACCOUNT}:policy/${"p".repeat(129)}`, `arn:aws:iam::${ACCOUNT}:role/p`, "arn:aws:iam::amazon:policy/p"],
    );
  });
});

describe("SNS_TOPIC_ARN_PATTERN", () => {
  cases(
    SNS_TOPIC_ARN_PATTERN,
    [`arn:aws:sns:us-east-1:${ACCOUNT}:yolo-alerts`, `arn:aws:sns:us-east-1:${ACCOUNT}:alerts.fifo`, `arn:aws-us-gov:sns:us-gov-west-1:${ACCOUNT}:a_b`, `arn:aws:sns:il-central-1:${ACCOUNT}:${"t".repeat(256)}`],
    [`arn:aws:sns:us-east-1:${ACCOUNT}:*`, `arn:aws:sns:us-east-1:${ACCOUNT}:a.b`, `arn:aws:sns:us-east-1:${ACCOUNT}:${"t".repeat(257)}`, `arn:aws:sns::${ACCOUNT}:topic`],
  );
});

describe("AUTO_SCALING_GROUP_ARN_PATTERN", () => {
  const arn = (partition: string, region: string, name: string) =>
    `arn:${partition}:autoscaling:${region}:${ACCOUNT}:autoScalingGroup:0a1b2c3d-1111-2222-3333-444455556666:autoScalingGroupName/${name}`;
  cases(
    AUTO_SCALING_GROUP_ARN_PATTERN,
    [arn("aws", "us-east-1", "yolo-gpu"), arn("aws-cn", "cn-north-1", "g"), arn("aws-us-gov", "us-gov-west-1", "my group")],
    [
      `arn:aws:autoscaling:us-east-1:${ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/yolo-gpu`,
      arn("aws", "us-east-1", ""),
      arn("aws", "us-east-1", "g".repeat(256)),
      `arn:aws:autoscaling:us-east-1:${ACCOUNT}:scalingPolicy:0a1b2c3d-1111-2222-3333-444455556666:autoScalingGroupName/g:policyName/p`,
    ],
  );
  it("names the group", () => {
    expect(AUTO_SCALING_GROUP_ARN_PATTERN.exec(arn("aws", "ap-southeast-5", "yolo-gpu"))?.groups).toMatchObject({ region: "ap-southeast-5", groupName: "yolo-gpu" });
  });
});
