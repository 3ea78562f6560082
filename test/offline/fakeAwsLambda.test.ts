import * as pulumi from "@pulumi/pulumi";
import { FAKE_ACCOUNT_ID, FakeAws } from "../../offline/fakeAws";

/** The fake answers Lambda resources and KMS public keys as AWS would, and refuses names as Pulumi and AWS would. */
describe("the fake AWS account", () => {
  const cloud = new FakeAws({ region: "eu-west-1" });
  const resource = (type: string, name: string, inputs: Record<string, any> = {}) =>
    Promise.resolve(cloud.newResource({ type, name, inputs, custom: true }));

  it("refuses a logical name that leaves no room for Pulumi's 7 random characters in 64, as `pulumi preview` does", async () => {
    const longest = "f".repeat(56);
    await expect(resource("aws:lambda/function:Function", longest)).resolves.toMatchObject({ state: { name: `${longest}-0a1b2c3` } });
    expect(() => cloud.newResource({ type: "aws:lambda/function:Function", name: `${longest}x`, inputs: {} })).toThrow(
      `could not make instance of 'aws:lambda/function:Function': name '${longest}x-' plus 7 random chars is longer than maximum length 64`,
    );
    expect(() => cloud.newResource({ type: "aws:iam/role:Role", name: `${longest}x`, inputs: {} })).toThrow(/maximum length 64/);
    expect(() => cloud.newResource({ type: "aws:scheduler/schedule:Schedule", name: `${longest}x`, inputs: {} })).toThrow(/maximum length 64/);
  });

  it("refuses an explicit name AWS would refuse: too long, or with characters outside the rule", () => {
    expect(() => cloud.newResource({ type: "aws:lambda/function:Function", name: "fn", inputs: { name: "f".repeat(65) } })).toThrow(/length less than or equal to 64/);
    expect(() => cloud.newResource({ type: "aws:lambda/function:Function", name: "fn", inputs: { name: "ota.timestamp" } })).toThrow(/fake AWS/);
    expect(() => cloud.newResource({ type: "aws:lambda/function:Function", name: "ota.timestamp", inputs: {} })).toThrow(/characters AWS does not allow/);
  });

  it("gives a function ARNs of its account and region, and a code hash of its archive", async () => {
    const code = (text: string) => new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset(text) });
    const a = await resource("aws:lambda/function:Function", "fn-a", { code: code("exports.handler = 1") });
    const again = await resource("aws:lambda/function:Function", "fn-b", { code: code("exports.handler = 1") });
    const other = await resource("aws:lambda/function:Function", "fn-c", { code: code("exports.handler = 2") });
    expect(a.state.arn).toBe(`arn:aws:lambda:eu-west-1:${FAKE_ACCOUNT_ID}:function:fn-a-0a1b2c3`);
    expect(a.state.qualifiedArn).toBe(`${a.state.arn}:$LATEST`);
    expect(a.state.codeSha256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(again.state.codeSha256).toBe(a.state.codeSha256);
    expect(other.state.codeSha256).not.toBe(a.state.codeSha256);
  });

  it("invokes with a JSON object as the event, and refuses any other input", async () => {
    await expect(resource("aws:lambda/invocation:Invocation", "inv", { functionName: "fn", input: '{"source":"x"}' })).resolves.toMatchObject({
      state: { result: "[]", qualifier: "$LATEST" },
    });
    expect(() => cloud.newResource({ type: "aws:lambda/invocation:Invocation", name: "inv-bad", inputs: { functionName: "fn", input: "[1]" } })).toThrow(/JSON object/);
    expect(() => cloud.newResource({ type: "aws:lambda/invocation:Invocation", name: "inv-text", inputs: { functionName: "fn", input: "hello" } })).toThrow();
  });

  it("answers each KMS key's public half with a P-256 key of its own, the same for its ARN and its id", () => {
    const publicKey = (keyId: string) => cloud.call({ token: "aws:kms/getPublicKey:getPublicKey", inputs: { keyId } } as any).publicKeyPem as string;
    const arn = `arn:aws:kms:eu-west-1:${FAKE_ACCOUNT_ID}:key/root-key-id`;
    expect(publicKey(arn)).toBe(publicKey("root-key-id"));
    expect(publicKey(arn)).not.toBe(publicKey(`arn:aws:kms:eu-west-1:${FAKE_ACCOUNT_ID}:key/timestamp-key-id`));
    expect(publicKey(arn)).toContain("BEGIN PUBLIC KEY");
  });
});
