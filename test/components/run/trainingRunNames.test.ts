import fc from "fast-check";
import { nameProblem } from "../../../components/naming/physicalNames";
import { RUN_NAME_RULES, runNameProblems, runResourceNames, type RunResourceNames } from "../../../components/run/trainingRunNames";
import { AUTO_SCALING_GROUP_NAME_PATTERN } from "../../../runspec/schema";

const RUN_ID = "yolov8n-coco8-3f2a9c0d1e";
/** Project and stack names as Pulumi allows them: up to 100 of letters, digits, `-`, `_` and `.`. */
const pulumiName = fc.stringMatching(/^[A-Za-z0-9._-]{1,100}$/);

describe("runResourceNames", () => {
  it("keeps the stack program's names as they were for a short, lower-case stack", () => {
    expect(runResourceNames("yolo-train-dev", RUN_ID, { project: "yolo-train", stack: "dev" })).toEqual({
      groupName: `yolo-train-dev-${RUN_ID}`,
      logGroupName: `/yolo-train/yolo-train-dev-${RUN_ID}`,
      costAllocationValue: "yolo-train-dev",
      wandbParameterName: "/yolo-train/yolo-train-dev/wandb-api-key",
      dashboardName: `yolo-train-dev-${RUN_ID}`,
    });
  });

  it("puts the project and stack into the account-wide names of a run named otherwise", () => {
    const names = runResourceNames("exp-a", RUN_ID, { project: "vision", stack: "prod" });
    expect(names.groupName).toBe(`vision-prod-exp-a-${RUN_ID}`);
    expect(names.dashboardName).toBe(`vision-prod-exp-a-${RUN_ID}`);
    expect(names.wandbParameterName).toBe("/yolo-train/vision-prod-exp-a/wandb-api-key");
  });

  it("gives valid names, ending with the whole run id, for any project, stack and run name", () => {
    fc.assert(
      fc.property(pulumiName, pulumiName, fc.string({ maxLength: 300 }), (project, stack, name) => {
        const identity = { project, stack };
        for (const runName of [`${project}-${stack}`, name]) {
          const names = runResourceNames(runName, RUN_ID, identity);
          for (const key of Object.keys(RUN_NAME_RULES) as (keyof RunResourceNames)[]) {
            expect([key, names[key], nameProblem(RUN_NAME_RULES[key], names[key])]).toEqual([key, names[key], undefined]);
          }
          expect(names.groupName).toMatch(AUTO_SCALING_GROUP_NAME_PATTERN);
          expect(names.groupName.endsWith(`-${RUN_ID}`)).toBe(true);
          expect(runNameProblems(names, identity)).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("gives two stacks different names, even 100-character ones that differ only in the middle or in case", () => {
    const stacks = [`${"Line-".repeat(10)}a${"-Vision".repeat(7)}`, `${"Line-".repeat(10)}b${"-Vision".repeat(7)}`, "Prod-EU", "prod-eu"];
    const all = stacks.map((stack) => runResourceNames(`yolo-train-${stack}`, RUN_ID, { project: "yolo-train", stack }));
    for (const key of Object.keys(RUN_NAME_RULES) as (keyof RunResourceNames)[]) {
      expect(new Set(all.map((names) => names[key])).size).toBe(stacks.length);
    }
  });
});

describe("runNameProblems", () => {
  it("names the stack, which the user controls, for a name that does not fit", () => {
    const names = { ...runResourceNames("yolo-train-dev", RUN_ID, { project: "yolo-train", stack: "dev" }), dashboardName: "has.dot" };
    const [problem, ...others] = runNameProblems(names, { project: "yolo-train", stack: "dev" });
    expect(others).toEqual([]);
    expect(problem).toMatchObject({ key: "stack name", value: "dev" });
    expect(problem!.allowed).toContain("CloudWatch dashboard name");
  });
});
