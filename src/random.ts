/** A small seeded pseudo-random generator (mulberry32): the same seed gives the same sequence. */
export type Random = () => number;

/** Numbers in [0, 1) from a 32-bit seed. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `base` scaled by a factor drawn uniformly from [1 - jitter, 1 + jitter]. */
export function jittered(random: Random, base: number, jitter: number): number {
  return base * (1 + jitter * (2 * random() - 1));
}
