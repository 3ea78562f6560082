import { scheduleTrials, type SweepTrialState, type TrialStatus } from "../../../runspec/sweep/trialScheduler";

const pending: TrialStatus = { kind: "pending" };
const active = (spentUsd: number): TrialStatus => ({ kind: "active", spentUsd });
const finished = (spentUsd: number, outcome: "completed" | "stopped-early" = "completed"): TrialStatus => ({ kind: "finished", spentUsd, outcome });
const trial = (trialId: string, status: TrialStatus, remainingMaxUsd = 10): SweepTrialState => ({ trialId, status, remainingMaxUsd });

describe("scheduleTrials", () => {
  it("starts the first maxParallel pending trials of a new sweep, in order", () => {
    const schedule = scheduleTrials({ trials: ["t01", "t02", "t03", "t04"].map((id) => trial(id, pending)), maxParallel: 2 });
    expect(schedule.start).toEqual(["t01", "t02"]);
    expect(schedule.waiting).toEqual([
      { trialId: "t03", reason: "max-parallel" },
      { trialId: "t04", reason: "max-parallel" },
    ]);
    expect(schedule.committedUsd).toBe(20);
    expect(schedule.done).toBe(false);
    expect(schedule.summary).toBe("starting t01, t02; 2 trial(s) waiting for one of 2 parallel slots");
  });

  it("hands a finished or stopped trial's slot to the next pending one, never more than maxParallel active", () => {
    const schedule = scheduleTrials({
      trials: [trial("t01", finished(4, "stopped-early"), 0), trial("t02", active(3), 7), trial("t03", pending), trial("t04", pending)],
      maxParallel: 2,
    });
    expect(schedule.start).toEqual(["t03"]);
    expect(schedule.waiting).toEqual([{ trialId: "t04", reason: "max-parallel" }]);
    expect(schedule.spentUsd).toBe(7);
    expect(schedule.committedUsd).toBe(17);
  });

  it("starts nothing while every slot is taken", () => {
    const schedule = scheduleTrials({ trials: [trial("t01", active(1)), trial("t02", active(1)), trial("t03", pending)], maxParallel: 2 });
    expect(schedule.start).toEqual([]);
    expect(schedule.waiting).toEqual([{ trialId: "t03", reason: "max-parallel" }]);
  });

  it("stops starting trials once spent + committed + the next trial's worst case would exceed the budget, and says why", () => {
    const schedule = scheduleTrials({
      trials: [trial("t01", finished(30)), trial("t02", active(5), 10), trial("t03", pending, 10), trial("t04", pending, 2)],
      maxParallel: 4,
      budgetUsd: 50,
    });
    // 35 spent + 10 committed + 10 for t03 = 55 > 50: t03 waits, and the cheaper t04 does not jump the queue.
    expect(schedule.start).toEqual([]);
    expect(schedule.waiting).toEqual([
      { trialId: "t03", reason: "budget" },
      { trialId: "t04", reason: "budget" },
    ]);
    expect(schedule.budgetLeftUsd).toBe(5);
    expect(schedule.summary).toBe(
      "2 trial(s) not started: spent $35.00 + committed $10.00 + the next trial's worst case would exceed the budget of $50.00",
    );
  });

  it("starts a trial that exactly fits the budget", () => {
    const schedule = scheduleTrials({ trials: [trial("t01", finished(40)), trial("t02", pending, 10)], maxParallel: 1, budgetUsd: 50 });
    expect(schedule.start).toEqual(["t02"]);
    expect(schedule.budgetLeftUsd).toBe(0);
  });

  it("is done when nothing is active and nothing can start: every trial ended, or the budget holds the rest", () => {
    expect(scheduleTrials({ trials: [trial("t01", finished(3)), trial("t02", finished(2, "stopped-early"))], maxParallel: 2 })).toMatchObject({
      done: true,
      summary: "every trial has ended",
    });
    expect(scheduleTrials({ trials: [trial("t01", finished(48)), trial("t02", pending, 10)], maxParallel: 2, budgetUsd: 50 }).done).toBe(true);
    expect(scheduleTrials({ trials: [trial("t01", active(1)), trial("t02", pending, 100)], maxParallel: 2, budgetUsd: 50 }).done).toBe(false);
  });

  it("gives the same answer for the same state: the agent and a scheduled keeper agree", () => {
    const input = { trials: [trial("t01", active(2)), trial("t02", pending), trial("t03", pending)], maxParallel: 2, budgetUsd: 100 };
    expect(scheduleTrials(input)).toEqual(scheduleTrials(input));
  });

  it("refuses input no sweep can have, naming every problem", () => {
    expect(() => scheduleTrials({ trials: [trial("t01", pending), trial("t01", pending, -1)], maxParallel: 0, budgetUsd: 0 })).toThrow(
      /maxParallel 0 must be an integer from 1; budgetUsd 0 must be more than 0; trial ids repeat: t01; trial t01 has a cost that is negative or not a number/,
    );
  });
});
