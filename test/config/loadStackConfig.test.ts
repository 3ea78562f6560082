import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AWS_PROVIDER_CONFIG_KEYS, CONFIG_KEYS, KNOWN_KEYS, checkConfigNamespaces, loadExperimentConfig } from "../../config/loadStackConfig";
import { InvalidInputError } from "../../runspec/problems";
import { KEY_RULES } from "../../config/schema";
import { OfflineRuntime, valueOf } from "../../offline/offlineRuntime";

function loadError(): InvalidInputError {
  try {
    loadExperimentConfig();
  } catch (e) {
    if (e instanceof InvalidInputError) return e;
    throw e;
  }
  throw new Error("expected loadExperimentConfig to throw");
}

describe("loadExperimentConfig", () => {
  it("reads the yolo-train keys, objects as JSON, and the project, stack and region from Pulumi", async () => {
    await OfflineRuntime.start({
      project: "pallets",
      stack: "exp-7",
      config: {
        "aws:region": "us-west-2",
        "yolo-train:stage": "train",
        "yolo-train:hyperparameters": '{"optimizer":"SGD","lr0":0.01}',
        "yolo-train:epochs": "300",
      },
    });
    const { config, secrets } = loadExperimentConfig();
    expect(config).toMatchObject({
      project: "pallets",
      stack: "exp-7",
      region: "us-west-2",
      stage: "train",
      gpu: "a100",
      gpusPerNode: 8,
      instanceTypes: ["p4d.24xlarge"],
      maxRuntimeHours: 72,
      epochs: 300,
      hyperparameters: { optimizer: "SGD", lr0: 0.01 },
      ota: { modelName: "exp-7" },
    });
    expect(secrets.wandbApiKey).toBeUndefined();
  });

  it("reports a missing aws:region together with the other problems", async () => {
    await OfflineRuntime.start({ stack: "dev", config: { "yolo-train:imgsz": "650" } });
    const error = loadError();
    expect(error.problems.map((p) => p.key)).toEqual(["aws:region", "imgsz"]);
    expect(error.message).toContain("  - `aws:region` is not set; it must be the AWS region to train in, e.g. us-east-1. Fix: pulumi config set aws:region us-east-1");
    expect(error.message).toMatch(/^Stack config yolo-train\/dev has 2 problems/);
  });

  it("reports unknown keys of the namespace, found in the full config map", async () => {
    await OfflineRuntime.start({ region: "us-east-1", config: { "yolo-train:epoch": "10", "yolo-train:hyperparameter": '{"lr0":0.01}' } });
    const error = loadError();
    expect(error.problems).toEqual([
      expect.objectContaining({ key: "epoch", value: "10", fix: expect.stringContaining("did you mean `epochs`?") }),
      expect.objectContaining({ key: "hyperparameter", fix: expect.stringContaining("did you mean `hyperparameters`?") }),
    ]);
  });

  it("names an object key that holds text that is not JSON", async () => {
    await OfflineRuntime.start({ region: "us-east-1", config: { "yolo-train:ota": "{modelName: x" } });
    const error = loadError();
    expect(error.problems).toEqual([expect.objectContaining({ key: "ota", value: "{modelName: x" })]);
  });

  it("reads one instance type set as plain text", async () => {
    await OfflineRuntime.start({ region: "us-east-1", config: { "yolo-train:instanceTypes": "g6.xlarge" } });
    expect(loadExperimentConfig().config).toMatchObject({ gpu: "l4", gpusPerNode: 1, instanceTypes: ["g6.xlarge"], instanceTypesExplicit: true });
  });

  it("stops a program before it declares anything when the config is invalid", async () => {
    // What index.ts does: load the config first, then declare resources from it.
    const program = () => {
      const { config } = loadExperimentConfig();
      return new aws.s3.Bucket(`${config.stack}-artifacts`, {});
    };
    const valid = await OfflineRuntime.start({ region: "us-east-1", stack: "ok" });
    await valueOf(program().arn);
    expect(valid.resources.map((r) => r.type)).toEqual(["aws:s3/bucket:Bucket"]);

    const invalid = await OfflineRuntime.start({
      region: "us-east-1",
      stack: "bad",
      config: { "yolo-train:gpu": "v100", "yolo-train:batch": "0" },
    });
    expect(program).toThrow(InvalidInputError);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(invalid.resources).toEqual([]);
  });

  it("keeps the W&B key a Pulumi secret and out of the config", async () => {
    await OfflineRuntime.start({ region: "us-east-1" });
    // OfflineRuntime has no secret keys option: set the config as the language host would.
    pulumi.runtime.setAllConfig(
      { "aws:region": "us-east-1", "yolo-train:tracking": '{"wandbProject":"pallets","wandbApiKey":"wk-0123456789"}' },
      ["yolo-train:tracking"],
    );
    const { config, secrets } = loadExperimentConfig();
    expect(config.tracking).toEqual({ kind: "wandb", wandbProject: "pallets", wandbApiKeyIsSet: true });
    expect(JSON.stringify(config)).not.toContain("wk-0123456789");
    expect(secrets.wandbApiKey).toBeDefined();
    expect(await pulumi.isSecret(secrets.wandbApiKey!)).toBe(true);
    expect(await valueOf(secrets.wandbApiKey!)).toBe("wk-0123456789");
  });

  it("refuses a W&B key stored in plain text, without showing it", async () => {
    await OfflineRuntime.start({
      region: "us-east-1",
      config: { "yolo-train:tracking": '{"wandbProject":"pallets","wandbApiKey":"wk-0123456789"}' },
    });
    const error = loadError();
    expect(error.problems.map((p) => p.key)).toEqual(["tracking.wandbApiKey"]);
    expect(error.message).not.toContain("wk-0123456789");
  });
});

