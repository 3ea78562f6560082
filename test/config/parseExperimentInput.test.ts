/**
 * The typed public input (issue 11, item 3): a config written in code, where Pulumi Outputs are
 * refused naming the key, except in the fields typed `pulumi.Input`, which parseExperimentInput
 * carries on in `deferred` for the checkDeferred… functions once known.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
  DEFAULTS,
  InvalidInputError,
  checkDeferredAlertEmail,
  checkDeferredImage,
  checkDeferredNetwork,
  checkDeferredOtaShared,
  checkExperimentConfig,
  formatProblem,
  parseExperimentConfig,
  parseExperimentInput,
  type ExperimentConfigInput,
  type StackContext,
} from "../../config";
import { isPulumiOutput, isUnknownInput } from "../../config/checks/unknownValues";

const context: StackContext = { project: "yolo-train", stack: "dev", region: "us-east-1" };
const FLEET_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const VPC = "vpc-0123456789abcdef0";
const SUBNET = "subnet-0123456789abcdef0";

/** The error a call throws; fails the test when it returns instead. */
function errorOf(call: () => unknown): InvalidInputError {
  try {
    call();
  } catch (e) {
    if (e instanceof InvalidInputError) return e;
    throw e;
  }
  throw new Error("expected the input to be refused");
}

function lineFor(error: InvalidInputError, key: string): string {
  const line = error.message.split("\n").find((l) => l.startsWith(`  - \`${key}\` `));
  if (line === undefined) throw new Error(`no line for \`${key}\` in:\n${error.message}`);
  return line;
}

describe("Outputs where the training spec needs a plain value", () => {
  it("refuses an Output for epochs, naming the key and saying a plain number is needed", () => {
    for (const parse of [parseExperimentConfig, parseExperimentInput]) {
      const error = errorOf(() => parse({ epochs: pulumi.output(100) } as unknown as ExperimentConfigInput, context));
      expect(error.problems.map((p) => p.key)).toEqual(["epochs"]);
      const line = lineFor(error, "epochs");
      expect(line).toMatch(/^ {2}- `epochs` is a pulumi Output; it must be a plain number: the training spec must be known at preview/);
      expect(line).toContain("Fix: pass a plain number");
      // Never Pulumi's own toJSON warning about Outputs.
      expect(error.message).not.toContain("toJSON");
    }
  });

  it("refuses a Promise too", () => {
    const error = errorOf(() => parseExperimentConfig({ imgsz: Promise.resolve(640) }, context));
    expect(lineFor(error, "imgsz")).toMatch(/^ {2}- `imgsz` is a Promise; it must be a plain number/);
  });

  it.each([
    ["ota.promote.min", { ota: { promote: { min: pulumi.output(0.5) } } }],
    ["progressive[1].epochs", { progressive: [{ imgsz: 320, epochs: 10 }, { imgsz: 640, epochs: pulumi.output(90) }] }],
    ["hyperparameters.lr0", { hyperparameters: { optimizer: "SGD", lr0: pulumi.output(0.01) } }],
    ["tracking.mlflowUri", { tracking: { mlflowUri: pulumi.output("https://mlflow.example.com") } }],
    ["network", { network: pulumi.output({ vpcId: VPC, subnetIds: [SUBNET] }) }],
    ["ota", { ota: pulumi.output({ channel: "stable" }) }],
  ])("refuses an Output inside a key by its path: %s", (key, raw) => {
    const error = errorOf(() => parseExperimentInput(raw as unknown as ExperimentConfigInput, context));
    expect(error.problems.map((p) => p.key)).toEqual([key]);
    expect(lineFor(error, key)).toMatch(new RegExp(`^ {2}- \`${key.replace(/[.[\]]/g, "\\$&")}\` is a pulumi Output; it must be `));
  });

  it("reports an Output together with every other problem", () => {
    const error = errorOf(() => parseExperimentConfig({ epochs: pulumi.output(3), imgsz: 650, epoch: 3 }, context));
    expect(error.problems.map((p) => p.key).sort()).toEqual(["epoch", "epochs", "imgsz"]);
  });

  it("names an Output under an unknown key as words, never with Pulumi's toJSON text", () => {
    const error = errorOf(() => parseExperimentConfig({ epoch: pulumi.output(3) }, context));
    expect(lineFor(error, "epoch")).toContain("`epoch` is a pulumi Output; it must be a known yolo-train key");
    expect(error.message).not.toContain("toJSON");
  });
});

