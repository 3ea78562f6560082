import { runSpecDocument } from "../../runspec/experimentConfig";
import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { autoScalingCalls, expectExit } from "../fakes/runExpectations";

const invalid = JSON.stringify({ ...runSpecDocument(), train: { epochs: 0, imgsz: 641, batch: 16, gpus: 1, hyperparameters: {} } });

describe("an invalid run spec or agent setting", () => {
  it.each([
    ["run spec with schema violations", invalid, {}, /train\.epochs[\s\S]*train\.imgsz/],
    ["run spec that is not JSON", "{ not json", {}, /not valid JSON/],
    ["run spec file that is missing", undefined, { YOLO_TRAIN_RUN_SPEC: "<root>/missing-run-spec.json" }, /could not be read/],
    ["agent setting that is not a number", undefined, { YOLO_TRAIN_SPOT_POLL_MS: "soon" }, /YOLO_TRAIN_SPOT_POLL_MS/],
  ])("(%s) exits 64 naming the problem, with no AWS request, no trainer and no teardown", async (_case, rawSpec, envTemplate: Record<string, string>, problem) => {
    const world = await NodeWorld.start(rawSpec === undefined ? {} : { rawSpec });
    try {
      const env = Object.fromEntries(Object.entries(envTemplate).map(([k, v]) => [k, v.replace("<root>", world.root)]));
      const exit = await expectExit(world.runAgent({ env }), EXIT.invalidSpec);
      expect(exit.stderr).toMatch(problem);
      expect(world.proxy.requests).toEqual([]);
      expect(autoScalingCalls(world)).toEqual([]);
      expect(world.imds.requests).toEqual([]);
      expect(world.standInEvents()).toEqual([]);
    } finally {
      await world.close();
    }
  }, 60_000);
});
