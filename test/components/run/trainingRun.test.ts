import * as pulumi from "@pulumi/pulumi";
import { TrainingRun } from "../../../components/run/trainingRun";
import { parseExperimentConfig, parseExperimentInput } from "../../../config";
import { deferredImagePart, deferredNetworkArgs, deferredOtaPart } from "../../../components/run/deferredParts";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";
import { parseRunSpec } from "../../../runspec";

const context = { project: "yolo-train", stack: "widgets", region: "us-east-1" };
const LAUNCH = new Date("2026-03-01T08:00:00Z");

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "widgets" });
});

/** Waits until the run's deepest outputs resolved, so every child has registered. */
async function settle(run: TrainingRun): Promise<void> {
  await valueOf(pulumi.all([run.dashboard!.dashboardUrl, run.guardrails.backstopAt, run.nodeGroup.groupArn, run.image.imageUri]));
}

/** Resources of `type` under the run named `runName`. */
function under(runName: string, type: string) {
  return runtime.ofType(type).filter((r) => r.name.startsWith(`${runName}-`) || r.name === runName);
}

function userDataOf(runName: string): string {
  const template = runtime.ofType("aws:ec2/launchTemplate:LaunchTemplate").find((r) => r.name.startsWith(runName));
  return Buffer.from(template!.inputs.userData, "base64").toString("utf8");
}

function runSpecIn(userData: string) {
  const encoded = /RUN_SPEC_B64='?([A-Za-z0-9+/=]+)'?/.exec(userData)?.[1] ?? /base64 -d[^\n]*<<<\s*'?([A-Za-z0-9+/=]+)/.exec(userData)?.[1];
  expect(encoded).toBeDefined();
  return parseRunSpec(JSON.parse(Buffer.from(encoded!, "base64").toString("utf8")));
}

