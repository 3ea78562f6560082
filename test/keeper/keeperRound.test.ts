import { backstopAt, decideKeeperRound, START_GRACE_MS, utcAtExpression, type GroupState, type KeeperRoundInput } from "../../keeper/keeperRound";
import type { RunRecord } from "../../runspec/runRecord";
import { parseSweepState, type SweepTrialStart } from "../../runspec/sweep/sweepManifest";
import { groupOf, METRIC, runIdOf, runRecord, sweepManifest, SWEEP_ID, trialId, type FixtureOptions } from "./sweepFixture";

const NOW = new Date("2026-12-05T12:00:00.000Z");
const minutesAgo = (m: number): string => new Date(NOW.getTime() - m * 60_000).toISOString();

function started(i: number, at: string = minutesAgo(10)): SweepTrialStart {
  return { schemaVersion: 1, sweepId: SWEEP_ID, trialId: trialId(i), runId: runIdOf(i), startedAt: at, by: "keeper", backstopAt: new Date(new Date(at).getTime() + 2 * 3_600_000).toISOString() };
}

interface World {
  options?: FixtureOptions;
  starts?: SweepTrialStart[];
  records?: Record<number, RunRecord>;
  groups?: Record<number, GroupState>;
  now?: Date;
}

function round(world: World) {
  const manifest = sweepManifest(world.options);
  const input: KeeperRoundInput = {
    manifest,
    starts: new Map((world.starts ?? []).map((s) => [s.trialId, s])),
    records: new Map(Object.entries(world.records ?? {}).map(([i, r]) => [trialId(Number(i)), r])),
    groups: new Map(Object.entries(world.groups ?? {}).map(([i, g]) => [groupOf(Number(i)), g])),
    now: world.now ?? NOW,
  };
  const decided = decideKeeperRound(input);
  // Whatever the round decides, state.json is a valid contract object.
  expect(parseSweepState(JSON.stringify(decided.state), SWEEP_ID)).toEqual(decided.state);
  return decided;
}

const RUNNING: GroupState = { desiredCapacity: 1, instances: 1 };
const EMPTY: GroupState = { desiredCapacity: 0, instances: 0 };
const statusOf = (decided: ReturnType<typeof round>) => Object.fromEntries(decided.trials.map((t) => [t.trialId, t.status.kind === "finished" ? `finished:${t.status.outcome}` : t.status.kind]));

