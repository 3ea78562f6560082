import * as pulumi from "@pulumi/pulumi";
import { checkedFleetOutputs, Fleet, FLEET_COST_TAG_KEY } from "../../../components/fleet/fleet";
import type { FleetOutputs } from "../../../components/fleet/fleetParts";
import { TrainingRun } from "../../../components/run/trainingRun";
import { parseExperimentConfig } from "../../../config";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";
import { InvalidInputError } from "../../../runspec/problems";

const context = { project: "vision", stack: "exp", region: "us-east-1" };
const LAUNCH = new Date("2026-03-01T08:00:00Z");
const PLATFORM = "acme/vision-platform/prod";
const PLATFORM_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/** What the platform stack exports (`export const visionFleet = fleet.outputs`), as a real one would hold it. */
const platformFleet: FleetOutputs = {
  network: { vpcId: "vpc-0a1b2c3d4e5f60718", subnetIds: ["subnet-0aa1", "subnet-0bb2"], nodeSecurityGroupId: "sg-0c1d2e3f4a5b6c7d8" },
  image: { imageUri: `123456789012.dkr.ecr.us-east-1.amazonaws.com/vision-image@sha256:${"c".repeat(64)}`, repositoryArn: "arn:aws:ecr:us-east-1:123456789012:repository/vision-image" },
  datasetBucket: { bucketName: "vision-datasets-1a2b3c", bucketArn: "arn:aws:s3:::vision-datasets-1a2b3c", kmsKeyArn: null },
  ota: {
    bucketName: "vision-ota-4d5e6f",
    bucketArn: "arn:aws:s3:::vision-ota-4d5e6f",
    modelsPrefix: "models/",
    signingKeyArn: PLATFORM_KEY,
    signingPublicKeyPem: "-----BEGIN PUBLIC KEY-----\nplatform\n-----END PUBLIC KEY-----\n",
    rootPublicKeyPem: "-----BEGIN PUBLIC KEY-----\nroot\n-----END PUBLIC KEY-----\n",
    edgeReadPolicyArn: "arn:aws:iam::123456789012:policy/vision-edge-read",
  },
  costTagValue: "vision-platform-prod-vision",
};

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ project: "vision", region: "us-east-1", stack: "exp", stackOutputs: { [PLATFORM]: { visionFleet: platformFleet } } });
});

/** Waits until the run's deepest outputs resolved, so every child has registered. */
async function settle(run: TrainingRun): Promise<void> {
  await valueOf(pulumi.all([run.dashboard!.dashboardUrl, run.guardrails.backstopAt, run.nodeGroup.groupArn, run.image.imageUri, run.ota.publicKeyPem]));
}

function count(type: string, prefix: string): number {
  return runtime.ofType(type).filter((r) => r.name.startsWith(prefix)).length;
}

function nodePolicyOf(runName: string): { Sid: string; Action: string[]; Resource: string | string[] }[] {
  const policy = runtime.ofType("aws:iam/rolePolicy:RolePolicy").find((r) => r.name.startsWith(`${runName}-gpu-role`))!;
  return JSON.parse(policy.inputs.policy).Statement;
}

function resourcesOf(statements: { Sid: string; Resource: string | string[] }[], sid: string): string[] {
  return statements.filter((s) => s.Sid === sid).flatMap((s) => [s.Resource].flat());
}

