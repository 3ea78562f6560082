import { parseStackConfigFile, StackFileError } from "../../cli/plan/stackConfigFile";

describe("reading a Pulumi.<stack>.yaml", () => {
  it("keeps text as it is and turns numbers and objects into the text the engine passes", () => {
    const { values, secretKeys } = parseStackConfigFile(
      [
        "config:",
        "  aws:region: us-east-1",
        "  yolo-train:epochs: 10",
        "  yolo-train:hyperparameters:",
        "    optimizer: SGD",
        "    lr0: 0.01",
        "    cos_lr: true",
      ].join("\n"),
      "Pulumi.dev.yaml",
    );
    expect(values).toEqual({
      "aws:region": "us-east-1",
      "yolo-train:epochs": "10",
      "yolo-train:hyperparameters": '{"optimizer":"SGD","lr0":0.01,"cos_lr":true}',
    });
    expect(secretKeys).toEqual([]);
  });

  it("marks keys holding secure values as secrets without decrypting them", () => {
    const { values, secretKeys } = parseStackConfigFile(
      ["config:", "  yolo-train:tracking:", "    wandbProject: widgets", "    wandbApiKey:", "      secure: v1:abc"].join("\n"),
      "Pulumi.dev.yaml",
    );
    expect(secretKeys).toEqual(["yolo-train:tracking"]);
    expect(JSON.parse(values["yolo-train:tracking"]!)).toEqual({ wandbProject: "widgets", wandbApiKey: "[secret]" });
  });

  it.each([
    ["config: [1, 2]", /`config` must be a mapping/],
    ["config:\n  epochs: 10", /`epochs` has no namespace; write it as `yolo-train:epochs`/],
    ["config: {a: [}", /not valid YAML/],
  ])("rejects %j with a message that says how to fix it", (text, message) => {
    expect(() => parseStackConfigFile(text, "Pulumi.x.yaml")).toThrow(StackFileError);
    expect(() => parseStackConfigFile(text, "Pulumi.x.yaml")).toThrow(message);
  });
});
