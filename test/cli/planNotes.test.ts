import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { firstUpWarnings, phaseEstimates } from "../../cli/plan/planNotes";
import { publicInputs } from "../../cli/plan/resourceInputs";
import type { OfflinePlan } from "../../cli/plan/runOfflinePlan";
import type { RecordedResource } from "../../offline/fakeAws";
import { OfflineRuntime } from "../../offline/offlineRuntime";

const group = (desiredCapacity: number): RecordedResource => ({
  urn: "urn:pulumi:s::p::aws:autoscaling/group:Group::nodes",
  type: "aws:autoscaling/group:Group",
  name: "nodes",
  inputs: { minSize: 0, maxSize: 1, desiredCapacity },
  custom: true,
  dependencies: [],
  ignoreChanges: ["desiredCapacity"],
});
const bucket = (name: string): RecordedResource => ({ urn: `urn:pulumi:s::p::aws:s3/bucket:Bucket::${name}`, type: "aws:s3/bucket:Bucket", name, inputs: { bucket: name }, custom: true, dependencies: [], ignoreChanges: [] });

function planOf(config: Record<string, string>, resources: RecordedResource[] = [group(1), bucket("exp-datasets-1a2b3c")]): OfflinePlan {
  return {
    project: "yolo-train",
    stack: "exp",
    region: "us-east-1",
    resources,
    outputs: { datasetBucketName: "exp-datasets-1a2b3c" },
    publicOutputs: {},
    config: { "aws:region": "us-east-1", ...config },
    secretKeys: [],
  };
}

describe("first pulumi up warnings", () => {
  it("warns for a dataset in the stack's own bucket, which the first up creates empty while the node starts", () => {
    const [warning, ...rest] = firstUpWarnings(planOf({ "yolo-train:data": "pallets-v3" }));
    expect(rest).toEqual([]);
    expect(warning).toContain("trains on datasets/pallets-v3/data.yaml in the stack's dataset bucket, which that same `pulumi up` creates, empty");
    expect(warning).toContain("No config key holds the node back, so put the dataset in place first");
    expect(warning).toContain('aws s3 sync ./pallets-v3 "s3://$(pulumi stack output datasetBucketName)/datasets/pallets-v3/"');
  });

  it("warns for an s3:// dataset in a bucket the plan creates", () => {
    expect(firstUpWarnings(planOf({ "yolo-train:data": "s3://exp-datasets-1a2b3c/datasets/w/data.yaml" }))[0]).toContain(
      "trains on s3://exp-datasets-1a2b3c/datasets/w/data.yaml, in a bucket that same `pulumi up` creates, empty",
    );
  });

  it("does not warn for a built-in dataset, a bucket that exists already, or a group that starts no node", () => {
    expect(firstUpWarnings(planOf({ "yolo-train:data": "coco8.yaml" }))).toEqual([]);
    expect(firstUpWarnings(planOf({}))).toEqual([]);
    expect(firstUpWarnings(planOf({ "yolo-train:data": "s3://shared-datasets/w/data.yaml" }))).toEqual([]);
    expect(firstUpWarnings(planOf({ "yolo-train:data": "pallets-v3" }, [group(0)]))).toEqual([]);
  });
});

describe("progressive phase estimates", () => {
  it("estimates each phase as the run does; they add up to the run's hours", () => {
    const phases = phaseEstimates(
      planOf({ "yolo-train:data": "coco128.yaml", "yolo-train:progressive": JSON.stringify([{ imgsz: 320, epochs: 40 }, { imgsz: 640, epochs: 20 }]) }),
    );
    expect(phases.map(({ phase, imgsz, epochs }) => ({ phase, imgsz, epochs }))).toEqual([
      { phase: 1, imgsz: 320, epochs: 40 },
      { phase: 2, imgsz: 640, epochs: 20 },
    ]);
    for (const p of phases) {
      expect(p.hours).toBeGreaterThan(0);
      expect(p.estimatedUsd).toBeGreaterThan(0);
    }
  });

  it("has no phases for a one-phase run, and no hours when the images per epoch are unknown", () => {
    expect(phaseEstimates(planOf({}))).toEqual([]);
    const unknown = phaseEstimates(planOf({ "yolo-train:data": "pallets", "yolo-train:progressive": JSON.stringify([{ imgsz: 320, epochs: 5 }, { imgsz: 640, epochs: 5 }]) }));
    expect(unknown.map((p) => [p.hours, p.estimatedUsd])).toEqual([
      [null, null],
      [null, null],
    ]);
  });

  it("marks the phases that do not finish within maxRuntimeHours", () => {
    const phases = phaseEstimates(
      planOf({
        "yolo-train:data": "coco.yaml",
        "yolo-train:maxRuntimeHours": "1",
        "yolo-train:progressive": JSON.stringify([{ imgsz: 320, epochs: 1 }, { imgsz: 640, epochs: 100 }]),
      }),
    );
    expect(phases.map((p) => p.pastMaxRuntime)).toEqual([false, true]);
  });
});

describe("resource inputs for plan --json", () => {
  it("masks secrets, describes assets and archives, and keeps the rest as JSON", async () => {
    const runtime = await OfflineRuntime.start({ region: "us-east-1" });
    new aws.ssm.Parameter("key", { name: "/exp/wandb", type: "SecureString", value: pulumi.secret("wk-0123456789"), tags: { team: "vision" } });
    new aws.lambda.Function("fn", {
      role: "arn:aws:iam::123456789012:role/fn",
      runtime: "nodejs20.x",
      handler: "index.handler",
      code: new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset("exports.handler = async () => 1;") }),
    });
    await runtime.settle();
    const parameter = await publicInputs(runtime.named("aws:ssm/parameter:Parameter", "key").inputs);
    expect(parameter).toMatchObject({ name: "/exp/wandb", type: "SecureString", value: "[secret]", tags: { team: "vision" } });
    const fn = await publicInputs(runtime.named("aws:lambda/function:Function", "fn").inputs);
    expect(fn.code).toEqual({ archive: { assets: { "index.js": { asset: { text: "exports.handler = async () => 1;" } } } } });
    const text = JSON.stringify({ parameter, fn });
    expect(text).not.toContain("wk-0123456789");
    expect(text).not.toContain("4dabf18193072939515e22adb298388d");
  });
});
