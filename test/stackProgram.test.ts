import * as path from "path";

const INDEX = path.resolve(__dirname, "..", "index.ts");

/**
 * Runs the real stack program (index.ts) in a module registry of its own, as `pulumi up`
 * would, under the offline runtime with the given stack config. Returns what it threw and
 * every resource it registered.
 */
async function runStackProgram(config: Record<string, string>) {
  let thrown: unknown;
  let resources: { type: string; inputs: Record<string, any> }[] = [];
  const outputs: Record<string, unknown> = {};
  await jest.isolateModulesAsync(async () => {
    const { OfflineRuntime, valueOf } = await import("../offline/offlineRuntime");
    const runtime = await OfflineRuntime.start({ stack: "exp", config: { "aws:region": "us-east-1", ...config } });
    try {
      const exported = require(INDEX) as Record<string, unknown>;
      for (const [name, value] of Object.entries(exported)) outputs[name] = await valueOf(value);
    } catch (error) {
      thrown = error;
    }
    await runtime.settle();
    resources = runtime.resources;
  });
  return { thrown, resources, outputs };
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
    ["restartIfCheckpointLost", { "yolo-train:restartIfCheckpointLost": "sometimes" }],
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

describe("the stack program's outputs", () => {
  it("name the three buckets the stack owns, which `down --all` checks before a destroy", async () => {
    const { outputs } = await runStackProgram({ "yolo-train:stage": "debug" });
    expect(outputs.ownedBucketNames).toEqual([outputs.artifactBucketName, outputs.datasetBucketName, outputs.otaBucketName]);
    expect(outputs.otaPublicKeyPem).toEqual(expect.stringContaining("BEGIN PUBLIC KEY"));
    expect(outputs.edgeReadPolicyArn).toEqual(expect.stringMatching(/^arn:aws:iam::/));
  });

  it("give the OTA root key, the root and timestamp public keys and the timestamp function of a stack that owns its bucket", async () => {
    const { thrown, outputs, resources } = await runStackProgram({ "yolo-train:stage": "debug" });
    expect(thrown).toBeUndefined();
    expect(outputs.otaRootKeyArn).toEqual(expect.stringMatching(/^arn:aws:kms:us-east-1:\d{12}:key\//));
    const pems = [outputs.otaPublicKeyPem, outputs.otaRootPublicKeyPem, outputs.otaTimestampPublicKeyPem] as string[];
    for (const pem of pems) expect(pem).toContain("BEGIN PUBLIC KEY");
    expect(new Set(pems).size).toBe(3);
    expect(outputs.otaTimestampFunctionName).toEqual(expect.stringMatching(/^yolo-train-exp-ota-timestamp-/));
    expect((outputs.delivery as Record<string, unknown>).timestamp).toEqual({ functionName: outputs.otaTimestampFunctionName, refreshHours: 6, expiresHours: 24 });
    // Three signing keys, one function, its schedule beside the backstop's, and the deploy-time invocation.
    const count = (type: string) => resources.filter((r) => r.type === type).length;
    expect(count("aws:kms/key:Key")).toBe(3);
    expect(count("aws:lambda/function:Function")).toBe(1);
    expect(count("aws:lambda/invocation:Invocation")).toBe(1);
    expect(count("aws:scheduler/schedule:Schedule")).toBe(2);
  });

  it("leave a shared OTA bucket out of the owned ones, and its edge policy to the stack that owns it", async () => {
    const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const { thrown, outputs } = await runStackProgram({ "yolo-train:ota": JSON.stringify({ bucket: "fleet-models-1a2b3c", signingKeyArn: key }) });
    expect(thrown).toBeUndefined();
    expect(outputs.otaBucketName).toBe("fleet-models-1a2b3c");
    expect(outputs.otaPrefix).toBe("models/exp/");
    expect(outputs.ownedBucketNames).toEqual([outputs.artifactBucketName, outputs.datasetBucketName]);
    expect(outputs.edgeReadPolicyArn).toBeNull();
    expect(outputs.otaPublicKeyPem).toEqual(expect.stringContaining("BEGIN PUBLIC KEY"));
    // The owning stack's root key, timestamp key and function apply.
    expect(outputs.otaRootKeyArn).toBeNull();
    expect(outputs.otaRootPublicKeyPem).toBeNull();
    expect(outputs.otaTimestampPublicKeyPem).toBeNull();
    expect(outputs.otaTimestampFunctionName).toBeNull();
    expect((outputs.delivery as Record<string, unknown>).timestamp).toBeNull();
  });
});

describe("the stack program's run spec", () => {
  /** The run spec the launch template's user data hands the node. */
  function runSpecOf(resources: { type: string; inputs: Record<string, any> }[]): Record<string, any> {
    const template = resources.find((r) => r.type === "aws:ec2/launchTemplate:LaunchTemplate");
    expect(template).toBeDefined();
    const userData = Buffer.from(template!.inputs.userData as string, "base64").toString("utf8");
    const encoded = /RUN_SPEC_B64='?([A-Za-z0-9+/=]+)'?/.exec(userData)?.[1] ?? /base64 -d[^\n]*<<<\s*'?([A-Za-z0-9+/=]+)/.exec(userData)?.[1];
    expect(encoded).toBeDefined();
    return JSON.parse(Buffer.from(encoded!, "base64").toString("utf8"));
  }

  it.each([
    ["left out", {}, false],
    ["set to true", { "yolo-train:restartIfCheckpointLost": "true" }, true],
  ] as const)("carries yolo-train:restartIfCheckpointLost %s into limits.restartIfCheckpointLost and the guardrails output", async (_how, config, expected) => {
    const { thrown, resources, outputs } = await runStackProgram({ "yolo-train:stage": "debug", ...config });
    expect(thrown).toBeUndefined();
    expect(runSpecOf(resources).limits.restartIfCheckpointLost).toBe(expected);
    expect((outputs.guardrails as Record<string, unknown>).restartIfCheckpointLost).toBe(expected);
  });
});

describe("the stack program with a declared sweep", () => {
  const SWEEP = {
    "yolo-train:stage": "debug",
    "yolo-train:epochs": "27",
    "yolo-train:hyperparameters": JSON.stringify({ optimizer: "SGD" }),
    "yolo-train:sweep": JSON.stringify({ method: "grid", space: { imgsz: [320, 640], lr0: [0.01, 0.02] }, maxParallel: 2, asha: { minEpochs: 3 }, budgetUsd: 40 }),
  };

  it("deploys the sweep instead of refusing it: one Sweep, a TrainingRun per trial on groups created empty, and the keeper", async () => {
    const { thrown, resources } = await runStackProgram(SWEEP);
    expect(thrown).toBeUndefined();
    const count = (type: string) => resources.filter((r) => r.type === type).length;
    expect(count("yolo-train:sweep:Sweep")).toBe(1);
    expect(count("yolo-train:run:TrainingRun")).toBe(4);
    expect(count("yolo-train:sweep:SweepKeeper")).toBe(1);
    expect(count("awsx:ec2:Vpc")).toBe(1);
    expect(count("yolo-train:ota:OtaBucket")).toBe(1);
    for (const group of resources.filter((r) => r.type === "aws:autoscaling/group:Group")) expect(group.inputs).toMatchObject({ desiredCapacity: 0, maxSize: 1 });
  });

  it("exports what `yolo-train sweep status` reads, what edge boxes pin, and the plan's figures", async () => {
    const { outputs } = await runStackProgram(SWEEP);
    expect(outputs.sweepId).toEqual(expect.stringMatching(/^sweep-[0-9a-f]{12}$/));
    expect(outputs.region).toBe("us-east-1");
    expect(outputs.artifactBucketName).toEqual(expect.stringMatching(/artifacts/));
    expect(outputs.manifestKey).toBe(`sweeps/${outputs.sweepId}/sweep.json`);
    expect((outputs.trials as { trialId: string }[]).map((t) => t.trialId)).toEqual(["t01", "t02", "t03", "t04"]);
    expect(outputs.keeperFunctionName).toEqual(expect.stringMatching(/keeper/));
    expect(outputs.dashboardUrl).toEqual(expect.stringContaining("#dashboards:name="));
    for (const pem of [outputs.otaPublicKeyPem, outputs.otaRootPublicKeyPem, outputs.otaTimestampPublicKeyPem]) expect(pem).toEqual(expect.stringContaining("BEGIN PUBLIC KEY"));
    expect(outputs.ownedBucketNames).toEqual([outputs.artifactBucketName, outputs.datasetBucketName, outputs.otaBucketName]);
    expect(outputs.sweep).toMatchObject({ trialCount: 4, maxParallel: 2, budgetUsd: 40, keeperSchedule: "rate(1 minute)" });
    expect((outputs.sweepEstimate as { most: { usd: number } }).most.usd).toBeGreaterThan(0);
    expect(outputs.delivery).toMatchObject({ sharedBucket: false, prefix: "models/exp/" });
    // The single-run outputs do not apply to a sweep.
    expect(outputs.runId).toBeUndefined();
  });

  it("refuses an invalid sweep, naming each key, and registers no resource", async () => {
    const { thrown, resources } = await runStackProgram({ ...SWEEP, "yolo-train:sweep": JSON.stringify({ method: "random", space: { imgsz: [320, 333] }, maxParallel: 99 }) });
    expect(thrown).toBeInstanceOf(Error);
    const message = (thrown as Error).message;
    expect(message).toContain("nothing was created");
    for (const key of ["sweep.trials", "sweep.space.imgsz[1]", "sweep.maxParallel"]) expect(message).toContain(`\`${key}\``);
    expect(resources).toEqual([]);
  });

  it("refuses an invalid base config first, naming its keys, and registers no resource", async () => {
    const { thrown, resources } = await runStackProgram({ ...SWEEP, "yolo-train:imgsz": "650" });
    expect((thrown as Error).message).toContain("`imgsz`");
    expect(resources).toEqual([]);
  });
});
