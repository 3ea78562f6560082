import { applyEvent, reduceEvents, startRecord, type RunEvent } from "../../../agent/runRecord";
import { FINAL_PHASES, parseStoredRecord, type RungOutcome } from "../../../runspec/runRecord";

/** A sweep trial's rungs and the final `stopped-early` phase in the run record (issue 12). */

const T0 = Date.parse("2026-03-01T10:00:00.000Z");
const fresh = () => startRecord({ runId: "r1", previous: null, atMs: T0, trainingPhases: 1, firstPhaseEpochs: 10, usdPerHour: 3.6 });
const rung = (k: number, promote: boolean, value = 0.3, cutoff: number | null = null): RungOutcome => ({ rung: k, epoch: k * 3 + 1, value, promote, cutoff, earlier: cutoff === null ? 0 : 2 });
const decided = (atMs: number, outcome: RungOutcome): RunEvent => ({ type: "rung-decided", atMs, outcome });

describe("the run record of a sweep trial", () => {
  it("has no sweep part for a run that decided no rung", () => {
    expect(fresh().record.sweep).toBeNull();
  });

  it("keeps each rung's decision once, in rung order, a repeated decision replacing the earlier", () => {
    const state = reduceEvents(fresh(), [decided(T0 + 1000, rung(1, true, 0.4, 0.35)), decided(T0 + 2000, rung(0, true)), decided(T0 + 3000, rung(0, true))]);
    expect(state.record.sweep).toEqual({ rungs: [rung(0, true), rung(1, true, 0.4, 0.35)], stoppedAt: null });
    expect(state.record.phase).toBe("starting");
  });

  it("ends in stopped-early with what stopped it, without an error, as a final phase", () => {
    const stop = rung(0, false, 0.2, 0.55);
    const state = reduceEvents(fresh(), [
      { type: "trainer-started", atMs: T0 + 1000 },
      decided(T0 + 2000, stop),
      { type: "ended", atMs: T0 + 3000, phase: "stopped-early", note: "stopped early by the sweep at rung 0 (epoch 1)", stoppedAt: { rung: 0, epoch: 1, value: 0.2, cutoff: 0.55, earlier: 2 } },
    ]);
    expect(state.record).toMatchObject({
      phase: "stopped-early",
      error: null,
      sweep: { rungs: [stop], stoppedAt: { rung: 0, epoch: 1, value: 0.2, cutoff: 0.55, earlier: 2 } },
    });
    expect(state.record.history.at(-1)).toMatchObject({ phase: "stopped-early", note: "stopped early by the sweep at rung 0 (epoch 1)" });
    expect(state.record.trainingSeconds).toBe(2);
    expect(FINAL_PHASES).toEqual(["completed", "stopped-early"]);
  });

  it("round-trips through parseStoredRecord and carries the rungs to the next node, without a stop", () => {
    const written = applyEvent(applyEvent(fresh(), decided(T0 + 1000, rung(0, true))), { type: "ended", atMs: T0 + 2000, phase: "interrupted", note: "spot" }).record;
    const read = parseStoredRecord(JSON.parse(JSON.stringify(written)), "r1");
    expect(read).toEqual(written);
    const next = startRecord({ runId: "r1", previous: read, atMs: T0 + 5000, trainingPhases: 1, firstPhaseEpochs: 10, usdPerHour: 3.6 });
    expect(next.record.sweep).toEqual({ rungs: [rung(0, true)], stoppedAt: null });
  });

  it("reads stopped-early records, and drops malformed sweep parts leniently", () => {
    const base = JSON.parse(JSON.stringify(fresh().record)) as Record<string, unknown>;
    const stopped = parseStoredRecord({ ...base, phase: "stopped-early", sweep: { rungs: [rung(0, false, 0.2, 0.5), { rung: -1 }, "x"], stoppedAt: { rung: 0, epoch: 1, value: 0.2, cutoff: 0.5, earlier: 2 } } }, "r1");
    expect(stopped?.phase).toBe("stopped-early");
    expect(stopped?.sweep).toEqual({ rungs: [rung(0, false, 0.2, 0.5)], stoppedAt: { rung: 0, epoch: 1, value: 0.2, cutoff: 0.5, earlier: 2 } });
    expect(parseStoredRecord({ ...base, sweep: "no" }, "r1")?.sweep).toBeNull();
    expect(parseStoredRecord({ ...base, sweep: { rungs: [], stoppedAt: { rung: 0, epoch: 1, value: null, earlier: 0 } } }, "r1")?.sweep).toEqual({ rungs: [], stoppedAt: null });
    // Records written before sweeps existed.
    const { sweep: _none, ...old } = base;
    expect(parseStoredRecord(old, "r1")?.sweep).toBeNull();
  });
});