describe("two experiments on one Fleet in one program", () => {
  let fleet: Fleet;
  let helmets: TrainingRun;
  let pallets: TrainingRun;
  beforeAll(async () => {
    fleet = new Fleet("vision", { monthlyBudgetUsd: 2000, alertEmail: "ml-platform@example.com" });
    const helmetsConfig = parseExperimentConfig({ stage: "debug", data: "helmets", ota: { modelName: "helmets" } }, context);
    const palletsConfig = parseExperimentConfig({ stage: "debug", data: "pallets", epochs: "20", ota: { modelName: "pallets" } }, context);
    helmets = new TrainingRun("helmets", { config: helmetsConfig, fleet, launchTime: LAUNCH });
    pallets = new TrainingRun("pallets", { config: palletsConfig, fleet, launchTime: LAUNCH });
    await Promise.all([settle(helmets), settle(pallets), valueOf(fleet.outputs)]);
  });

  it("creates one VPC, one repository, one image build, one dataset bucket and one OTA bucket with its keys", () => {
    expect(runtime.ofType("awsx:ec2:Vpc")).toHaveLength(1);
    expect(runtime.ofType("aws:ecr/repository:Repository")).toHaveLength(1);
    expect(runtime.ofType("docker:index/image:Image")).toHaveLength(1);
    expect(runtime.ofType("yolo-train:storage:DatasetBucket")).toHaveLength(1);
    expect(runtime.ofType("yolo-train:ota:OtaBucket")).toHaveLength(1);
    expect(runtime.ofType("aws:kms/key:Key")).toHaveLength(3);
    expect(runtime.ofType("yolo-train:network:Network")).toHaveLength(1);
  });

  it("gives each experiment its own artifact bucket, node role, node group, guardrails and dashboard", () => {
    for (const type of [
      "yolo-train:storage:ArtifactBucket",
      "yolo-train:compute:NodeRole",
      "yolo-train:compute:GpuNodeGroup",
      "yolo-train:guardrails:Guardrails",
      "yolo-train:observability:RunDashboard",
    ]) {
      expect([type, count(type, "helmets"), count(type, "pallets")]).toEqual([type, 1, 1]);
    }
    expect(runtime.ofType("aws:autoscaling/group:Group")).toHaveLength(2);
    expect(helmets.ownNetwork).toBeUndefined();
    expect(helmets.ownImage).toBeUndefined();
    expect(helmets.ownDatasetBucket).toBeUndefined();
    expect(helmets.otaBucket).toBeUndefined();
  });

  it("launches both groups into the fleet's subnets with its security group and image", async () => {
    const subnets = await valueOf(fleet.network.subnetIds);
    const imageUri = await valueOf(fleet.image.imageUri);
    for (const run of ["helmets", "pallets"]) {
      const group = runtime.ofType("aws:autoscaling/group:Group").find((r) => r.name.startsWith(run))!;
      expect(group.inputs.vpcZoneIdentifiers).toEqual(subnets);
      const template = runtime.ofType("aws:ec2/launchTemplate:LaunchTemplate").find((r) => r.name.startsWith(run))!;
      expect(template.inputs.networkInterfaces[0].securityGroups).toEqual([await valueOf(fleet.network.nodeSecurityGroupId)]);
      expect(Buffer.from(template.inputs.userData, "base64").toString("utf8")).toContain(imageUri);
    }
  });

  it("grants each node role its own dataset, artifact and model prefixes of the shared buckets, and the release key only", async () => {
    const datasets = await valueOf(fleet.datasetBucket.bucketArn);
    const ota = await valueOf(fleet.ota.bucketArn);
    const helmetsPolicy = nodePolicyOf("helmets");
    expect(resourcesOf(helmetsPolicy, "ReadDataset")).toEqual([`${datasets}/datasets/helmets/*`]);
    expect(resourcesOf(helmetsPolicy, "PublishModelRelease")).toEqual([`${ota}/models/helmets/*`]);
    expect(resourcesOf(helmetsPolicy, "SignModelRelease")).toEqual([await valueOf(fleet.ota.signingKeyArn)]);
    expect(resourcesOf(helmetsPolicy, "PullTrainingImage")).toEqual([await valueOf(fleet.image.repositoryArn!)]);
    const palletsPolicy = nodePolicyOf("pallets");
    expect(resourcesOf(palletsPolicy, "ReadDataset")).toEqual([`${datasets}/datasets/pallets/*`]);
    expect(resourcesOf(palletsPolicy, "PublishModelRelease")).toEqual([`${ota}/models/pallets/*`]);
    const everything = JSON.stringify(palletsPolicy);
    expect(everything).not.toContain("helmets");
    expect(everything).not.toContain(await valueOf(fleet.ota.rootKeyArn));
    expect(everything).not.toContain(await valueOf(fleet.ota.timestampKeyArn));
  });

  it("tags both experiments' GPU instances for the fleet's budget, which counts that tag", async () => {
    for (const run of ["helmets", "pallets"]) {
      const template = runtime.ofType("aws:ec2/launchTemplate:LaunchTemplate").find((r) => r.name.startsWith(run))!;
      expect(template.inputs.tagSpecifications[0].tags[FLEET_COST_TAG_KEY]).toBe(fleet.costTagValue);
    }
    expect(fleet.costTagValue).toBe("vision-exp-vision");
    const budget = runtime.ofType("aws:budgets/budget:Budget").find((r) => r.name.startsWith("vision-budget"))!;
    expect(budget.inputs).toMatchObject({ limitAmount: "2000", timeUnit: "MONTHLY", costFilters: [{ name: "TagKeyValue", values: ["user:yolo-train:fleet$vision-exp-vision"] }] });
    expect(budget.inputs.notifications.every((n: { subscriberEmailAddresses: string[] }) => n.subscriberEmailAddresses[0] === "ml-platform@example.com")).toBe(true);
  });

  it("exports everything an experiment in another stack needs", async () => {
    const outputs = await valueOf(fleet.outputs);
    expect(outputs.network.subnetIds.length).toBeGreaterThan(0);
    expect(outputs.ota).toMatchObject({ modelsPrefix: "models/", signingKeyArn: await valueOf(fleet.ota.signingKeyArn) });
    expect(outputs.ota.rootPublicKeyPem).toContain("BEGIN PUBLIC KEY");
    expect(outputs.costTagValue).toBe(fleet.costTagValue);
  });
});

