import {
  nodeRolePolicyDocument,
  type NodeRolePolicyInput,
  type PolicyDocument,
  type PolicyStatement,
} from "../../../components/iam/nodeRolePolicy";

const GROUP = "yolo-train-dev-yolov8n-widgets-0123456789";
const LOG_GROUP_ARN = `arn:aws:logs:us-east-1:123456789012:log-group:/yolo-train/${GROUP}`;

const full: NodeRolePolicyInput = {
  partition: "aws",
  region: "us-east-1",
  accountId: "123456789012",
  autoScalingGroupName: GROUP,
  logGroupArn: LOG_GROUP_ARN,
  dataset: { bucketArn: "arn:aws:s3:::yolo-train-dev-datasets", prefix: "datasets/widgets/" },
  artifactBucketArn: "arn:aws:s3:::yolo-train-dev-artifacts",
  artifactPrefix: "runs/yolov8n-widgets-0123456789/",
  otaBucketArn: "arn:aws:s3:::yolo-train-dev-ota",
  otaPrefix: "models/widgets/",
  signingKeyArn: "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666",
  ecrRepositoryArn: "arn:aws:ecr:us-east-1:123456789012:repository/yolo-train",
  wandbApiKeyParameterArn: "arn:aws:ssm:us-east-1:123456789012:parameter/yolo-train/dev/wandb-api-key",
};

function statement(doc: PolicyDocument, sid: string): PolicyStatement {
  const found = doc.Statement.find((s) => s.Sid === sid);
  if (!found) throw new Error(`no statement ${sid}; have ${doc.Statement.map((s) => s.Sid).join(", ")}`);
  return found;
}

const resources = (s: PolicyStatement): string[] => (typeof s.Resource === "string" ? [s.Resource] : [...s.Resource]);

/** Actions that only read or authenticate; everything else counts as a write. */
const READ_ONLY = /^(s3:(Get|List)|kms:GetPublicKey|ecr:(BatchGetImage|GetDownloadUrlForLayer|BatchCheckLayerAvailability|GetAuthorizationToken)|ec2:Describe|logs:Describe|ssm:GetParameter)/;

