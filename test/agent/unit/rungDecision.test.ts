import { decideRung, rungAt, type RungAccess } from "../../../agent/sweep/rungDecision";
import type { RungEntry } from "../../../runspec/sweep/asha";
import type { RunSpecSweep } from "../../../runspec/schema";

const SWEEP: RunSpecSweep = { sweepId: "s1", trialId: "me", metric: "metrics/mAP50-95(B)", direction: "maximize", reductionFactor: 2, rungs: [1, 3] };
const AT = "2026-12-01T00:00:00.000Z";
const entry = (trialId: string, value: number, epoch = 1): RungEntry => ({ trialId, value, epoch, recordedAt: AT });

/** An in-memory rung store with recordAtRung's semantics: append unless the trial has an entry. */
function memory(initial: Record<number, RungEntry[]> = {}): RungAccess & { rungs: Record<number, RungEntry[]>; writes: number } {
  const store = {
    rungs: { ...initial },
    writes: 0,
    async record(rung: number, _epoch: number, e: RungEntry) {
      const entries = store.rungs[rung] ?? [];
      if (!entries.some((x) => x.trialId === e.trialId)) {
        store.rungs[rung] = [...entries, e];
        store.writes += 1;
      }
      return store.rungs[rung]!;
    },
    async read(rung: number) {
      return store.rungs[rung] ?? [];
    },
  };
  return store;
}

describe("decideRung", () => {
  it("finds rungs by epoch", () => {
    expect([1, 2, 3].map((e) => rungAt(SWEEP, e))).toEqual([0, -1, 1]);
  });

  it("records the value and continues when first at the rung", async () => {
    const access = memory();
    const verdict = await decideRung(access, SWEEP, { rung: 0, epoch: 1, value: 0.3 }, AT);
    expect(verdict.outcome).toEqual({ rung: 0, epoch: 1, value: 0.3, promote: true, cutoff: null, earlier: 0 });
    expect(access.rungs[0]).toEqual([entry("me", 0.3)]);
  });

  it("stops below the cutoff of earlier entries, and gives the same decision again on the stored value", async () => {
    const access = memory({ 0: [entry("a", 0.5), entry("b", 0.6)] });
    const first = await decideRung(access, SWEEP, { rung: 0, epoch: 1, value: 0.2 }, AT);
    expect(first.outcome).toMatchObject({ promote: false, cutoff: 0.55, earlier: 2, value: 0.2 });
    // A resumed trial that measures something else is judged on what it recorded.
    const again = await decideRung(access, SWEEP, { rung: 0, epoch: 1, value: 0.9 }, AT);
    expect(again.outcome).toEqual(first.outcome);
    expect(access.rungs[0]).toHaveLength(3);
    expect(access.writes).toBe(1);
  });

  it("judges a missing metric as the worst value without writing it", async () => {
    const empty = memory();
    expect((await decideRung(empty, SWEEP, { rung: 0, epoch: 1, value: undefined }, AT)).outcome.promote).toBe(true);
    const seeded = memory({ 0: [entry("a", -5)] });
    const verdict = await decideRung(seeded, { ...SWEEP, direction: "maximize" }, { rung: 0, epoch: 1, value: undefined }, AT);
    expect(verdict).toMatchObject({ missingMetric: true, outcome: { promote: false, cutoff: -5, value: -Number.MAX_VALUE } });
    const minimized = await decideRung(memory({ 0: [entry("a", 1e9)] }), { ...SWEEP, direction: "minimize" }, { rung: 0, epoch: 1, value: Number.NaN }, AT);
    expect(minimized.outcome).toMatchObject({ promote: false, value: Number.MAX_VALUE });
    expect(seeded.writes + empty.writes).toBe(0);
  });

  it("passes S3 failures on to the caller", async () => {
    const failing: RungAccess = { record: () => Promise.reject(new Error("S3 down")), read: () => Promise.reject(new Error("S3 down")) };
    await expect(decideRung(failing, SWEEP, { rung: 1, epoch: 3, value: 0.4 }, AT)).rejects.toThrow("S3 down");
  });
});
