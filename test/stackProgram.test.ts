import * as path from "path";

const INDEX = path.resolve(__dirname, "..", "index.ts");

/**
 * Runs the real stack program (index.ts) in a module registry of its own, as `pulumi up`
 * would, under the offline runtime with the given stack config. Returns what it threw and
 * every resource it registered.
 */
async function runStackProgram(config: Record<string, string>) {
  let thrown: unknown;
  let resources: { type: string }[] = [];
  await jest.isolateModulesAsync(async () => {
    const { OfflineRuntime } = await import("../offline/offlineRuntime");
    const runtime = await OfflineRuntime.start({ stack: "exp", config: { "aws:region": "us-east-1", ...config } });
    try {
      require(INDEX);
    } catch (error) {
      thrown = error;
    }
    await runtime.settle();
    resources = runtime.resources;
  });
  return { thrown, resources };
}

describe("the stack program with an invalid config", () => {
  it.each([
    ["stage", { "yolo-train:stage": "prod" }],
    ["gpu", { "yolo-train:gpu": "v100" }],
    ["gpusPerNode", { "yolo-train:gpusPerNode": "2" }],
    ["instanceTypes[0]", { "yolo-train:instanceTypes": '["p3.2xlarge"]' }],
    ["capacity", { "yolo-train:capacity": "reserved" }],
    ["maxSpotPrice", { "yolo-train:maxSpotPrice": "0.01" }],
    ["model", { "yolo-train:model": "yolov9z.pt" }],
    ["data", { "yolo-train:data": "s3://bucket/data.txt" }],
    ["epochs", { "yolo-train:epochs": "0" }],
    ["imgsz", { "yolo-train:imgsz": "650" }],
    ["batch", { "yolo-train:batch": "0" }],
    ["hyperparameters.lr", { "yolo-train:hyperparameters": '{"lr": 0.01}' }],
    ["datasetMount", { "yolo-train:datasetMount": "nfs" }],
    ["maxRuntimeHours", { "yolo-train:maxRuntimeHours": "0" }],
    ["idleMinutes", { "yolo-train:idleMinutes": "1" }],
    ["idleGpuPercent", { "yolo-train:idleGpuPercent": "100" }],
    ["alertEmail", { "yolo-train:alertEmail": "not-an-email" }],
    ["network.subnetIds", { "yolo-train:network": '{"vpcId": "vpc-0123456789abcdef0"}' }],
    ["epoch", { "yolo-train:epoch": "10" }],
    ["aws:region", { "aws:region": "" }],
  ])("names `%s` in its error and registers no resource", async (key, config) => {
    const { thrown, resources } = await runStackProgram(config as Record<string, string>);
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toContain("nothing was created");
    expect((thrown as Error).message).toContain(`\`${key}\``);
    expect(resources).toEqual([]);
  });

  it("registers the experiment's resources when the config is valid (so the checks above can fail)", async () => {
    const { thrown, resources } = await runStackProgram({ "yolo-train:stage": "debug" });
    expect(thrown).toBeUndefined();
    expect(resources.map((r) => r.type)).toEqual(expect.arrayContaining(["yolo-train:run:TrainingRun", "aws:autoscaling/group:Group"]));
  });
});
