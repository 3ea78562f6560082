import fc from "fast-check";
import {
  AUTONAME_SUFFIX_LENGTH,
  autoName,
  autoNameLimit,
  autoNameProblem,
  fitName,
  NAME_HASH_LENGTH,
  NAME_RULES,
  nameHash,
  nameProblem,
  physicalName,
  stackScopedName,
  type NameRule,
} from "../../../components/naming/physicalNames";

const RULES = Object.entries(NAME_RULES) as [string, NameRule][];

/** Names as the stack program makes them: project and stack of Pulumi's characters, up to 100 each. */
const pulumiName = fc.stringMatching(/^[A-Za-z0-9._-]{1,100}$/);
/** Anything a library user might name a component. */
const anyName = fc.string({ minLength: 0, maxLength: 400 });

describe("nameHash", () => {
  it("is 8 hex characters of SHA-256, the same for the same text", () => {
    expect(nameHash("yolo-train-dev")).toMatch(/^[0-9a-f]{8}$/);
    expect(nameHash("yolo-train-dev")).toBe(nameHash("yolo-train-dev"));
    // SHA-256("abc") begins ba7816bf: a hash that changes with the Node version would rename resources.
    expect(nameHash("abc")).toBe("ba7816bf");
    expect(NAME_HASH_LENGTH).toBe(8);
  });
});

describe("the rules", () => {
  it.each(RULES)("%s accepts `-`, which cleaning and hashing use", (_key, rule) => {
    expect(rule.allowed.test("-")).toBe(true);
    expect(rule.allowed.test("a")).toBe(true);
  });

  it("leave room for Pulumi's suffix under the lower of AWS's and Pulumi's limits", () => {
    expect(autoNameLimit(NAME_RULES.iamRole)).toBe(64 - AUTONAME_SUFFIX_LENGTH);
    expect(autoNameLimit(NAME_RULES.snsTopic)).toBe(80 - AUTONAME_SUFFIX_LENGTH);
    expect(autoNameLimit(NAME_RULES.logGroup)).toBe(255 - AUTONAME_SUFFIX_LENGTH);
    expect(autoNameLimit(NAME_RULES.s3Bucket)).toBe(55);
  });
});

