import { createMongoAbility, mongoQueryMatcher, type MatchConditions, type MongoAbility, type MongoQuery } from '@casl/ability';
import type { Logger } from '../log.js';
import type { LoadPhase, Metrics } from '../metrics.js';
import { compileStoredPrincipal, type CompiledRule } from '../policy/compiler.js';
import type { Policies } from '../policy/catalog.js';
import type { LoadedPrincipal } from '../store/principal-facts.js';
import { UnavailableError } from '../errors.js';
import { CompactAbility, createCompactAbilities, inListOf, type Prefix, type RuleFinder } from './compact-ability.js';
import { ID_PATTERN } from '../policy/catalog.js';
import { shown } from './decide.js';
import { LruCache } from './lru.js';
import { createProjectSets, NO_PROJECTS, type ProjectSet } from './project-sets.js';
import type { PolicyBus } from './policy-bus.js';
import type { RulesCache } from './rules-cache.js';
import type { PrincipalSource } from './source.js';

export interface PrincipalAbility {
  readonly ability: RuleFinder;
  /** Rebuilt on each read (the rules endpoint, /v1/accessible): entries keep the compact form only. */
  readonly rules: readonly CompiledRule[];
  /** The company's registered projects at `version` (D15): one Set shared by the company's principals at that version. */
  readonly projects: ReadonlySet<string>;
  /** Policy version of the data the rules were compiled from. */
  readonly version: bigint;
  readonly versionText: string;
  /** When the entry was last confirmed current against PostgreSQL. */
  validatedAt: number;
  /** Why the principal holds nothing, when that is so for a reason of their own (no such company, not an active member): every deny says it. */
  readonly standing: string | undefined;
}

export type { PrincipalSource } from './source.js';

export interface AbilityProvider {
  /** The cached ability when it can be trusted as is; no I/O, for the hot path. */
  peek(companyId: string, userId: string, minVersion: bigint | undefined): PrincipalAbility | undefined;
  /**
   * Loads (or re-validates) through L2 and PostgreSQL; concurrent callers for one principal
   * share one load. Never answers from a version older than `minVersion` or than the newest
   * this instance has heard of: UnavailableError instead.
   */
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
  /** CACHE_MAX_DEGRADED_MS: how long after its last confirmation a cached entry may answer while PostgreSQL cannot be read (default 30 s). */
  maxDegradedMs?: number;
  /** CACHE_L2_WAIT_MS: how long a load waits for the L2 lookup before it reads PostgreSQL anyway (default 5 ms). */
  l2WaitMs?: number;
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
  const list = inListOf(conditions);
  if (list === null) return null;
  const { attribute } = list;
  const ids = new Set<unknown>(list.ids);
  const match = (object: Record<string, unknown>) => {
    const value = object?.[attribute];
    return Array.isArray(value) ? value.some((v) => ids.has(v)) : ids.has(value);
  };
  // CASL reads `ast` only to turn rules into queries; built from its own matcher, on demand.
  let general: MatchConditions | undefined;
  Object.defineProperty(match, 'ast', { get: () => (general ??= mongoQueryMatcher(conditions) as MatchConditions).ast });
  return match as MatchConditions;
}

/** Rules a principal was compiled to, as L2 keeps them. */
type L2Rules = { version: string; rules: CompiledRule[] };
/** What an L2 lookup found: rules, nothing (null), or no answer because Redis failed. */
type L2Lookup = L2Rules | null | typeof L2_FAILED;

const L2_FAILED = Symbol('l2 failed');
const LATE = Symbol('late');

/**
 * The promise's value, or LATE when it has not settled within `ms` (it keeps running). LATE is
 * given one turn of the event loop after the timer: timers run before sockets are read, so when
 * the loop was busy past `ms`, an answer already received is taken first, not called late.
 */
