/** A seeded PRNG (mulberry32): the same seed writes the same dataset, so runs can be repeated. */
export interface Rng {
  next(): number;
  int(minInclusive: number, maxInclusive: number): number;
  pick<T>(items: readonly T[]): T;
  chance(probability: number): boolean;
  /** `count` distinct integers from [0, n), in random order; count is capped at n. */
  distinct(n: number, count: number): number[];
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (probability) => next() < probability,
    distinct(n, count) {
      const wanted = Math.min(n, count);
      // Sparse picks use a set; dense ones a partial Fisher-Yates over the whole range.
      if (wanted * 4 < n) {
        const seen = new Set<number>();
        while (seen.size < wanted) seen.add(Math.floor(next() * n));
        return [...seen];
      }
      const all = Array.from({ length: n }, (_, i) => i);
      for (let i = 0; i < wanted; i++) {
        const j = int(i, n - 1);
        [all[i], all[j]] = [all[j]!, all[i]!];
      }
      return all.slice(0, wanted);
    },
  };
}
