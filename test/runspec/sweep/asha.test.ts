import { decideAtRung, rungEpochs, type RungEntry } from "../../../runspec/sweep/asha";

/** A rung's entries in append order, one a value, trials t1, t2, … */
const rung = (...values: number[]): RungEntry[] => values.map((value, i) => ({ trialId: `t${i + 1}`, value, epoch: 3, recordedAt: `2026-12-01T10:00:0${i % 10}.000Z` }));

describe("rungEpochs", () => {
  it.each([
    [1, 3, 27, [1, 3, 9]],
    [1, 3, 28, [1, 3, 9, 27]],
    [2, 2, 20, [2, 4, 8, 16]],
    [1, 4, 100, [1, 4, 16, 64]],
    [5, 3, 10, [5]],
  ])("min %d, η %d, max %d → %j (maxEpochs is the end, not a rung)", (min, eta, max, expected) => {
    expect(rungEpochs(min, eta, max)).toEqual(expected);
  });

  it.each([
    ["η below 2", 1, 1, 27, /reductionFactor must be a number of at least 2/],
    ["η of 1.5", 1, 1.5, 27, /reductionFactor/],
    ["a fractional η", 1, 2.5, 27, /whole number/],
    ["η NaN", 1, Number.NaN, 27, /reductionFactor/],
    ["minEpochs below 1", 0, 3, 27, /minEpochs must be a whole number of at least 1/],
    ["a fractional minEpochs", 1.5, 3, 27, /minEpochs/],
    ["minEpochs equal to maxEpochs", 27, 3, 27, /maxEpochs must be a whole number above minEpochs \(27\)/],
    ["minEpochs above maxEpochs", 30, 3, 27, /maxEpochs/],
  ])("refuses %s", (_name, min, eta, max, message) => {
    expect(() => rungEpochs(min, eta, max)).toThrow(message);
  });
});

