import fc from "fast-check";
import { NOT_IDLE, observeGpu, parseGpuUtilisation, type IdleState } from "../../../agent/idleDetector";

const limits = { idleGpuPercent: 5, idleAfterMs: 60_000 };

function run(samples: Array<[number, number[] | null]>) {
  let state: IdleState = NOT_IDLE;
  return samples.map(([atMs, utilisation]) => {
    const verdict = observeGpu(state, { atMs, utilisation }, limits);
    state = verdict.state;
    return verdict;
  });
}

describe("observeGpu", () => {
  it("calls training hung once the busiest GPU stayed below the threshold for the idle time", () => {
    const verdicts = run([
      [0, [2, 1]],
      [30_000, [0, 4]],
      [60_000, [3, 3]],
    ]);
    expect(verdicts.map((v) => v.hung)).toEqual([false, false, true]);
    expect(verdicts[2]?.idleForMs).toBe(60_000);
  });

  it("judges by the busiest GPU: one working GPU is not idle", () => {
    expect(run([[0, [0, 0, 0, 97]], [120_000, [0, 0, 0, 97]]]).some((v) => v.idle)).toBe(false);
  });

  it("restarts the clock on a busy sample", () => {
    const verdicts = run([
      [0, [0]],
      [50_000, [80]],
      [70_000, [0]],
      [110_000, [0]],
      [130_000, [0]],
    ]);
    expect(verdicts.map((v) => v.hung)).toEqual([false, false, false, false, true]);
  });

  it("treats a failed query as missing data, not idle, and restarts the clock", () => {
    const verdicts = run([
      [0, [0]],
      [40_000, null],
      [70_000, [0]],
      [100_000, [0]],
    ]);
    expect(verdicts.map((v) => v.hung)).toEqual([false, false, false, false]);
    expect(verdicts[1]?.idle).toBe(false);
  });

  it("counts the threshold itself as busy (below means strictly below)", () => {
    expect(run([[0, [5]], [120_000, [5]]]).some((v) => v.idle)).toBe(false);
  });

  it("never calls hung before the idle time has passed since the first idle sample", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 40_000 }), fc.option(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 8 }), { nil: null })), { maxLength: 30 }),
        (steps) => {
          let at = 0;
          let state: IdleState = NOT_IDLE;
          let idleSince: number | null = null;
          for (const [gap, utilisation] of steps) {
            at += gap;
            const idle = utilisation !== null && Math.max(...utilisation) < limits.idleGpuPercent;
            idleSince = idle ? (idleSince ?? at) : null;
            const verdict = observeGpu(state, { atMs: at, utilisation }, limits);
            state = verdict.state;
            if (verdict.hung !== (idleSince !== null && at - idleSince >= limits.idleAfterMs)) return false;
          }
          return true;
        },
      ),
    );
  });
});

describe("parseGpuUtilisation", () => {
  it.each([
    ["one GPU", "97\n", [97]],
    ["eight GPUs", "0\n1\n2\n3\n4\n5\n6\n100\n", [0, 1, 2, 3, 4, 5, 6, 100]],
    ["values with a percent sign and spaces", " 12 %\r\n 7 %\r\n", [12, 7]],
    ["a GPU reporting [N/A] beside a number", "[N/A]\n40\n", [40]],
  ])("reads %s", (_label, stdout, expected) => {
    expect(parseGpuUtilisation(stdout)).toEqual(expected);
  });

  it.each([["empty output", ""], ["an error message", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."]])(
    "returns null (missing data) for %s",
    (_label, stdout) => {
      expect(parseGpuUtilisation(stdout)).toBeNull();
    },
  );
});