describe("parseExperimentInput: Outputs of other resources, carried in `deferred`", () => {
  it("carries an Output network.vpcId in deferred, with the plain subnetIds checked", () => {
    const vpcId = pulumi.output(VPC);
    const { config, deferred } = parseExperimentInput({ network: { vpcId, subnetIds: [SUBNET] } }, context);
    expect(config.network).toBeUndefined();
    expect(deferred.network?.vpcId).toBe(vpcId);
    expect(deferred.network?.subnetIds).toEqual([SUBNET]);
    expect(Object.keys(deferred)).toEqual(["network"]);
  });

  it("carries Output subnet ids (a list Output, or a list of Outputs) in deferred", () => {
    const subnetIds = pulumi.output([SUBNET]);
    expect(parseExperimentInput({ network: { vpcId: VPC, subnetIds } }, context).deferred.network).toEqual({ vpcId: VPC, subnetIds });
    const each = [pulumi.output(SUBNET)];
    expect(parseExperimentInput({ network: { vpcId: VPC, subnetIds: each } }, context).deferred.network?.subnetIds).toBe(each);
  });

  it("still checks the plain field of a network whose other field is an Output", () => {
    const error = errorOf(() => parseExperimentInput({ network: { vpcId: pulumi.output(VPC), subnetIds: ["subnet-xyz"] } }, context));
    expect(error.problems.map((p) => p.key)).toEqual(["network.subnetIds[0]"]);
    const missing = errorOf(() => parseExperimentInput({ network: { vpcId: pulumi.output(VPC) } } as unknown as ExperimentConfigInput, context));
    expect(missing.problems.map((p) => p.key)).toEqual(["network.subnetIds"]);
  });

  it("carries a shared OTA bucket whose name is an Output, with its plain key checked and the models prefix", () => {
    const bucket = pulumi.output("fleet-models");
    const { config, deferred } = parseExperimentInput({ ota: { bucket, signingKeyArn: FLEET_KEY, modelsPrefix: "vision/" } }, context);
    expect(config.ota.shared).toBeUndefined();
    expect(config.ota.modelName).toBe("dev");
    expect(deferred.otaShared).toEqual({ bucket, signingKeyArn: FLEET_KEY, modelsPrefix: "vision/" });
    expect(parseExperimentInput({ ota: { bucket: "fleet-models", signingKeyArn: pulumi.output(FLEET_KEY) } }, context).deferred.otaShared?.modelsPrefix).toBe("models/");
    // The plain key is in another region: refused now.
    const error = errorOf(() => parseExperimentInput({ ota: { bucket, signingKeyArn: FLEET_KEY } }, { ...context, region: "eu-west-1" }));
    expect(error.problems.map((p) => p.key)).toEqual(["ota.signingKeyArn"]);
  });

  it("still wants bucket and key together when one of them is an Output", () => {
    const error = errorOf(() => parseExperimentInput({ ota: { bucket: pulumi.output("fleet-models") } }, context));
    expect(lineFor(error, "ota.signingKeyArn")).toContain("set together with `ota.bucket` (a pulumi Output)");
  });

  it("carries an Output image and alertEmail; a budget with an Output alertEmail has its subscriber", () => {
    const image = pulumi.output("123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train:1.0");
    const alertEmail = pulumi.output("ml-team@example.com");
    const { config, deferred } = parseExperimentInput({ image, alertEmail, budgetUsd: 100 }, context);
    expect(config.image).toBeUndefined();
    expect(config.alertEmail).toBeUndefined();
    expect(config.budgetUsd).toBe(100);
    expect(deferred.image).toBe(image);
    expect(deferred.alertEmail).toBe(alertEmail);
  });

  it("takes Promises where Outputs may be", () => {
    const image = Promise.resolve("123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train:1.0");
    expect(parseExperimentInput({ image }, context).deferred.image).toBe(image);
  });

  it("returns the plain config and nothing deferred for plain values", () => {
    const input: ExperimentConfigInput = {
      stage: "train",
      epochs: 300,
      network: { vpcId: VPC, subnetIds: [SUBNET] },
      ota: { bucket: "fleet-models", signingKeyArn: FLEET_KEY },
      image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train:1.0",
      alertEmail: "ml-team@example.com",
    };
    const { config, deferred } = parseExperimentInput(input, context);
    expect(deferred).toEqual({});
    expect(config).toEqual(parseExperimentConfig(input, context));
    expect(config.network).toEqual({ vpcId: VPC, subnetIds: [SUBNET] });
    expect(config.ota.shared).toEqual({ bucket: "fleet-models", signingKeyArn: FLEET_KEY, modelsPrefix: "models/" });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    ["network.vpcId", { network: { vpcId: pulumi.output(VPC), subnetIds: [SUBNET] } }],
    ["network.subnetIds", { network: { vpcId: VPC, subnetIds: pulumi.output([SUBNET]) } }],
    ["ota.bucket", { ota: { bucket: pulumi.output("fleet-models"), signingKeyArn: FLEET_KEY } }],
    ["ota.signingKeyArn", { ota: { bucket: "fleet-models", signingKeyArn: pulumi.output(FLEET_KEY) } }],
    ["image", { image: pulumi.output("123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train:1.0") }],
    ["alertEmail", { alertEmail: pulumi.output("ml-team@example.com") }],
  ])("parseExperimentConfig, whose plain config has no room for it, refuses an Output %s and points to parseExperimentInput", (key, raw) => {
    const error = errorOf(() => parseExperimentConfig(raw, context));
    expect(error.problems.map((p) => p.key)).toEqual([key]);
    expect(lineFor(error, key)).toContain("Fix: call parseExperimentInput instead");
    expect(checkExperimentConfig(raw, context).config).toBeUndefined();
  });
});

