import fc from "fast-check";
import type { ExperimentConfig } from "../../config/types";
import type { DataSource, ModelSource } from "../../runspec/sources";
import { canonicalJson, deriveRunId, RUN_ID_MAX_LENGTH } from "../../runspec/runId";
import { RUN_ID_PATTERN } from "../../runspec/schema";
import { experimentConfig } from "./experimentConfig";

const modelArb: fc.Arbitrary<{ model: string; modelSource: ModelSource }> = fc.oneof(
  fc
    .tuple(fc.constantFrom("yolov8", "yolo11", "yolov5"), fc.constantFrom("n", "s", "m", "l", "x"))
    .map(([family, size]) => {
      const name = family === "yolov5" ? `yolov5${size}u.pt` : `${family}${size}.pt`;
      const fam = (family === "yolov5" ? "yolov5u" : family) as "yolov5u" | "yolov8" | "yolo11";
      return { model: name, modelSource: { kind: "pretrained" as const, name, family: fam, size: size as "n" } };
    }),
  fc
    .tuple(fc.stringMatching(/^[a-z0-9][a-z0-9-]{2,20}$/), fc.stringMatching(/^[A-Za-z0-9_]{1,30}$/))
    .map(([bucket, stem]) => ({ model: `s3://${bucket}/weights/${stem}.pt`, modelSource: { kind: "s3" as const, bucket, key: `weights/${stem}.pt` } })),
);

const dataArb: fc.Arbitrary<{ data: string; dataSource: DataSource }> = fc.oneof(
  fc.constantFrom("coco8.yaml", "coco128.yaml", "VOC.yaml").map((yaml) => ({ data: yaml, dataSource: { kind: "builtin" as const, yaml } })),
  fc
    .tuple(fc.stringMatching(/^[a-z0-9][a-z0-9-]{2,20}$/), fc.stringMatching(/^[A-Za-z0-9_ .-]{1,60}$/))
    .map(([bucket, folder]) => {
      const yamlKey = `datasets/${folder}/data.yaml`;
      return { data: `s3://${bucket}/${yamlKey}`, dataSource: { kind: "s3" as const, bucket, prefix: `datasets/${folder}`, yamlKey } };
    }),
  fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,40}$/).map((name) => ({ data: name, dataSource: { kind: "dataset-bucket" as const, name } })),
);

const hyperparametersArb = fc.dictionary(
  fc.stringMatching(/^[a-z][a-z0-9_]{0,12}$/),
  fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.string({ maxLength: 8 })),
  { maxKeys: 6 },
);

const phaseArb = fc.record({ imgsz: fc.integer({ min: 1, max: 64 }).map((n) => n * 32), epochs: fc.integer({ min: 1, max: 300 }) });

const trainingArb = fc.record({
  modelPick: modelArb,
  dataPick: dataArb,
  epochs: fc.integer({ min: 1, max: 1000 }),
  imgsz: fc.integer({ min: 1, max: 64 }).map((n) => n * 32),
  batch: fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 512 })),
  hyperparameters: hyperparametersArb,
  progressive: fc.option(fc.array(phaseArb, { minLength: 1, maxLength: 4 }), { nil: undefined }),
  gpusPerNode: fc.constantFrom(1, 4, 8),
});

type Training = typeof trainingArb extends fc.Arbitrary<infer T> ? T : never;

function configOf(t: Training, extra: Partial<ExperimentConfig> = {}): ExperimentConfig {
  return experimentConfig({
    ...t.modelPick,
    ...t.dataPick,
    epochs: t.epochs,
    imgsz: t.imgsz,
    batch: t.batch,
    hyperparameters: t.hyperparameters,
    ...(t.progressive ? { progressive: t.progressive } : {}),
    gpusPerNode: t.gpusPerNode,
    ...extra,
  });
}

/** The same object with its keys inserted in reverse order. */
function reversedKeys<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).reverse()) as T;
}