describe("physicalName and autoName", () => {
  it("keep a name that fits as it is, so existing resources keep their URN and name", () => {
    expect(autoName(NAME_RULES.iamRole, "yolo-train-dev-guardrails-backstop")).toBe("yolo-train-dev-guardrails-backstop");
    expect(autoName(NAME_RULES.s3Bucket, "yolo-train-dev-datasets")).toBe("yolo-train-dev-datasets");
    expect(physicalName(NAME_RULES.kmsAlias, "alias/yolo-train/yolo-train/dev/ota")).toBe("alias/yolo-train/yolo-train/dev/ota");
    expect(physicalName(NAME_RULES.dashboard, "yolo-train-dev-yolov8n-coco8-3f2a9c0d1e")).toBe("yolo-train-dev-yolov8n-coco8-3f2a9c0d1e");
  });

  it("fit the 26-character stack's backstop role and schedule into 64 characters with Pulumi's suffix", () => {
    const logical = "yolo-train-helmet-detector-yolov8s-v2-guardrails-backstop";
    expect(logical.length + AUTONAME_SUFFIX_LENGTH).toBeGreaterThan(64);
    for (const rule of [NAME_RULES.iamRole, NAME_RULES.schedule]) {
      const fitted = autoName(rule, logical);
      expect(fitted.length + AUTONAME_SUFFIX_LENGTH).toBeLessThanOrEqual(64);
      expect(fitted).toMatch(/^yolo-train-helmet-detec[a-z0-9-]*-backstop-[0-9a-f]{8}$/);
      expect(fitted.endsWith(`-${nameHash(logical)}`)).toBe(true);
      expect(autoNameProblem(rule, fitted)).toBeUndefined();
    }
  });

  it("lower-case bucket and repository names, and tell Prod-EU from prod-eu", () => {
    const upper = autoName(NAME_RULES.s3Bucket, "yolo-train-Prod-EU-datasets");
    const lower = autoName(NAME_RULES.s3Bucket, "yolo-train-prod-eu-datasets");
    expect(upper).toBe(`yolo-train-prod-eu-datasets-${nameHash("yolo-train-Prod-EU-datasets")}`);
    expect(lower).toBe("yolo-train-prod-eu-datasets");
    expect(autoName(NAME_RULES.ecrRepository, "yolo-train-Prod-EU-image")).toMatch(/^yolo-train-prod-eu-image-[0-9a-f]{8}$/);
  });

  it("replace characters a service refuses, and hash the name so the replacement cannot collide", () => {
    expect(autoName(NAME_RULES.lambdaFunction, "yolo-train-dev.eu-ota-timestamp")).toBe(
      `yolo-train-dev-eu-ota-timestamp-${nameHash("yolo-train-dev.eu-ota-timestamp")}`,
    );
    expect(autoName(NAME_RULES.lambdaFunction, "yolo-train-dev-eu-ota-timestamp")).toBe("yolo-train-dev-eu-ota-timestamp");
    expect(physicalName(NAME_RULES.dashboard, "yolo-train-team_a.prod")).toMatch(/^yolo-train-team_a-prod-[0-9a-f]{8}$/);
    expect(physicalName(NAME_RULES.kmsAlias, "alias/yolo-train/p/dev.eu/ota")).toMatch(/^alias\/yolo-train\/p\/dev-eu\/ota-[0-9a-f]{8}$/);
  });

  it("keep names away from prefixes AWS reserves", () => {
    expect(nameProblem(NAME_RULES.s3Bucket, autoName(NAME_RULES.s3Bucket, "xn--data") + "-0a1b2c3")).toBeUndefined();
    expect(autoName(NAME_RULES.securityGroup, "sg-team-nodes")).toMatch(/^x-sg-team-nodes-[0-9a-f]{8}$/);
    expect(physicalName(NAME_RULES.kmsAlias, "alias/aws/mine")).toMatch(/^alias\/x-aws\/mine-[0-9a-f]{8}$/);
    expect(nameProblem(NAME_RULES.ssmParameter, physicalName(NAME_RULES.ssmParameter, "/aws/mine"))).toBeUndefined();
  });

  it("keep bucket names away from the endings S3 reserves (runspec/awsPatterns.ts)", () => {
    expect(nameProblem(NAME_RULES.s3Bucket, "data-s3alias")).toBe("ends with -s3alias, which AWS reserves");
    expect(physicalName(NAME_RULES.s3Bucket, "data--x-s3")).toMatch(/^data--x-s3-[0-9a-f]{8}$/);
    expect(nameProblem(NAME_RULES.s3Bucket, physicalName(NAME_RULES.s3Bucket, "data--table-s3"))).toBeUndefined();
    // Pulumi's random characters follow an autonamed bucket: it never ends with a reserved ending.
    expect(autoName(NAME_RULES.s3Bucket, "data-s3alias")).toBe("data-s3alias");
  });

  it("keep the name Pulumi completes away from reserved prefixes too (found by the property below)", () => {
    // "Sg" is a fine security group name; "Sg-1a2b3c4", which Pulumi would make of it, is not.
    expect(physicalName(NAME_RULES.securityGroup, "Sg")).toBe("Sg");
    expect(autoName(NAME_RULES.securityGroup, "Sg")).toMatch(/^x-Sg-[0-9a-f]{8}$/);
    expect(autoNameProblem(NAME_RULES.securityGroup, autoName(NAME_RULES.securityGroup, "Sg"))).toBeUndefined();
    expect(autoNameProblem(NAME_RULES.s3Bucket, autoName(NAME_RULES.s3Bucket, "sthree"))).toBeUndefined();
    expect(autoNameProblem(NAME_RULES.s3Bucket, autoName(NAME_RULES.s3Bucket, "amzn-s3-demo"))).toBeUndefined();
  });

  it("keep a readable head and tail and tell apart long names that share both", () => {
    const head = `yolo-train-${"vision-".repeat(12)}`;
    const a = autoName(NAME_RULES.iamRole, `${head}a-${"line-".repeat(8)}guardrails-backstop`);
    const b = autoName(NAME_RULES.iamRole, `${head}b-${"line-".repeat(8)}guardrails-backstop`);
    expect(a.slice(0, -NAME_HASH_LENGTH)).toBe(b.slice(0, -NAME_HASH_LENGTH));
    expect(a).not.toBe(b);
    expect(a).toMatch(/^yolo-train-vision-/);
    expect(a).toMatch(/-guardrails-backstop-[0-9a-f]{8}$/);
  });

  it("are stable: the same name gives the same result on every run", () => {
    fc.assert(fc.property(anyName, (name) => expect(autoName(NAME_RULES.iamRole, name)).toBe(autoName(NAME_RULES.iamRole, name))));
  });

  it.each(RULES)("fit any name into a valid %s, explicit or autonamed", (_key, rule) => {
    fc.assert(
      fc.property(fc.oneof(anyName, pulumiName.map((n) => `yolo-train-${n}-component-child`)), (name) => {
        const explicit = physicalName(rule, (rule.fixedPrefix ?? "") + name);
        expect([explicit, nameProblem(rule, explicit)]).toEqual([explicit, undefined]);
        const logical = autoName(rule, name);
        expect([logical, autoNameProblem(rule, logical)]).toEqual([logical, undefined]);
      }),
      { numRuns: 300 },
    );
  });

  it("never give two different names the same result", () => {
    fc.assert(
      fc.property(anyName, anyName, (a, b) => {
        fc.pre(a !== b);
        expect(autoName(NAME_RULES.iamRole, a)).not.toBe(autoName(NAME_RULES.iamRole, b));
        expect(physicalName(NAME_RULES.s3Bucket, a)).not.toBe(physicalName(NAME_RULES.s3Bucket, b));
      }),
      { numRuns: 500 },
    );
    // Names that only differ in case, or in a character the service refuses.
    const pairs: [NameRule, string, string][] = [
      [NAME_RULES.s3Bucket, "Prod-EU", "prod-eu"],
      [NAME_RULES.lambdaFunction, "dev.eu", "dev-eu"],
      [NAME_RULES.dashboard, "a_b.c", "a_b-c"],
    ];
    for (const [rule, a, b] of pairs) expect(physicalName(rule, a)).not.toBe(physicalName(rule, b));
  });

  it("refuse a limit that leaves no room for the hash", () => {
    expect(() => fitName(NAME_RULES.iamRole, "x".repeat(100), 5)).toThrow(RangeError);
  });
});

describe("stackScopedName", () => {
  it("adds the project and stack unless the name starts with them", () => {
    const identity = { project: "yolo-train", stack: "dev" };
    expect(stackScopedName("yolo-train-dev", identity)).toBe("yolo-train-dev");
    expect(stackScopedName("yolo-train-dev-a", identity)).toBe("yolo-train-dev-a");
    expect(stackScopedName("exp-a", identity)).toBe("yolo-train-dev-exp-a");
    expect(stackScopedName("yolo-train-devx", identity)).toBe("yolo-train-dev-yolo-train-devx");
  });
});