describe("decideKeeperRound", () => {
  it("starts the first maxParallel trials of a fresh sweep, each with a start whose backstop is startedAt + its cap", () => {
    const decided = round({});
    expect(decided.start.map((s) => s.trial.trialId)).toEqual(["t01", "t02"]);
    expect(decided.start[0]!.start).toEqual({
      schemaVersion: 1,
      sweepId: SWEEP_ID,
      trialId: "t01",
      runId: runIdOf(1),
      startedAt: NOW.toISOString(),
      by: "keeper",
      backstopAt: "2026-12-05T14:00:00.000Z",
    });
    expect(decided.state).toMatchObject({ started: ["t01", "t02"], waiting: [{ trialId: "t03", reason: "max-parallel" }, { trialId: "t04", reason: "max-parallel" }], done: false, spentUsd: 0, committedUsd: 2, budgetLeftUsd: null });
    expect(decided.state.summary).toBe("starting t01, t02; 2 trial(s) waiting for one of 2 parallel slots");
    expect(decided.repair).toEqual([]);
  });

  it("keeps maxParallel while trials finish: a slot frees only when a trial has ended", () => {
    const base: World = { starts: [started(1), started(2)], groups: { 1: RUNNING, 2: RUNNING } };
    expect(round(base).start).toEqual([]);
    // t01 completed but its node is still terminating: it has ended (a final record), so t03 starts.
    const t1Done = round({ ...base, records: { 1: runRecord(1, "completed", { metrics: { [METRIC]: 0.5 } }) }, groups: { 1: { desiredCapacity: 0, instances: 1 }, 2: RUNNING } });
    expect(t1Done.start.map((s) => s.trial.trialId)).toEqual(["t03"]);
    expect(statusOf(t1Done)).toEqual({ t01: "finished:completed", t02: "active", t03: "pending", t04: "pending" });
    // Then t02 is stopped early by ASHA: t04 takes its slot; nothing is left to wait.
    const t2Stopped = round({
      starts: [started(1), started(2), started(3)],
      records: { 1: runRecord(1, "completed"), 2: runRecord(2, "stopped-early") },
      groups: { 1: EMPTY, 2: EMPTY, 3: RUNNING },
    });
    expect(t2Stopped.start.map((s) => s.trial.trialId)).toEqual(["t04"]);
    expect(t2Stopped.state.waiting).toEqual([]);
    expect(t2Stopped.done).toBe(false);
  });

  it("counts an interrupted trial waiting for its spot replacement as active", () => {
    const decided = round({ starts: [started(1), started(2)], records: { 1: runRecord(1, "interrupted") }, groups: { 1: { desiredCapacity: 1, instances: 0 }, 2: RUNNING } });
    expect(statusOf(decided).t01).toBe("active");
    expect(decided.start).toEqual([]);
    expect(decided.repair).toEqual([]);
  });

  it("stops starting trials when spent + committed + the next trial's worst case would pass the budget, and says so", () => {
    // $0.50/h × 2 h = $1 per trial at worst. t01 spent $0.60 and ended; t02 runs since 60 min ($0.50 left).
    const decided = round({
      options: { budgetUsd: 2, maxParallel: 3 },
      starts: [started(1, minutesAgo(120)), started(2, minutesAgo(60))],
      records: { 1: runRecord(1, "completed", { estimatedCostUsd: 0.6, metrics: { [METRIC]: 0.4 } }), 2: runRecord(2, "training", { estimatedCostUsd: 0.3 }) },
      groups: { 1: EMPTY, 2: RUNNING },
    });
    expect(decided.start).toEqual([]);
    expect(decided.state.waiting).toEqual([
      { trialId: "t03", reason: "budget" },
      { trialId: "t04", reason: "budget" },
    ]);
    expect(decided.state.spentUsd).toBeCloseTo(0.9);
    expect(decided.state.committedUsd).toBeCloseTo(0.5);
    expect(decided.state.budgetLeftUsd).toBeCloseTo(0.6);
    expect(decided.state.summary).toBe(
      "2 trial(s) not started: spent $0.90 + committed $0.50 + the next trial's worst case would exceed the budget of $2.00",
    );
    expect(decided.done).toBe(false);

    // Once t02 has ended too, the sweep is over for want of budget, and the winner is named.
    const ended = round({
      options: { budgetUsd: 2, maxParallel: 3 },
      starts: [started(1, minutesAgo(120)), started(2, minutesAgo(60))],
      records: { 1: runRecord(1, "completed", { estimatedCostUsd: 0.6, metrics: { [METRIC]: 0.4 } }), 2: runRecord(2, "stopped-early", { estimatedCostUsd: 0.5 }) },
      groups: { 1: EMPTY, 2: EMPTY },
    });
    expect(ended.done).toBe(true);
    expect(ended.start).toEqual([]);
    expect(ended.state.summary).toBe(
      "2 trial(s) not started: spent $1.10 + committed $0.00 + the next trial's worst case would exceed the budget of $2.00; the sweep has ended: the winner is t01 (metrics/mAP50-95(B) 0.4)",
    );
    expect(ended.winner).toMatchObject({ kind: "winner", trialId: "t01", runId: runIdOf(1), value: 0.4 });
  });

  describe("a started trial whose group is empty and which has no record", () => {
    it("within the grace period is active and gets its capacity set again (a round died between start and capacity)", () => {
      const decided = round({ starts: [started(1, minutesAgo(5)), started(2)], groups: { 1: EMPTY, 2: RUNNING } });
      expect(statusOf(decided)).toMatchObject({ t01: "active", t02: "active" });
      expect(decided.repair.map((r) => [r.trial.trialId, r.start.startedAt])).toEqual([["t01", minutesAgo(5)]]);
      expect(decided.start).toEqual([]);
    });

    it("after the grace period has failed: no node ever reported, and the next trial takes its slot", () => {
      const decided = round({ starts: [started(1, minutesAgo(START_GRACE_MS / 60_000 + 1)), started(2)], groups: { 1: EMPTY, 2: RUNNING } });
      expect(statusOf(decided).t01).toBe("finished:failed");
      expect(decided.trials[0]!.why).toContain("no record after 30 minutes");
      expect(decided.repair).toEqual([]);
      expect(decided.start.map((s) => s.trial.trialId)).toEqual(["t03"]);
    });

    it("whose group Auto Scaling does not know counts as empty", () => {
      const decided = round({ starts: [started(1, minutesAgo(5))], groups: {} });
      expect(decided.repair.map((r) => r.trial.trialId)).toEqual(["t01"]);
      expect(decided.trials[0]!.why).toContain("is not found");
    });
  });

  it.each([
    ["hung", "finished:hung"],
    ["timed-out", "finished:timed-out"],
    ["failed", "finished:failed"],
    // The idle alarm or the backstop took the capacity while the node was training: nothing gives it back.
    ["training", "finished:failed"],
    ["interrupted", "finished:failed"],
  ] as const)("a started trial ended by a guardrail (group at 0, no instance, record %s) is %s", (phase, status) => {
    const decided = round({ starts: [started(1), started(2)], records: { 1: runRecord(1, phase, { estimatedCostUsd: 0.25 }) }, groups: { 1: EMPTY, 2: RUNNING } });
    expect(statusOf(decided).t01).toBe(status);
    expect(decided.start.map((s) => s.trial.trialId)).toEqual(["t03"]);
    expect(decided.state.spentUsd).toBeCloseTo(0.25);
  });

  it("a failed trial whose group still has capacity is active: the group relaunches it and the agent resumes", () => {
    const decided = round({ starts: [started(1)], records: { 1: runRecord(1, "failed") }, groups: { 1: { desiredCapacity: 1, instances: 0 } } });
    expect(statusOf(decided).t01).toBe("active");
  });

  it("commits only what is left of an active trial's cap", () => {
    // 90 minutes into a 2-hour cap at $0.50/h: $0.25 left; t02 starts with its whole $1.
    const decided = round({ options: { maxParallel: 2 }, starts: [started(1, minutesAgo(90))], groups: { 1: RUNNING } });
    expect(decided.trials[0]!.remainingMaxUsd).toBeCloseTo(0.25);
    expect(decided.state.committedUsd).toBeCloseTo(1.25);
    // Past its cap, nothing is left to commit.
    expect(round({ starts: [started(1, minutesAgo(150))], groups: { 1: RUNNING } }).trials[0]!.remainingMaxUsd).toBe(0);
  });

  describe("the winner", () => {
    const allEnded = (metrics: Record<number, number | undefined>, phases: Record<number, "completed" | "stopped-early"> = {}, direction?: "maximize" | "minimize") =>
      round({
        options: { trials: 4, ...(direction ? { direction } : {}) },
        starts: [1, 2, 3, 4].map((i) => started(i)),
        records: Object.fromEntries([1, 2, 3, 4].map((i) => [i, runRecord(i, phases[i] ?? "completed", { metrics: metrics[i] === undefined ? {} : { [METRIC]: metrics[i]! } })])),
        groups: { 1: EMPTY, 2: EMPTY, 3: EMPTY, 4: EMPTY },
      });

    it("is the best completed trial once every trial has ended", () => {
      const decided = allEnded({ 1: 0.3, 2: 0.6, 3: 0.5, 4: 0.1 });
      expect(decided.done).toBe(true);
      expect(decided.winner).toEqual({ kind: "winner", trialId: "t02", runId: runIdOf(2), value: 0.6, why: "the best metrics/mAP50-95(B) (maximize) of 4 completed trial(s): 0.6" });
      expect(decided.state.summary).toBe("every trial has ended; the sweep has ended: the winner is t02 (metrics/mAP50-95(B) 0.6)");
    });

    it("minimizes when the sweep says so", () => {
      expect(allEnded({ 1: 0.3, 2: 0.6, 3: 0.5, 4: 0.1 }, {}, "minimize").winner).toMatchObject({ trialId: "t04", value: 0.1 });
    });

    it("goes to the earlier trial on a tie", () => {
      expect(allEnded({ 1: 0.3, 2: 0.6, 3: 0.6, 4: 0.1 }).winner).toMatchObject({ trialId: "t02" });
      expect(allEnded({ 1: 0.3, 2: 0.6, 3: 0.6, 4: 0.6 }).winner).toMatchObject({ trialId: "t02" });
    });

    it("is never a trial stopped early, nor a completed one without the metric", () => {
      const decided = allEnded({ 1: 0.3, 2: 0.9, 3: undefined, 4: 0.1 }, { 2: "stopped-early" });
      expect(decided.winner).toEqual({ kind: "winner", trialId: "t01", runId: runIdOf(1), value: 0.3, why: `the best ${METRIC} (maximize) of 3 completed trial(s): 0.3; t03 completed without ${METRIC}` });
    });

    it("does not exist when no trial completed, and the summary says why", () => {
      const decided = round({
        options: { trials: 3 },
        starts: [1, 2, 3].map((i) => started(i)),
        records: { 1: runRecord(1, "stopped-early"), 2: runRecord(2, "hung"), 3: runRecord(3, "stopped-early") },
        groups: { 1: EMPTY, 2: EMPTY, 3: EMPTY },
      });
      expect(decided.done).toBe(true);
      expect(decided.winner).toEqual({ kind: "none", why: "no trial completed (2 stopped early, 1 ended otherwise, 0 not ended): there is no winner" });
      expect(decided.state.summary).toBe("every trial has ended; the sweep has ended: no trial completed (2 stopped early, 1 ended otherwise, 0 not ended): there is no winner");
    });
  });

  it("counts a trial with a final record as ended even without a start (the start was lost or never needed)", () => {
    const decided = round({ options: { trials: 2, maxParallel: 1 }, records: { 1: runRecord(1, "completed", { metrics: { [METRIC]: 0.2 } }) } });
    expect(statusOf(decided)).toEqual({ t01: "finished:completed", t02: "pending" });
    expect(decided.start.map((s) => s.trial.trialId)).toEqual(["t02"]);
  });
});

describe("the backstop's time", () => {
  it("is startedAt + the cap, rounded up to the whole second, as a UTC at() expression", () => {
    const at = backstopAt(new Date("2026-12-05T12:00:00.250Z"), 1.5);
    expect(at.toISOString()).toBe("2026-12-05T13:30:01.000Z");
    expect(utcAtExpression(at)).toBe("at(2026-12-05T13:30:01)");
  });
});
