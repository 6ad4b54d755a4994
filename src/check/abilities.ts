import { createMongoAbility, type MongoAbility } from '@casl/ability';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { compileRules, type CompiledRule } from '../policy/compiler.js';
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

/** Turns loaded rows into compiler input: admin permissions always come from the policy files (D9). */
export function compileLoaded(policies: Policies, loaded: LoadedPrincipal): CompiledRule[] {
  const membership = loaded.membership;
  const companyRolePermissions =
    membership?.role === 'admin' ? policies.companyRoles.admin : (loaded.companyRolePermissions ?? (membership ? policies.companyRoles[membership.role] : []));
  return compileRules(policies.catalog, { membership, companyRolePermissions, projectGrants: loaded.projectGrants });
}

export function createAbilityProvider(options: AbilityProviderOptions): AbilityProvider {
  const { policies, source, rulesCache, bus, metrics, logger } = options;
  const now = options.now ?? Date.now;
  const l1 = new LruCache<string, PrincipalAbility>(options.maxEntries);
  const inFlight = new Map<string, Promise<PrincipalAbility>>();
  bus.onReconnect(() => l1.clear());
  // Bound once: resolving a labelled child per request would hash the labels on the hot path.
  const l1Hits = metrics.cacheLookups.labels({ tier: 'l1', result: 'hit' });
  const l1Misses = metrics.cacheLookups.labels({ tier: 'l1', result: 'miss' });

  const entryFor = (rules: CompiledRule[], version: string): PrincipalAbility => ({
    ability: createMongoAbility(rules),
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

  function peek(companyId: string, userId: string, minVersion: bigint | undefined): PrincipalAbility | undefined {
    const entry = l1.get(`${companyId} ${userId}`);
    if (entry === undefined) return undefined;
    if (now() - entry.validatedAt > options.maxStalenessMs) return undefined;
    const known = bus.knownVersion(companyId);
    if (known !== undefined && entry.version < known) return undefined;
    if (minVersion !== undefined && entry.version < minVersion) return undefined;
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

  async function loadFresh(key: string, companyId: string, userId: string, minVersion: bigint | undefined): Promise<PrincipalAbility> {
    const cached = l1.get(key);
    const floor = floorFor(companyId, minVersion);
    const started = now();

    let currentVersion: string | null;
    const l2Promise = cached ? null : fromL2(companyId, userId);
    try {
      currentVersion = await source.readVersion(companyId);
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
      l1.set(key, entry);
      return entry;
    }

    let loaded: LoadedPrincipal;
    try {
      loaded = await source.loadPrincipal(companyId, userId);
    } catch (error) {
      metrics.dependencyErrors.inc({ dependency: 'postgres' });
      throw new UnavailableError('the policy store is unreachable', { dependency: 'postgres' });
    }
    const rules = compileLoaded(policies, loaded);
    const loadedVersion = loaded.version ?? '0';
    const entry = entryFor(rules, loadedVersion);
    metrics.compileDuration.observe((now() - started) / 1000);
    l1.set(key, entry);
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
    const promise = loadFresh(key, companyId, userId, minVersion).finally(() => {
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
    clear: () => l1.clear(),
    get size() {
      return l1.size;
    },
  };
}
