import { ecrRepositoryOf, isDigestReference, parseImageReference } from "../../../components/image/imageReference";

const DIGEST = `sha256:${"ab".repeat(32)}`;

describe("image references", () => {
  it.each([
    ["ubuntu", { registry: undefined, repository: "ubuntu", tag: undefined, digest: undefined }],
    ["ultralytics/ultralytics:8.3.0", { registry: undefined, repository: "ultralytics/ultralytics", tag: "8.3.0", digest: undefined }],
    ["localhost:5000/yolo", { registry: "localhost:5000", repository: "yolo", tag: undefined, digest: undefined }],
    [`ghcr.io/acme/yolo:v1@${DIGEST}`, { registry: "ghcr.io", repository: "acme/yolo", tag: "v1", digest: DIGEST }],
    [
      `123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/yolo@${DIGEST}`,
      { registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", repository: "team/yolo", tag: undefined, digest: DIGEST },
    ],
  ])("parses %j", (reference, expected) => {
    expect(parseImageReference(reference)).toEqual(expected);
  });

  it.each(["", "UPPER/case", "repo:", "repo@sha256:short", "repo:bad tag", "a//b", "repo:-tag", "has space"])(
    "rejects %j",
    (reference) => {
      expect(parseImageReference(reference)).toBeUndefined();
    },
  );

  it("tells digest references from tags", () => {
    expect(isDigestReference(parseImageReference(`repo@${DIGEST}`)!)).toBe(true);
    expect(isDigestReference(parseImageReference("repo:v1")!)).toBe(false);
    expect(isDigestReference(parseImageReference("repo")!)).toBe(false);
  });

  it.each([
    [
      `123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train:v3`,
      "arn:aws:ecr:us-east-1:123456789012:repository/yolo-train",
      "123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train",
    ],
    [
      `210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/team/yolo@${DIGEST}`,
      "arn:aws-cn:ecr:cn-north-1:210987654321:repository/team/yolo",
      "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/team/yolo",
    ],
    [`123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/yolo:v1`, "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/yolo", undefined],
  ])("derives the ECR repository of %j", (reference, arn, url) => {
    const ecr = ecrRepositoryOf(parseImageReference(reference)!);
    expect(ecr?.repositoryArn).toBe(arn);
    if (url) expect(ecr?.repositoryUrl).toBe(url);
  });

  it.each(["ultralytics/ultralytics:8.3.0", "public.ecr.aws/acme/yolo:v1", "ghcr.io/acme/yolo:v1"])(
    "finds no ECR private repository in %j",
    (reference) => {
      expect(ecrRepositoryOf(parseImageReference(reference)!)).toBeUndefined();
    },
  );
});