describe("decideAtRung", () => {
  it("lets the first trial at a rung continue, whatever its value", () => {
    expect(decideAtRung([], { trialId: "t1", value: 0.01 }, "maximize", 3)).toEqual({ promote: true, cutoff: null, earlier: 0, reason: expect.stringMatching(/first trial/) });
  });

  it("stops a second trial worse than the first and lets a better one continue", () => {
    const stopped = decideAtRung(rung(0.5), { trialId: "t2", value: 0.4 }, "maximize", 3);
    expect(stopped).toMatchObject({ promote: false, cutoff: 0.5, earlier: 1 });
    expect(stopped.reason).toMatch(/0\.4 < cutoff 0\.5.*stops early/);
    expect(decideAtRung(rung(0.5), { trialId: "t2", value: 0.6 }, "maximize", 3)).toMatchObject({ promote: true, cutoff: 0.5 });
  });

  it("lets ties with the cutoff continue", () => {
    expect(decideAtRung(rung(0.5), { trialId: "t2", value: 0.5 }, "maximize", 3)).toMatchObject({ promote: true, cutoff: 0.5 });
    // The median of 0.3, 0.5, 0.5 is a recorded value: matching it continues.
    expect(decideAtRung(rung(0.3, 0.5, 0.5), { trialId: "t4", value: 0.5 }, "maximize", 2)).toMatchObject({ promote: true, cutoff: 0.5 });
    expect(decideAtRung(rung(2, 1, 1), { trialId: "t4", value: 1 }, "minimize", 2)).toMatchObject({ promote: true, cutoff: 1 });
  });

  it("keeps the smaller values when minimizing", () => {
    expect(decideAtRung(rung(1.0), { trialId: "t2", value: 0.8 }, "minimize", 3)).toMatchObject({ promote: true, cutoff: 1.0 });
    expect(decideAtRung(rung(1.0), { trialId: "t2", value: 1.2 }, "minimize", 3)).toMatchObject({ promote: false, cutoff: 1.0 });
    // The 1/3 quantile of 1…5 (numpy: percentile(x, 100/3) = 2.333…), in any append order.
    const losses = rung(5, 1, 4, 2, 3);
    const cutoff = decideAtRung(losses, { trialId: "t6", value: 2.3 }, "minimize", 3);
    expect(cutoff.cutoff).toBeCloseTo(7 / 3, 12);
    expect(cutoff.promote).toBe(true);
    expect(decideAtRung(losses, { trialId: "t6", value: 2.4 }, "minimize", 3).promote).toBe(false);
  });

  it("judges a trial arriving late at a rung against the quantile of all the entries before it", () => {
    // Nine earlier entries, out of order: numpy.percentile(0.1…0.9, 200/3) = 0.6333…
    const earlier = rung(0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6);
    const late = decideAtRung(earlier, { trialId: "late", value: 0.65 }, "maximize", 3);
    expect(late.earlier).toBe(9);
    expect(late.cutoff).toBeCloseTo(0.6 + 0.1 / 3, 12);
    expect(late.promote).toBe(true);
    expect(decideAtRung(earlier, { trialId: "late", value: 0.62 }, "maximize", 3).promote).toBe(false);
    // Roughly the top third of a rung gets through: three of the nine values are above the cutoff.
    expect(earlier.filter((e) => e.value >= late.cutoff!)).toHaveLength(3);
  });

  it("gives a trial that already has an entry the same decision again, on its recorded value, however many entries came after", () => {
    const entries = rung(0.9, 0.5, 0.95);
    const first = decideAtRung(entries, { trialId: "t2", value: 0.5 }, "maximize", 3);
    expect(first).toMatchObject({ promote: false, cutoff: 0.9, earlier: 1 });
    // Resumed after a spot interruption: more trials recorded since, and it re-measured a better value.
    const later = [...entries, ...rung(0.1, 0.1, 0.1).map((e, i) => ({ ...e, trialId: `x${i}` }))];
    expect(decideAtRung(later, { trialId: "t2", value: 0.99 }, "maximize", 3)).toEqual(first);
    // The first trial at the rung continues on every replay, though better ones came after it.
    expect(decideAtRung(later, { trialId: "t1", value: 0.9 }, "maximize", 3)).toMatchObject({ promote: true, cutoff: null, earlier: 0 });
    // t3 was judged against t1 and t2 only: 0.5 + (2/3)·0.4.
    const third = decideAtRung(later, { trialId: "t3", value: 0.95 }, "maximize", 3);
    expect(third).toMatchObject({ promote: true, earlier: 2 });
    expect(third.cutoff).toBeCloseTo(0.5 + (2 / 3) * 0.4, 12);
  });

  it("keeps more trials at η = 2 (the median) than at η = 4 (the 75th percentile)", () => {
    const entries = rung(0.1, 0.2, 0.3, 0.4, 0.5);
    const trial = { trialId: "t6", value: 0.35 };
    expect(decideAtRung(entries, trial, "maximize", 2)).toMatchObject({ promote: true, cutoff: 0.3 });
    const four = decideAtRung(entries, trial, "maximize", 4);
    expect(four.promote).toBe(false);
    expect(four.cutoff).toBeCloseTo(0.4, 12);
    // Minimizing, η = 4 keeps the bottom quarter: the 25th percentile.
    expect(decideAtRung(entries, { trialId: "t6", value: 0.2 }, "minimize", 4)).toMatchObject({ promote: true, cutoff: 0.2 });
  });

  it("refuses a value that is not finite, a rung holding one, and η below 2", () => {
    expect(() => decideAtRung(rung(0.5), { trialId: "t2", value: Number.NaN }, "maximize", 3)).toThrow(/t2: its metric must be a finite number.*NaN/);
    expect(() => decideAtRung([], { trialId: "t1", value: Number.POSITIVE_INFINITY }, "maximize", 3)).toThrow(RangeError);
    expect(() => decideAtRung(rung(Number.NaN), { trialId: "t2", value: 0.5 }, "maximize", 3)).toThrow(/non-finite/);
    expect(() => decideAtRung(rung(0.5), { trialId: "t2", value: 0.5 }, "maximize", 1)).toThrow(/reductionFactor/);
  });
});
