import { createMongoAbility, mongoQueryMatcher, type MatchConditions, type MongoAbility, type MongoQuery } from '@casl/ability';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { compileStoredPrincipal, type CompiledRule } from '../policy/compiler.js';
import type { Policies } from '../policy/catalog.js';
import type { LoadedPrincipal } from '../store/principal-facts.js';
import { UnavailableError } from '../errors.js';
import { LruCache } from './lru.js';
import type { PolicyBus } from './policy-bus.js';
import type { RulesCache } from './rules-cache.js';

export interface PrincipalAbility {
  readonly ability: MongoAbility;
  readonly rules: readonly CompiledRule[];
  /** Policy version of the data the rules were compiled from. */
  readonly version: bigint;
  readonly versionText: string;
  /** When the entry was last confirmed current against PostgreSQL. */
  validatedAt: number;
}

/** What the provider needs from the store: two narrow reads, so tests and the bench can wrap them. */
export interface PrincipalSource {
  readVersion(companyId: string): Promise<string | null>;
  loadPrincipal(companyId: string, userId: string): Promise<LoadedPrincipal>;
}

export interface AbilityProvider {
  /** The cached ability when it can be trusted as is; no I/O, for the hot path. */
  peek(companyId: string, userId: string, minVersion: bigint | undefined): PrincipalAbility | undefined;
  /** Loads (or re-validates) through L2 and PostgreSQL; concurrent callers for one principal share one load. */
  load(companyId: string, userId: string, minVersion: bigint | undefined): Promise<PrincipalAbility>;
  get(companyId: string, userId: string, minVersion: bigint | undefined): Promise<PrincipalAbility> | PrincipalAbility;
  clear(): void;
  readonly size: number;
}

export interface AbilityProviderOptions {
  policies: Policies;
  source: PrincipalSource;
  rulesCache: RulesCache | null;
  bus: PolicyBus;
  maxEntries: number;
  maxStalenessMs: number;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
}

/**
 * Matches the conditions the compiler writes, `{attr: {$in: [ids]}}`, with a Set: CASL's
 * general matcher walks the list through ucast's interpreter on every check, which the
 * warm-path profile showed as the larger part of a decision. Same answers as ucast's `$in`
 * (strict equality with one of the ids; an array value matches when any element does);
 * any other shape of condition goes to CASL's own matcher.
 */
function inListMatcher(conditions: MongoQuery): MatchConditions | null {
  const keys = Object.keys(conditions);
  if (keys.length !== 1 || keys[0]!.includes('.')) return null;
  const attribute = keys[0]!;
  const operand = (conditions as Record<string, unknown>)[attribute];
  if (typeof operand !== 'object' || operand === null || Object.keys(operand).length !== 1) return null;
  const list = (operand as { $in?: unknown }).$in;
  if (!Array.isArray(list) || !list.every((id) => typeof id === 'string')) return null;
  const ids = new Set<unknown>(list);
  const match = (object: Record<string, unknown>) => {
    const value = object?.[attribute];
    return Array.isArray(value) ? value.some((v) => ids.has(v)) : ids.has(value);
  };
  // CASL reads `ast` only to turn rules into queries; built from its own matcher, on demand.
  let general: MatchConditions | undefined;
  Object.defineProperty(match, 'ast', { get: () => (general ??= mongoQueryMatcher(conditions) as MatchConditions).ast });
  return match as MatchConditions;
}

const conditionsMatcher = (conditions: MongoQuery): MatchConditions => inListMatcher(conditions) ?? (mongoQueryMatcher(conditions) as MatchConditions);

/** The ability /v1/check decides with; the policy test runner builds the same one. */
export const createCheckAbility = (rules: CompiledRule[]): MongoAbility => createMongoAbility(rules, { conditionsMatcher });

/**
 * The latest version read from PostgreSQL per company, and when the read started (so a
 * confirmation never claims to be newer than the data it saw). Trusted for the same
 * bound as an entry of its own.
 */
function createConfirmations(maxStalenessMs: number) {
  const reads = new Map<string, { version: string; at: number }>();
  return {
    note(companyId: string, version: string, at: number): void {
      const known = reads.get(companyId);
      if (known === undefined || at >= known.at) reads.set(companyId, { version, at });
    },
    /** When `version` was last confirmed current for the company, if within the bound at `now`. */
    at(companyId: string, version: string, now: number): number | undefined {
      const read = reads.get(companyId);
      return read !== undefined && read.version === version && now - read.at <= maxStalenessMs ? read.at : undefined;
    },
    clear: () => reads.clear(),
  };
}

