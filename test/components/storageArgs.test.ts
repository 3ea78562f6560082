import fc from "fast-check";
import {
  MAX_BUCKET_COMPONENT_NAME,
  bucketNameProblems,
  daysProblems,
  defaultSigningKeyAlias,
  kmsAliasProblems,
  prefixProblems,
} from "../../components/storageArgs";

describe("storage argument checks", () => {
  it.each([
    ["yolo-datasets", 0],
    ["a", 0],
    ["x".repeat(MAX_BUCKET_COMPONENT_NAME), 0],
    ["x".repeat(MAX_BUCKET_COMPONENT_NAME + 1), 1],
    ["Datasets", 1],
    ["my.bucket", 1],
    ["-data", 1],
    ["data_set", 1],
    ["xn--data", 1],
    ["sthree-data", 1],
  ])("bucket component name %j has %i problem(s)", (name, count) => {
    const problems = bucketNameProblems("DatasetBucket.name", name);
    expect(problems).toHaveLength(count);
    for (const p of problems) {
      expect(p.key).toBe("DatasetBucket.name");
      expect(p.value).toBe(name);
    }
  });

  it.each([
    [undefined, 0],
    [7, 0],
    [30, 0],
    [6, 1],
    [31, 1],
    [10.5, 1],
  ])("days %p in [7, 30] has %i problem(s)", (days, count) => {
    expect(daysProblems("OtaBucket.signingKeyDeletionWindowInDays", days, 7, 30)).toHaveLength(count);
  });

  it("reports a bad prefix with the rule it breaks", () => {
    const [p] = prefixProblems("OtaBucket.modelsPrefix", "models");
    expect(p).toMatchObject({ key: "OtaBucket.modelsPrefix", value: "models" });
    expect(p!.allowed).toMatch(/does not end with \//);
    expect(prefixProblems("OtaBucket.modelsPrefix", undefined)).toEqual([]);
  });

  it.each([
    ["alias/yolo-train/dev/ota", 0],
    ["alias/aws/s3", 1],
    ["yolo-train/ota", 1],
    ["alias/has.dot", 1],
  ])("KMS alias %j has %i problem(s)", (alias, count) => {
    expect(kmsAliasProblems("OtaBucket.signingKeyAlias", alias)).toHaveLength(count);
  });

  it("derives a valid, stack-specific default signing key alias from any project and stack", () => {
    const part = fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/);
    fc.assert(
      fc.property(part, part, part, (project, stack, name) => {
        const alias = defaultSigningKeyAlias(project, stack, name);
        expect(kmsAliasProblems("k", alias)).toEqual([]);
      }),
    );
    expect(defaultSigningKeyAlias("yolo-train", "dev.eu", "ota")).toBe("alias/yolo-train/yolo-train/dev-eu/ota");
    expect(defaultSigningKeyAlias("p", "dev", "ota")).not.toBe(defaultSigningKeyAlias("p", "prod", "ota"));
  });
});