describe("the checks of deferred values once known", () => {
  it("refuse a malformed resolved network with the words of the plain key", () => {
    const problems = checkDeferredNetwork({ vpcId: "vpc-xyz", subnetIds: [] });
    expect(problems.map((p) => p.key).sort()).toEqual(["network.subnetIds", "network.vpcId"]);
    const plain = errorOf(() => parseExperimentConfig({ network: { vpcId: "vpc-xyz", subnetIds: [] } }, context));
    expect(problems.map((p) => `  - ${formatProblem(p)}`).sort()).toEqual(plain.message.split("\n").slice(1).sort());
    expect(checkDeferredNetwork({ vpcId: VPC, subnetIds: [SUBNET] })).toEqual([]);
    expect(checkDeferredNetwork({ vpcId: VPC, subnetIds: [SUBNET, SUBNET] }).map((p) => p.key)).toEqual(["network.subnetIds"]);
  });

  it("refuse a malformed shared bucket, or its key in another region", () => {
    expect(checkDeferredOtaShared({ bucket: "Fleet_Models", signingKeyArn: "alias/fleet" }, context).map((p) => p.key)).toEqual(["ota.bucket", "ota.signingKeyArn"]);
    const elsewhere = checkDeferredOtaShared({ bucket: "fleet-models", signingKeyArn: FLEET_KEY }, { region: "eu-west-1" });
    expect(elsewhere.map((p) => p.key)).toEqual(["ota.signingKeyArn"]);
    expect(formatProblem(elsewhere[0]!)).toContain("a key in the stack's region eu-west-1");
    expect(checkDeferredOtaShared({ bucket: "fleet-models", signingKeyArn: FLEET_KEY }, context)).toEqual([]);
  });

  it("refuse a malformed image and alert address with the plain keys' messages", () => {
    const image = checkDeferredImage("my image");
    expect(image.map((p) => `  - ${formatProblem(p)}`)).toEqual([lineFor(errorOf(() => parseExperimentConfig({ image: "my image" }, context)), "image")]);
    expect(checkDeferredImage("123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train:1.0")).toEqual([]);
    expect(checkDeferredAlertEmail("ml-team").map((p) => p.key)).toEqual(["alertEmail"]);
    expect(checkDeferredAlertEmail("ml-team@example.com")).toEqual([]);
  });

  it("are what a component runs inside apply, refusing with InvalidInputError", async () => {
    const { deferred } = parseExperimentInput({ image: pulumi.output("not an image") }, context);
    const refused = new Promise<unknown>((resolve) => {
      pulumi.output(deferred.image!).apply((image) => {
        const problems = checkDeferredImage(image);
        resolve(problems.length > 0 ? new InvalidInputError("TrainingRun exp", problems) : undefined);
        return image;
      });
    });
    const error = (await refused) as InvalidInputError;
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.errors).toEqual([{ propertyPath: "image", reason: expect.stringMatching(/^is "not an image"; it must be an image reference/) }]);
  });
});

