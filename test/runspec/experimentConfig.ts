import type { ExperimentConfig } from "../../config/types";
import type { RunSpecInput } from "../../runspec/schema";

/** A valid experiment as the config loader would produce it: the dev stack's defaults. */
export function experimentConfig(overrides: Partial<ExperimentConfig> = {}): ExperimentConfig {
  return {
    project: "yolo-train",
    stack: "dev",
    region: "us-east-1",
    stage: "debug",
    gpu: "t4",
    gpusPerNode: 1,
    instanceTypes: ["g4dn.xlarge", "g4dn.2xlarge"],
    instanceTypesExplicit: false,
    capacity: "spot",
    model: "yolov8n.pt",
    modelSource: { kind: "pretrained", name: "yolov8n.pt", family: "yolov8", size: "n" },
    data: "coco8.yaml",
    dataSource: { kind: "builtin", yaml: "coco8.yaml" },
    epochs: 100,
    imgsz: 640,
    batch: 16,
    hyperparameters: {},
    datasetMount: "mountpoint",
    maxRuntimeHours: 2,
    idleMinutes: 15,
    idleGpuPercent: 5,
    restartIfCheckpointLost: false,
    ota: { modelName: "detector", channel: "candidate" },
    tracking: { kind: "off" },
    ...overrides,
  };
}

/** A valid run spec document, as JSON would carry it. */
export function runSpecDocument(overrides: Partial<RunSpecInput> = {}): RunSpecInput {
  const runId = overrides.runId ?? "yolov8n-widgets-0123456789";
  return {
    schemaVersion: 1,
    runId,
    project: "yolo-train",
    stack: "dev",
    region: "us-east-1",
    autoScalingGroupName: `yolo-train-dev-${runId}`,
    model: "yolov8n.pt",
    data: { kind: "mounted", yamlPath: "/data/data.yaml" },
    train: { epochs: 10, imgsz: 640, batch: 16, gpus: 1, hyperparameters: { lr0: 0.01, optimizer: "AdamW", cos_lr: true } },
    artifacts: { bucket: "yolo-train-dev-artifacts", prefix: `runs/${runId}/` },
    ota: { bucket: "yolo-train-dev-ota", prefix: "models/widgets/", modelName: "widgets", channel: "candidate", signingKeyId: "alias/yolo-train-dev-ota" },
    limits: { maxRuntimeHours: 2, idleMinutes: 15, idleGpuPercent: 5 },
    tracking: { kind: "off" },
    pricing: { capacity: "spot", usdPerHour: 0.1578 },
    ...overrides,
  };
}