describe("config keys outside the yolo-train namespace", () => {
  it("refuses misspelt namespaces and unknown aws: keys, all at once, each with the key meant", async () => {
    await OfflineRuntime.start({
      region: "us-east-1",
      config: {
        "yolo_train:epochs": "10",
        "yolotrain:imgsz": "320",
        "yolo-trian:batch": "8",
        "Yolo-Train:epoch": "5",
        "aws:regoin": "eu-west-1",
        "yolo-train:imgsz": "650",
      },
    });
    const error = loadError();
    const byKey = Object.fromEntries(error.problems.map((p) => [p.key, p]));
    expect(Object.keys(byKey).sort()).toEqual(["Yolo-Train:epoch", "aws:regoin", "imgsz", "yolo-trian:batch", "yolo_train:epochs", "yolotrain:imgsz"].sort());
    expect(byKey["yolo_train:epochs"]).toMatchObject({ value: "10", fix: expect.stringContaining("did you mean `yolo-train:epochs`?") });
    expect(byKey["yolotrain:imgsz"]!.fix).toContain("did you mean `yolo-train:imgsz`?");
    expect(byKey["yolo-trian:batch"]!.fix).toContain("did you mean `yolo-train:batch`?");
    // A misspelt key in a misspelt namespace: both corrected.
    expect(byKey["Yolo-Train:epoch"]!.fix).toContain("did you mean `yolo-train:epochs`?");
    expect(byKey["aws:regoin"]).toMatchObject({ value: "eu-west-1", fix: expect.stringContaining("did you mean `aws:region`?") });
    expect(error.message).toContain("`yolo_train:epochs` is \"10\"; it must be a key of the `yolo-train` namespace; nothing reads the `yolo_train` namespace");
  });

  it("accepts every key of the AWS provider and the namespaces of Pulumi, other providers and the program's own", () => {
    const values = Object.fromEntries(AWS_PROVIDER_CONFIG_KEYS.map((k) => [`aws:${k}`, "x"]));
    expect(
      checkConfigNamespaces(
        { ...values, "aws:defaultTags.tags.team": "vision", "pulumi:tags": "{}", "awsx:foo": "1", "docker:host": "unix:///var/run/docker.sock", "platform:owner": "me", "yolo-train:epoch": "1" },
        { project: "platform" },
      ),
    ).toEqual([]);
  });

  it("lists exactly the config keys of the installed AWS provider", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const vars = require("@pulumi/aws/config/vars") as Record<string, unknown>;
    expect([...AWS_PROVIDER_CONFIG_KEYS].sort()).toEqual(Object.keys(vars).sort());
  });

  it("refuses a yolo-train key in the project's namespace (`pulumi config set epochs 50` in a project with another name)", () => {
    const problems = checkConfigNamespaces({ "pallets:epochs": "50", "pallets:owner": "me" }, { project: "pallets" });
    expect(problems).toEqual([expect.objectContaining({ key: "pallets:epochs", fix: expect.stringContaining("did you mean `yolo-train:epochs`?") })]);
  });

  it("suggests the aws namespace for a misspelt one, and the yolo-train key for one of ours under aws:", () => {
    const problems = checkConfigNamespaces({ "asw:region": "us-east-1", "aws:epochs": "5", "aws:frobnicate": "1" }, { project: "yolo-train" });
    expect(problems.map((p) => [p.key, p.fix])).toEqual([
      ["asw:region", expect.stringContaining("did you mean `aws:region`?")],
      ["aws:epochs", expect.stringContaining("did you mean `yolo-train:epochs`?")],
      ["aws:frobnicate", expect.stringContaining("remove it")],
    ]);
  });

  it("does not repeat secret values, or values of keys that may hold credentials", () => {
    const problems = checkConfigNamespaces({ "yolo_train:tracking": '{"wandbApiKey":"wk-1"}', "aws:secretkey": "AKIA-SECRET" }, { project: "yolo-train", secretKeys: ["yolo_train:tracking"] });
    expect(JSON.stringify(problems)).not.toContain("wk-1");
    expect(JSON.stringify(problems)).not.toContain("AKIA-SECRET");
    expect(problems.map((p) => p.value)).toEqual(["[secret]", "[secret]"]);
  });
});

describe("CONFIG_KEYS", () => {
  it("documents every key the schema knows, and only those", () => {
    expect([...KNOWN_KEYS].sort()).toEqual([...Object.keys(KEY_RULES), "hyperparameters"].sort());
  });

  it("gives every key a description, a default and a pulumi config set example", () => {
    for (const doc of CONFIG_KEYS) {
      expect(doc.description.length).toBeGreaterThan(10);
      expect(doc.default.length).toBeGreaterThan(0);
      expect(doc.example).toMatch(new RegExp(`^pulumi config set .*yolo-train:${doc.key}\\b`));
    }
  });
});
