import fc from "fast-check";
import { nameHash } from "../../../components/naming/physicalNames";
import {
  daysProblems,
  defaultSigningKeyAlias,
  kmsAliasProblems,
  prefixProblems,
} from "../../../components/storage/storageArgs";

describe("storage argument checks", () => {
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
    const part = fc.stringMatching(/^[A-Za-z0-9._-]{1,100}$/);
    fc.assert(
      fc.property(part, part, part, (project, stack, name) => {
        const alias = defaultSigningKeyAlias(project, stack, name);
        expect(kmsAliasProblems("k", alias)).toEqual([]);
      }),
    );
    expect(defaultSigningKeyAlias("yolo-train", "dev", "ota")).toBe("alias/yolo-train/yolo-train/dev/ota");
    expect(defaultSigningKeyAlias("yolo-train", "dev", "ota", "root")).toBe("alias/yolo-train/yolo-train/dev/ota/root");
    // `.` is no alias character: replaced, and the hash keeps dev.eu apart from a stack called dev-eu.
    expect(defaultSigningKeyAlias("yolo-train", "dev.eu", "ota")).toBe(`alias/yolo-train/yolo-train/dev-eu/ota-${nameHash("alias/yolo-train/yolo-train/dev.eu/ota")}`);
    expect(defaultSigningKeyAlias("yolo-train", "dev.eu", "ota")).not.toBe(defaultSigningKeyAlias("yolo-train", "dev-eu", "ota"));
    expect(defaultSigningKeyAlias("p", "dev", "ota")).not.toBe(defaultSigningKeyAlias("p", "prod", "ota"));
  });

  it("keeps the signing, root and timestamp aliases of 100-character project and stack names apart, within 256 characters", () => {
    const [project, stack] = ["P".repeat(100), "s".repeat(100)];
    const aliases = [undefined, "root", "timestamp"].map((role) => defaultSigningKeyAlias(project, stack, `${project}-${stack}-ota`, role as "root" | undefined));
    for (const alias of aliases) {
      expect(alias.length).toBeLessThanOrEqual(256);
      expect(kmsAliasProblems("k", alias)).toEqual([]);
    }
    expect(new Set(aliases).size).toBe(3);
  });
});