describe("an experiment on a fleet of another stack (StackReference)", () => {
  let run: TrainingRun;
  const before = { vpcs: 0, repositories: 0, keys: 0, otaBuckets: 0, datasetBuckets: 0 };
  beforeAll(async () => {
    before.vpcs = runtime.ofType("awsx:ec2:Vpc").length;
    before.repositories = runtime.ofType("aws:ecr/repository:Repository").length;
    before.keys = runtime.ofType("aws:kms/key:Key").length;
    before.otaBuckets = runtime.ofType("yolo-train:ota:OtaBucket").length;
    before.datasetBuckets = runtime.ofType("yolo-train:storage:DatasetBucket").length;
    const platform = new pulumi.StackReference(PLATFORM);
    const config = parseExperimentConfig({ stage: "debug", data: "forklifts", ota: { modelName: "forklifts" } }, context);
    run = new TrainingRun("forklifts", { config, fleet: Fleet.fromStackReference(platform, "visionFleet"), launchTime: LAUNCH });
    await settle(run);
  });

  it("creates none of the shared parts", () => {
    expect(runtime.ofType("awsx:ec2:Vpc")).toHaveLength(before.vpcs);
    expect(runtime.ofType("aws:ecr/repository:Repository")).toHaveLength(before.repositories);
    expect(runtime.ofType("aws:kms/key:Key")).toHaveLength(before.keys);
    expect(runtime.ofType("yolo-train:ota:OtaBucket")).toHaveLength(before.otaBuckets);
    expect(runtime.ofType("yolo-train:storage:DatasetBucket")).toHaveLength(before.datasetBuckets);
    expect(count("yolo-train:compute:GpuNodeGroup", "forklifts")).toBe(1);
  });

  it("uses the platform's network, image, buckets, release key and public key", async () => {
    const group = runtime.ofType("aws:autoscaling/group:Group").find((r) => r.name.startsWith("forklifts"))!;
    expect(group.inputs.vpcZoneIdentifiers).toEqual(platformFleet.network.subnetIds);
    expect(await valueOf(run.image.imageUri)).toBe(platformFleet.image.imageUri);
    expect(await valueOf(run.otaPrefix)).toBe("models/forklifts/");
    expect(await valueOf(run.ota.publicKeyPem)).toBe(platformFleet.ota.signingPublicKeyPem);
    expect(run.ota.shared).toBe(true);
    const policy = nodePolicyOf("forklifts");
    expect(resourcesOf(policy, "ReadDataset")).toEqual(["arn:aws:s3:::vision-datasets-1a2b3c/datasets/forklifts/*"]);
    expect(resourcesOf(policy, "PublishModelRelease")).toEqual(["arn:aws:s3:::vision-ota-4d5e6f/models/forklifts/*"]);
    expect(resourcesOf(policy, "SignModelRelease")).toEqual([PLATFORM_KEY]);
    const template = runtime.ofType("aws:ec2/launchTemplate:LaunchTemplate").find((r) => r.name.startsWith("forklifts"))!;
    expect(template.inputs.tagSpecifications[0].tags[FLEET_COST_TAG_KEY]).toBe("vision-platform-prod-vision");
  });

  it("names the stack output and what is missing when the output is not a fleet's", () => {
    expect(() => checkedFleetOutputs(undefined, "visionFleet")).toThrow(
      /Stack output "visionFleet" is not a yolo-train Fleet's outputs: the stack has no such output\. Export the fleet's outputs in the fleet stack \(`export const visionFleet = fleet\.outputs`\)/,
    );
    const { ota: _ota, ...withoutOta } = platformFleet;
    expect(() => checkedFleetOutputs({ ...withoutOta, network: { ...platformFleet.network, subnetIds: [] } }, "visionFleet")).toThrow(
      /network\.subnetIds, ota\.bucketName, ota\.bucketArn, ota\.modelsPrefix, ota\.signingKeyArn missing/,
    );
    expect(checkedFleetOutputs(platformFleet, "visionFleet")).toBe(platformFleet);
  });
});

