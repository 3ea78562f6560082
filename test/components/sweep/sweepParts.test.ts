import * as pulumi from "@pulumi/pulumi";
import { Fleet, FLEET_COST_TAG_KEY } from "../../../components/fleet/fleet";
import { Sweep } from "../../../components/sweep/sweep";
import { REDACTED } from "../../../config/checks/context";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";
import { InvalidInputError } from "../../../runspec/problems";
import { parseSweepManifest } from "../../../runspec/sweep/sweepManifest";
import { CONTEXT, fourTrialPlan, LAUNCH } from "./sweepFixture";

const SHARED_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/platform-image@sha256:${"a".repeat(64)}`;
const WANDB_KEY = "0123456789abcdef0123456789abcdef01234567";

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "dev" });
});

async function settle(sweep: Sweep): Promise<void> {
  await valueOf(pulumi.all([sweep.dashboardUrl, sweep.trialOutputs, sweep.keeper.functionName, sweep.manifest.content]));
  await runtime.settle();
}

/** A sweep whose base tracks with W&B (its key a secret of the stack). */
function trackedPlan() {
  return fourTrialPlan({ tracking: { wandbProject: "cones", wandbApiKey: WANDB_KEY } }, {}, { ...CONTEXT, secretKeys: ["tracking"] });
}

/** What `new Sweep(...)` throws, and how many resources were registered meanwhile. */
function refusal(build: () => unknown): { error: InvalidInputError; registered: number } {
  const before = runtime.resources.length;
  let thrown: unknown;
  try {
    build();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InvalidInputError);
  return { error: thrown as InvalidInputError, registered: runtime.resources.length - before };
}

describe("a sweep refuses what it cannot deploy, every problem at once, before any resource", () => {
  it.each([
    { what: "an empty plan", argsOf: () => ({ plan: { ...fourTrialPlan(), trials: [] } }), key: "Sweep.plan" },
    { what: "a keeper round every 0 minutes", argsOf: () => ({ plan: fourTrialPlan(), keeperEveryMinutes: 0 }), key: "Sweep.keeperEveryMinutes" },
    { what: "a keeper round every 61 minutes", argsOf: () => ({ plan: fourTrialPlan(), keeperEveryMinutes: 61 }), key: "Sweep.keeperEveryMinutes" },
    { what: "a keeper round every 1.5 minutes", argsOf: () => ({ plan: fourTrialPlan(), keeperEveryMinutes: 1.5 }), key: "Sweep.keeperEveryMinutes" },
    { what: "W&B tracking without its key", argsOf: () => ({ plan: trackedPlan() }), key: "Sweep.wandbApiKey" },
    {
      what: "ASHA over progressive trials",
      argsOf: () => ({ plan: fourTrialPlan({ progressive: [{ imgsz: 320, epochs: 9 }, { imgsz: 640, epochs: 18 }] }, { space: { lr0: [0.01, 0.02] } }) }),
      key: "Sweep.plan",
    },
    { what: "an FSx for Lustre file system per trial", argsOf: () => ({ plan: fourTrialPlan({ data: "widgets", datasetMount: "fsx-lustre" }) }), key: "Sweep.plan" },
  ])("refuses $what, naming $key", ({ argsOf, key }) => {
    const { error, registered } = refusal(() => new Sweep("refused", argsOf() as never));
    expect(error.message).toContain("nothing was created");
    expect(error.problems.map((p) => p.key)).toContain(key);
    expect(registered).toBe(0);
  });

  it("gathers several problems into one message", () => {
    const { error, registered } = refusal(
      () => new Sweep("refused", { plan: trackedPlan(), keeperEveryMinutes: 90 }),
    );
    expect(error.problems.map((p) => p.key).sort()).toEqual(["Sweep.keeperEveryMinutes", "Sweep.wandbApiKey"]);
    expect(error.message).toMatch(/^Sweep "refused" has 2 problems; nothing was created:/);
    expect(registered).toBe(0);
  });

  it("refuses a fleet part the base config also names, saying which argument gives it", () => {
    const platform = { network: { vpcId: "vpc-0a1b2c3d4e5f60718", subnetIds: ["subnet-0a1b2c3d4e5f60718"], nodeSecurityGroupId: "sg-0a1b2c3d4e5f60718" } };
    const plan = fourTrialPlan({ network: { vpcId: "vpc-0a1b2c3d4e5f60719", subnetIds: ["subnet-0a1b2c3d4e5f60719"] } });
    const { error, registered } = refusal(() => new Sweep("refused", { plan, fleet: platform, dockerContext: "/nowhere" }));
    const network = error.problems.find((p) => p.key === "network")!;
    expect(network.allowed).toContain("Sweep.fleet.network");
    expect(error.problems.map((p) => p.key)).toContain("Sweep.dockerContext");
    expect(registered).toBe(0);
  });
});

describe("a sweep on a Fleet", () => {
  let fleet: Fleet;
  let sweep: Sweep;
  const before = { vpcs: 0, images: 0, otaBuckets: 0, datasets: 0 };
  beforeAll(async () => {
    fleet = new Fleet("vision");
    await valueOf(fleet.outputs);
    before.vpcs = runtime.ofType("awsx:ec2:Vpc").length;
    before.images = runtime.ofType("docker:index/image:Image").length;
    before.otaBuckets = runtime.ofType("yolo-train:ota:OtaBucket").length;
    before.datasets = runtime.ofType("yolo-train:storage:DatasetBucket").length;
    sweep = new Sweep("helmets", { plan: fourTrialPlan({ data: "helmets", ota: { modelName: "helmets" } }), fleet, launchTime: LAUNCH });
    await settle(sweep);
  });

  it("creates none of the fleet's parts: no VPC, image, dataset or OTA bucket of its own", () => {
    expect(runtime.ofType("awsx:ec2:Vpc")).toHaveLength(before.vpcs);
    expect(runtime.ofType("docker:index/image:Image")).toHaveLength(before.images);
    expect(runtime.ofType("yolo-train:ota:OtaBucket")).toHaveLength(before.otaBuckets);
    expect(runtime.ofType("yolo-train:storage:DatasetBucket")).toHaveLength(before.datasets);
    expect([sweep.ownNetwork, sweep.ownImage, sweep.ownDatasetBucket, sweep.otaBucket]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it("launches every trial into the fleet's subnets, tagged for the fleet's budget, reading the fleet's dataset", async () => {
    const subnets = await valueOf(fleet.network.subnetIds);
    const datasets = await valueOf(fleet.datasetBucket.bucketArn);
    for (const trial of sweep.trials) {
      const group = runtime.ofType("aws:autoscaling/group:Group").find((g) => g.inputs.name === trial.names.groupName)!;
      expect(group.inputs.vpcZoneIdentifiers).toEqual(subnets);
      const trialName = sweep.naming.trialName(trial.sweep!.trialId);
      const template = runtime.ofType("aws:ec2/launchTemplate:LaunchTemplate").find((t) => t.name.startsWith(`${trialName}-`))!;
      expect(template.inputs.tagSpecifications[0].tags[FLEET_COST_TAG_KEY]).toBe(fleet.costTagValue);
      const policy = runtime.ofType("aws:iam/rolePolicy:RolePolicy").find((r) => r.name.startsWith(`${trialName}-gpu-role`))!;
      expect(policy.inputs.policy).toContain(`${datasets}/datasets/helmets/*`);
    }
  });

  it("releases the winner into the fleet's OTA bucket with the fleet's key", async () => {
    const manifest = parseSweepManifest(await valueOf(sweep.manifest.content));
    expect(manifest.ota).toMatchObject({ bucket: await valueOf(fleet.ota.bucketName), prefix: "models/helmets/", signingKeyId: await valueOf(fleet.ota.signingKeyArn) });
  });
});

describe("a sweep whose base names a network, an image and a shared OTA bucket", () => {
  let sweep: Sweep;
  const before = { networks: 0, vpcs: 0, images: 0 };
  beforeAll(async () => {
    before.networks = runtime.ofType("yolo-train:network:Network").length;
    before.vpcs = runtime.ofType("awsx:ec2:Vpc").length;
    before.images = runtime.ofType("docker:index/image:Image").length;
    const plan = fourTrialPlan({
      network: { vpcId: "vpc-0a1b2c3d4e5f60718", subnetIds: ["subnet-0a1b2c3d4e5f60718", "subnet-0a1b2c3d4e5f60719"] },
      image: IMAGE,
      ota: { modelName: "cones", bucket: "platform-ota-1a2b3c", signingKeyArn: SHARED_KEY },
    });
    sweep = new Sweep("cones", { plan, launchTime: LAUNCH });
    await settle(sweep);
  });

  it("creates one network (its security group) in the given VPC for all trials, builds no image and no OTA bucket", () => {
    expect(runtime.ofType("yolo-train:network:Network")).toHaveLength(before.networks + 1);
    expect(runtime.ofType("awsx:ec2:Vpc")).toHaveLength(before.vpcs);
    expect(runtime.ofType("docker:index/image:Image")).toHaveLength(before.images);
    expect(sweep.otaBucket).toBeUndefined();
    for (const trial of sweep.trials) expect([trial.ownNetwork, trial.ownImage, trial.otaBucket]).toEqual([undefined, undefined, undefined]);
  });

  it("keeps every trial's run id, and runs the given image in the given subnets", async () => {
    expect(sweep.trials.map((t) => t.runId)).toEqual(sweep.plan.trials.map((t) => t.runId));
    for (const trial of sweep.trials) {
      const group = runtime.ofType("aws:autoscaling/group:Group").find((g) => g.inputs.name === trial.names.groupName)!;
      expect(group.inputs.vpcZoneIdentifiers).toEqual(["subnet-0a1b2c3d4e5f60718", "subnet-0a1b2c3d4e5f60719"]);
      expect(await valueOf(trial.image.imageUri)).toBe(IMAGE);
    }
  });

  it("releases into the shared bucket with its key, and names both in every trial's stack config", async () => {
    const manifest = parseSweepManifest(await valueOf(sweep.manifest.content));
    expect(manifest.ota).toMatchObject({ bucket: "platform-ota-1a2b3c", prefix: "models/cones/", signingKeyId: SHARED_KEY });
    expect(manifest.trials[0]!.stackConfig).toMatchObject({ image: IMAGE, ota: { bucket: "platform-ota-1a2b3c", signingKeyArn: SHARED_KEY }, network: { vpcId: "vpc-0a1b2c3d4e5f60718" } });
  });
});

describe("a sweep tracking with W&B", () => {
  let sweep: Sweep;
  beforeAll(async () => {
    const plan = trackedPlan();
    sweep = new Sweep("tracked", { plan, wandbApiKey: pulumi.secret(WANDB_KEY), launchTime: LAUNCH });
    await settle(sweep);
  });

  it("never writes the key into the manifest: each trial's stack config holds the redacted placeholder", async () => {
    const content = await valueOf(sweep.manifest.content);
    expect(content).not.toContain(WANDB_KEY);
    for (const trial of parseSweepManifest(content).trials) expect(trial.stackConfig.tracking).toEqual({ wandbProject: "cones", wandbApiKey: REDACTED });
  });

  it("keeps the key in each trial's SecureString parameter only", () => {
    const parameters = runtime.ofType("aws:ssm/parameter:Parameter").filter((p) => p.name.startsWith(sweep.naming.trialPrefix));
    expect(parameters).toHaveLength(4);
    for (const parameter of parameters) expect(parameter.inputs.type).toBe("SecureString");
    const elsewhere = runtime.resources.filter((r) => r.type !== "aws:ssm/parameter:Parameter" && JSON.stringify(r.inputs).includes(WANDB_KEY));
    expect(elsewhere.map((r) => `${r.type} ${r.name}`)).toEqual([]);
  });
});
