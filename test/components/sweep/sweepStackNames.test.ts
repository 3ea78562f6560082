/**
 * The stack program with a declared sweep under long, mixed-case and punctuated stack (and
 * project) names: every physical name it gives AWS fits AWS's rules (test/fakes/awsNameRules.ts,
 * written apart from the naming module), and the keeper's name pattern still matches every
 * trial's backstop schedule and role, whose names must therefore stay whole.
 */
import * as path from "path";
import { matchesIamPattern } from "../../../components/sweep/sweepNames";
import type { RecordedResource } from "../../../offline/fakeAws";
import { AWS_NAME_RULES, checkPhysicalName, tagProblems } from "../../fakes/awsNameRules";

const INDEX = path.resolve(__dirname, "..", "..", "..", "index.ts");

/** A sweep stack that makes every kind of resource a sweep can: budgets, alert email, W&B. */
const SWEEP_CONFIG: Record<string, string> = {
  "aws:region": "us-east-1",
  "yolo-train:epochs": "27",
  "yolo-train:budgetUsd": "50",
  "yolo-train:alertEmail": "ml-team@example.com",
  "yolo-train:hyperparameters": JSON.stringify({ optimizer: "SGD" }),
  "yolo-train:tracking": JSON.stringify({ wandbProject: "widgets", wandbApiKey: "wk-0123456789" }),
  "yolo-train:sweep": JSON.stringify({ method: "random", trials: 12, seed: 3, space: { imgsz: [320, 416, 640], lr0: { min: 0.001, max: 0.02, log: true } }, maxParallel: 3, asha: { minEpochs: 3 }, budgetUsd: 30 }),
};

async function runSweepStack(stack: string, project = "yolo-train") {
  let thrown: unknown;
  let resources: RecordedResource[] = [];
  await jest.isolateModulesAsync(async () => {
    const { OfflineRuntime, valueOf } = await import("../../../offline/offlineRuntime");
    const runtime = await OfflineRuntime.start({ project, stack, config: SWEEP_CONFIG, secretKeys: ["yolo-train:tracking"], ids: "realistic" });
    try {
      const exported = require(INDEX) as Record<string, unknown>;
      await Promise.all(Object.values(exported).map((value) => valueOf(value)));
    } catch (error) {
      thrown = error;
    }
    await runtime.settle();
    resources = [...runtime.resources];
  });
  return { thrown, resources };
}

const longName = (head: string, length = 100) => head.padEnd(length, "X").slice(0, length);

describe.each([
  ["a short stack name", "dev", "yolo-train"],
  ["a 100-character mixed-case stack name with . and _", longName("Helmet-Detector-YOLOv8s-Factory-Line-7-Europe-West-Staging-Experiment.Run_"), "yolo-train"],
  ["a 100-character project and stack", longName("Helmet-Detector"), longName("Vision-Platform.Team_")],
])("a sweep stack with %s", (_label, stack, project) => {
  let result: Awaited<ReturnType<typeof runSweepStack>>;
  beforeAll(async () => {
    result = await runSweepStack(stack, project);
  }, 120_000);

  it("runs, and gives AWS only names that fit its length and character rules", () => {
    expect(result.thrown).toBeUndefined();
    expect(result.resources.filter((r) => r.type === "yolo-train:run:TrainingRun")).toHaveLength(12);
    const bad = result.resources
      .filter((r) => AWS_NAME_RULES[r.type] !== undefined)
      .map((r) => checkPhysicalName(r)!)
      .filter((c) => c.problems.length > 0)
      .map((c) => `${c.type} ${c.logicalName}: ${c.problems.join("; ")}`);
    expect(bad).toEqual([]);
    expect(result.resources.flatMap((r) => tagProblems(r))).toEqual([]);
  });

  it("keeps every trial's backstop schedule and role name whole, so the keeper's pattern matches each", () => {
    const policy = result.resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && JSON.stringify(r.inputs.policy ?? "").includes("MoveTrialBackstops"))!;
    const statements = JSON.parse(policy.inputs.policy).Statement as { Sid: string; Resource: string }[];
    const schedulePattern = statements.find((s) => s.Sid === "MoveTrialBackstops")!.Resource.replace(/^.*:schedule\/default\//, "");
    const rolePattern = statements.find((s) => s.Sid === "PassBackstopRoles")!.Resource.replace(/^.*:role\//, "");
    const backstops = (type: string) => result.resources.filter((r) => r.type === type && r.name.endsWith("-guardrails-backstop"));
    expect(backstops("aws:scheduler/schedule:Schedule")).toHaveLength(12);
    expect(backstops("aws:iam/role:Role")).toHaveLength(12);
    for (const r of backstops("aws:scheduler/schedule:Schedule")) expect([r.name, matchesIamPattern(schedulePattern, checkPhysicalName(r)!.physical!)]).toEqual([r.name, true]);
    for (const r of backstops("aws:iam/role:Role")) expect([r.name, matchesIamPattern(rolePattern, checkPhysicalName(r)!.physical!)]).toEqual([r.name, true]);
  });
});
