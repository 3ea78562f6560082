import { expectRejectedWithNothingRegistered } from "../../offline/rejection";
import { Network } from "../../../components/network/network";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";

let runtime: OfflineRuntime;
const US_EAST_1_ZONES = ["a", "b", "c", "d", "e", "f"].map((s) => `us-east-1${s}`);
const VPC = "vpc-0a1b2c3d4e5f67890";
const SUBNETS = ["subnet-0a1b2c3d4e5f67890", "subnet-1a1b2c3d4e5f67890"];

beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "us-east-1", stack: "test" });
});


const named = (type: string, name: string) => runtime.ofType(type).filter((r) => r.name === name);
const find = (type: string, name: string) => runtime.named(type, name);

describe("Network given an existing VPC", () => {
  let network: Network;
  beforeAll(async () => {
    network = new Network("given", { vpcId: VPC, subnetIds: SUBNETS });
    await valueOf(network.nodeSecurityGroupId);
    await runtime.settle();
  });

  it("creates no VPC and passes the given ids through", async () => {
    expect(runtime.ofType("awsx:ec2:Vpc").filter((r) => r.name.startsWith("given"))).toEqual([]);
    expect(await valueOf(network.vpcId)).toBe(VPC);
    expect(await valueOf(network.subnetIds)).toEqual(SUBNETS);
  });

  it("creates the node security group in that VPC, with no inbound rule", () => {
    const sg = find("aws:ec2/securityGroup:SecurityGroup", "given-nodes");
    expect(sg.inputs.vpcId).toBe(VPC);
    expect(sg.inputs.ingress).toEqual([]);
  });

  it("has only the security group as a child", () => {
    const component = find("yolo-train:network:Network", "given");
    expect(runtime.childrenOf(component.urn).map((r) => r.type)).toEqual(["aws:ec2/securityGroup:SecurityGroup"]);
  });
});

describe("Network created", () => {
  let network: Network;
  beforeAll(async () => {
    network = new Network("net", { tags: { project: "yolo" } });
    await valueOf(network.nodeSecurityGroupId);
    await runtime.settle();
  });

  it("creates an awsx VPC with a public subnet in every available zone of the region", () => {
    const vpc = find("awsx:ec2:Vpc", "net-vpc");
    expect(vpc.parentUrn).toBe(find("yolo-train:network:Network", "net").urn);
    expect(vpc.inputs.availabilityZoneNames).toEqual(US_EAST_1_ZONES);
    expect(vpc.inputs.subnetSpecs).toEqual([{ type: "Public", name: "public" }]);
    expect(vpc.inputs.subnetStrategy).toBe("Auto");
    const zonesCall = runtime.cloud.invokes.find((i) => i.token === "aws:index/getAvailabilityZones:getAvailabilityZones");
    expect(zonesCall?.inputs).toMatchObject({ state: "available" });
    expect(runtime.cloud.unknownInvokes).toEqual([]);
  });

  it("creates no NAT gateway", () => {
    expect(find("awsx:ec2:Vpc", "net-vpc").inputs.natGateways).toEqual({ strategy: "None" });
  });

  it("adds an S3 gateway endpoint attached to the VPC's route tables", () => {
    const vpc = find("awsx:ec2:Vpc", "net-vpc");
    expect(vpc.inputs.vpcEndpointSpecs).toEqual([{ serviceName: "com.amazonaws.us-east-1.s3", vpcEndpointType: "Gateway" }]);
    // "Auto" fills in the route tables awsx creates; "Legacy" (the default) attaches the endpoint to none.
    expect(vpc.inputs.vpcEndpointStrategy).toBe("Auto");
    expect(vpc.inputs.tags).toEqual({ project: "yolo" });
  });

  it("outputs the new VPC and its public subnets", async () => {
    expect(await valueOf(network.vpcId)).toBe("vpc-net-vpc");
    expect(await valueOf(network.subnetIds)).toHaveLength(US_EAST_1_ZONES.length);
  });

  it("creates a node security group with no inbound rules and all outbound", async () => {
    const sg = find("aws:ec2/securityGroup:SecurityGroup", "net-nodes");
    expect(sg.inputs.vpcId).toBe(await valueOf(network.vpcId));
    expect(sg.inputs.ingress).toEqual([]);
    expect(sg.inputs.egress).toEqual([{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], description: "All outbound" }]);
    expect(sg.inputs.tags).toMatchObject({ project: "yolo", Name: "net-nodes" });
    expect(await valueOf(network.nodeSecurityGroupId)).toBe("net-nodes-id");
  });
});

describe("Network with invalid arguments", () => {
  it.each([
    ["a VPC without subnets", "bad-no-subnets", { vpcId: VPC }, ["Network.subnetIds"]],
    ["subnets without a VPC", "bad-no-vpc", { subnetIds: SUBNETS }, ["Network.vpcId"]],
    ["an empty subnet list", "bad-empty", { vpcId: VPC, subnetIds: [] }, ["Network.subnetIds"]],
    ["malformed ids", "bad-ids", { vpcId: "default", subnetIds: ["public-a"] }, ["Network.vpcId", "Network.subnetIds"]],
  ])("rejects %s, naming the argument, and registers nothing", async (_label, name, args, keys) => {
    await expectRejectedWithNothingRegistered(runtime, name, () => new Network(name, args), keys);
  });
});
