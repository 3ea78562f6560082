import { estimateExperiment } from "../../catalog/experimentEstimate";
import { parseExperimentConfig } from "../../config";

const context = { project: "yolo-train", stack: "est", region: "us-east-1" };
const estimate = (raw: Record<string, unknown>) => estimateExperiment(parseExperimentConfig(raw, context));

describe("the experiment estimate", () => {
  it("knows the image count of a built-in dataset and prices the run on spot below on-demand", () => {
    const e = estimate({ data: "coco128.yaml", epochs: 50 });
    expect(e.hours).toBeGreaterThan(0);
    expect(e.cost!.estimatedUsd).toBeLessThan(e.cost!.onDemandUsd);
    expect(e.cost!.chosen.instanceType).toBe("g4dn.xlarge");
  });

  it("bounds the cost by the max runtime at the chosen rate", () => {
    const e = estimate({ stage: "finetune" });
    expect(e.capUsd).toBeCloseTo(12 * e.capacityRates.chosen.usdPerHour, 9);
  });

  it("gives only the cap for a dataset of unknown size, and says how to get an estimate", () => {
    const e = estimate({ data: "pallets" });
    expect(e.hours).toBeUndefined();
    expect(e.cost).toBeUndefined();
    expect(e.assumptions.some((a) => a.includes("yolo-train:datasetImages"))).toBe(true);
  });

  it("uses datasetImages when given: more images, more hours", () => {
    const small = estimate({ data: "pallets", datasetImages: 1000 });
    const large = estimate({ data: "pallets", datasetImages: 10000 });
    expect(large.hours!).toBeGreaterThan(small.hours!);
  });

  it("sums progressive phases, the small phase cheaper than training at full size throughout", () => {
    const progressive = estimate({ data: "coco.yaml", progressive: [{ imgsz: 320, epochs: 50 }, { imgsz: 640, epochs: 50 }] });
    const full = estimate({ data: "coco.yaml", epochs: 100, imgsz: 640 });
    expect(progressive.hours!).toBeLessThan(full.hours!);
  });

  it("warns when the estimate exceeds the max runtime, and prices only up to the cap", () => {
    const e = estimate({ data: "coco.yaml", epochs: 300, model: "yolov8x.pt" });
    expect(e.hours!).toBeGreaterThan(2);
    expect(e.assumptions.some((a) => a.includes("exceeds maxRuntimeHours"))).toBe(true);
    expect(e.cost!.hours).toBe(2);
  });

  it("says what it assumed for weights from S3", () => {
    const e = estimate({ model: "s3://zoo/custom.pt" });
    expect(e.assumptions[0]).toContain("weights from S3 are taken to be the size of yolov8s");
  });
});