describe("a TrainingRun for a built-in dataset on the debug stage", () => {
  const config = parseExperimentConfig({ stage: "debug", epochs: "10" }, context);
  let run: TrainingRun;
  beforeAll(async () => {
    run = new TrainingRun("yt-debug", { config, launchTime: LAUNCH });
    await settle(run);
  });

  it("composes every part of an experiment as its children", () => {
    const component = runtime.single("yolo-train:run:TrainingRun");
    const childTypes = runtime.childrenOf(component.urn).map((r) => r.type).sort();
    expect(childTypes).toEqual(
      [
        "yolo-train:compute:GpuNodeGroup",
        "yolo-train:compute:NodeRole",
        "yolo-train:guardrails:Guardrails",
        "yolo-train:image:TrainingImage",
        "yolo-train:network:Network",
        "yolo-train:observability:RunDashboard",
        "yolo-train:ota:OtaBucket",
        "yolo-train:storage:ArtifactBucket",
        "yolo-train:storage:DatasetBucket",
      ].sort(),
    );
  });

  /** Every IAM document (policy, inline policy, trust policy) the run declared, with the resource declaring it. */
  function iamDocuments(runName: string) {
    return runtime.resources
      .filter((r) => r.name.startsWith(`${runName}-`))
      .flatMap((r) =>
        [r.inputs.policy, r.inputs.assumeRolePolicy]
          .filter((d): d is string => typeof d === "string")
          .map((d) => JSON.parse(d))
          // ECR lifecycle policies are `policy` too, but have rules, not statements.
          .filter((d) => Array.isArray(d.Statement))
          .map((d) => ({ resource: r, statements: d.Statement as { Action: string | string[]; Resource?: string | string[]; Condition?: unknown }[] })),
      );
  }
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : typeof v === "string" ? [v] : v);

  it("owns a root key and a timestamp key besides the signing key, and a timestamp function", async () => {
    const ota = run.otaBucket!;
    const arns = await Promise.all([valueOf(ota.signingKeyArn), valueOf(ota.rootKeyArn), valueOf(ota.timestampKeyArn)]);
    expect(new Set(arns).size).toBe(3);
    expect(runtime.ofType("yolo-train:ota:TimestampFunction").map((r) => r.name)).toContain("yt-debug-ota-timestamp");
    expect(await valueOf(ota.timestampFunctionName)).toBe("yt-debug-ota-timestamp-0a1b2c3");
  });

  it("lets the node role sign with the release key only, never with the root or timestamp key", async () => {
    const ota = run.otaBucket!;
    const [signing, root, timestamp] = await Promise.all([valueOf(ota.signingKeyArn), valueOf(ota.rootKeyArn), valueOf(ota.timestampKeyArn)]);
    const node = iamDocuments("yt-debug").filter((d) => d.resource.name.startsWith("yt-debug-gpu") && d.resource.type === "aws:iam/rolePolicy:RolePolicy");
    expect(node).toHaveLength(1);
    const statements = node[0]!.statements;
    const kms = statements.filter((st) => list(st.Action).some((a) => a.startsWith("kms:")));
    expect(kms.flatMap((st) => list(st.Resource))).toEqual([signing]);
    const everything = statements.flatMap((st) => [...list(st.Resource), JSON.stringify(st.Condition ?? {})]);
    expect(everything.filter((r) => r.includes(root) || r.includes(timestamp))).toEqual([]);
  });

  it("names the root key in no IAM document of the run, and the timestamp key in the timestamp function's alone", async () => {
    const ota = run.otaBucket!;
    const [root, timestamp] = await Promise.all([valueOf(ota.rootKeyArn), valueOf(ota.timestampKeyArn)]);
    const documents = iamDocuments("yt-debug");
    // node role + trust, edge read, 3 TLS-only bucket policies, guardrails and timestamp roles + trusts, SNS topic policy
    expect(documents.length).toBeGreaterThanOrEqual(10);
    const naming = (arn: string) =>
      documents.filter((d) => d.statements.some((st) => list(st.Resource).includes(arn) || JSON.stringify(st.Condition ?? {}).includes(arn))).map((d) => d.resource.name);
    expect(naming(root)).toEqual([]);
    expect(naming(timestamp)).toEqual(["yt-debug-ota-timestamp-role"]);
    // Nor does any other input of any resource of the run (the aliases target key ids, not ARNs).
    const mentioning = runtime.resources.filter((r) => r.name.startsWith("yt-debug-") && JSON.stringify(r.inputs).includes(root));
    expect(mentioning.map((r) => r.name)).toEqual([]);
    // No wildcard KMS grant anywhere that could reach the root key.
    for (const d of documents) {
      for (const st of d.statements) {
        if (list(st.Action).some((a) => a.startsWith("kms:") || a === "*")) expect(list(st.Resource)).not.toContain("*");
      }
    }
  });

  it("alerts the run's topic within the hour when the OTA timestamp function fails", async () => {
    const alarm = runtime.ofType("aws:cloudwatch/metricAlarm:MetricAlarm").find((r) => r.name === "yt-debug-ota-timestamp-failed")!;
    expect(alarm.inputs).toMatchObject({
      namespace: "AWS/Lambda",
      metricName: "Errors",
      dimensions: { FunctionName: await valueOf(run.otaBucket!.timestampFunctionName) },
      statistic: "Sum",
      period: 3600,
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "notBreaching",
      alarmActions: [await valueOf(run.guardrails.alertTopicArn)],
    });
  });

  it("names the group after the run, so a changed spec is a new group", () => {
    // Account-wide, so it names the project and stack ("yolo-train", "widgets") before the component.
    expect(run.names.groupName).toBe(`yolo-train-widgets-yt-debug-${run.runId}`);
    const group = under("yt-debug", "aws:autoscaling/group:Group")[0]!;
    expect(group.inputs.name).toBe(run.names.groupName);
  });

  it("mounts nothing for a built-in dataset and tells the trainer its yaml", () => {
    const spec = runSpecIn(userDataOf("yt-debug"));
    expect(spec.data).toEqual({ kind: "builtin", yaml: "coco8.yaml" });
    expect(spec.autoScalingGroupName).toBe(run.names.groupName);
    expect(spec.artifacts.prefix).toBe(`runs/${run.runId}/`);
    expect(spec.limits.maxRuntimeHours).toBe(2);
    expect(runtime.ofType("aws:fsx/lustreFileSystem:LustreFileSystem")).toHaveLength(0);
  });

  it("sets the max-runtime backstop from the launch time", async () => {
    expect(await valueOf(run.guardrails.backstopAt)).toBe("2026-03-01T10:00:00Z");
  });

  it("estimates the cost on the cheapest T4 spot type and bounds it by the max runtime", () => {
    expect(run.estimate.capacityRates.chosen.instanceType).toBe("g4dn.xlarge");
    expect(run.estimate.cost!.estimatedUsd).toBeLessThan(run.estimate.cost!.onDemandUsd);
    expect(run.estimate.capUsd).toBeCloseTo(2 * run.estimate.capacityRates.chosen.usdPerHour, 6);
  });

  it("keeps the same run id for the same spec and changes it when training changes", () => {
    const again = parseExperimentConfig({ stage: "debug", epochs: 10, capacity: "on-demand", idleMinutes: 30 }, context);
    const longer = parseExperimentConfig({ stage: "debug", epochs: 11 }, context);
    expect(new TrainingRun("yt-same", { config: again, launchTime: LAUNCH }).runId).toBe(run.runId);
    expect(new TrainingRun("yt-longer", { config: longer, launchTime: LAUNCH }).runId).not.toBe(run.runId);
  });
});

