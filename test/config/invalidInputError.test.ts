/**
 * Input refusals are `pulumi.InputPropertiesError`s as Pulumi tells one (issue 11, item 3): the
 * engine shows their property paths, while the message keeps every problem at once.
 */
import * as pulumi from "@pulumi/pulumi";
import { InvalidInputError, ProblemList, parseExperimentConfig, problemReason, type Problem } from "../../config";

const context = { project: "yolo-train", stack: "dev", region: "us-east-1" };

function refusal(raw: Record<string, unknown>): InvalidInputError {
  try {
    parseExperimentConfig(raw, context);
  } catch (e) {
    if (e instanceof InvalidInputError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("InvalidInputError", () => {
  it("is a pulumi.InputPropertiesError by Pulumi's own test, and still an InvalidInputError", () => {
    const error = refusal({ imgsz: 650 });
    expect(pulumi.InputPropertiesError.isInstance(error)).toBe(true);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("InvalidInputError");
    // Typed as one too: it can go where Pulumi wants an InputPropertiesError.
    const asPulumi: pulumi.InputPropertiesError = error;
    expect(asPulumi.errors).toBe(error.errors);
  });

  it("carries one property path and reason per problem, the key and the rest of its line", () => {
    const error = refusal({ imgsz: 650, ota: { promote: { min: 1.5 } }, epoch: 3 });
    expect(error.errors.map((e) => e.propertyPath).sort()).toEqual(["epoch", "imgsz", "ota.promote.min"]);
    expect(error.errors.find((e) => e.propertyPath === "imgsz")).toEqual({
      propertyPath: "imgsz",
      reason: "is 650; it must be a multiple of 32 between 32 and 2048. Fix: e.g. 640",
    });
    expect(error.errors).toHaveLength(error.problems.length);
    error.problems.forEach((p, i) => expect(error.errors[i]).toEqual({ propertyPath: p.key, reason: problemReason(p) }));
  });

  it("keeps the all-problems-at-once message: the subject, then one line per problem", () => {
    const error = refusal({ imgsz: 650, idleMinutes: 1 });
    const lines = error.message.split("\n");
    expect(lines[0]).toBe("Stack config yolo-train/dev has 2 problems; nothing was created:");
    expect(lines.slice(1)).toEqual(error.errors.map((e) => `  - \`${e.propertyPath}\` ${e.reason}`));
  });

  it("is what a component's ProblemList throws too, with component argument paths", () => {
    const problem: Problem = { key: "GpuNodeGroup.instanceTypes", value: [], allowed: "a non-empty list", fix: "e.g. [\"g5.xlarge\"]" };
    let thrown: unknown;
    try {
      new ProblemList().add(problem).throwIfAny("GpuNodeGroup gpu");
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(InvalidInputError);
    expect(pulumi.InputPropertiesError.isInstance(thrown)).toBe(true);
    expect((thrown as InvalidInputError).errors).toEqual([{ propertyPath: "GpuNodeGroup.instanceTypes", reason: 'is []; it must be a non-empty list. Fix: e.g. ["g5.xlarge"]' }]);
  });
});