function answeredWithin<T>(promise: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => setImmediate(resolve, LATE), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const conditionsMatcher = (conditions: MongoQuery): MatchConditions => inListMatcher(conditions) ?? (mongoQueryMatcher(conditions) as MatchConditions);

/** The ability /v1/check decides with; the policy test runner builds the same one. */
export const createCheckAbility = (rules: CompiledRule[]): MongoAbility => createMongoAbility(rules, { conditionsMatcher });

/**
 * The latest version read from PostgreSQL per company, and when the read started (so a
 * confirmation never claims to be newer than the data it saw). Trusted for the same
 * bound as an entry of its own. Bounded: every company id a check names is read, existing
 * or not, and a confirmation only serves companies with cached principals, which L1
 * bounds; the company read least recently goes first, costing at most one more read.
 */
function createConfirmations(maxStalenessMs: number, maxCompanies: number) {
  const reads = new Map<string, { version: string; at: number }>();
  return {
    note(companyId: string, version: string, at: number): void {
      const known = reads.get(companyId);
      if (known !== undefined && at < known.at) return;
      reads.delete(companyId);
      reads.set(companyId, { version, at });
      if (reads.size > maxCompanies) reads.delete(reads.keys().next().value!);
    },
    /** When `version` was last confirmed current for the company, if within the bound at `now`. */
    at(companyId: string, version: string, now: number): number | undefined {
      const read = reads.get(companyId);
      return read !== undefined && read.version === version && now - read.at <= maxStalenessMs ? read.at : undefined;
    },
    /** When `version` was last read as the company's current one, however long ago. */
    lastAt(companyId: string, version: string): number | undefined {
      const read = reads.get(companyId);
      return read?.version === version ? read.at : undefined;
    },
    forget: (companyId: string) => void reads.delete(companyId),
    clear: () => reads.clear(),
  };
}

/**
 * An L1 entry: the principal's compact ability (compact-ability.ts: shared prefix, own
 * project lists) with the company's project set and version, all shared, in one object.
 */
class CachedAbility extends CompactAbility implements PrincipalAbility {
  constructor(
    prefix: Prefix,
    groups: readonly unknown[],
    readonly projects: ReadonlySet<string>,
    readonly version: bigint,
    readonly versionText: string,
    public validatedAt: number,
    readonly standing: string | undefined,
  ) {
    super(prefix, groups);
  }

  get ability(): RuleFinder {
    return this;
  }
}

/** One load of one principal, numbered as loads start: a caller knows whether it started after it was called. */
interface Flight {
  readonly id: number;
  readonly result: Promise<Loaded>;
}

interface Loaded {
  readonly entry: PrincipalAbility;
  /** False for a cached entry answering because PostgreSQL could not be read: nothing says its version is the store's. */
  readonly current: boolean;
}

/** The refusal of a load that read the store after the caller's floor was known and found an older version. */
function storeBehind(currentVersion: string, floor: bigint, minVersion: bigint | undefined): UnavailableError {
  if (minVersion === floor) {
    return new UnavailableError(`the company's policy version is ${currentVersion}, older than the minVersion ${minVersion} asked for`, {
      currentVersion,
      minVersion: String(minVersion),
    });
  }
  return new UnavailableError(`the company's policy version in the store is ${currentVersion}, older than version ${floor} announced to this instance`, {
    currentVersion,
    announcedVersion: String(floor),
  });
}

/** Why a principal who holds nothing holds nothing, when it is not their role's doing. */
function standingOf(companyId: string, userId: string, loaded: LoadedPrincipal): string | undefined {
  const who = ID_PATTERN.test(userId) ? userId : shown(userId);
  if (loaded.version === null) return `company ${companyId} is not known`;
  if (!loaded.membership) return `${who} is not a member of ${companyId}`;
  if (loaded.membership.status !== 'active') return `${who} is not an active member of ${companyId} (${loaded.membership.status})`;
  return undefined;
}

export function createAbilityProvider(options: AbilityProviderOptions): AbilityProvider {
  const { policies, source, rulesCache, bus, metrics, logger } = options;
  const now = options.now ?? Date.now;
  const maxDegradedMs = options.maxDegradedMs ?? 30_000;
  const l2WaitMs = options.l2WaitMs ?? 5;
  const l1 = new LruCache<PrincipalAbility>(options.maxEntries);
  const inFlight = new Map<string, Flight>();
  let flightsStarted = 0;
  const projectSets = createProjectSets(options.maxEntries);
  const projectLoads = new Map<string, Promise<ProjectSet>>();
  const confirmed = createConfirmations(options.maxStalenessMs, options.maxEntries);
  /** Counts the companies the bus let go of: a load that saw one go by may hold what the bus no longer calls stale. */
  let forgotten = 0;
  const clear = () => {
    l1.clear();
    confirmed.clear();
  };
  bus.onReconnect(clear);
  bus.onForget((companyId) => {
    forgotten++;
    l1.deleteGroup(companyId);
    confirmed.forget(companyId);
  });
  // Bound once: resolving a labelled child per request would hash the labels on the hot path.
  const l1Hits = metrics.cacheLookups.labels({ tier: 'l1', result: 'hit' });
  const l1Misses = metrics.cacheLookups.labels({ tier: 'l1', result: 'miss' });

  const compact = createCompactAbilities({ maxShared: options.maxEntries, createAbility: createCheckAbility });
  /** The newest version seen per company as text and number, so entries of one version share both. */
  const versions = new LruCache<{ text: string; value: bigint }>(options.maxEntries);
  const versionOf = (companyId: string, text: string) => {
    let held = versions.peek(companyId, '');
    if (held?.text !== text) versions.set(companyId, '', (held = { text, value: BigInt(text) }));
    return held;
  };
  /** `validatedAt`: when the read that found `version` current started; a slow answer must not make the entry look newer. */
  const entryFor = (companyId: string, rules: CompiledRule[], projects: ReadonlySet<string>, version: string, validatedAt: number, standing?: string): PrincipalAbility => {
    const [prefix, groups] = compact.build(companyId, rules, projects);
    const shared = versionOf(companyId, version);
    return new CachedAbility(prefix, groups, projects, shared.value, shared.text, validatedAt, standing);
  };

  /** What any principal of a company that does not exist compiles to (nothing), built once. */
  let nobody: ReturnType<typeof compact.build> | undefined;
  const nobodyEntry = (companyId: string, validatedAt: number): PrincipalAbility => {
    nobody ??= compact.build('', compileStoredPrincipal(policies, { membership: null, companyRolePermissions: null, projectGrants: [] }), NO_PROJECTS);
    return new CachedAbility(nobody[0], nobody[1], NO_PROJECTS, 0n, '0', validatedAt, `company ${companyId} is not known`);
  };

  /**
   * Loads finish in any order (a degraded answer, a reconnect's clear): an older entry never
   * replaces a newer one. An entry whose load saw the bus forget a company is handed to its
   * callers (their floor was known when they called) but not kept: the version that would
   * have made it stale may be the one forgotten.
   */
  const remember = (companyId: string, userId: string, entry: PrincipalAbility, forgottenAtStart: number) => {
    if (forgotten !== forgottenAtStart) return;
    const held = l1.peek(companyId, userId);
    if (held === undefined || held.version <= entry.version) l1.set(companyId, userId, entry);
  };

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

  async function fromL2(companyId: string, userId: string): Promise<L2Lookup> {
    if (!rulesCache) return null;
    const started = performance.now();
    try {
      return await rulesCache.get(companyId, userId);
    } catch (error) {
      metrics.dependencyErrors.inc({ dependency: 'redis' });
      logger.warn({ err: error }, 'redis unavailable for the rules cache: answering from PostgreSQL (degraded)');
      return L2_FAILED;
    } finally {
      phaseDone('l2', started);
    }
  }

  /** Observes a load step begun at `started` (performance.now()); returns the time it ended, where the next step begins. */
  function phaseDone(phase: LoadPhase, started: number): number {
    const ended = performance.now();
    metrics.loadPhaseDuration.observe({ phase }, (ended - started) / 1000);
    return ended;
  }

  /**
   * An L2 write, once the answer it came with has gone out: ioredis encodes a value and writes it
   * to the socket before its call returns (a write system call that wakes Redis; for 5,000 grants
   * about a millisecond), which otherwise sat between the load and the response. Two turns: the
   * response itself is written from a setImmediate queued after this one (the write batch,
   * src/http/write-batch.ts), so one turn still ran the L2 write first. L2 is a cache offered to
   * other instances, so a write a turn of the event loop later changes no answer.
   */
  function afterTheAnswer(write: () => Promise<void>): void {
    setImmediate(() => setImmediate(() => write().catch(() => metrics.dependencyErrors.inc({ dependency: 'redis' }))));
  }

  /** Every project set read from PostgreSQL is shared in process and offered to other instances through L2. */
  function shareProjects(companyId: string, version: string, ids: readonly string[]): ReadonlySet<string> {
    const shared = projectSets.share(companyId, version, ids);
    if (rulesCache) afterTheAnswer(() => rulesCache.setProjects(companyId, version, ids));
    return shared;
  }

  /** The company's project set as PostgreSQL has it now; concurrent callers for one company share one read. */
  function currentProjects(companyId: string): Promise<ProjectSet> {
    let pending = projectLoads.get(companyId);
    if (pending === undefined) {
      const read = source.loadProjects(companyId).then((found) => {
        const version = found.version ?? '0';
        return { version, ids: found.version === null ? NO_PROJECTS : shareProjects(companyId, version, found.ids) };
      });
      pending = read.finally(() => {
        if (projectLoads.get(companyId) === pending) projectLoads.delete(companyId);
      });
      projectLoads.set(companyId, pending);
    }
    return pending;
  }

  /** The project set at exactly `version`, for rules found in L2 at that version; undefined when the store has moved on. */
  async function projectsAt(companyId: string, version: string): Promise<ReadonlySet<string> | undefined> {
    const held = projectSets.at(companyId, version);
    if (held) return held;
    let read: ProjectSet;
    try {
      read = await currentProjects(companyId);
    } catch {
      metrics.dependencyErrors.inc({ dependency: 'postgres' });
      throw new UnavailableError('the policy store is unreachable', { dependency: 'postgres' });
    }
    return read.version === version ? read.ids : undefined;
  }

  /** With PostgreSQL away, rules from L2 answer only with the project set of their own version (from L2 too). */
  async function degradedFromL2(companyId: string, l2: L2Rules | null): Promise<PrincipalAbility | undefined> {
    if (!l2) return undefined;
    let projects = projectSets.at(companyId, l2.version);
    if (!projects && rulesCache) {
      const stored = await rulesCache.getProjects(companyId).catch(() => {
        metrics.dependencyErrors.inc({ dependency: 'redis' });
        return null;
      });
      if (stored?.version === l2.version) projects = projectSets.share(companyId, stored.version, stored.ids);
    }
    // Answers once and is not kept: its confirmation is judged by the caller.
    return projects ? entryFor(companyId, l2.rules, projects, l2.version, 0) : undefined;
  }

  /**
   * When a load began: on the injected clock (entries' and confirmations' times), the count of
   * forgotten companies then, and on the monotonic high-resolution timer the compile histogram
   * is measured with (the injected clock may be Date.now, whole milliseconds).
   */
  interface LoadStart {
    at: number;
    forgotten: number;
    timer: number;
  }

  /**
   * A principal not cached: L2 first, then one read of PostgreSQL. Rules found in L2 need
   * only their company's version confirmed (a primary-key read); on a miss the load
   * statement reads the version with the facts, so a cold load is one statement, not a
   * version read and then the statement. With PostgreSQL away, rules from L2 may answer
   * (degraded), as a cached entry would.
   */
  async function loadUncached(companyId: string, userId: string, start: LoadStart): Promise<Loaded> {
    if (!rulesCache) return { entry: await loadFromStore(companyId, userId, start), current: true };
    const lookup = fromL2(companyId, userId);
    const found = await answeredWithin(lookup, l2WaitMs);
    if (found === LATE) return loadPastL2(companyId, userId, start, lookup);
    // A failed lookup was counted as a Redis error, not as a lookup.
    if (found !== L2_FAILED) metrics.cacheLookups.inc({ tier: 'l2', result: found ? 'hit' : 'miss' });
    const l2 = found === L2_FAILED ? null : found;
    // Rules that allow nothing may be a principal's standing (not a member), which L2 does not keep.
    if (l2 === null || l2.rules.length === 0) return { entry: await loadFromStore(companyId, userId, start), current: true };
    return loadFromL2(companyId, userId, start, l2);
  }

  /** Rules found in L2: they answer once their company's version is confirmed to be theirs (a primary-key read). */
  async function loadFromL2(companyId: string, userId: string, start: LoadStart, l2: L2Rules): Promise<Loaded> {
    const read = await readVersion(companyId, start.at, undefined, l2);
    if ('degraded' in read) return read.degraded;
    if (read.version === l2.version) {
      const projects = await projectsAt(companyId, l2.version);
      if (projects) {
        const entry = entryFor(companyId, l2.rules, projects, l2.version, start.at);
        remember(companyId, userId, entry, start.forgotten);
        return { entry, current: true };
      }
    }
    return { entry: await loadFromStore(companyId, userId, start, read.version), current: true };
  }

  /**
   * L2 did not answer within CACHE_L2_WAIT_MS: PostgreSQL answers, as on a miss. A Redis that
   * is slow or stalled (its command timeout is 500 ms) then adds at most the wait to a cold
   * load, not its own tail. What L2 holds still counts when PostgreSQL cannot be read: the
   * lookup is awaited then, and its rules answer under the same bound as any other degraded answer.
   */
  async function loadPastL2(companyId: string, userId: string, start: LoadStart, lookup: Promise<L2Lookup>): Promise<Loaded> {
    metrics.cacheLookups.inc({ tier: 'l2', result: 'late' });
    try {
      return { entry: await loadFromStore(companyId, userId, start), current: true };
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error;
      const l2 = await lookup;
      if (l2 === null || l2 === L2_FAILED || l2.rules.length === 0) throw error;
      // As when L2 answers in time: a version read (lighter than the load that failed, so it may
      // get through an overloaded PostgreSQL), and the degraded bound when it cannot be read.
      return loadFromL2(companyId, userId, start, l2);
    }
  }

  /**
   * The company's version as PostgreSQL has it now, noted as confirmed; with PostgreSQL away,
   * what may answer instead: the cached entry, or the rules found in L2, if new enough for
   * its caller and confirmed current recently enough. Another instance may be writing
   * meanwhile (this one cannot tell a cut of its own from an outage of all), so past the
   * bound it fails closed.
   */
  async function readVersion(
    companyId: string,
    started: number,
    cached: PrincipalAbility | undefined,
    l2: L2Rules | null,
  ): Promise<{ version: string | null } | { degraded: Loaded }> {
    const timer = performance.now();
    let stored: string | null;
    try {
      stored = await source.readVersion(companyId);
    } catch (error) {
      phaseDone('version', timer);
      metrics.dependencyErrors.inc({ dependency: 'postgres' });
      const fallback = cached ?? (await degradedFromL2(companyId, l2));
      if (!fallback) throw new UnavailableError('the policy store is unreachable and nothing usable is cached', { dependency: 'postgres' });
      // An entry from L2 was compiled elsewhere, at a time unknown here: only this instance's read of its version counts.
      const confirmedAt = Math.max(cached?.validatedAt ?? -Infinity, confirmed.lastAt(companyId, fallback.versionText) ?? -Infinity);
      if (now() - confirmedAt > maxDegradedMs) {
        throw new UnavailableError(`the policy store is unreachable and what is cached was last confirmed current more than ${maxDegradedMs} ms ago`, { dependency: 'postgres' });
      }
      logger.warn({ err: error, companyId }, 'postgres unavailable: answering from cache (degraded)');
      return { degraded: { entry: fallback, current: false } };
    }
    phaseDone('version', timer);
    confirmed.note(companyId, stored ?? '0', started);
    return { version: stored };
  }

  async function loadFresh(companyId: string, userId: string): Promise<Loaded> {
    const cached = l1.peek(companyId, userId);
    const start: LoadStart = { at: now(), forgotten, timer: performance.now() };
    if (!cached) return loadUncached(companyId, userId, start);

    // A cached entry past its bound: one primary-key read says whether it is still current.
    const read = await readVersion(companyId, start.at, cached, null);
    if ('degraded' in read) return read.degraded;
    if (cached.versionText === (read.version ?? '0')) {
      cached.validatedAt = Math.max(cached.validatedAt, start.at);
      metrics.staleRefreshes.inc({ result: 'kept' });
      return { entry: cached, current: true };
    }
    metrics.staleRefreshes.inc({ result: 'reloaded' });
    // No company, so no member: nothing to read or compile.
    if (read.version === null) {
      const entry = nobodyEntry(companyId, start.at);
      remember(companyId, userId, entry, start.forgotten);
      return { entry, current: true };
    }
    return { entry: await loadFromStore(companyId, userId, start, read.version), current: true };
  }

  /** `versionRead`: the company's version this load has just read, if it read one (see PrincipalSource). */
  async function loadFromStore(companyId: string, userId: string, start: LoadStart, versionRead?: string | null): Promise<PrincipalAbility> {
    // The set held when the load starts: the loader skips the project list when its snapshot is
    // at that version. A set older than a version announced since is asked for at once, rather
    // than found out of date by a load without it and read again.
    const newest = projectSets.newest(companyId);
    const known = bus.knownVersion(companyId);
    const held = newest && (known === undefined || BigInt(newest.version) >= known) ? newest : undefined;
    let loaded: LoadedPrincipal;
    const loadStarted = now();
    const storeTimer = performance.now();
    try {
      loaded = await source.loadPrincipal(companyId, userId, held?.version ?? null, versionRead);
    } catch {
      phaseDone('store', storeTimer);
      metrics.dependencyErrors.inc({ dependency: 'postgres' });
      throw new UnavailableError('the policy store is unreachable', { dependency: 'postgres' });
    }
    const compileTimer = phaseDone('store', storeTimer);
    if (loaded.version === null) {
      // No company, so no member: checks naming ids that do not exist (mistakes, or a flood
      // of them) cost one statement that finds no company row, and share one entry.
      confirmed.note(companyId, '0', loadStarted);
      const entry = nobodyEntry(companyId, loadStarted);
      remember(companyId, userId, entry, start.forgotten);
      return entry;
    }
    const loadedVersion = loaded.version;
    let projects: ReadonlySet<string>;
    if (loaded.projectIds) projects = shareProjects(companyId, loadedVersion, loaded.projectIds);
    else if (held?.version === loadedVersion) projects = held.ids;
    else throw new Error(`the loader left out the project list of version ${loadedVersion}`);
    const rules = compileStoredPrincipal(policies, loaded);
    confirmed.note(companyId, loadedVersion, loadStarted);
    const standing = rules.length === 0 ? standingOf(companyId, userId, loaded) : undefined;
    const entry = entryFor(companyId, rules, projects, loadedVersion, loadStarted, standing);
    const compiled = phaseDone('compile', compileTimer);
    metrics.compileDuration.observe((compiled - start.timer) / 1000);
    remember(companyId, userId, entry, start.forgotten);
    if (rulesCache && standing === undefined) {
      afterTheAnswer(() => rulesCache.set(companyId, userId, loadedVersion, rules));
    }
    return entry;
  }

  function startFlight(key: string, companyId: string, userId: string): Flight {
    const id = flightsStarted++;
    const result = loadFresh(companyId, userId).finally(() => {
      if (inFlight.get(key)?.id === id) inFlight.delete(key);
    });
    const flight = { id, result };
    inFlight.set(key, flight);
    return flight;
  }

  /**
   * Joins the principal's load under way, or starts one, and hands out its entry only when
   * it is at least as new as the caller's floor. A load that started before this call may
   * have read PostgreSQL before the version the caller must see was committed (a revoke
   * announced meanwhile): then one more load, started after this call, decides. Writers
   * announce after their commit, and a client has its minVersion from a committed write, so
   * a load started after the call that still finds an older version means the store has not
   * reached the floor: 503, never the older data.
   */
  async function load(companyId: string, userId: string, minVersion: bigint | undefined): Promise<PrincipalAbility> {
    // Company ids hold no space, so the first space ends the company, whatever the user id holds.
    const key = `${companyId} ${userId}`;
    const floor = floorFor(companyId, minVersion);
    const calledAt = flightsStarted;
    const calledTime = now();
    // Two rounds at most: once the joined load is done, any load under way started after this call.
    for (let round = 0; round < 2; round++) {
      const flight = inFlight.get(key) ?? startFlight(key, companyId, userId);
      const { entry, current } = await flight.result;
      // A load joined under way is current as of its read's start. When that was more than the
      // staleness bound before this call (a read sent just before a stall, answered when it ended),
      // its data may miss writes acknowledged long before the call: one more load decides.
      const staleOnArrival = current && entry.validatedAt < calledTime - options.maxStalenessMs;
      if (entry.version >= floor && !staleOnArrival) return entry;
      if (!current) throw new UnavailableError('the policy store is unreachable and nothing cached is new enough', { dependency: 'postgres' });
      if (entry.version < floor && flight.id >= calledAt) throw storeBehind(entry.versionText, floor, minVersion);
    }
    throw new UnavailableError(`no load of the principal reached version ${floor}`);
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