describe("a TrainingRun for a dataset in the stack's bucket on FSx for Lustre with W&B tracking", () => {
  const config = parseExperimentConfig(
    {
      data: "widgets",
      datasetMount: "fsx-lustre",
      datasetImages: 5000,
      tracking: { wandbProject: "widgets", wandbApiKey: "[secret]" },
    },
    { ...context, secretKeys: ["tracking"] },
  );
  let run: TrainingRun;
  beforeAll(async () => {
    run = new TrainingRun("yt-lustre", { config, launchTime: LAUNCH, wandbApiKey: pulumi.secret("wandb-key-123") });
    await settle(run);
  });

  it("links a Lustre file system to the dataset prefix and pins the nodes to its subnet", async () => {
    const lustre = runtime.single("aws:fsx/lustreFileSystem:LustreFileSystem");
    expect(lustre.inputs.importPath).toMatch(/^s3:\/\/yt-lustre-datasets-[^/]+\/datasets\/widgets\/?$/);
    const group = under("yt-lustre", "aws:autoscaling/group:Group")[0]!;
    expect(group.inputs.vpcZoneIdentifiers).toEqual([await valueOf(run.lustre!.subnetId)]);
  });

  it("points the trainer at the mounted data.yaml", () => {
    const spec = runSpecIn(userDataOf("yt-lustre"));
    expect(spec.data).toEqual({ kind: "mounted", yamlPath: "/data/data.yaml" });
    expect(spec.tracking).toEqual({ kind: "wandb", project: "widgets", apiKeyParameter: run.names.wandbParameterName });
  });

  it("keeps the W&B key in an SSM SecureString, out of the user data", () => {
    const parameter = runtime.single("aws:ssm/parameter:Parameter");
    expect(parameter.inputs.type).toBe("SecureString");
    expect(parameter.inputs.name).toBe(run.names.wandbParameterName);
    expect(userDataOf("yt-lustre")).not.toContain("wandb-key-123");
  });

  it("lets only this node role read the W&B key and the dataset prefix", () => {
    const policy = runtime.ofType("aws:iam/rolePolicy:RolePolicy").find((r) => r.name.startsWith("yt-lustre-gpu"))!;
    const document = JSON.parse(policy.inputs.policy);
    const statements: { Action: string[]; Resource: string | string[] }[] = document.Statement;
    const ssm = statements.find((s) => s.Action.includes("ssm:GetParameter"))!;
    expect(ssm.Resource).toEqual(expect.stringContaining(`parameter${run.names.wandbParameterName}`));
    const reads = statements.filter((s) => s.Action.includes("s3:GetObject")).flatMap((s) => [s.Resource].flat());
    expect(reads).toEqual(expect.arrayContaining([expect.stringMatching(/yt-lustre-datasets-.*\/datasets\/widgets\/\*$/)]));
  });

  it("estimates from the image count given", () => {
    expect(run.estimate.hours).toBeGreaterThan(0);
  });
});