describe("nodeRolePolicyDocument", () => {
  const doc = nodeRolePolicyDocument(full);

  it("is a valid IAM policy document that survives JSON", () => {
    const parsed = JSON.parse(JSON.stringify(doc));
    expect(parsed.Version).toBe("2012-10-17");
    expect(parsed.Statement.every((s: PolicyStatement) => s.Effect === "Allow")).toBe(true);
    expect(new Set(parsed.Statement.map((s: PolicyStatement) => s.Sid)).size).toBe(parsed.Statement.length);
  });

  it("gives every write action a resource that is not a wildcard", () => {
    for (const s of doc.Statement) {
      const writes = s.Action.filter((a) => !READ_ONLY.test(a));
      if (writes.length === 0) continue;
      if (s.Action.includes("cloudwatch:PutMetricData")) continue; // checked below: fenced by namespace
      for (const resource of resources(s)) {
        expect(resource).not.toBe("*");
        expect(resource).not.toMatch(/^arn:aws:s3:::[^/]+\/\*$/); // never a whole bucket
      }
    }
  });

  it("uses '*' only for read-only actions and the namespace-fenced PutMetricData", () => {
    const starred = doc.Statement.filter((s) => resources(s).includes("*"));
    expect(starred.map((s) => s.Sid).sort()).toEqual(["LogInToEcr", "PublishMetrics", "ReadOwnTags"]);
    expect(statement(doc, "LogInToEcr").Action).toEqual(["ecr:GetAuthorizationToken"]);
    expect(statement(doc, "ReadOwnTags").Action).toEqual(["ec2:DescribeTags"]);
    expect(statement(doc, "PublishMetrics")).toEqual({
      Sid: "PublishMetrics",
      Effect: "Allow",
      Action: ["cloudwatch:PutMetricData"],
      Resource: "*",
      Condition: { StringEquals: { "cloudwatch:namespace": ["CWAgent", "YoloTrain"] } },
    });
  });

  it("reads the dataset prefix only: GetObject under it, ListBucket limited by s3:prefix", () => {
    expect(statement(doc, "ReadDataset")).toMatchObject({ Action: ["s3:GetObject"], Resource: "arn:aws:s3:::yolo-train-dev-datasets/datasets/widgets/*" });
    expect(statement(doc, "ListDataset")).toMatchObject({
      Action: ["s3:ListBucket"],
      Resource: "arn:aws:s3:::yolo-train-dev-datasets",
      Condition: { StringLike: { "s3:prefix": ["datasets/widgets/", "datasets/widgets/*"] } },
    });
  });

  it("reads and writes only runs/<runId>/ in the artifact bucket, with multipart but no delete", () => {
    const rw = statement(doc, "ReadWriteRunArtifacts");
    expect(rw.Resource).toBe("arn:aws:s3:::yolo-train-dev-artifacts/runs/yolov8n-widgets-0123456789/*");
    expect([...rw.Action].sort()).toEqual(["s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectVersion", "s3:ListMultipartUploadParts", "s3:PutObject"]);
    expect(doc.Statement.flatMap((s) => s.Action)).not.toContain("s3:DeleteObject");
    expect(statement(doc, "ListRunArtifacts")).toMatchObject({
      Resource: "arn:aws:s3:::yolo-train-dev-artifacts",
      Condition: { StringLike: { "s3:prefix": ["runs/yolov8n-widgets-0123456789/", "runs/yolov8n-widgets-0123456789/*"] } },
    });
  });

  it("publishes under the model's OTA prefix only", () => {
    expect(statement(doc, "PublishModelRelease")).toMatchObject({
      Action: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
      Resource: "arn:aws:s3:::yolo-train-dev-ota/models/widgets/*",
    });
    expect(statement(doc, "ListModelReleases").Condition).toEqual({ StringLike: { "s3:prefix": ["models/widgets/", "models/widgets/*"] } });
  });

  it("signs with the signing key only", () => {
    expect(statement(doc, "SignModelRelease")).toMatchObject({ Action: ["kms:Sign", "kms:GetPublicKey"], Resource: full.signingKeyArn });
  });

  it("pulls from the image's repository only", () => {
    expect(statement(doc, "PullTrainingImage")).toMatchObject({
      Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
      Resource: full.ecrRepositoryArn,
    });
  });

  it("writes logs to the run's log group and its streams only", () => {
    expect(statement(doc, "WriteRunLogs")).toMatchObject({
      Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
      Resource: [LOG_GROUP_ARN, `${LOG_GROUP_ARN}:*`],
    });
    const withSuffix = nodeRolePolicyDocument({ ...full, logGroupArn: `${LOG_GROUP_ARN}:*` });
    expect(statement(withSuffix, "WriteRunLogs").Resource).toEqual([LOG_GROUP_ARN, `${LOG_GROUP_ARN}:*`]);
  });

  it("terminates instances in this group only", () => {
    expect(statement(doc, "TerminateSelfInGroup")).toMatchObject({
      Action: ["autoscaling:TerminateInstanceInAutoScalingGroup"],
      Resource: `arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/${GROUP}`,
    });
  });

  it("reads the W&B key parameter only when given", () => {
    expect(statement(doc, "ReadWandbApiKey")).toMatchObject({ Action: ["ssm:GetParameter"], Resource: full.wandbApiKeyParameterArn });
    const { wandbApiKeyParameterArn: _w, ecrRepositoryArn: _e, dataset: _d, ...minimal } = full;
    const sids = nodeRolePolicyDocument(minimal).Statement.map((s) => s.Sid);
    expect(sids).not.toEqual(expect.arrayContaining(["ReadWandbApiKey"]));
    expect(sids).not.toContain("PullTrainingImage");
    expect(sids).not.toContain("LogInToEcr");
    expect(sids).not.toContain("ReadDataset");
    expect(sids).not.toContain("ListDataset");
  });

  it("lists a whole dataset bucket without a prefix condition", () => {
    const whole = nodeRolePolicyDocument({ ...full, dataset: { bucketArn: "arn:aws:s3:::acme-data", prefix: "" } });
    expect(statement(whole, "ListDataset").Condition).toBeUndefined();
    expect(statement(whole, "ReadDataset").Resource).toBe("arn:aws:s3:::acme-data/*");
  });

  it("uses the partition it is given", () => {
    const cn = nodeRolePolicyDocument({ ...full, partition: "aws-cn", region: "cn-north-1" });
    expect(statement(cn, "TerminateSelfInGroup").Resource).toBe(`arn:aws-cn:autoscaling:cn-north-1:123456789012:autoScalingGroup:*:autoScalingGroupName/${GROUP}`);
  });

  it.each<[string, Partial<NodeRolePolicyInput>, RegExp]>([
    ["an empty artifact prefix (the whole bucket)", { artifactPrefix: "" }, /artifactPrefix "" must be the run's prefix/],
    ["an artifact prefix with a wildcard", { artifactPrefix: "runs/*/" }, /artifactPrefix/],
    ["a signing key alias instead of a key ARN", { signingKeyArn: "arn:aws:kms:us-east-1:123456789012:alias/ota" }, /signingKeyArn/],
    ["a bucket name instead of an ARN", { artifactBucketArn: "yolo-train-dev-artifacts" }, /artifactBucketArn/],
    ["a group name with a wildcard", { autoScalingGroupName: "yolo-*" }, /autoScalingGroupName/],
    ["an account id that is not 12 digits", { accountId: "1234" }, /accountId/],
    ["a log group ARN with a wildcard name", { logGroupArn: "arn:aws:logs:us-east-1:123456789012:log-group:*" }, /logGroupArn/],
  ])("refuses %s", (_what, change, message) => {
    expect(() => nodeRolePolicyDocument({ ...full, ...change })).toThrow(message);
  });

  it("reports every problem at once", () => {
    expect(() => nodeRolePolicyDocument({ ...full, accountId: "x", artifactPrefix: "", otaPrefix: "/x" })).toThrow(/3 problem\(s\)/);
  });
});

describe("starting weights from S3", () => {
  it("lets the node read exactly that one object, and only read it", () => {
    const doc = nodeRolePolicyDocument({ ...full, initialWeightsArn: "arn:aws:s3:::model-zoo/pallets/v3/best.pt" });
    const weights = statement(doc, "ReadInitialWeights");
    expect(weights.Action).toEqual(["s3:GetObject"]);
    expect(resources(weights)).toEqual(["arn:aws:s3:::model-zoo/pallets/v3/best.pt"]);
  });

  it("grants nothing for weights when the model is a pretrained release", () => {
    expect(nodeRolePolicyDocument(full).Statement.map((s) => s.Sid)).not.toContain("ReadInitialWeights");
  });

  it("refuses a wildcard in place of the object", () => {
    expect(() => nodeRolePolicyDocument({ ...full, initialWeightsArn: "arn:aws:s3:::model-zoo/*" })).toThrow(/initialWeightsArn/);
  });
});
