import { sweepManifestJson, sweepManifestOf, type SweepManifestInput } from "../../../components/sweep/sweepManifestBody";
import { REDACTED } from "../../../config/checks/context";
import { InvalidSweepObjectError, parseSweepManifest } from "../../../runspec/sweep/sweepManifest";
import { CONTEXT, fourTrialPlan } from "./sweepFixture";

const OTA = { bucket: "vision-ota-4d5e6f", prefix: "models/dev/", modelName: "dev", channel: "candidate" as const, signingKeyId: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" };

function inputOf(plan = fourTrialPlan()): SweepManifestInput {
  return {
    sweepId: "sweep-0123456789ab",
    artifactBucket: "vision-dev-artifacts-1a2b3c",
    sweep: plan,
    ota: OTA,
    trials: plan.trials.map((trial, i) => ({ trial, groupName: `g-${trial.id}`, backstopScheduleName: `b-${trial.id}`, usdPerHour: 0.2 + i, estimatedUsd: i === 0 ? null : 1.5 })),
  };
}

describe("sweepManifestOf", () => {
  it("builds a manifest the keeper and the CLI accept, with every trial's group, backstop, price, cap and stack config", () => {
    const plan = fourTrialPlan();
    const manifest = parseSweepManifest(sweepManifestJson(inputOf(plan)), "sweep-0123456789ab");
    expect(manifest).toMatchObject({ maxParallel: 2, budgetUsd: 40, direction: "maximize", asha: { minEpochs: 3, reductionFactor: 3, maxEpochs: 27, rungs: [3, 9] }, ota: OTA });
    expect(manifest.trials.map((t) => [t.trialId, t.groupName, t.backstopScheduleName, t.usdPerHour, t.estimatedUsd, t.maxRuntimeHours])).toEqual([
      ["t01", "g-t01", "b-t01", 0.2, null, 2],
      ["t02", "g-t02", "b-t02", 1.2, 1.5, 2],
      ["t03", "g-t03", "b-t03", 2.2, 1.5, 2],
      ["t04", "g-t04", "b-t04", 3.2, 1.5, 2],
    ]);
    expect(manifest.trials[1]!.params).toEqual(plan.trials[1]!.params);
    expect(manifest.trials[1]!.stackConfig).toMatchObject({ imgsz: 320, hyperparameters: { optimizer: "SGD", lr0: 0.02 }, gpu: "t4", gpusPerNode: 1 });
  });

  it("writes null for a sweep without ASHA or budget", () => {
    const manifest = sweepManifestOf(inputOf(fourTrialPlan({}, { asha: "off", budgetUsd: undefined })));
    expect([manifest.asha, manifest.budgetUsd]).toEqual([null, null]);
  });

  it("writes a W&B key as the redacted placeholder, never the secret", () => {
    const key = "0123456789abcdef0123456789abcdef01234567";
    const plan = fourTrialPlan({ tracking: { wandbProject: "cones", wandbApiKey: key } }, {}, { ...CONTEXT, secretKeys: ["tracking"] });
    const text = sweepManifestJson(inputOf(plan));
    expect(text).not.toContain(key);
    expect(parseSweepManifest(text).trials[0]!.stackConfig.tracking).toEqual({ wandbProject: "cones", wandbApiKey: REDACTED });
  });

  it("refuses what the readers would refuse: two trials on one group", () => {
    const input = inputOf();
    expect(() => sweepManifestOf({ ...input, trials: input.trials.map((t) => ({ ...t, groupName: "same" })) })).toThrow(InvalidSweepObjectError);
  });
});