describe("ExperimentConfigInput", () => {
  it("types Outputs only where a value may come from another resource (compile-time)", () => {
    const vpc = { vpcId: pulumi.output(VPC), privateSubnetIds: pulumi.output([SUBNET]) };
    const ok: ExperimentConfigInput = {
      stage: "finetune",
      gpusPerNode: 4,
      model: "yolo11s.pt",
      data: "pallets-v3",
      network: { vpcId: vpc.vpcId, subnetIds: vpc.privateSubnetIds },
      ota: { modelName: "pallets", channel: "stable", promote: { min: 0.5 }, bucket: pulumi.output("fleet"), signingKeyArn: pulumi.output(FLEET_KEY) },
      image: pulumi.output("r/i:1"),
      alertEmail: pulumi.output("a@example.com"),
      tracking: { mlflowUri: "https://mlflow.example.com" },
    };
    // @ts-expect-error epochs must be a plain number
    const epochs: ExperimentConfigInput = { epochs: pulumi.output(100) };
    // @ts-expect-error gpusPerNode is 1, 4 or 8
    const gpus: ExperimentConfigInput = { gpusPerNode: 2 };
    // @ts-expect-error not a release name
    const model: ExperimentConfigInput = { model: "yolov9n.pt" };
    // @ts-expect-error the channel is candidate or stable
    const channel: ExperimentConfigInput = { ota: { channel: "beta" } };
    expect([ok, epochs, gpus, model, channel]).toHaveLength(5);
  });

  it("documents each default the checker applies, as DEFAULTS says it", () => {
    const source = fs.readFileSync(path.resolve(__dirname, "..", "..", "config", "types.ts"), "utf8");
    const documented = (key: string): string => {
      const match = new RegExp(String.raw`@default ([^\n]*)\n\s*\*/\n\s*readonly ${key}\?`).exec(source);
      if (match === null) throw new Error(`no @default for ${key}`);
      return match[1]!;
    };
    for (const key of ["stage", "model", "data", "epochs", "imgsz", "batch", "datasetMount", "idleMinutes", "idleGpuPercent", "restartIfCheckpointLost"] as const) {
      expect(documented(key).startsWith(JSON.stringify(DEFAULTS[key]))).toBe(true);
    }
  });

  it("names every key of the config namespace", () => {
    const source = fs.readFileSync(path.resolve(__dirname, "..", "..", "config", "types.ts"), "utf8");
    const body = source.slice(source.indexOf("export interface ExperimentConfigInput"));
    const fields = [...body.slice(0, body.indexOf("\n}\n")).matchAll(/^ {2}readonly (\w+)\?:/gm)].map((m) => m[1]);
    const { KNOWN_KEYS } = jest.requireActual<typeof import("../../config/keys")>("../../config/keys");
    expect([...fields].sort()).toEqual([...KNOWN_KEYS].sort());
  });
});

describe("isPulumiOutput", () => {
  it("tells Outputs as pulumi.Output.isInstance does, without loading Pulumi", () => {
    for (const value of [pulumi.output(1), pulumi.output({ a: 1 }), pulumi.secret("s"), pulumi.all([pulumi.output(1)])]) {
      expect(isPulumiOutput(value)).toBe(true);
      expect(pulumi.Output.isInstance(value)).toBe(true);
    }
    for (const value of [1, "x", null, undefined, {}, [], { __pulumiOutput: "yes" }]) {
      expect(isPulumiOutput(value)).toBe(pulumi.Output.isInstance(value));
    }
    expect(isUnknownInput(Promise.resolve(1))).toBe(true);
    expect(isUnknownInput({ then: 1 })).toBe(false);
  });
});
