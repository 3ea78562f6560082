/**
 * A bound on how many jobs run at once: `limit(job)` starts `job` when fewer than `max` of the
 * jobs given to it are running, else when one of them ends, in the order they were given, and
 * returns the job's own promise (a failure rejects only that job's promise).
 */
export function concurrencyLimit(max: number): <T>(job: () => Promise<T>) => Promise<T> {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${max}`);
  let running = 0;
  const waiting: Array<() => void> = [];
  const next = (): void => {
    running--;
    waiting.shift()?.();
  };
  return <T>(job: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const start = (): void => {
        running++;
        // A job that throws before returning its promise counts as a failed job, not a stuck slot.
        Promise.resolve()
          .then(job)
          .then(resolve, reject)
          .finally(next);
      };
      if (running < max) start();
      else waiting.push(start);
    });
}
