/**
 * One key-prefix rule (runspec/bucketLayout.ts) for every place a prefix is checked: a models
 * prefix the OTA bucket accepts must be one the node's IAM grant, the run spec on the node and the
 * stack config accept too, and one refused is refused everywhere (issue 11, item 6: an OTA
 * `modelsPrefix` with `'` passed `OtaBucket` and failed in `GpuNodeGroup` and the node's policy).
 */
import { parseExperimentConfig } from "../../config/parseExperimentConfig";
import { modelPublishStatements } from "../../components/iam/grantStatements";
import { nodeRolePolicyProblems } from "../../components/iam/nodeRolePolicy";
import { prefixProblems } from "../../components/storage/storageArgs";
import { KEY_PREFIX_PATTERN, keyPrefixProblem } from "../../runspec/bucketLayout";
import { InvalidInputError } from "../../runspec/problems";
import { InvalidRunSpecError, parseRunSpec } from "../../runspec/schema";
import { runSpecDocument } from "../runspec/experimentConfig";

const BUCKET_ARN = "arn:aws:s3:::fleet-models";
const FLEET_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const MODEL = "widgets";

/** Each checker's verdict on a models prefix: true when it accepts the prefix (or the model prefix under it). */
const CHECKERS: Record<string, (modelsPrefix: string) => boolean> = {
  "OtaBucket.modelsPrefix": (p) => prefixProblems("OtaBucket.modelsPrefix", p).length === 0,
  "the node's OTA publish grant (IAM)": (p) => {
    try {
      modelPublishStatements(BUCKET_ARN, `${p}${MODEL}/`);
      return true;
    } catch {
      return false;
    }
  },
  "the node role's policy (nodeRolePolicyProblems)": (p) =>
    nodeRolePolicyProblems({
      partition: "aws",
      region: "us-east-1",
      accountId: "123456789012",
      autoScalingGroupName: "yolo-train-dev-widgets",
      logGroupArn: "arn:aws:logs:us-east-1:123456789012:log-group:/yolo-train/yolo-train-dev-widgets",
      artifactBucketArn: "arn:aws:s3:::yolo-train-dev-artifacts",
      artifactPrefix: "runs/yolov8n-widgets-0123456789/",
      otaBucketArn: BUCKET_ARN,
      otaPrefix: `${p}${MODEL}/`,
      signingKeyArn: FLEET_KEY,
    }).length === 0,
  "the key-prefix pattern (GpuNodeGroup, LustreDataset, node user data)": (p) => KEY_PREFIX_PATTERN.test(`${p}${MODEL}/`),
  "the run spec's ota.prefix": (p) => {
    const doc = JSON.parse(JSON.stringify(runSpecDocument())) as { ota: { prefix: string } };
    doc.ota.prefix = `${p}${MODEL}/`;
    try {
      parseRunSpec(doc);
      return true;
    } catch (error) {
      if (!(error instanceof InvalidRunSpecError)) throw error;
      return !error.problems.some((problem) => problem.path === "ota.prefix");
    }
  },
  "the stack config's ota.modelsPrefix": (p) => {
    try {
      parseExperimentConfig({ ota: { modelName: MODEL, bucket: "fleet-models", signingKeyArn: FLEET_KEY, modelsPrefix: p } }, { project: "yolo-train", stack: "dev", region: "us-east-1" });
      return true;
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      return !error.problems.some((problem) => problem.key === "ota.modelsPrefix");
    }
  },
};

describe("the one key-prefix rule", () => {
  it("refuses ' in an OTA models prefix in the OTA bucket, the node's grant and policy, the run spec and the stack config alike", () => {
    const verdicts = Object.fromEntries(Object.entries(CHECKERS).map(([name, accepts]) => [name, accepts("it's/")]));
    expect(verdicts).toEqual(Object.fromEntries(Object.keys(CHECKERS).map((name) => [name, false])));
  });

  it("gives the same reason for it in the OTA bucket's and the run spec's messages", () => {
    const reason = keyPrefixProblem("it's/");
    expect(reason).toBe(`has a segment "it's" with characters outside A-Z a-z 0-9 ! _ . ( ) -`);
    expect(prefixProblems("OtaBucket.modelsPrefix", "it's/")[0]!.allowed).toContain(reason);
    const doc = JSON.parse(JSON.stringify(runSpecDocument())) as { ota: { prefix: string } };
    doc.ota.prefix = "it's/widgets/";
    expect(() => parseRunSpec(doc)).toThrow(`this one ${reason}`);
  });

  // (Not "models": glued to the model name it makes the valid model prefix "modelswidgets/".)
  it.each(["models/", "team-a/models/", "(v2)/models!/", "it's/", "models'/", "x*/", "a?b/", "a b/", "/models/", "a/../", "models//", "ünï/"])(
    "has every checker agree on the models prefix %j",
    (modelsPrefix) => {
      const expected = keyPrefixProblem(modelsPrefix, { allowEmpty: false }) === undefined;
      for (const [name, accepts] of Object.entries(CHECKERS)) expect([name, accepts(modelsPrefix)]).toEqual([name, expected]);
    },
  );
});
