import fc from "fast-check";
import { instanceTypesFor, priceOf } from "../../catalog";
import { STAGE_PRESETS } from "../../config/presets";
import { DEFAULTS, defaultModelName, parseExperimentConfig } from "../../config/parseExperimentConfig";
import { InvalidInputError } from "../../runspec/problems";
import { KNOWN_KEYS } from "../../config/keys";
import type { RawStackConfig, StackContext } from "../../config/types";

const context: StackContext = { project: "yolo-train", stack: "dev", region: "us-east-1" };

/** The error parseExperimentConfig throws; fails the test when it returns instead. */
function errorOf(raw: RawStackConfig, ctx: Partial<StackContext> = {}): InvalidInputError {
  try {
    parseExperimentConfig(raw, { ...context, ...ctx });
  } catch (e) {
    if (e instanceof InvalidInputError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
}

/** The message line about one key: "  - `key` is …; it must be …. Fix: …". */
function lineFor(error: InvalidInputError, key: string): string {
  const line = error.message.split("\n").find((l) => l.startsWith(`  - \`${key}\` `));
  if (line === undefined) throw new Error(`no line for \`${key}\` in:\n${error.message}`);
  return line;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");


/** A fleet signing key in the test context's region (us-east-1). */
const FLEET_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
describe("parseExperimentConfig: rejected configs", () => {
  // [what is wrong, raw config, key named, value as the message shows it, region]
  const cases: [string, RawStackConfig, string, string, string?][] = [
    ["imgsz not a multiple of 32", { imgsz: 650 }, "imgsz", "650"],
    ["imgsz above 2048, given as text", { imgsz: "4096" }, "imgsz", "4096"],
    ["zero epochs", { epochs: 0 }, "epochs", "0"],
    ["epochs as a word", { epochs: "ten" }, "epochs", '"ten"'],
    ["batch of zero", { batch: 0 }, "batch", "0"],
    ["a batch above 1 that is not whole", { batch: 2.5 }, "batch", "2.5"],
    ["an unknown stage", { stage: "prod" }, "stage", '"prod"'],
    ["a GPU class we do not run on", { gpu: "v100" }, "gpu", '"v100"'],
    ["2 GPUs per node", { gpusPerNode: 2 }, "gpusPerNode", "2"],
    ["4 A100s per node (only 8 exist)", { stage: "train", gpusPerNode: 4 }, "gpusPerNode", "4"],
    ["an instance type not in the catalog", { instanceTypes: ["m5.large"] }, "instanceTypes[0]", '"m5.large"'],
    ["instance types mixing GPU counts", { instanceTypes: ["g4dn.xlarge", "g4dn.12xlarge"] }, "instanceTypes", '["g4dn.xlarge","g4dn.12xlarge"]'],
    ["an instance type not offered in the region", { instanceTypes: ["g6.xlarge"] }, "instanceTypes", '["g6.xlarge"]', "eu-west-1"],
    ["explicit gpu contradicting instanceTypes", { gpu: "l4", instanceTypes: ["g5.xlarge"] }, "gpu", '"l4"'],
    ["a misspelt capacity", { capacity: "ondemand" }, "capacity", '"ondemand"'],
    ["a negative max spot price", { maxSpotPrice: -1 }, "maxSpotPrice", "-1"],
    ["a max spot price below any spot price seen", { stage: "train", maxSpotPrice: "0.5" }, "maxSpotPrice", "0.5"],
    ["a max spot price with on-demand capacity", { capacity: "on-demand", maxSpotPrice: 1 }, "maxSpotPrice", "1"],
    ["a model name without .pt", { model: "yolov8n" }, "model", '"yolov8n"'],
    ["S3 weights that are not a .pt file", { model: "s3://weights/best.onnx" }, "model", '"s3://weights/best.onnx"'],
    ["S3 data that is not a yaml", { data: "s3://datasets/pallets/data.json" }, "data", '"s3://datasets/pallets/data.json"'],
    ["a dataset name with spaces and capitals", { data: "My Dataset" }, "data", '"My Dataset"'],
    ["a misspelt hyperparameter", { hyperparameters: { lr: 0.01 } }, "hyperparameters.lr", "0.01"],
    ["a hyperparameter that has its own key", { hyperparameters: { imgsz: 320 } }, "hyperparameters.imgsz", "320"],
    ["a hyperparameter the agent owns", { hyperparameters: { device: "0,1" } }, "hyperparameters.device", '"0,1"'],
    ["a hyperparameter of the wrong type", { hyperparameters: { mosaic: "yes" } }, "hyperparameters.mosaic", '"yes"'],
    ["hyperparameters as a list", { hyperparameters: ["lr0"] }, "hyperparameters", '["lr0"]'],
    ["an unknown dataset mount", { datasetMount: "s3fs" }, "datasetMount", '"s3fs"'],
    ["a max runtime over 30 days", { maxRuntimeHours: 1000 }, "maxRuntimeHours", "1000"],
    ["an idle window under 5 minutes", { idleMinutes: 2 }, "idleMinutes", "2"],
    ["an idle threshold of 100 %", { idleGpuPercent: 100 }, "idleGpuPercent", "100"],
    ["restartIfCheckpointLost as a word other than true or false", { restartIfCheckpointLost: "yes" }, "restartIfCheckpointLost", '"yes"'],
    ["restartIfCheckpointLost as a number", { restartIfCheckpointLost: 1 }, "restartIfCheckpointLost", "1"],
    ["a zero budget", { budgetUsd: 0, alertEmail: "a@example.com" }, "budgetUsd", "0"],
    ["a budget nobody is told about", { budgetUsd: 50 }, "budgetUsd", "50"],
    ["an e-mail address without a domain", { alertEmail: "ml-team" }, "alertEmail", '"ml-team"'],
    ["an OTA channel that does not exist", { ota: { channel: "beta" } }, "ota.channel", '"beta"'],
    ["a promotion threshold above 1", { ota: { promote: { min: 1.5 } } }, "ota.promote.min", "1.5"],
    ["a promotion gate without its threshold", { ota: { promote: {} } }, "ota.promote.min", "not set"],
    ["an OTA model name with capitals and spaces", { ota: { modelName: "My Model" } }, "ota.modelName", '"My Model"'],
    ["an unknown OTA field", { ota: { chanel: "stable" } }, "ota.chanel", '"stable"'],
    ["a shared OTA bucket without its signing key", { ota: { bucket: "fleet-models" } }, "ota.signingKeyArn", "not set"],
    ["a shared OTA signing key without its bucket", { ota: { signingKeyArn: FLEET_KEY } }, "ota.bucket", "not set"],
    ["an OTA signing key given as an alias", { ota: { bucket: "fleet-models", signingKeyArn: "alias/fleet" } }, "ota.signingKeyArn", '"alias/fleet"'],
    ["an OTA signing key of another region", { ota: { bucket: "fleet-models", signingKeyArn: FLEET_KEY } }, "ota.signingKeyArn", JSON.stringify(FLEET_KEY), "eu-west-1"],
    ["an OTA bucket name with capitals", { ota: { bucket: "Fleet_Models", signingKeyArn: FLEET_KEY } }, "ota.bucket", '"Fleet_Models"'],
    ["a models prefix without a shared bucket", { ota: { modelsPrefix: "fleet/" } }, "ota.modelsPrefix", '"fleet/"'],
    ["a models prefix with a leading slash", { ota: { bucket: "fleet-models", signingKeyArn: FLEET_KEY, modelsPrefix: "/models/" } }, "ota.modelsPrefix", '"/models/"'],
    ["a models prefix climbing out with ..", { ota: { bucket: "fleet-models", signingKeyArn: FLEET_KEY, modelsPrefix: "models/../" } }, "ota.modelsPrefix", '"models/../"'],
    ["a network without subnets", { network: { vpcId: "vpc-0123456789abcdef0", subnetIds: [] } }, "network.subnetIds", "[]"],
    ["a malformed VPC id", { network: { vpcId: "vpc-xyz", subnetIds: ["subnet-0123456789abcdef0"] } }, "network.vpcId", '"vpc-xyz"'],
    ["an image that is no image reference", { image: "my image" }, "image", '"my image"'],
    ["progressive phases that shrink", { progressive: [{ imgsz: 640, epochs: 10 }, { imgsz: 320, epochs: 10 }] }, "progressive[1].imgsz", "320"],
    ["a progressive phase with a bad imgsz", { progressive: [{ imgsz: 300, epochs: 10 }] }, "progressive[0].imgsz", "300"],
    ["progressive epochs not adding up to epochs", { epochs: 50, progressive: [{ imgsz: 320, epochs: 10 }, { imgsz: 640, epochs: 30 }] }, "progressive", '[{"imgsz":320,"epochs":10},{"imgsz":640,"epochs":30}]'],
    ["both MLflow and W&B tracking", { tracking: { mlflowUri: "https://mlflow.example.com", wandbProject: "p" } }, "tracking", '{"mlflowUri":"https://mlflow.example.com","wandbProject":"p"}'],
    ["W&B tracking without the key", { tracking: { wandbProject: "pallets" } }, "tracking.wandbApiKey", "not set"],
    ["an MLflow URI that is not http(s)", { tracking: { mlflowUri: "ftp://mlflow.example.com" } }, "tracking.mlflowUri", '"ftp://mlflow.example.com"'],
    ["an unknown top-level key", { epoch: 10 }, "epoch", "10"],
    ["a GPU class not offered in the region", { gpu: "l4" }, "gpu", '"l4"', "eu-west-1"],
    ["a region the price catalog does not know", {}, "aws:region", '"sa-east-1"', "sa-east-1"],
    ["AutoBatch on a multi-GPU node", { stage: "train", batch: -1 }, "batch", "-1"],
    ["a batch that does not split over the GPUs", { stage: "train", batch: 20 }, "batch", "20"],
  ];

  // Every row gets its region: jest would take a missing fifth value as a `done` callback.
  const rows = cases.map(([what, raw, key, shown, region]) => [what, raw, key, shown, region ?? context.region] as const);

  it.each(rows)("rejects %s, naming the key, the value, what is allowed and the fix", (_what, raw, key, shown, region) => {
    const error = errorOf(raw, { region });
    expect(error.problems.map((p) => p.key)).toContain(key);
    const line = lineFor(error, key);
    const given = shown === "not set" ? "is not set" : `is ${shown}`;
    expect(line).toMatch(new RegExp(`^  - \`${escape(key)}\` ${escape(given)}(; |.*; )it must be .{5,}\\. Fix: .{3,}$`));
    expect(error.message).toMatch(/^Stack config yolo-train\/dev has \d+ problems?; nothing was created:/);
  });

  it("has at least 20 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });
});

describe("parseExperimentConfig: messages", () => {
  it("says imgsz the way the docs do, with the nearest valid size as the fix", () => {
    expect(lineFor(errorOf({ imgsz: 650 }), "imgsz")).toBe(
      "  - `imgsz` is 650; it must be a multiple of 32 between 32 and 2048. Fix: e.g. 640",
    );
  });

  it("says what restartIfCheckpointLost allows and how to set it", () => {
    expect(lineFor(errorOf({ restartIfCheckpointLost: "always" }), "restartIfCheckpointLost")).toBe(
      "  - `restartIfCheckpointLost` is \"always\"; it must be true or false. " +
        "Fix: e.g. pulumi config set yolo-train:restartIfCheckpointLost true, or remove it to fail the run when its checkpoint is lost",
    );
  });

  it("reports a wrong restartIfCheckpointLost together with the other problems", () => {
    const error = errorOf({ restartIfCheckpointLost: "on", imgsz: 650, idleMinutes: 1 });
    expect(error.problems.map((p) => p.key).sort()).toEqual(["idleMinutes", "imgsz", "restartIfCheckpointLost"]);
    expect(error.message).toContain("has 3 problems");
  });

  it("reports every problem of a config in one error: shapes, unknown keys and cross-key rules", () => {
    const error = errorOf({
      imgsz: 650,
      epoch: 3,
      gpu: "v100",
      capacity: "on-demand",
      maxSpotPrice: 2,
      hyperparameters: { lr: 0.1, batch: 8 },
      tracking: { mlflowUri: "https://mlflow.example.com", wandbProject: "p" },
    });
    expect(error.problems.map((p) => p.key).sort()).toEqual(
      ["epoch", "gpu", "hyperparameters.batch", "hyperparameters.lr", "imgsz", "maxSpotPrice", "tracking"].sort(),
    );
    expect(error.message).toContain("has 7 problems");
    expect(error.message.split("\n")).toHaveLength(8);
  });

  it.each([
    ["epoch", "epochs"],
    ["imgSize", "imgsz"],
    ["gpus", "gpu"],
    ["maxRuntime", "maxRuntimeHours"],
  ])("suggests the closest known key for the unknown key %s", (typo, known) => {
    expect(lineFor(errorOf({ [typo]: 1 }), typo)).toContain(`did you mean \`${known}\`?`);
  });

  it("suggests removing an unknown key that is close to nothing", () => {
    expect(lineFor(errorOf({ shoeSize: 44 }), "shoeSize")).toContain("Fix: remove it: pulumi config rm yolo-train:shoeSize");
  });

  it.each([
    ["lr", "lr0"],
    ["momentun", "momentum"],
    ["optimiser", "optimizer"],
    ["warmup_epoch", "warmup_epochs"],
    ["flip_lr", "fliplr"],
  ])("suggests the closest ultralytics train argument for the hyperparameter %s", (typo, known) => {
    expect(lineFor(errorOf({ hyperparameters: { [typo]: 1 } }), `hyperparameters.${typo}`)).toContain(`did you mean \`${known}\`?`);
  });

  it("points a reserved hyperparameter to the key that sets it", () => {
    expect(lineFor(errorOf({ hyperparameters: { epochs: 5 } }), "hyperparameters.epochs")).toContain(
      "Fix: set the `epochs` key instead: pulumi config set yolo-train:epochs <n>",
    );
  });

  it("suggests the release name for a misspelt model and the built-in yaml for a misspelt dataset", () => {
    const error = errorOf({ model: "yolov11n.pt", data: "coco9.yaml" });
    expect(lineFor(error, "model")).toContain("did you mean `yolo11n.pt`?");
    expect(lineFor(error, "data")).toContain("did you mean `coco8.yaml`?");
  });

  it("names the GPU counts a class offers", () => {
    const line = lineFor(errorOf({ gpusPerNode: 8 }), "gpusPerNode");
    expect(line).toBe(
      "  - `gpusPerNode` is 8; it must be a GPU count per node that t4 offers on AWS: 1 or 4. " +
        "Fix: e.g. 4, or a gpu with 8 per node: a10g, a100, a100-80gb or h100",
    );
  });

  it("names the regions that offer a GPU class the stack's region lacks", () => {
    const line = lineFor(errorOf({ gpu: "h100", gpusPerNode: 8 }, { region: "eu-west-1" }), "gpu");
    expect(line).toContain("none of p5.48xlarge is (price catalog)");
    expect(line).toContain("choose a region among ap-northeast-1, us-east-1 or us-west-2");
    expect(line).toContain("another gpu with 8 per node there: a10g or a100");
  });

  it("names the cheapest spot price when maxSpotPrice is below it", () => {
    const line = lineFor(errorOf({ maxSpotPrice: 0.01 }), "maxSpotPrice");
    const cheapest = Math.min(...["g4dn.xlarge", "g4dn.2xlarge", "g4dn.4xlarge"].map((t) => priceOf(t, "us-east-1")!.spotMinUsdPerHour!));
    expect(line).toContain(`at least $${cheapest} per hour`);
  });

  it("never shows a W&B API key, even when it is stored in plain text", () => {
    const error = errorOf({ tracking: { wandbProject: "pallets", wandbApiKey: "0123456789abcdef-secret" } });
    expect(lineFor(error, "tracking.wandbApiKey")).toContain("it must be a Pulumi secret");
    expect(error.message).not.toContain("0123456789abcdef-secret");
    const both = errorOf({ tracking: { mlflowUri: "https://m.example.com", wandbProject: "p", wandbApiKey: "0123456789abcdef-secret" } });
    expect(both.message).not.toContain("0123456789abcdef-secret");
  });

  it("never shows the value of a key Pulumi holds as a secret", () => {
    const error = errorOf({ alertEmail: "not-an-address-but-secret" }, { secretKeys: ["alertEmail"] });
    expect(lineFor(error, "alertEmail")).toContain("is \"[secret, not shown]\"");
    expect(error.message).not.toContain("not-an-address-but-secret");
  });
});

describe("parseExperimentConfig: defaults and presets", () => {
  it("fills every default of design.md for an empty config", () => {
    const config = parseExperimentConfig({}, context);
    expect(config).toMatchObject({
      project: "yolo-train",
      stack: "dev",
      region: "us-east-1",
      stage: "debug",
      epochs: 100,
      imgsz: 640,
      batch: 16,
      idleMinutes: 15,
      idleGpuPercent: 5,
      restartIfCheckpointLost: false,
      capacity: "spot",
      model: "yolov8n.pt",
      modelSource: { kind: "pretrained", name: "yolov8n.pt", family: "yolov8", size: "n" },
      data: "coco8.yaml",
      dataSource: { kind: "builtin", yaml: "coco8.yaml" },
      datasetMount: "mountpoint",
      hyperparameters: {},
      ota: { modelName: "dev", channel: "candidate" },
      tracking: { kind: "off" },
      instanceTypesExplicit: false,
    });
    expect(config.maxSpotPrice).toBeUndefined();
    expect(config.budgetUsd).toBeUndefined();
    expect(config.network).toBeUndefined();
    expect(config.image).toBeUndefined();
    expect(config.progressive).toBeUndefined();
    expect(config.ota.promote).toBeUndefined();
  });

  it.each([
    ["debug", "t4", 1, 2, ["g4dn.xlarge", "g4dn.2xlarge", "g4dn.4xlarge"]],
    ["train", "a100", 8, 72, ["p4d.24xlarge"]],
    ["finetune", "t4", 1, 12, ["g4dn.xlarge", "g4dn.2xlarge", "g4dn.4xlarge"]],
  ] as const)("the %s preset runs %s ×%i on spot for at most %i h", (stage, gpu, gpus, hours, types) => {
    const config = parseExperimentConfig({ stage }, context);
    expect(config.gpu).toBe(gpu);
    expect(config.gpusPerNode).toBe(gpus);
    expect(config.capacity).toBe("spot");
    expect(config.maxRuntimeHours).toBe(hours);
    expect([...config.instanceTypes].sort()).toEqual([...types].sort());
    expect(STAGE_PRESETS[stage]).toMatchObject({ gpu, gpusPerNode: gpus, capacity: "spot", maxRuntimeHours: hours });
  });

  it("uses A10G types under the debug preset only when gpu says so", () => {
    expect(parseExperimentConfig({ stage: "debug" }, context).instanceTypes.some((t) => t.startsWith("g5."))).toBe(false);
    const config = parseExperimentConfig({ stage: "debug", gpu: "a10g" }, context);
    expect(config.gpusPerNode).toBe(1);
    expect([...config.instanceTypes].sort()).toEqual(["g5.2xlarge", "g5.4xlarge", "g5.xlarge"]);
  });

  it.each([
    ["gpu over the train preset", { stage: "train", gpu: "l4" }, { gpu: "l4", gpusPerNode: 4, maxRuntimeHours: 72 }],
    ["gpu and count over the train preset", { stage: "train", gpu: "l4", gpusPerNode: 1 }, { gpu: "l4", gpusPerNode: 1 }],
    ["a GPU with no node as small as the preset's", { stage: "debug", gpu: "a100" }, { gpu: "a100", gpusPerNode: 8 }],
    ["capacity over the preset", { stage: "train", capacity: "on-demand" }, { capacity: "on-demand", gpu: "a100" }],
    ["max runtime over the preset", { stage: "debug", maxRuntimeHours: 5 }, { maxRuntimeHours: 5, gpu: "t4" }],
    ["a count the preset's GPU offers", { stage: "finetune", gpusPerNode: 4 }, { gpu: "t4", gpusPerNode: 4, instanceTypes: ["g4dn.12xlarge"] }],
    [
      "instanceTypes over the preset's GPU",
      { stage: "train", instanceTypes: ["g5.2xlarge", "g5.xlarge"] },
      { gpu: "a10g", gpusPerNode: 1, instanceTypesExplicit: true, maxRuntimeHours: 72 },
    ],
  ] as const)("explicit keys win: %s", (_what, raw, expected) => {
    expect(parseExperimentConfig(raw, context)).toMatchObject(expected);
  });

  it("accepts instanceTypes that agree with an explicit gpu and count", () => {
    const config = parseExperimentConfig({ gpu: "a10g", gpusPerNode: 4, instanceTypes: ["g5.12xlarge"] }, context);
    expect(config).toMatchObject({ gpu: "a10g", gpusPerNode: 4, instanceTypes: ["g5.12xlarge"] });
  });

  it("keeps only the types the region offers, cheapest spot first", () => {
    const config = parseExperimentConfig({ gpu: "t4" }, { ...context, region: "us-west-2" });
    const medians = config.instanceTypes.map((t) => priceOf(t, "us-west-2")!.spotMedianUsdPerHour!);
    expect(medians).toEqual([...medians].sort((a, b) => a - b));
    expect(config.instanceTypes[0]).toBe("g4dn.xlarge");
    expect(config.instanceTypes).toHaveLength(instanceTypesFor("t4", 1).length);
  });

  it("orders on-demand capacity by the on-demand price", () => {
    const config = parseExperimentConfig({ gpu: "a10g", capacity: "on-demand" }, context);
    const prices = config.instanceTypes.map((t) => priceOf(t, "us-east-1")!.onDemandUsdPerHour);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
  });

  it("accepts a max spot price at or above the cheapest spot price", () => {
    expect(parseExperimentConfig({ maxSpotPrice: 0.3 }, context).maxSpotPrice).toBe(0.3);
  });

  it("takes epochs and imgsz from the progressive phases when they are not set", () => {
    const config = parseExperimentConfig({ progressive: [{ imgsz: 320, epochs: 30 }, { imgsz: 640, epochs: 70 }] }, context);
    expect(config.epochs).toBe(100);
    expect(config.imgsz).toBe(640);
    expect(config.progressive).toEqual([{ imgsz: 320, epochs: 30 }, { imgsz: 640, epochs: 70 }]);
  });

  it("publishes to a shared OTA bucket under models/ unless told another prefix", () => {
    expect(parseExperimentConfig({ ota: { bucket: "fleet-models", signingKeyArn: FLEET_KEY } }, context).ota.shared).toEqual({
      bucket: "fleet-models",
      signingKeyArn: FLEET_KEY,
      modelsPrefix: "models/",
    });
    expect(parseExperimentConfig({ ota: { bucket: "fleet-models", signingKeyArn: FLEET_KEY, modelsPrefix: "vision/models/" } }, context).ota.shared?.modelsPrefix).toBe("vision/models/");
    expect(parseExperimentConfig({}, context).ota.shared).toBeUndefined();
  });

  it("fills the promotion gate's defaults", () => {
    const config = parseExperimentConfig({ ota: { promote: { min: 0.4 } } }, context);
    expect(config.ota.promote).toEqual({ metric: "metrics/mAP50-95(B)", min: 0.4, requireImprovement: true });
  });

  it.each([
    ["dev", "dev"],
    ["Prod_EU.2", "prod-eu-2"],
    ["---", "model"],
  ])("names the OTA model after the stack %s as %s", (stack, name) => {
    expect(defaultModelName(stack)).toBe(name);
    expect(parseExperimentConfig({}, { ...context, stack }).ota.modelName).toBe(name);
  });

  it.each([
    ["s3://my-weights/runs/7/best.pt", { kind: "s3", bucket: "my-weights", key: "runs/7/best.pt" }],
    ["yolov5su.pt", { kind: "pretrained", family: "yolov5u", size: "s" }],
    ["yolo11x.pt", { kind: "pretrained", family: "yolo11", size: "x" }],
  ])("reads model %s as its source", (model, source) => {
    expect(parseExperimentConfig({ model }, context).modelSource).toMatchObject(source);
  });

  it.each([
    ["VOC.yaml", { kind: "builtin", yaml: "VOC.yaml" }],
    ["s3://factory-data/pallets/v3/data.yaml", { kind: "s3", bucket: "factory-data", prefix: "pallets/v3", yamlKey: "pallets/v3/data.yaml" }],
    ["s3://factory-data/data.yml", { kind: "s3", bucket: "factory-data", prefix: "", yamlKey: "data.yml" }],
    ["pallets_v3", { kind: "dataset-bucket", name: "pallets_v3" }],
  ])("reads data %s as its source", (data, source) => {
    expect(parseExperimentConfig({ data }, context).dataSource).toEqual(source);
  });

  it("keeps datasetMount with a built-in dataset (ultralytics downloads it; the mount is unused)", () => {
    expect(parseExperimentConfig({ data: "coco8.yaml", datasetMount: "fsx-lustre" }, context).datasetMount).toBe("fsx-lustre");
  });

  it("records only that a W&B key is set, when Pulumi holds it as a secret", () => {
    const config = parseExperimentConfig(
      { tracking: { wandbProject: "pallets", wandbApiKey: "k-123" } },
      { ...context, secretKeys: ["tracking"] },
    );
    expect(config.tracking).toEqual({ kind: "wandb", wandbProject: "pallets", wandbApiKeyIsSet: true });
    expect(JSON.stringify(config)).not.toContain("k-123");
  });

  it.each([
    [true, true],
    [false, false],
    ["true", true],
    ["false", false],
    [" TRUE ", true],
  ] as const)("reads restartIfCheckpointLost %j as %j", (given, expected) => {
    expect(parseExperimentConfig({ restartIfCheckpointLost: given }, context).restartIfCheckpointLost).toBe(expected);
  });

  it("returns a deeply frozen config", () => {
    const config = parseExperimentConfig({ hyperparameters: { optimizer: "SGD", lr0: 0.01 }, ota: { promote: { min: 0.5 } } }, context);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.instanceTypes)).toBe(true);
    expect(Object.isFrozen(config.hyperparameters)).toBe(true);
    expect(Object.isFrozen(config.ota.promote)).toBe(true);
    expect(() => {
      (config as { epochs: number }).epochs = 1;
    }).toThrow(TypeError);
  });

  it("is pure: the same input gives the same config, and the input is not changed", () => {
    const raw = { stage: "train", hyperparameters: { optimizer: "SGD", lr0: "0.01" } };
    const before = JSON.stringify(raw);
    expect(parseExperimentConfig(raw, context)).toEqual(parseExperimentConfig(raw, context));
    expect(JSON.stringify(raw)).toBe(before);
  });
});

describe("parseExperimentConfig: coercion of strings from `pulumi config set`", () => {
  it("reads number-like and boolean-like strings as numbers and booleans", () => {
    const config = parseExperimentConfig(
      {
        epochs: "300",
        imgsz: "960",
        batch: "0.7",
        maxRuntimeHours: "1.5",
        idleMinutes: " 20 ",
        idleGpuPercent: "2.5",
        restartIfCheckpointLost: "true",
        maxSpotPrice: "0.5",
        gpusPerNode: "1",
        budgetUsd: "100",
        alertEmail: "ml@example.com",
        ota: { promote: { min: "0.4", requireImprovement: "false" } },
        hyperparameters: { optimizer: "AdamW", lr0: "0.005", cos_lr: "true", workers: "4", cache: "disk" },
        progressive: [{ imgsz: "960", epochs: "300" }],
      },
      context,
    );
    expect(config).toMatchObject({
      epochs: 300,
      imgsz: 960,
      batch: 0.7,
      maxRuntimeHours: 1.5,
      idleMinutes: 20,
      idleGpuPercent: 2.5,
      restartIfCheckpointLost: true,
      maxSpotPrice: 0.5,
      gpusPerNode: 1,
      budgetUsd: 100,
      ota: { promote: { min: 0.4, requireImprovement: false } },
      hyperparameters: { optimizer: "AdamW", lr0: 0.005, cos_lr: true, workers: 4, cache: "disk" },
      progressive: [{ imgsz: 960, epochs: 300 }],
    });
  });

  it("reads a comma-separated instanceTypes string as a list", () => {
    expect(parseExperimentConfig({ instanceTypes: "g5.xlarge, g5.2xlarge" }, context).instanceTypes).toHaveLength(2);
  });

  it("does not coerce text that only starts like a number", () => {
    expect(errorOf({ epochs: "100 epochs" }).problems[0]).toMatchObject({ key: "epochs", value: "100 epochs" });
  });
});

describe("parseExperimentConfig: properties", () => {
  it("accepts exactly the multiples of 32 from 32 to 2048 as imgsz, as numbers or as text", () => {
    fc.assert(
      fc.property(fc.integer({ min: -64, max: 4200 }), fc.boolean(), (n, asText) => {
        const valid = n % 32 === 0 && n >= 32 && n <= 2048;
        const raw = { imgsz: asText ? String(n) : n };
        if (valid) expect(parseExperimentConfig(raw, context).imgsz).toBe(n);
        else expect(errorOf(raw).problems.map((p) => p.key)).toEqual(["imgsz"]);
      }),
    );
  });

  it("either returns a config or throws one InvalidInputError whose every line has value, rule and fix", () => {
    const value = fc.oneof(
      fc.anything(),
      fc.constantFrom("train", "t4", "-1", "640", "true", "s3://b/k.pt", "coco8.yaml"),
      fc.integer({ min: -10, max: 5000 }),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...KNOWN_KEYS, "epoch", "gpuCount"), value, { maxKeys: 6 }), (raw) => {
        try {
          const config = parseExperimentConfig(raw, context);
          expect(Object.isFrozen(config)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(InvalidInputError);
          const error = e as InvalidInputError;
          expect(error.problems.length).toBeGreaterThan(0);
          for (const p of error.problems) {
            expect(p.allowed.length).toBeGreaterThan(0);
            expect(p.fix.length).toBeGreaterThan(0);
          }
          const lines = error.message.split("\n").slice(1);
          expect(lines).toHaveLength(error.problems.length);
          for (const line of lines) expect(line).toMatch(/^ {2}- `.+?` (is not set|is .+?); it must be .+\. Fix: .+$/s);
        }
      }),
      // Counterexamples found once, kept so every run checks them: keys Object.prototype also has.
      { numRuns: 300, examples: [[JSON.parse('{"hyperparameters":{"__proto__":false}}')], [JSON.parse('{"hyperparameters":{"constructor":1},"ota":{"__proto__":1}}')]] },
    );
  });

  it("applies a default for every key left out", () => {
    const config = parseExperimentConfig({}, context);
    expect(config.epochs).toBe(DEFAULTS.epochs);
    expect(config.imgsz).toBe(DEFAULTS.imgsz);
    expect(config.batch).toBe(DEFAULTS.batch);
    expect(config.restartIfCheckpointLost).toBe(DEFAULTS.restartIfCheckpointLost);
    expect(DEFAULTS.restartIfCheckpointLost).toBe(false);
  });
});
