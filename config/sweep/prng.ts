/**
 * mulberry32: a tiny 32-bit pseudo-random generator (Tommy Ettinger's, public domain), for drawing
 * a random sweep's trials. It uses only 32-bit integer arithmetic (`Math.imul`, shifts, `>>> 0`),
 * which JavaScript defines exactly, so a seed gives the same sequence on every machine, Node
 * version and CPU: the same `seed` is the same trials, hence the same run ids, everywhere.
 * Not for cryptography; its 2^32 period is far more than a sweep of at most 256 trials needs.
 *
 * @param seed a whole number; taken modulo 2^32
 * @returns a function returning the next number in [0, 1) on each call
 * @see https://gist.github.com/tommyettinger/46a874533244883189143505d203312c
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
