import { trainingImageLifecyclePolicy } from "../../../components/image/ecrLifecyclePolicy";

describe("the training image repository's lifecycle policy", () => {
  it("expires untagged images after a day and keeps the last N tagged ones", () => {
    const policy = JSON.parse(JSON.stringify(trainingImageLifecyclePolicy(10)));
    expect(policy.rules).toEqual([
      expect.objectContaining({
        rulePriority: 1,
        selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 1 },
        action: { type: "expire" },
      }),
      expect.objectContaining({
        rulePriority: 2,
        selection: { tagStatus: "tagged", tagPatternList: ["*"], countType: "imageCountMoreThan", countNumber: 10 },
        action: { type: "expire" },
      }),
    ]);
  });

  it("gives every rule a unique priority and never uses tagStatus any (which must come last)", () => {
    const rules = trainingImageLifecyclePolicy(3).rules;
    expect(new Set(rules.map((r) => r.rulePriority)).size).toBe(rules.length);
    expect(rules.every((r) => r.selection.tagStatus !== "any")).toBe(true);
  });

  it.each([0, -1, 2.5])("refuses keeping %p images", (n) => {
    expect(() => trainingImageLifecyclePolicy(n)).toThrow(/whole number/);
  });
});
