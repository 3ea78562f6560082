import fc from "fast-check";
import { GPU_CLASSES, gpuCountsFor, instanceTypesFor } from "../../catalog";
import { STAGE_PRESETS, presetGpuCount } from "../../config/presets";
import { STAGES } from "../../config/types";

describe("STAGE_PRESETS", () => {
  it("matches the design table: debug t4×1 2 h, train a100×8 72 h, finetune t4×1 12 h, all spot", () => {
    expect(STAGE_PRESETS).toEqual({
      debug: expect.objectContaining({ gpu: "t4", gpusPerNode: 1, capacity: "spot", maxRuntimeHours: 2 }),
      train: expect.objectContaining({ gpu: "a100", gpusPerNode: 8, capacity: "spot", maxRuntimeHours: 72 }),
      finetune: expect.objectContaining({ gpu: "t4", gpusPerNode: 1, capacity: "spot", maxRuntimeHours: 12 }),
    });
  });

  it.each(STAGES)("the %s preset names a GPU and count the catalog has", (stage) => {
    const preset = STAGE_PRESETS[stage];
    expect(instanceTypesFor(preset.gpu, preset.gpusPerNode).length).toBeGreaterThan(0);
  });
});

describe("presetGpuCount", () => {
  it.each([
    [8, [1, 4], 4],
    [1, [8], 8],
    [1, [1, 4], 1],
    [8, [1, 4, 8], 8],
    [4, [1, 8], 1],
    [1, [], undefined],
  ] as const)("from preset %i and offered %j picks %s", (preset, offered, expected) => {
    expect(presetGpuCount(preset, offered)).toBe(expected);
  });

  it("always picks a count the GPU class offers", () => {
    fc.assert(
      fc.property(fc.constantFrom(...GPU_CLASSES), fc.constantFrom(1, 4, 8), (gpu, preset) => {
        expect(gpuCountsFor(gpu)).toContain(presetGpuCount(preset, gpuCountsFor(gpu)));
      }),
    );
  });
});
