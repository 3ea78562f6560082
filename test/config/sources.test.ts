import { BUILTIN_DATASETS, PRETRAINED_MODELS, parseDataSource, parseModelSource } from "../../config/sources";

describe("parseModelSource", () => {
  it("knows the 15 detection releases of YOLOv5u, YOLOv8 and YOLO11", () => {
    expect(PRETRAINED_MODELS).toHaveLength(15);
    for (const name of PRETRAINED_MODELS) expect(parseModelSource(name)).toMatchObject({ kind: "pretrained", name });
  });

  it.each([
    "yolov8n",
    "yolov5s.pt", // the original YOLOv5 weights do not load in the ultralytics package
    "yolov8n-seg.pt",
    "yolo11q.pt",
    "s3://bucket/weights.onnx",
    "s3://Bad_Bucket/best.pt",
    "s3://bucket//best.pt",
    "https://example.com/best.pt",
    "",
  ])("refuses %j", (model) => {
    expect(parseModelSource(model)).toBeUndefined();
  });

  it("splits S3 weights into bucket and key", () => {
    expect(parseModelSource("s3://ml-weights.eu/runs/42/weights/best.pt")).toEqual({
      kind: "s3",
      bucket: "ml-weights.eu",
      key: "runs/42/weights/best.pt",
    });
  });
});

describe("parseDataSource", () => {
  it("knows every built-in detection dataset yaml by its exact name", () => {
    for (const yaml of BUILTIN_DATASETS) expect(parseDataSource(yaml)).toEqual({ kind: "builtin", yaml });
    expect(parseDataSource("voc.yaml")).toBeUndefined();
    expect(parseDataSource("coco8-seg.yaml")).toBeUndefined();
  });

  it.each([
    ["pallets", { kind: "dataset-bucket", name: "pallets" }],
    ["line-3_defects", { kind: "dataset-bucket", name: "line-3_defects" }],
    ["s3://b-1/a/b/c.yaml", { kind: "s3", bucket: "b-1", prefix: "a/b", yamlKey: "a/b/c.yaml" }],
  ])("reads %s", (data, source) => {
    expect(parseDataSource(data)).toEqual(source);
  });

  it.each(["Pallets", "my dataset", "-pallets", "s3://bucket/prefix/", "s3://bucket/data.txt", "datasets/pallets/data.yaml", "s3://ab/data.yaml"])(
    "refuses %j",
    (data) => {
      expect(parseDataSource(data)).toBeUndefined();
    },
  );
});