describe("deriveRunId", () => {
  it("names the model and the dataset, then a hash: yolov8n-coco8-<10 hex>", () => {
    expect(deriveRunId(experimentConfig())).toMatch(/^yolov8n-coco8-[0-9a-f]{10}$/);
    const s3 = experimentConfig({
      data: "s3://acme-data/datasets/Widgets_V2/data.yaml",
      dataSource: { kind: "s3", bucket: "acme-data", prefix: "datasets/Widgets_V2", yamlKey: "datasets/Widgets_V2/data.yaml" },
    });
    expect(deriveRunId(s3)).toMatch(/^yolov8n-widgets-v2-[0-9a-f]{10}$/);
  });

  it("is always lowercase [a-z0-9-], at most 48 characters, and a valid run spec runId", () => {
    fc.assert(
      fc.property(trainingArb, (t) => {
        const id = deriveRunId(configOf(t));
        expect(id.length).toBeLessThanOrEqual(RUN_ID_MAX_LENGTH);
        expect(id).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*-[0-9a-f]{10}$/);
        expect(id).toMatch(RUN_ID_PATTERN);
      }),
    );
  });

  it("gives the same id for the same training spec, whatever the hyperparameter key order", () => {
    fc.assert(
      fc.property(trainingArb, (t) => {
        const again = { ...t, hyperparameters: reversedKeys(t.hyperparameters) };
        expect(deriveRunId(configOf(again))).toBe(deriveRunId(configOf(t)));
      }),
    );
  });

  it("keeps the id when only capacity, prices, limits, alerts or delivery change", () => {
    const unrelated = fc.record(
      {
        capacity: fc.constantFrom("spot" as const, "on-demand" as const),
        maxSpotPrice: fc.double({ min: 0.01, max: 50, noNaN: true }),
        instanceTypes: fc.constantFrom(["g5.xlarge"], ["g4dn.xlarge", "g6.xlarge"]),
        gpu: fc.constantFrom("t4" as const, "a10g" as const, "l4" as const),
        maxRuntimeHours: fc.double({ min: 0.5, max: 72, noNaN: true }),
        idleMinutes: fc.integer({ min: 1, max: 120 }),
        idleGpuPercent: fc.integer({ min: 0, max: 50 }),
        budgetUsd: fc.integer({ min: 1, max: 10_000 }),
        alertEmail: fc.constantFrom("ops@example.com", "ml@example.com"),
        datasetMount: fc.constantFrom("mountpoint" as const, "copy" as const, "fsx-lustre" as const),
        stage: fc.constantFrom("debug" as const, "train" as const, "finetune" as const),
        tracking: fc.constantFrom({ kind: "off" as const }, { kind: "mlflow" as const, mlflowUri: "https://mlflow.example.com" }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(trainingArb, unrelated, (t, other) => {
        expect(deriveRunId(configOf(t, other))).toBe(deriveRunId(configOf(t)));
      }),
    );
  });

  const changes: [string, fc.Arbitrary<Partial<Training>>][] = [
    ["the model", modelArb.map((modelPick) => ({ modelPick }))],
    ["the dataset", dataArb.map((dataPick) => ({ dataPick }))],
    ["epochs", fc.integer({ min: 1, max: 1000 }).map((epochs) => ({ epochs }))],
    ["imgsz", fc.integer({ min: 1, max: 64 }).map((n) => ({ imgsz: n * 32 }))],
    ["batch", fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 512 })).map((batch) => ({ batch }))],
    ["hyperparameters", hyperparametersArb.map((hyperparameters) => ({ hyperparameters }))],
    ["progressive phases", fc.option(fc.array(phaseArb, { minLength: 1, maxLength: 4 }), { nil: undefined }).map((progressive) => ({ progressive }))],
    ["GPUs per node (DDP changes the effective batch)", fc.constantFrom(1, 4, 8).map((gpusPerNode) => ({ gpusPerNode }))],
  ];

  it.each(changes)("gives a new id when %s changes", (_field, changeArb) => {
    fc.assert(
      fc.property(trainingArb, changeArb, (t, change) => {
        const changed = { ...t, ...change };
        // Only a real change counts: the same value (in any key order) must keep the id.
        fc.pre(canonicalJson(trainingIdentity(changed)) !== canonicalJson(trainingIdentity(t)));
        expect(deriveRunId(configOf(changed))).not.toBe(deriveRunId(configOf(t)));
      }),
    );
  });

  it("sorts keys at every depth in canonical JSON, keeping array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 2 } })).toBe('{"a":{"c":2,"d":[3,{"y":2,"z":1}]},"b":1}');
  });
});

function trainingIdentity(t: Training): unknown {
  return {
    model: t.modelPick.model,
    data: t.dataPick.data,
    epochs: t.epochs,
    imgsz: t.imgsz,
    batch: t.batch,
    hyperparameters: t.hyperparameters,
    progressive: t.progressive ?? null,
    gpusPerNode: t.gpusPerNode,
  };
}
