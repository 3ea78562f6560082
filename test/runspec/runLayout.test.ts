import { phaseOfFolder, runLayout, specPhases } from "../../runspec/runLayout";

describe("runLayout", () => {
  const layout = runLayout({ runId: "yolov8n-coco8-0123456789", artifacts: { bucket: "art", prefix: "runs/yolov8n-coco8-0123456789/" } }, "/scratch");

  it("puts every object under the run's prefix, as the artifact layout says", () => {
    expect([layout.recordKey, layout.progressKey, layout.checkpointKey(2), layout.modelKeys.best, layout.modelKeys.onnx, layout.modelKeys.result]).toEqual([
      "runs/yolov8n-coco8-0123456789/run.json",
      "runs/yolov8n-coco8-0123456789/progress.jsonl",
      "runs/yolov8n-coco8-0123456789/checkpoints/phase-2/last.pt",
      "runs/yolov8n-coco8-0123456789/model/best.pt",
      "runs/yolov8n-coco8-0123456789/model/best.onnx",
      "runs/yolov8n-coco8-0123456789/model/result.json",
    ]);
  });

  it("keeps the trainer's files in <scratch>/runs/<runId>", () => {
    expect(layout.workdir).toBe("/scratch/runs/yolov8n-coco8-0123456789");
    expect(layout.lastCheckpointFile(1)).toBe("/scratch/runs/yolov8n-coco8-0123456789/phase-1/weights/last.pt");
    expect(layout.progressFile).toBe("/scratch/runs/yolov8n-coco8-0123456789/progress.jsonl");
    expect(layout.resultFile).toBe("/scratch/runs/yolov8n-coco8-0123456789/result.json");
  });

  it("keeps the run cache in <scratch>/weights, <workdir>/label-cache and under cache/ in S3", () => {
    expect([layout.weightsCacheDir, layout.labelCacheDir, layout.cacheKeyPrefix]).toEqual([
      "/scratch/weights",
      "/scratch/runs/yolov8n-coco8-0123456789/label-cache",
      "runs/yolov8n-coco8-0123456789/cache/",
    ]);
  });
});

describe("phaseOfFolder", () => {
  it.each([
    ["phase-0", 0],
    ["phase-12", 12],
    ["phase-01", null],
    ["phase-", null],
    ["phase-1-old", null],
    ["weights", null],
  ])("%s → %p", (name, phase) => {
    expect(phaseOfFolder(name)).toBe(phase);
  });
});

describe("specPhases", () => {
  it("is one phase of the run's epochs and size without progressive", () => {
    expect(specPhases({ train: { epochs: 50, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } })).toEqual([{ imgsz: 640, epochs: 50 }]);
  });

  it("is the progressive phases when given", () => {
    const progressive = [{ imgsz: 320, epochs: 10 }, { imgsz: 640, epochs: 20 }];
    expect(specPhases({ train: { epochs: 30, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {}, progressive } })).toEqual(progressive);
  });
});
