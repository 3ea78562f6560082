import { networkArgsProblems, NODE_EGRESS_ALL, s3GatewayServiceName } from "../../../components/network/networkArgs";

const VPC = "vpc-0a1b2c3d4e5f67890";
const SUBNET = "subnet-0a1b2c3d4e5f67890";

describe("network arguments", () => {
  it.each([
    [{}, []],
    [{ vpcId: VPC, subnetIds: [SUBNET] }, []],
    [{ vpcId: VPC }, ["Network.subnetIds"]],
    [{ subnetIds: [SUBNET] }, ["Network.vpcId"]],
    [{ vpcId: VPC, subnetIds: [] }, ["Network.subnetIds"]],
    [{ vpcId: "my-vpc", subnetIds: ["subnet-1"] }, ["Network.vpcId", "Network.subnetIds"]],
    [{ vpcId: VPC, subnetIds: [SUBNET, SUBNET] }, ["Network.subnetIds"]],
  ])("%j has problems with %j", (args, keys) => {
    expect(networkArgsProblems(args).map((p) => p.key)).toEqual(keys);
  });

  it("does not judge ids that are outputs (not yet known)", () => {
    expect(networkArgsProblems({ vpcId: { an: "output" }, subnetIds: [{ an: "output" }] })).toEqual([]);
  });

  it("names the S3 gateway service of the region", () => {
    expect(s3GatewayServiceName("eu-west-1")).toBe("com.amazonaws.eu-west-1.s3");
    expect(s3GatewayServiceName("us-gov-west-1")).toBe("com.amazonaws.us-gov-west-1.s3");
    expect(() => s3GatewayServiceName("nowhere")).toThrow(/not an AWS region/);
  });

  it("lets nodes reach anything outbound", () => {
    expect(NODE_EGRESS_ALL).toMatchObject({ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] });
  });
});