export function createAbilityProvider(options: AbilityProviderOptions): AbilityProvider {
  const { policies, source, rulesCache, bus, metrics, logger } = options;
  const now = options.now ?? Date.now;
  const l1 = new LruCache<PrincipalAbility>(options.maxEntries);
  const inFlight = new Map<string, Promise<PrincipalAbility>>();
  const confirmed = createConfirmations(options.maxStalenessMs);
  const clear = () => {
    l1.clear();
    confirmed.clear();
  };
  bus.onReconnect(clear);
  // Bound once: resolving a labelled child per request would hash the labels on the hot path.
  const l1Hits = metrics.cacheLookups.labels({ tier: 'l1', result: 'hit' });
  const l1Misses = metrics.cacheLookups.labels({ tier: 'l1', result: 'miss' });

  const entryFor = (rules: CompiledRule[], version: string): PrincipalAbility => ({
    ability: createCheckAbility(rules),
    rules,
    version: BigInt(version),
    versionText: version,
    validatedAt: now(),
  });

  /** The oldest version an answer may come from: what the caller asks for and what this instance has heard of. */
  const floorFor = (companyId: string, minVersion: bigint | undefined): bigint => {
    const known = bus.knownVersion(companyId) ?? 0n;
    return minVersion !== undefined && minVersion > known ? minVersion : known;
  };

  /**
   * Past the staleness bound an entry is still current when its company's version, read
   * from PostgreSQL within the bound (for any principal), is the entry's own: one read per
   * company and bound re-validates all of its principals, instead of one read each.
   */
  function isFresh(entry: PrincipalAbility, companyId: string, at: number): boolean {
    if (at - entry.validatedAt <= options.maxStalenessMs) return true;
    const readAt = confirmed.at(companyId, entry.versionText, at);
    if (readAt === undefined) return false;
    entry.validatedAt = readAt;
    metrics.staleRefreshes.inc({ result: 'kept' });
    return true;
  }

  function peek(companyId: string, userId: string, minVersion: bigint | undefined): PrincipalAbility | undefined {
    const entry = l1.get(companyId, userId);
    if (entry === undefined) return undefined;
    const known = bus.knownVersion(companyId);
    if (known !== undefined && entry.version < known) return undefined;
    if (minVersion !== undefined && entry.version < minVersion) return undefined;
    // Last, because it may renew the entry: only an entry otherwise usable is renewed.
    if (!isFresh(entry, companyId, now())) return undefined;
    return entry;
  }

  async function fromL2(companyId: string, userId: string): Promise<{ version: string; rules: CompiledRule[] } | null> {
    if (!rulesCache) return null;
    try {
      const hit = await rulesCache.get(companyId, userId);
      metrics.cacheLookups.inc({ tier: 'l2', result: hit ? 'hit' : 'miss' });
      return hit;
    } catch (error) {
      metrics.dependencyErrors.inc({ dependency: 'redis' });
      logger.warn({ err: error }, 'redis unavailable for the rules cache: answering from PostgreSQL (degraded)');
      return null;
    }
  }

  async function loadFresh(companyId: string, userId: string, minVersion: bigint | undefined): Promise<PrincipalAbility> {
    const cached = l1.get(companyId, userId);
    const floor = floorFor(companyId, minVersion);
    const started = now();

    let currentVersion: string | null;
    const l2Promise = cached ? null : fromL2(companyId, userId);
    try {
      currentVersion = await source.readVersion(companyId);
      confirmed.note(companyId, currentVersion ?? '0', started);
    } catch (error) {
      metrics.dependencyErrors.inc({ dependency: 'postgres' });
      // PostgreSQL is away: an entry already cached may still answer (degraded), if new enough.
      const l2Hit = cached ? null : await (l2Promise ?? fromL2(companyId, userId));
      const fallback = cached ?? (l2Hit ? entryFor(l2Hit.rules, l2Hit.version) : undefined);
      if (fallback && fallback.version >= floor) {
        logger.warn({ err: error, companyId }, 'postgres unavailable: answering from cache (degraded)');
        return fallback;
      }
      throw new UnavailableError('the policy store is unreachable and nothing usable is cached', { dependency: 'postgres' });
    }

    const version = currentVersion ?? '0';
    if (cached && cached.versionText === version) {
      cached.validatedAt = now();
      metrics.staleRefreshes.inc({ result: 'kept' });
      return cached;
    }
    if (cached) metrics.staleRefreshes.inc({ result: 'reloaded' });

    const l2 = l2Promise ? await l2Promise : null;
    if (l2 && l2.version === version) {
      const entry = entryFor(l2.rules, l2.version);
      l1.set(companyId, userId, entry);
      return entry;
    }

    let loaded: LoadedPrincipal;
    const loadStarted = now();
    try {
      loaded = await source.loadPrincipal(companyId, userId);
    } catch (error) {
      metrics.dependencyErrors.inc({ dependency: 'postgres' });
      throw new UnavailableError('the policy store is unreachable', { dependency: 'postgres' });
    }
    const rules = compileStoredPrincipal(policies, loaded);
    const loadedVersion = loaded.version ?? '0';
    confirmed.note(companyId, loadedVersion, loadStarted);
    const entry = entryFor(rules, loadedVersion);
    metrics.compileDuration.observe((now() - started) / 1000);
    l1.set(companyId, userId, entry);
    if (rulesCache && loaded.version !== null) {
      rulesCache.set(companyId, userId, loadedVersion, rules).catch(() => metrics.dependencyErrors.inc({ dependency: 'redis' }));
    }
    return entry;
  }

  function load(companyId: string, userId: string, minVersion: bigint | undefined): Promise<PrincipalAbility> {
    const key = `${companyId} ${userId}`;
    const pending = inFlight.get(key);
    // A load already under way serves this caller too, unless it may be older than the caller needs.
    if (pending && minVersion === undefined) return pending;
    const promise = loadFresh(companyId, userId, minVersion).finally(() => {
      if (inFlight.get(key) === promise) inFlight.delete(key);
    });
    inFlight.set(key, promise);
    return promise;
  }

  return {
    peek,
    load,
    get(companyId, userId, minVersion) {
      const hit = peek(companyId, userId, minVersion);
      if (hit) {
        l1Hits.inc();
        return hit;
      }
      l1Misses.inc();
      return load(companyId, userId, minVersion);
    },
    clear,
    get size() {
      return l1.size;
    },
  };
}
