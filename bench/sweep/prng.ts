/**
 * A small deterministic PRNG for the sweep simulation: the same seed gives the same sweep, on
 * every machine and Node version (Math.random cannot be seeded).
 *
 * Streams are named: `stream(seed, "noise", trialIndex)` is independent of
 * `stream(seed, "interrupt", trialIndex)`, so a policy that draws more (random stopping) never
 * shifts the curves or the interruptions the other policies see (common random numbers: the
 * policies are compared on the very same trials and spot events).
 */

/** A source of uniform numbers in [0, 1). */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
}

/** FNV-1a over the text, then mixed; a 32-bit seed for one named stream. */
function hashSeed(parts: readonly (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const char of parts.join("\u0000")) {
    h ^= char.codePointAt(0)!;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** mulberry32: 32-bit state, full period 2^32, good enough for a simulation (not for secrets). */
class Mulberry32 implements Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** An independent stream named by the seed and any labels (trial index, purpose). */
export function stream(seed: number, ...labels: readonly (string | number)[]): Random {
  return new Mulberry32(hashSeed([seed, ...labels]));
}

/** Standard normal (Box–Muller; one value per call, the second is dropped for simplicity). */
export function normal(random: Random): number {
  const u = 1 - random.next(); // (0, 1]: log never sees 0
  const v = random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Exponential with the given rate (mean 1/rate); Infinity when the rate is 0. */
export function exponential(random: Random, rate: number): number {
  if (rate <= 0) return Infinity;
  return -Math.log(1 - random.next()) / rate;
}

/** Uniform in [low, high). */
export function uniform(random: Random, low: number, high: number): number {
  return low + (high - low) * random.next();
}

/** One element, uniformly. */
export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random.next() * items.length)]!;
}
