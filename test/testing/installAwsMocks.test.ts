/**
 * `yolo-train/testing` used as a consumer uses it: only the public entry points (`components`,
 * `config`, `testing`), a TrainingRun and an OtaBucket under the mocks, assertions on what AWS
 * would have answered.
 */
import * as crypto from "crypto";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { OtaBucket, TrainingRun } from "../../components";
import { parseExperimentConfig } from "../../config";
import {
  FAKE_ACCOUNT_ID,
  FAKE_REGION,
  arnPattern,
  arnService,
  installAwsMocks,
  valueOf,
  type AwsMocks,
  type MockResource,
} from "../../testing";

const LAUNCH = new Date("2026-03-01T08:00:00Z");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const hexId = (prefix: string) => new RegExp(`^${prefix}-[0-9a-f]{17}$`);

/** Every top-level ARN in the resources' outputs (`arn`, `dashboardArn`, `policyArn`, ...), with where it is. */
function arnsIn(resources: readonly MockResource[]): { where: string; arn: string }[] {
  return resources.flatMap((r) =>
    Object.entries(r.outputs ?? {})
      .filter((e): e is [string, string] => /arn$/i.test(e[0]) && typeof e[1] === "string" && e[1].startsWith("arn:"))
      .map(([key, arn]) => ({ where: `${r.type} ${r.name} .${key}`, arn })),
  );
}

/** The ARNs that are not shaped as AWS shapes them for their service, in this account and region. */
function unrealistic(mocks: AwsMocks): string[] {
  return arnsIn(mocks.resources)
    .filter(({ arn }) => !arnPattern(arnService(arn) ?? "?", { region: mocks.region, accountId: mocks.accountId }).test(arn))
    .map(({ where, arn }) => `${where} = ${arn}`);
}

