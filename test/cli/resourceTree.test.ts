import { countByType, renderResourceTree } from "../../cli/plan/resourceTree";
import type { RecordedResource } from "../../offline/fakeAws";

const resource = (urn: string, type: string, parentUrn?: string): RecordedResource => ({
  urn,
  type,
  name: urn,
  inputs: {},
  dependencies: [],
  ignoreChanges: [],
  custom: !type.startsWith("yolo-train:"),
  ...(parentUrn ? { parentUrn } : {}),
});

describe("the resource tree", () => {
  const resources = [
    resource("stack", "pulumi:pulumi:Stack"),
    resource("run", "yolo-train:run:TrainingRun", "stack"),
    resource("bucket", "aws:s3/bucket:Bucket", "run"),
    resource("vpc", "awsx:ec2:Vpc", "run"),
    resource("orphan", "aws:kms/key:Key", "gone"),
  ];

  it("draws children under their parent, the last with a corner", () => {
    expect(renderResourceTree(resources, { "awsx:ec2:Vpc": "remote" })).toEqual([
      "pulumi:pulumi:Stack  stack",
      "└─ yolo-train:run:TrainingRun  run",
      "   ├─ aws:s3/bucket:Bucket  bucket",
      "   └─ awsx:ec2:Vpc  vpc  (remote)",
      "aws:kms/key:Key  orphan",
    ]);
  });

  it("counts types, most first", () => {
    const counts = countByType([...resources, resource("b2", "aws:s3/bucket:Bucket", "run")]);
    expect(counts[0]).toEqual(["aws:s3/bucket:Bucket", 2]);
  });
});
