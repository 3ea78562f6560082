import { describeSweepStop, exitCodeOfPhase, renderRunStatus, runStatus, STATUS_EXIT_CODES, STATUS_EXIT_HELP } from "../../cli/runStatus";
import { NOW, recordAt } from "./commands/operateHarness";

/** `status` of a sweep trial that the sweep's early stopping stopped (issue 12). */
describe("status of a stopped-early sweep trial", () => {
  const stoppedAt = { rung: 0, epoch: 1, value: 0.2, cutoff: 0.55, earlier: 2 };
  const record = { ...recordAt({ epoch: 1 }), phase: "stopped-early" as const, sweep: { rungs: [{ ...stoppedAt, promote: false }], stoppedAt } };

  it("has its own exit code, 12, listed in the help", () => {
    expect(exitCodeOfPhase("stopped-early")).toBe(12);
    expect(STATUS_EXIT_CODES.stoppedEarly).toBe(12);
    expect(STATUS_EXIT_HELP).toMatch(/^ {2}12 {2}stopped-early: /m);
  });

  it("shows the rung, epoch, value and cutoff on its phase line, with nothing left to train", () => {
    const s = runStatus(record, null, NOW);
    expect(s.exitCode).toBe(12);
    expect(s.etaSeconds).toBe(0);
    expect(s.estimatedTotalUsd).toBe(record.estimatedCostUsd);
    expect(renderRunStatus(s)).toMatch(/^phase {5}stopped-early: stopped early by the sweep at rung 0 \(epoch 1\): value 0\.2 < cutoff 0\.55, judged against 2 earlier trials$/m);
  });

  it("says > for a minimized metric, and copes with a record without the details", () => {
    expect(describeSweepStop({ rung: 2, epoch: 9, value: 1.5, cutoff: 1.2, earlier: 1 })).toBe("stopped early by the sweep at rung 2 (epoch 9): value 1.5 > cutoff 1.2, judged against 1 earlier trial");
    expect(describeSweepStop(null)).toBe("stopped early by the sweep");
    expect(describeSweepStop({ rung: 0, epoch: 1, value: -Number.MAX_VALUE, cutoff: 0.1, earlier: 1 })).toBe("stopped early by the sweep at rung 0 (epoch 1): value missing (judged worst) < cutoff 0.1, judged against 1 earlier trial");
  });
});
