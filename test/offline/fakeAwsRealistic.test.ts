import { FAKE_ACCOUNT_ID, FakeAws } from "../../offline/fakeAws";

/** The fake's two id styles: `logical` (this package's tests) and `realistic` (`yolo-train/testing`). */
describe("the fake AWS account's ids", () => {
  const realistic = new FakeAws({ region: "us-east-1", ids: "realistic" });
  const logical = new FakeAws({ region: "us-east-1" });
  const declare = (cloud: FakeAws, type: string, name: string, inputs: Record<string, any> = {}, custom = true) =>
    cloud.newResource({ type, name, inputs, custom }) as { id: string; state: Record<string, any> };

  it("answers realistic ids as the AWS provider reports them", () => {
    const key = declare(realistic, "aws:kms/key:Key", "signing");
    expect(key.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(key.state).toMatchObject({ keyId: key.id, arn: `arn:aws:kms:us-east-1:${FAKE_ACCOUNT_ID}:key/${key.id}` });
    expect(declare(realistic, "aws:ec2/securityGroup:SecurityGroup", "nodes").id).toMatch(/^sg-[0-9a-f]{17}$/);
    expect(declare(realistic, "aws:ec2/launchTemplate:LaunchTemplate", "spot").state.arn).toMatch(/:launch-template\/lt-[0-9a-f]{17}$/);
    expect(declare(realistic, "aws:fsx/lustreFileSystem:LustreFileSystem", "data").state.dnsName).toMatch(/^fs-[0-9a-f]{17}\.fsx\.us-east-1\.amazonaws\.com$/);
    expect(declare(realistic, "aws:iam/role:Role", "node").id).toBe("node-0a1b2c3");
    expect(declare(realistic, "aws:iam/role:Role", "node").state.uniqueId).toMatch(/^AROA[0-9A-Z]{17}$/);
    expect(declare(realistic, "aws:iam/policy:Policy", "edge").id).toBe(`arn:aws:iam::${FAKE_ACCOUNT_ID}:policy/edge-0a1b2c3`);
    expect(declare(realistic, "aws:scheduler/schedule:Schedule", "stop", { name: "stop-1" }).id).toBe("default/stop-1");
    expect(declare(realistic, "aws:budgets/budget:Budget", "cap", { name: "cap" }).id).toBe(`${FAKE_ACCOUNT_ID}:cap`);
    expect(declare(realistic, "aws:ssm/parameter:Parameter", "key", { name: "wandb" }).state.arn).toBe(`arn:aws:ssm:us-east-1:${FAKE_ACCOUNT_ID}:parameter/wandb`);
    expect(declare(realistic, "aws:s3/bucketPolicy:BucketPolicy", "tls", { bucket: "b-1" })).toMatchObject({ id: "b-1" });
    expect(declare(realistic, "aws:s3/bucketPolicy:BucketPolicy", "tls", { bucket: "b-1" }).state.arn).toBeUndefined();
    expect(declare(realistic, "yolo-train:run:TrainingRun", "run", {}, false).id).toBe("");
  });

  it("keeps realistic ids stable for a name, distinct between names, and in the account asked for", () => {
    const again = new FakeAws({ region: "us-east-1", ids: "realistic" });
    expect(declare(again, "aws:kms/key:Key", "signing").id).toBe(declare(realistic, "aws:kms/key:Key", "signing").id);
    expect(declare(realistic, "aws:kms/key:Key", "root").id).not.toBe(declare(realistic, "aws:kms/key:Key", "signing").id);
    const other = new FakeAws({ region: "us-east-1", accountId: "210987654321", ids: "realistic" });
    expect(declare(other, "aws:sns/topic:Topic", "alerts").id).toBe("arn:aws:sns:us-east-1:210987654321:alerts-0a1b2c3");
    expect(() => new FakeAws({ region: "us-east-1", accountId: "12345" })).toThrow(/12 digits/);
  });

  it("keeps the logical ids this package's tests assert on", () => {
    expect(declare(logical, "aws:kms/key:Key", "signing").state.arn).toBe(`arn:aws:kms:us-east-1:${FAKE_ACCOUNT_ID}:key/signing-id`);
    expect(declare(logical, "aws:ec2/launchTemplate:LaunchTemplate", "spot-lt").id).toBe("spot-lt-id");
    expect(declare(logical, "awsx:ec2:Vpc", "net-vpc", {}, false).state.vpcId).toBe("vpc-net-vpc");
  });

  it("resolves a KMS alias declared under it to its key, and refuses a key id KMS would not take", () => {
    const key = declare(realistic, "aws:kms/key:Key", "release");
    declare(realistic, "aws:kms/alias:Alias", "release-alias", { name: "alias/fleet/release", targetKeyId: key.id });
    const publicKey = (cloud: FakeAws, keyId: string) => cloud.call({ token: "aws:kms/getPublicKey:getPublicKey", inputs: { keyId } } as any);
    expect(publicKey(realistic, "alias/fleet/release")).toMatchObject({ arn: key.state.arn, keySpec: "ECC_NIST_P256" });
    expect(publicKey(realistic, "alias/fleet/release").publicKeyPem).toBe(publicKey(realistic, key.state.arn).publicKeyPem);
    expect(() => publicKey(realistic, "release-key")).toThrow(/yolo-train\/testing.*not a key id/);
    expect(() => publicKey(realistic, `arn:aws:kms:us-east-1:${FAKE_ACCOUNT_ID}:key/release-key`)).toThrow(/is not a UUID/);
    // Logical ids take any key id, as before.
    expect(publicKey(logical, "release-key").arn).toBe(`arn:aws:kms:us-east-1:${FAKE_ACCOUNT_ID}:key/release-key`);
  });

  it("names availability zones and their ids as AWS does, in any region", () => {
    const zones = (region: string) => logical.call({ token: "aws:index/getAvailabilityZones:getAvailabilityZones", inputs: { region } } as any);
    expect(zones("us-east-1").zoneIds[0]).toBe("use1-az1");
    expect(zones("ap-northeast-1")).toMatchObject({ names: ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"], zoneIds: ["apne1-az1", "apne1-az2", "apne1-az3"] });
    expect(zones("eu-north-1").names).toEqual(["eu-north-1a", "eu-north-1b", "eu-north-1c"]);
    expect(() => zones("nowhere")).toThrow(/no availability zones known/);
  });
});