describe("a TrainingRun for a dataset and starting weights in another bucket, copied to NVMe", () => {
  const config = parseExperimentConfig(
    {
      data: "s3://shared-datasets/pallets/v3/data.yaml",
      model: "s3://model-zoo/pallets/v2/best.pt",
      datasetMount: "copy",
      capacity: "on-demand",
    },
    context,
  );
  let run: TrainingRun;
  beforeAll(async () => {
    run = new TrainingRun("yt-shared", { config, launchTime: LAUNCH });
    await settle(run);
  });

  function nodePolicy() {
    const policy = runtime.ofType("aws:iam/rolePolicy:RolePolicy").find((r) => r.name.startsWith("yt-shared-gpu"))!;
    return JSON.parse(policy.inputs.policy).Statement as { Sid: string; Action: string[]; Resource: string | string[] }[];
  }

  it("copies the dataset's prefix, with its trailing slash, and reads the yaml from /data", () => {
    const userData = userDataOf("yt-shared");
    expect(userData).toContain("readonly DATASET_BUCKET='shared-datasets'");
    expect(userData).toContain("readonly DATASET_PREFIX='pallets/v3/'");
    expect(runSpecIn(userData).data).toEqual({ kind: "mounted", yamlPath: "/data/data.yaml" });
  });

  it("lets the node read only that dataset prefix and that one weights file", () => {
    const statements = nodePolicy();
    const reads = statements.filter((s) => s.Action.includes("s3:GetObject")).flatMap((s) => [s.Resource].flat());
    expect(reads).toEqual(expect.arrayContaining(["arn:aws:s3:::shared-datasets/pallets/v3/*", "arn:aws:s3:::model-zoo/pallets/v2/best.pt"]));
    const writes = statements.filter((s) => s.Action.some((a) => a === "s3:PutObject")).flatMap((s) => [s.Resource].flat());
    expect(writes.some((r) => r.includes("shared-datasets") || r.includes("model-zoo"))).toBe(false);
  });

  it("buys on-demand capacity only", () => {
    const group = under("yt-shared", "aws:autoscaling/group:Group")[0]!;
    const distribution = group.inputs.mixedInstancesPolicy.instancesDistribution;
    expect(distribution.onDemandPercentageAboveBaseCapacity).toBe(100);
  });

  it("has no estimate without an image count, only the cap", () => {
    expect(run.estimate.hours).toBeUndefined();
    expect(run.estimate.capUsd).toBeGreaterThan(0);
    expect(run.estimate.assumptions.join(" ")).toContain("datasetImages");
  });
});

