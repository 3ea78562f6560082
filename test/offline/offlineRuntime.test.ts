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

  it("records the id and outputs the fake answered, and finds a resource by name alone or by its parent record", async () => {
    const bucket = runtime.named("h-data");
    expect(bucket).toBe(runtime.named("aws:s3/bucket:Bucket", "h-data"));
    expect(bucket.id).toBe("h-data-id");
    expect(bucket.outputs?.arn).toMatch(/^arn:aws:s3:::h-data-/);
    expect(runtime.childrenOf(runtime.named("h"))).toEqual([bucket]);
    expect(() => runtime.named("h-dat")).toThrow(/expected one resource named h-dat, found 0 \(similar: aws:s3\/bucket:Bucket h-data\)/);
  });

  it("rejects the value of an output that failed, rather than waiting for ever", async () => {
    const refused = pulumi.output("x").apply((): string => {
      throw new Error("refused inside apply");
    });
    await expect(valueOf(refused)).rejects.toThrow("refused inside apply");
  });

  it("settles once nothing more registers, children declared inside apply included", async () => {
    const parent = new Holder("late");
    parent.bucket.arn.apply((arn) => new aws.s3.Bucket(`late-after-${arn.length}`, {}, { parent }));
    await runtime.settle();
    expect(runtime.resources.filter((r) => r.name.startsWith("late-after-"))).toHaveLength(1);
  });

  it("answers the region from the stack config", async () => {
    const region = await aws.getRegion();
    expect(region.region).toBe("us-west-2");
  });

  it("fails loudly on an invoke it does not know", async () => {
    await expect(aws.ec2.getVpc({ default: true })).rejects.toThrow(/unknown invoke aws:ec2\/getVpc:getVpc/);
  });
});