describe("refusals", () => {
  it("refuses every bad fleet argument at once, naming Fleet.<part>.<arg>, before creating anything", () => {
    const before = runtime.resources.length;
    let error: unknown;
    try {
      new Fleet("bad", { ota: { modelsPrefix: "models", signingKeyDeletionWindowInDays: 3 }, datasets: { abortIncompleteUploadsAfterDays: 0 }, monthlyBudgetUsd: -5 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    const message = (error as Error).message;
    for (const key of ["Fleet.ota.modelsPrefix", "Fleet.ota.signingKeyDeletionWindowInDays", "Fleet.datasets.abortIncompleteUploadsAfterDays", "Fleet.monthlyBudgetUsd", "Fleet.alertEmail"]) {
      expect(message).toContain(key);
    }
    expect(runtime.resources.length).toBe(before);
  });

  it("refuses a stack config that names a part the program also gives, before creating anything", () => {
    const parts = { network: { vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-1"], nodeSecurityGroupId: "sg-1" } };
    const config = parseExperimentConfig(
      { stage: "debug", network: { vpcId: "vpc-0fedcba9876543210", subnetIds: ["subnet-0123456789abcdef0"] }, image: `public.ecr.aws/acme/yolo@sha256:${"d".repeat(64)}` },
      context,
    );
    const before = runtime.resources.length;
    expect(() => new TrainingRun("conflict", { config, fleet: parts, image: { imageUri: "public.ecr.aws/acme/other:1" } })).toThrow(
      /2 problems[\s\S]*network[\s\S]*TrainingRun\.fleet\.network[\s\S]*image[\s\S]*TrainingRun\.image/,
    );
    expect(runtime.resources.length).toBe(before);
  });

  it("lets a part given to the run replace the fleet's: a public image needs no ECR grant", async () => {
    const config = parseExperimentConfig({ stage: "debug", ota: { modelName: "cones" } }, context);
    const run = new TrainingRun("cones", {
      config,
      fleet: Fleet.fromStackReference(new pulumi.StackReference(PLATFORM), "visionFleet"),
      image: { imageUri: `public.ecr.aws/acme/yolo@sha256:${"e".repeat(64)}` },
      launchTime: LAUNCH,
    });
    await settle(run);
    expect(await valueOf(run.image.imageUri)).toContain("public.ecr.aws/acme/yolo@");
    expect(nodePolicyOf("cones").map((s) => s.Sid)).not.toContain("PullTrainingImage");
  });
});