describe("a TrainingRun that publishes to a platform stack's fleet OTA bucket", () => {
  const FLEET_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
  const config = parseExperimentConfig(
    { ota: { modelName: "pallets", bucket: "fleet-models-1a2b3c", signingKeyArn: FLEET_KEY, modelsPrefix: "vision/models/" } },
    context,
  );
  let run: TrainingRun;
  beforeAll(async () => {
    run = new TrainingRun("yt-fleet", { config, launchTime: LAUNCH });
    await settle(run);
  });

  it("creates no OTA bucket and no signing key of its own", () => {
    expect(run.otaBucket).toBeUndefined();
    const component = runtime.ofType("yolo-train:run:TrainingRun").find((r) => r.name === "yt-fleet")!;
    expect(runtime.childrenOf(component.urn).map((r) => r.type)).not.toContain("yolo-train:ota:OtaBucket");
    expect(runtime.resources.filter((r) => r.name.startsWith("yt-fleet") && (r.type === "aws:kms/key:Key" || r.name.includes("-ota")))).toEqual([]);
    // The owning stack's timestamp function signs the fleet bucket's timestamps.
    expect(runtime.resources.filter((r) => r.name.startsWith("yt-fleet") && (r.type.startsWith("aws:lambda/") || r.type === "yolo-train:ota:TimestampFunction"))).toEqual([]);
  });

  it("tells the agent to publish under the fleet bucket's models prefix, signed with the fleet key", async () => {
    const spec = runSpecIn(userDataOf("yt-fleet"));
    expect(spec.ota).toMatchObject({ bucket: "fleet-models-1a2b3c", prefix: "vision/models/pallets/", modelName: "pallets", signingKeyId: FLEET_KEY });
    expect(await valueOf(run.otaPrefix)).toBe("vision/models/pallets/");
    expect(await valueOf(run.ota.bucketName)).toBe("fleet-models-1a2b3c");
    expect(run.ota.shared).toBe(true);
  });

  it("lets the node role write only its model's prefix of the fleet bucket and sign only with the fleet key", () => {
    const policy = runtime.ofType("aws:iam/rolePolicy:RolePolicy").find((r) => r.name.startsWith("yt-fleet-gpu"))!;
    const statements = JSON.parse(policy.inputs.policy).Statement as { Action: string[]; Resource: string | string[] }[];
    const fleetResources = statements.flatMap((st) => [st.Resource].flat()).filter((r) => r.includes("fleet-models-1a2b3c"));
    expect(fleetResources.length).toBeGreaterThan(0);
    for (const resource of fleetResources) expect(resource).toMatch(/^arn:aws:s3:::fleet-models-1a2b3c(\/vision\/models\/pallets\/.*)?$/);
    const signing = statements.filter((st) => st.Action.includes("kms:Sign"));
    expect(signing.flatMap((st) => [st.Resource].flat())).toEqual([FLEET_KEY]);
  });

  it("reads the fleet key's public half from KMS, so a missing key fails the preview", async () => {
    expect(await valueOf(run.ota.publicKeyPem)).toContain("BEGIN PUBLIC KEY");
    expect(runtime.cloud.invokes).toContainEqual(expect.objectContaining({ token: "aws:kms/getPublicKey:getPublicKey", inputs: expect.objectContaining({ keyId: FLEET_KEY }) }));
  });
});

