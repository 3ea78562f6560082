import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { OfflineRuntime, valueOf } from "../../offline/offlineRuntime";

class Holder extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  constructor(name: string) {
    super("yolo-train:test:Holder", name);
    this.bucket = new aws.s3.Bucket(`${name}-data`, { forceDestroy: false }, { parent: this });
    this.registerOutputs({});
  }
}

describe("the offline runtime", () => {
  let runtime: OfflineRuntime;
  beforeAll(async () => {
    runtime = await OfflineRuntime.start({ region: "us-west-2", stack: "unit" });
  });

  it("records each resource with its parent and its declared inputs", async () => {
    const holder = new Holder("h");
    await valueOf(holder.bucket.arn);
    const bucket = runtime.single("aws:s3/bucket:Bucket");
    const component = runtime.single("yolo-train:test:Holder");
    expect(bucket.parentUrn).toBe(component.urn);
    expect(bucket.inputs.forceDestroy).toBe(false);
    expect(await valueOf(holder.bucket.arn)).toMatch(/^arn:aws:s3:::h-data-/);
  });

  it("answers the region from the stack config", async () => {
    const region = await aws.getRegion();
    expect(region.region).toBe("us-west-2");
  });

  it("fails loudly on an invoke it does not know", async () => {
    await expect(aws.ec2.getVpc({ default: true })).rejects.toThrow(/unknown invoke aws:ec2\/getVpc:getVpc/);
  });
});
