import * as path from "path";
import { trainingImageArgsProblems } from "../../../components/image/trainingImageArgs";

const CONTEXT = "/ctx";
const existing = (paths: string[]) => (p: string) => paths.includes(p);
const withDockerfile = existing([CONTEXT, path.join(CONTEXT, "Dockerfile")]);

describe("training image arguments", () => {
  it("accept a build of an existing context with a Dockerfile", () => {
    expect(trainingImageArgsProblems({}, CONTEXT, withDockerfile)).toEqual([]);
  });

  it("accept an existing image alone, without looking at any folder", () => {
    expect(trainingImageArgsProblems({ existingImageUri: "ultralytics/ultralytics:8.3.0" }, CONTEXT, () => false)).toEqual([]);
  });

  it.each([
    [{ existingImageUri: "Not An Image" }, ["TrainingImage.existingImageUri"]],
    [{ existingImageUri: "repo:v1", context: "/x", keepTaggedImages: 3 }, ["TrainingImage.context", "TrainingImage.keepTaggedImages"]],
    [{ keepTaggedImages: 0 }, ["TrainingImage.keepTaggedImages"]],
    [{ dockerfile: "../Dockerfile" }, ["TrainingImage.dockerfile"]],
    [{ dockerfile: "Dockerfile.gpu" }, ["TrainingImage.dockerfile"]],
  ])("report %j as problems with %j", (args, keys) => {
    expect(trainingImageArgsProblems(args, CONTEXT, withDockerfile).map((p) => p.key)).toEqual(keys);
  });

  it("report a missing context folder", () => {
    const keys = trainingImageArgsProblems({}, CONTEXT, existing([])).map((p) => p.key);
    expect(keys).toEqual(["TrainingImage.context"]);
  });
});
