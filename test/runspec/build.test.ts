import { buildRunSpec, dataSpecOf, type RunSpecPlaces } from "../../runspec/build";
import { deriveRunId } from "../../runspec/runId";
import { InvalidRunSpecError, parseRunSpec } from "../../runspec/schema";
import { experimentConfig } from "./experimentConfig";

const places = (runId: string, extra: Partial<RunSpecPlaces> = {}): RunSpecPlaces => ({
  runId,
  autoScalingGroupName: `yolo-train-dev-${runId}`,
  artifactBucket: "yolo-train-dev-artifacts-0a1b2c3",
  otaBucket: "yolo-train-dev-ota-0a1b2c3",
  otaPrefix: "models/detector/",
  signingKeyId: "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666",
  usdPerHour: 0.1578,
  ...extra,
});

describe("buildRunSpec", () => {
  it("renders the dev stack's experiment into a spec the schema accepts", () => {
    const config = experimentConfig({ hyperparameters: { optimizer: "SGD", lr0: 0.01 }, ota: { modelName: "detector", channel: "candidate", promote: { metric: "metrics/mAP50-95(B)", min: 0.5, requireImprovement: true } } });
    const runId = deriveRunId(config);
    const spec = buildRunSpec(config, places(runId));
    expect(parseRunSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    expect(spec).toMatchObject({
      schemaVersion: 1,
      runId,
      project: "yolo-train",
      stack: "dev",
      region: "us-east-1",
      autoScalingGroupName: `yolo-train-dev-${runId}`,
      model: "yolov8n.pt",
      data: { kind: "builtin", yaml: "coco8.yaml" },
      train: { epochs: 100, imgsz: 640, batch: 16, gpus: 1, hyperparameters: { optimizer: "SGD", lr0: 0.01 } },
      artifacts: { bucket: "yolo-train-dev-artifacts-0a1b2c3", prefix: `runs/${runId}/` },
      ota: {
        bucket: "yolo-train-dev-ota-0a1b2c3",
        prefix: "models/detector/",
        modelName: "detector",
        channel: "candidate",
        promote: { metric: "metrics/mAP50-95(B)", min: 0.5, requireImprovement: true },
      },
      limits: { maxRuntimeHours: 2, idleMinutes: 15, idleGpuPercent: 5, maxAttempts: 3, restartIfCheckpointLost: false },
      tracking: { kind: "off" },
      pricing: { capacity: "spot", usdPerHour: 0.1578 },
    });
    expect(spec.train.progressive).toBeUndefined();
  });

  it.each([
    ["a built-in dataset stays built-in", { kind: "builtin", yaml: "coco128.yaml" } as const, { kind: "builtin", yaml: "coco128.yaml" }],
    [
      "an S3 data.yaml is read from the mount root",
      { kind: "s3", bucket: "acme-data", prefix: "datasets/widgets", yamlKey: "datasets/widgets/widgets.yaml" } as const,
      { kind: "mounted", yamlPath: "/data/widgets.yaml" },
    ],
    ["a dataset in the stack's bucket is /data/data.yaml", { kind: "dataset-bucket", name: "widgets" } as const, { kind: "mounted", yamlPath: "/data/data.yaml" }],
  ])("maps data: %s", (_case, source, expected) => {
    expect(dataSpecOf(source)).toEqual(expected);
  });

  it("carries restartIfCheckpointLost into limits, false unless the config says true", () => {
    const off = experimentConfig();
    expect(buildRunSpec(off, places(deriveRunId(off))).limits.restartIfCheckpointLost).toBe(false);
    const on = experimentConfig({ restartIfCheckpointLost: true });
    const spec = buildRunSpec(on, places(deriveRunId(on)));
    expect(spec.limits).toEqual({ maxRuntimeHours: 2, idleMinutes: 15, idleGpuPercent: 5, maxAttempts: 3, restartIfCheckpointLost: true });
    expect(parseRunSpec(JSON.parse(JSON.stringify(spec))).limits.restartIfCheckpointLost).toBe(true);
    // A limit, not part of what is trained: the run id stays.
    expect(deriveRunId(on)).toBe(deriveRunId(off));
  });

  it("carries progressive phases and the GPUs per node", () => {
    const config = experimentConfig({ gpusPerNode: 8, progressive: [{ imgsz: 320, epochs: 30 }, { imgsz: 640, epochs: 70 }] });
    const spec = buildRunSpec(config, places(deriveRunId(config)));
    expect(spec.train.gpus).toBe(8);
    expect(spec.train.progressive).toEqual([{ imgsz: 320, epochs: 30 }, { imgsz: 640, epochs: 70 }]);
  });

  it("maps MLflow and W&B tracking, with the W&B key as a parameter name only", () => {
    const mlflow = experimentConfig({ tracking: { kind: "mlflow", mlflowUri: "https://mlflow.example.com" } });
    expect(buildRunSpec(mlflow, places(deriveRunId(mlflow))).tracking).toEqual({ kind: "mlflow", uri: "https://mlflow.example.com" });
    const wandb = experimentConfig({ tracking: { kind: "wandb", wandbProject: "widgets", wandbApiKeyIsSet: true } });
    const spec = buildRunSpec(wandb, places(deriveRunId(wandb), { wandbApiKeyParameter: "/yolo-train/dev/wandb-api-key" }));
    expect(spec.tracking).toEqual({ kind: "wandb", project: "widgets", apiKeyParameter: "/yolo-train/dev/wandb-api-key" });
  });

  it("refuses W&B tracking without the key's parameter, naming tracking.apiKeyParameter", () => {
    const wandb = experimentConfig({ tracking: { kind: "wandb", wandbProject: "widgets", wandbApiKeyIsSet: true } });
    expect(() => buildRunSpec(wandb, places(deriveRunId(wandb)))).toThrow(InvalidRunSpecError);
    expect(() => buildRunSpec(wandb, places(deriveRunId(wandb)))).toThrow(/tracking\.apiKeyParameter/);
  });

  it("refuses places the schema rejects, e.g. a bucket name with capitals", () => {
    const config = experimentConfig();
    expect(() => buildRunSpec(config, places(deriveRunId(config), { artifactBucket: "Artifacts" }))).toThrow(/artifacts\.bucket/);
  });
});
