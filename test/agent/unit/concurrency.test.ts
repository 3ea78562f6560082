import { concurrencyLimit } from "../../../agent/concurrency";

/** A job that runs until the test lets it end, noting when it started. */
function gate<T>(value: T): { job: () => Promise<T>; started: () => boolean; finish: () => void; fail: (error: Error) => void } {
  let started = false;
  let finish!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<T>((resolve, reject) => {
    finish = () => resolve(value);
    fail = reject;
  });
  return {
    job: () => {
      started = true;
      return done;
    },
    started: () => started,
    finish: () => finish(),
    fail: (error) => fail(error),
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("concurrencyLimit", () => {
  it("runs at most the limit at once, starting the waiting jobs in order as others end", async () => {
    const limit = concurrencyLimit(2);
    const jobs = [gate("a"), gate("b"), gate("c"), gate("d")];
    const results = jobs.map((j) => limit(j.job));
    await settle();
    expect(jobs.map((j) => j.started())).toEqual([true, true, false, false]);
    jobs[1]!.finish();
    await settle();
    expect(jobs.map((j) => j.started())).toEqual([true, true, true, false]);
    jobs[0]!.finish();
    jobs[2]!.finish();
    await settle();
    expect(jobs[3]!.started()).toBe(true);
    jobs[3]!.finish();
    await expect(Promise.all(results)).resolves.toEqual(["a", "b", "c", "d"]);
  });

  it("hands a failure to that job's caller only, and frees its place", async () => {
    const limit = concurrencyLimit(1);
    const failing = gate("x");
    const next = gate("y");
    const first = limit(failing.job);
    const second = limit(next.job);
    failing.fail(new Error("upload failed"));
    await expect(first).rejects.toThrow("upload failed");
    await settle();
    expect(next.started()).toBe(true);
    next.finish();
    await expect(second).resolves.toBe("y");
  });

  it("counts a job that throws before returning a promise as a failed job", async () => {
    const limit = concurrencyLimit(1);
    await expect(limit(() => {
      throw new Error("no file");
    })).rejects.toThrow("no file");
    await expect(limit(async () => "after")).resolves.toBe("after");
  });

  it("refuses a limit below one", () => {
    expect(() => concurrencyLimit(0)).toThrow(RangeError);
  });
});
