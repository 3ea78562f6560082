import { checkMergedConfig, configPath, parseSetValues, setsUsePaths } from "../../cli/launchConfig";

const context = { project: "yolo-train", stack: "dev", secretKeys: [] };
const KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

describe("--set paths", () => {
  it.each([
    ["ota.bucket", ["ota", "bucket"]],
    ["ota.promote.min", ["ota", "promote", "min"]],
    ["progressive[1].epochs", ["progressive", 1, "epochs"]],
    ["hyperparameters.lr0", ["hyperparameters", "lr0"]],
  ])("reads %s as the path %j, as pulumi config set --path does", (key, path) => {
    expect(configPath(key)).toEqual(path);
  });

  it.each([["epochs"], ["a..b"], ["[0]"], ["ota."], ["ota[x]"]])("reads %s as a whole key", (key) => {
    expect(configPath(key)).toBeUndefined();
  });

  it("says when the values must be set with paths", () => {
    expect(setsUsePaths(parseSetValues(["ota.promote.min=0.5", "epochs=3"]))).toBe(true);
    expect(setsUsePaths(parseSetValues(["epochs=3", "aws:region=eu-west-1"]))).toBe(false);
  });
});

describe("checkMergedConfig with fields set by path", () => {
  it("merges fields into the stack file's structured value before validating", () => {
    const merged = {
      "aws:region": "us-east-1",
      "yolo-train:ota": JSON.stringify({ modelName: "pallets", bucket: "fleet-models" }),
      "yolo-train:ota.signingKeyArn": KEY,
      "yolo-train:ota.promote.min": "0.5",
      "yolo-train:ota.promote.requireImprovement": "false",
      "yolo-train:progressive[0].imgsz": "320",
      "yolo-train:progressive[0].epochs": "40",
      "yolo-train:progressive[1].imgsz": "640",
      "yolo-train:progressive[1].epochs": "60",
    };
    expect(checkMergedConfig(merged, context)).toEqual([]);
  });

  it("reports a field the stack file lacks, naming it with its path", () => {
    const problems = checkMergedConfig({ "aws:region": "us-east-1", "yolo-train:ota.bucket": "fleet-models" }, context);
    expect(problems.map((p) => p.key)).toEqual(["ota.signingKeyArn"]);
  });

  it("suggests the field meant by a misspelt path", () => {
    const problems = checkMergedConfig({ "aws:region": "us-east-1", "yolo-train:ota.chanel": "stable" }, context);
    expect(problems).toEqual([expect.objectContaining({ key: "ota.chanel", value: "stable", fix: "did you mean `channel`?" })]);
  });

  it("reads true/false and numbers set by path as the schema expects, and refuses other words for a boolean", () => {
    expect(checkMergedConfig({ "aws:region": "us-east-1", "yolo-train:ota.promote.min": "0.5", "yolo-train:ota.promote.requireImprovement": "true" }, context)).toEqual([]);
    const problems = checkMergedConfig({ "aws:region": "us-east-1", "yolo-train:ota.promote.requireImprovement": "yes" }, context);
    expect(problems.map((p) => p.key)).toEqual(expect.arrayContaining(["ota.promote.requireImprovement"]));
  });
});
