/**
 * Tokens already verified, keyed by the whole token string: the check API may carry the
 * same end-user token on every request, and a Map lookup is thousands of times cheaper than
 * a signature check. Only successes are kept, never past the token's `exp`, and never
 * longer than `maxTtlMs`, which bounds how long a key removed from a JWKS (or a
 * configuration change) goes unnoticed for tokens already seen.
 */
export interface VerifiedTokenCache<T> {
  get(token: string, nowMs?: number): T | undefined;
  set(token: string, value: T, expSeconds: number, nowMs?: number): void;
  readonly size: number;
}

export interface TokenCacheOptions {
  maxEntries: number;
  maxTtlMs: number;
  /** Longer tokens are verified every time rather than held in memory. */
  maxTokenLength: number;
}

/** Until when a token verified at `nowMs` may be answered from the cache; null when not at all. */
export function cacheDeadline(expSeconds: number, nowMs: number, maxTtlMs: number): number | null {
  const deadline = Math.min(expSeconds * 1000, nowMs + maxTtlMs);
  return deadline > nowMs ? deadline : null;
}

export function createVerifiedTokenCache<T>(options: TokenCacheOptions): VerifiedTokenCache<T> {
  const entries = new Map<string, { value: T; until: number }>();
  return {
    get(token, nowMs = Date.now()) {
      const entry = entries.get(token);
      if (!entry) return undefined;
      if (entry.until <= nowMs) {
        entries.delete(token);
        return undefined;
      }
      return entry.value;
    },
    set(token, value, expSeconds, nowMs = Date.now()) {
      if (token.length > options.maxTokenLength) return;
      const until = cacheDeadline(expSeconds, nowMs, options.maxTtlMs);
      if (until === null) return;
      entries.delete(token);
      entries.set(token, { value, until });
      // Oldest insertion first: a bounded FIFO is enough, hot tokens come straight back.
      if (entries.size > options.maxEntries) entries.delete(entries.keys().next().value!);
    },
    get size() {
      return entries.size;
    },
  };
}
