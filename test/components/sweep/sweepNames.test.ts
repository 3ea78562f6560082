import { autoName, NAME_RULES } from "../../../components/naming/physicalNames";
import { BACKSTOP_NAME_SUFFIX, matchesIamPattern, sweepTrialNaming } from "../../../components/sweep/sweepNames";

const DEV = { project: "yolo-train", stack: "dev" };
const ids = (n: number, width = 2) => Array.from({ length: n }, (_, i) => `t${String(i + 1).padStart(width, "0")}`);

/** The physical name Pulumi gives a trial's backstop schedule or role: its logical name fitted, then `-` and 7 random characters. */
function backstopNames(trialName: string): string[] {
  const logical = `${trialName}${BACKSTOP_NAME_SUFFIX}`;
  return [autoName(NAME_RULES.schedule, logical), autoName(NAME_RULES.iamRole, logical)].map((name) => `${name}-0a1b2c3`);
}

describe("sweepTrialNaming", () => {
  it("names trials <stack-scoped sweep>-<trialId>, and their backstops by a pattern of one ? per digit", () => {
    const naming = sweepTrialNaming("yolo-train-dev", DEV, ids(4));
    expect(naming.trialPrefix).toBe("yolo-train-dev");
    expect(naming.trialName("t03")).toBe("yolo-train-dev-t03");
    expect(naming.backstopNamePattern).toBe("yolo-train-dev-t??-guardrails-backstop-*");
    expect(sweepTrialNaming("hp", DEV, ids(120, 3)).backstopNamePattern).toBe("yolo-train-dev-hp-t???-guardrails-backstop-*");
  });

  it.each([
    ["a short stack", DEV, "yolo-train-dev"],
    ["a 100-character mixed-case stack", { project: "yolo-train", stack: "Helmet-Detector-YOLOv8s-Factory-Line-7-Europe-West-Staging-Experiment.Run_".padEnd(100, "X") }, "sweep"],
    ["a 100-character project and stack", { project: "Vision-Platform.Team_".padEnd(100, "P"), stack: "S".repeat(100) }, "sweep"],
  ])("under %s, every trial's backstop keeps its name whole, so the pattern matches it", (_label, identity, name) => {
    for (const width of [2, 3]) {
      const trialIds = ids(width === 2 ? 99 : 256, width);
      const naming = sweepTrialNaming(name, identity, trialIds);
      for (const id of [trialIds[0]!, trialIds[trialIds.length - 1]!]) {
        for (const physical of backstopNames(naming.trialName(id))) {
          expect(physical.length).toBeLessThanOrEqual(64);
          expect([physical, matchesIamPattern(naming.backstopNamePattern, physical)]).toEqual([physical, true]);
        }
      }
    }
  });

  it("never matches another stack's backstops, even one whose name extends this one's", () => {
    const dev = sweepTrialNaming("yolo-train-dev", DEV, ids(4));
    const devTx = sweepTrialNaming("yolo-train-dev-tx", { project: "yolo-train", stack: "dev-tx" }, ids(4));
    const devT1 = sweepTrialNaming("yolo-train-dev-t1", { project: "yolo-train", stack: "dev-t1" }, ids(4));
    for (const other of [devTx, devT1]) {
      for (const physical of backstopNames(other.trialName("t01"))) expect([physical, matchesIamPattern(dev.backstopNamePattern, physical)]).toEqual([physical, false]);
    }
    // Nor the trials' other roles (node roles), nor the sweep's own.
    expect(matchesIamPattern(dev.backstopNamePattern, "yolo-train-dev-t01-gpu-role-0a1b2c3")).toBe(false);
    expect(matchesIamPattern(dev.backstopNamePattern, "yolo-train-dev-keeper-role-0a1b2c3")).toBe(false);
  });

  it("gives two long stacks that differ only in the middle different prefixes", () => {
    const a = sweepTrialNaming("sweep", { project: "yolo-train", stack: `${"Vision-".repeat(7)}a-${"Line-".repeat(5)}` }, ids(4));
    const b = sweepTrialNaming("sweep", { project: "yolo-train", stack: `${"Vision-".repeat(7)}b-${"Line-".repeat(5)}` }, ids(4));
    expect(a.trialPrefix).not.toBe(b.trialPrefix);
    for (const physical of backstopNames(b.trialName("t01"))) expect(matchesIamPattern(a.backstopNamePattern, physical)).toBe(false);
  });

  it("refuses trial ids of mixed widths or another shape: the pattern would not match them all", () => {
    expect(() => sweepTrialNaming("s", DEV, ["t01", "t100"])).toThrow(/one width/);
    expect(() => sweepTrialNaming("s", DEV, ["a1"])).toThrow(/"t" and digits/);
    expect(() => sweepTrialNaming("s", DEV, [])).toThrow();
  });
});

describe("matchesIamPattern", () => {
  it.each([
    ["a-t??-x-*", "a-t01-x-abc", true],
    ["a-t??-x-*", "a-t1-x-abc", false],
    ["a-t??-x-*", "a-t001-x-abc", false],
    ["a.b-*", "aXb-1", false],
    ["a.b-*", "a.b-1", true],
  ])("%s against %s: %s", (pattern, name, expected) => {
    expect(matchesIamPattern(pattern, name)).toBe(expected);
  });
});