describe("a TrainingRun under installAwsMocks", () => {
  let mocks: AwsMocks;
  let run: TrainingRun;
  beforeAll(async () => {
    mocks = installAwsMocks({ stack: "widgets" });
    const config = parseExperimentConfig({ stage: "debug" }, { project: mocks.project, stack: mocks.stack, region: mocks.region });
    run = new TrainingRun("yt", { config, launchTime: LAUNCH });
    await valueOf(pulumi.all([run.nodeGroup.groupArn, run.dashboard!.dashboardUrl, run.image.imageUri]));
    await mocks.settle();
  });

  it("runs in the pretend account and region, as the project and stack asked for", () => {
    expect(mocks).toMatchObject({ accountId: FAKE_ACCOUNT_ID, region: FAKE_REGION, project: "yolo-train", stack: "widgets" });
    expect(pulumi.getStack()).toBe("widgets");
  });

  it("registers exactly one VPC, in the run's network", () => {
    const vpc = mocks.single("awsx:ec2:Vpc");
    const network = mocks.resources.find((r) => r.urn === vpc.parentUrn)!;
    expect(network.type).toBe("yolo-train:network:Network");
    expect(mocks.childrenOf(mocks.named("yt")).map((r) => r.type)).toContain("yolo-train:network:Network");
  });

  it("gives the network ids shaped as EC2's", async () => {
    expect(await valueOf(run.network.vpcId)).toMatch(hexId("vpc"));
    const subnets = await valueOf(run.network.subnetIds);
    expect(subnets.length).toBeGreaterThan(0);
    for (const subnet of subnets) expect(subnet).toMatch(hexId("subnet"));
    expect(await valueOf(run.network.nodeSecurityGroupId)).toMatch(hexId("sg"));
  });

  it("shapes every ARN of every resource as AWS does, in the mocks' account and region", () => {
    expect(unrealistic(mocks)).toEqual([]);
    const services = new Set(arnsIn(mocks.resources).map(({ arn }) => arnService(arn)));
    for (const service of ["kms", "lambda", "iam", "s3", "logs", "sns", "scheduler", "autoscaling", "ec2", "cloudwatch", "ecr"]) {
      expect([service, services.has(service)]).toEqual([service, true]);
    }
  });

  it("answers ids as the AWS provider does: KMS key ids are UUIDs, a role's id is its name, a topic's its ARN", () => {
    for (const key of mocks.ofType("aws:kms/key:Key")) {
      expect(key.id).toMatch(UUID);
      expect(key.outputs!.arn).toBe(`arn:aws:kms:${FAKE_REGION}:${FAKE_ACCOUNT_ID}:key/${key.id}`);
    }
    for (const role of mocks.ofType("aws:iam/role:Role")) expect(role.id).toBe(role.outputs!.name);
    for (const topic of mocks.ofType("aws:sns/topic:Topic")) expect(topic.id).toBe(topic.outputs!.arn);
    for (const template of mocks.ofType("aws:ec2/launchTemplate:LaunchTemplate")) expect(template.id).toMatch(hexId("lt"));
    for (const fn of mocks.ofType("aws:lambda/function:Function")) expect(fn.id).toBe(fn.outputs!.name);
    expect(mocks.single("yolo-train:run:TrainingRun").id).toBe("");
  });

  it("gives the run's outputs ARNs that pass the components' own checks", async () => {
    expect(await valueOf(run.nodeGroup.groupArn)).toMatch(arnPattern("autoscaling"));
    expect(await valueOf(run.guardrails.alertTopicArn)).toMatch(arnPattern("sns"));
    expect(await valueOf(run.ota.signingKeyArn)).toMatch(arnPattern("kms"));
    expect(await valueOf(run.ota.bucketArn)).toMatch(arnPattern("s3"));
  });

  it("reads each KMS key's public half as a P-256 key, asked for by its realistic ARN", async () => {
    const asked = mocks.invokes.filter((i) => i.token === "aws:kms/getPublicKey:getPublicKey").map((i) => i.inputs.keyId as string);
    expect(asked.length).toBeGreaterThan(0);
    for (const keyId of asked) expect(keyId).toMatch(arnPattern("kms"));
    const pem = await valueOf(run.ota.publicKeyPem);
    expect(crypto.createPublicKey(pem).asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
  });

  it("answers the account's invokes with the pretend account", async () => {
    const identity = await aws.getCallerIdentity();
    expect(identity.accountId).toBe(FAKE_ACCOUNT_ID);
    expect(identity.arn).toMatch(arnPattern("iam"));
    expect(identity.userId).toMatch(/^AIDA[0-9A-Z]{17}$/);
    expect((await aws.getPartition()).partition).toBe("aws");
    expect((await aws.getRegion()).region).toBe(FAKE_REGION);
  });

  it("finds a resource by name, by type and name, and says what is similar when there is none", () => {
    expect(mocks.named("yt").type).toBe("yolo-train:run:TrainingRun");
    const group = mocks.single("aws:autoscaling/group:Group");
    expect(mocks.named("aws:autoscaling/group:Group", group.name)).toBe(group);
    expect(() => mocks.named("y")).toThrow(/expected one resource named y, found 0 \(similar: /);
  });
});

describe("an OtaBucket of a platform stack shared with an experiment stack", () => {
  const ACCOUNT = "210987654321";
  let signingKeyArn: string;
  let bucketName: string;
  let platform: AwsMocks;
  beforeAll(async () => {
    platform = installAwsMocks({ stack: "platform", accountId: ACCOUNT });
    const ota = new OtaBucket("fleet-ota", {});
    [signingKeyArn, bucketName] = await Promise.all([valueOf(ota.signingKeyArn), valueOf(ota.bucketName)]);
    await platform.settle();
  });

  it("gives the bucket and its keys ARNs of the chosen account", async () => {
    const inAccount = { accountId: ACCOUNT };
    expect(signingKeyArn).toMatch(arnPattern("kms", inAccount));
    expect(platform.ofType("aws:kms/key:Key").map((k) => k.outputs!.arn)).toContain(signingKeyArn);
    expect(platform.ofType("aws:kms/alias:Alias").every((a) => arnPattern("kms", inAccount).test(a.outputs!.arn))).toBe(true);
    expect(unrealistic(platform)).toEqual([]);
  });

  it("is a key the experiment stack's config accepts, so a run publishes with it and makes no key of its own", async () => {
    const experiment = installAwsMocks({ stack: "experiment", accountId: ACCOUNT });
    expect(experiment.resources).toEqual([]);
    const config = parseExperimentConfig(
      { stage: "debug", ota: { bucket: bucketName, signingKeyArn } },
      { project: experiment.project, stack: experiment.stack, region: experiment.region },
    );
    const run = new TrainingRun("exp", { config, launchTime: LAUNCH });
    expect(await valueOf(run.ota.publicKeyPem)).toContain("BEGIN PUBLIC KEY");
    await valueOf(run.nodeGroup.groupArn);
    await experiment.settle();
    expect(experiment.ofType("aws:kms/key:Key")).toEqual([]);
    expect(experiment.invokes).toContainEqual({ token: "aws:kms/getPublicKey:getPublicKey", inputs: expect.objectContaining({ keyId: signingKeyArn }) });
    expect(unrealistic(experiment)).toEqual([]);
  });
});

describe("installing the mocks again", () => {
  it("starts from an empty account each time, with its own stack and config, and the same ids for the same names", async () => {
    const first = installAwsMocks({ stack: "first", config: { "yolo-train:stage": "debug" } });
    const one = new aws.s3.Bucket("data", {});
    const firstArn = await valueOf(one.arn);
    await first.settle();
    expect(first.ofType("aws:s3/bucket:Bucket").map((r) => r.name)).toEqual(["data"]);

    const second = installAwsMocks({ stack: "second", region: "eu-west-1" });
    expect(second.resources).toEqual([]);
    expect(second.invokes).toEqual([]);
    expect(pulumi.getStack()).toBe("second");
    expect(new pulumi.Config("yolo-train").get("stage")).toBeUndefined();
    expect(new pulumi.Config("aws").get("region")).toBe("eu-west-1");
    const again = new aws.s3.Bucket("data", {});
    expect(await valueOf(again.arn)).toBe(firstArn);
    await second.settle();
    expect(first.resources).toHaveLength(1);
    expect(second.ofType("aws:s3/bucket:Bucket")).toHaveLength(1);
  });

  it("refuses an account id or region AWS would not have", () => {
    expect(() => installAwsMocks({ accountId: "1234" })).toThrow(/accountId "1234" is not an AWS account id \(12 digits/);
    expect(() => installAwsMocks({ region: "useast1" })).toThrow(/region "useast1" is not an AWS region name like us-east-1/);
  });
});

describe("generic values a consumer might pass", () => {
  const context = { project: "yolo-train", stack: "widgets", region: FAKE_REGION };

  it("refuses a shared OTA signing key ARN that is no KMS key ARN, naming the config key, the value and what is allowed", () => {
    const generic = `arn:aws:kms:${FAKE_REGION}:${FAKE_ACCOUNT_ID}:key/signing-key`;
    let error: unknown;
    try {
      parseExperimentConfig({ ota: { bucket: "fleet-ota", signingKeyArn: generic } }, context);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain("ota.signingKeyArn");
    expect(message).toContain(JSON.stringify(generic));
    expect(message).toMatch(/KMS key ARN arn:aws:kms:<region>:<account>:key\/<key id>/);
  });

  it("refuses, in GetPublicKey, a key id KMS would not take, and says what a realistic one is", async () => {
    installAwsMocks();
    for (const keyId of ["signing-key", `arn:aws:kms:${FAKE_REGION}:${FAKE_ACCOUNT_ID}:key/signing-key`, "arn:aws:s3:::not-a-key"]) {
      await expect(aws.kms.getPublicKey({ keyId })).rejects.toThrow(/yolo-train\/testing[\s\S]*arn:aws:kms:us-east-1:123456789012:key\/1234abcd-12ab-34cd-56ef-1234567890ab/);
    }
  });

  it("answers a realistic key of another stack, by ARN, key id or alias, with ECC_NIST_P256 for signing", async () => {
    installAwsMocks();
    const keyId = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const arn = `arn:aws:kms:${FAKE_REGION}:${FAKE_ACCOUNT_ID}:key/${keyId}`;
    const [byArn, byId, byAlias] = await Promise.all([
      aws.kms.getPublicKey({ keyId: arn }),
      aws.kms.getPublicKey({ keyId }),
      aws.kms.getPublicKey({ keyId: "alias/fleet/ota" }),
    ]);
    expect(byArn).toMatchObject({ arn, keySpec: "ECC_NIST_P256", keyUsage: "SIGN_VERIFY", signingAlgorithms: ["ECDSA_SHA_256"] });
    expect(byId.publicKeyPem).toBe(byArn.publicKeyPem);
    expect(byAlias.arn).toMatch(arnPattern("kms"));
    expect(byAlias.publicKeyPem).not.toBe(byArn.publicKeyPem);
  });
});

describe("arnPattern", () => {
  it.each([
    ["kms", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-44cd-86ef-1234567890ab", "arn:aws:kms:us-east-1:123456789012:key/signing-key"],
    ["s3", "arn:aws:s3:::my-bucket", "arn:aws:s3:us-east-1:123456789012:my-bucket"],
    ["iam", "arn:aws:iam::123456789012:role/node", "arn:aws:iam:us-east-1:123456789012:role/node"],
    ["lambda", "arn:aws:lambda:us-east-1:123456789012:function:fn", "arn:aws:lambda:us-east-1:12345:function:fn"],
    ["cloudwatch", "arn:aws:cloudwatch::123456789012:dashboard/run", "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x"],
    ["ec2", "arn:aws:ec2:us-east-1:123456789012:launch-template/lt-0123456789abcdef0", "arn:aws:ec2:us-east-1:123456789012:launch-template/lt-spot-id"],
  ])("tells a realistic %s ARN from a generic one", (service, good, generic) => {
    expect(good).toMatch(arnPattern(service));
    expect(generic).not.toMatch(arnPattern(service));
  });
});