describe("a TrainingRun whose image, network, shared OTA bucket and alert email are outputs", () => {
  const FLEET_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
  const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/platform-image@sha256:${"a".repeat(64)}`;
  let run: TrainingRun;
  beforeAll(async () => {
    const parsed = parseExperimentInput(
      {
        stage: "debug",
        image: pulumi.output(IMAGE),
        network: { vpcId: pulumi.output("vpc-0a1b2c3d4e5f60718"), subnetIds: pulumi.output(["subnet-0a1b2c3d4e5f60718"]) },
        ota: { modelName: "cones", bucket: pulumi.output("platform-ota-1a2b3c"), signingKeyArn: pulumi.output(FLEET_KEY) },
        alertEmail: pulumi.output("ml-team@example.com"),
      },
      context,
    );
    run = new TrainingRun("yt-outputs", { config: parsed, launchTime: LAUNCH });
    await settle(run);
  });

  it("builds no image, no VPC and no OTA bucket: it uses the given ones", async () => {
    expect(run.ownImage).toBeUndefined();
    expect(run.otaBucket).toBeUndefined();
    expect(runtime.ofType("awsx:ec2:Vpc").filter((r) => r.name.startsWith("yt-outputs"))).toEqual([]);
    expect(await valueOf(run.network.subnetIds)).toEqual(["subnet-0a1b2c3d4e5f60718"]);
    expect(userDataOf("yt-outputs")).toContain(IMAGE);
    const spec = runSpecIn(userDataOf("yt-outputs"));
    expect(spec.ota).toMatchObject({ bucket: "platform-ota-1a2b3c", prefix: "models/cones/", signingKeyId: FLEET_KEY });
  });

  it("grants pulls from the image's ECR repository and signing with the given key only", () => {
    const policy = runtime.ofType("aws:iam/rolePolicy:RolePolicy").find((r) => r.name.startsWith("yt-outputs-gpu"))!;
    const statements = JSON.parse(policy.inputs.policy).Statement as { Sid: string; Resource: string | string[] }[];
    expect(statements.find((st) => st.Sid === "PullTrainingImage")!.Resource).toBe("arn:aws:ecr:us-east-1:123456789012:repository/platform-image");
    expect(statements.find((st) => st.Sid === "SignModelRelease")!.Resource).toBe(FLEET_KEY);
  });

  it("subscribes the alert email once it is known", () => {
    const subscription = runtime.ofType("aws:sns/topicSubscription:TopicSubscription").find((r) => r.name.startsWith("yt-outputs"))!;
    expect(subscription.inputs).toMatchObject({ protocol: "email", endpoint: "ml-team@example.com" });
  });

  it("refuses resolved values as the stack config would, naming the key", async () => {
    const image = deferredImagePart(pulumi.output("not an image ref"));
    await expect(valueOf(image.imageUri)).rejects.toThrow(/stack config's image has 1 problem[\s\S]*`image` is "not an image ref"/);
    await expect(valueOf(image.repositoryArn!)).rejects.toThrow(/image/);
    const network = deferredNetworkArgs({ vpcId: pulumi.output("vpc-1"), subnetIds: pulumi.output(["subnet-0a1b2c3d4e5f60718"]) });
    await expect(valueOf(network.vpcId)).rejects.toThrow(/`network\.vpcId`/);
    await expect(valueOf(network.subnetIds)).rejects.toThrow(/network/);
    const ota = deferredOtaPart({ bucket: pulumi.output("Not_A_Bucket"), signingKeyArn: FLEET_KEY, modelsPrefix: "models/" }, "us-east-1");
    await expect(valueOf(ota.bucketName)).rejects.toThrow(/`ota\.bucket`/);
    await expect(valueOf(ota.bucketArn)).rejects.toThrow(/ota/);
    await expect(valueOf(ota.signingKeyArn)).rejects.toThrow(/ota/);
  });
});

describe("a TrainingRun with W&B tracking but no key", () => {
  it("refuses before creating anything", () => {
    const config = parseExperimentConfig(
      { tracking: { wandbProject: "p", wandbApiKey: "[secret]" } },
      { ...context, secretKeys: ["tracking"] },
    );
    const before = runtime.resources.length;
    expect(() => new TrainingRun("yt-nokey", { config })).toThrow(/TrainingRun\.wandbApiKey/);
    expect(runtime.resources.length).toBe(before);
  });
});

describe("a TrainingRun with an argument its children would refuse", () => {
  it("refuses a docker context that does not exist before registering anything, naming TrainingRun.dockerContext", async () => {
    const config = parseExperimentConfig({ stage: "debug" }, context);
    expect(() => new TrainingRun("yt-nocontext", { config, dockerContext: "/nonexistent/yolo-train" })).toThrow(
      /TrainingRun "yt-nocontext" has 1 problem; nothing was created:\n.*`TrainingRun\.dockerContext`/,
    );
    await runtime.settle();
    expect(runtime.resources.filter((r) => r.name.startsWith("yt-nocontext"))).toEqual([]);
  });
});

describe("a TrainingRun with a monthly budget", () => {
  const config = parseExperimentConfig({ stage: "debug", budgetUsd: 50, alertEmail: "ml-team@example.com" }, context);
  let run: TrainingRun;
  beforeAll(async () => {
    run = new TrainingRun("yt-budget", { config, launchTime: LAUNCH });
    await settle(run);
  });

  it("tags its GPU instances and volumes with the value its budget filters on, so GPU spend counts against it", () => {
    const budget = under("yt-budget", "aws:budgets/budget:Budget")[0]!;
    const filter = (budget.inputs.costFilters as Array<{ name: string; values: string[] }>).find((f) => f.name === "TagKeyValue")!;
    const template = under("yt-budget", "aws:ec2/launchTemplate:LaunchTemplate")[0]!;
    for (const spec of template.inputs.tagSpecifications as Array<{ resourceType: string; tags: Record<string, string> }>) {
      expect([spec.resourceType, `user:yolo-train:stack$${spec.tags["yolo-train:stack"]}`]).toEqual([spec.resourceType, filter.values[0]]);
    }
    expect(run.names.costAllocationValue).not.toBe("widgets");
  });
});
