import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAbilityProvider, type AbilityProvider, type PrincipalSource } from '../../src/check/abilities.js';
import type { CompactAbility } from '../../src/check/compact-ability.js';
import { decide } from '../../src/check/decide.js';
import { createLocalPolicyBus, type PolicyBus } from '../../src/check/policy-bus.js';
import { createWriteBatch } from '../../src/http/write-batch.js';
import { createRedisRulesCache, type RulesCache } from '../../src/check/rules-cache.js';
import { storeSource } from '../../src/check/source.js';
import { UnavailableError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { loadPolicies } from '../../src/policy/catalog.js';
import { openStore, type Store } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import { createTestDatabase, servicesUp, TEST_REDIS_URL, uniqueName, type TestDatabase } from '../support/services.js';
import { seedCompany, writeAndBump } from './seed.js';

const policies = loadPolicies();
const metrics = createMetrics();
const logger = createLogger('silent');

/**
 * The real PostgreSQL reads, counted, with a way to hold results back: `hold()` lets each
 * read run at once (its snapshot is taken) but keeps its result until `release()`.
 */
function observedSource(real: PrincipalSource) {
  const calls: string[] = [];
  let held: Array<() => void> | null = null;
  let holds: (call: string) => boolean = () => true;
  let beforeProjects: (() => Promise<void>) | null = null;
  let reading = 0;
  const deliver = async <T>(call: string, run: () => Promise<T>): Promise<T> => {
    calls.push(call);
    reading++;
    const result = run();
    const done = () => void reading--;
    result.then(done, done);
    if (held && holds(call)) {
      const queue = held;
      await new Promise<void>((resolve) => queue.push(resolve));
    }
    return result;
  };
  const source: PrincipalSource = {
    readVersion: (c) => deliver(`readVersion ${c}`, () => real.readVersion(c)),
    loadPrincipal: (c, u, unlessAt) => deliver(`loadPrincipal ${c} ${u} unless ${unlessAt}`, () => real.loadPrincipal(c, u, unlessAt)),
    loadProjects: async (c) => {
      await beforeProjects?.();
      return deliver(`loadProjects ${c}`, () => real.loadProjects(c));
    },
  };
  return {
    source,
    calls,
    count: (prefix: string) => calls.filter((call) => call.startsWith(prefix)).length,
    /** Holds back the results of the calls `which` picks (all by default) until release(); results held already stay held. */
    hold: (which: (call: string) => boolean = () => true) => {
      held ??= [];
      holds = which;
    },
    /** Hands back every result held so far, and stops holding. */
    release: () => {
      const queue = held ?? [];
      held = null;
      for (const resolve of queue) resolve();
    },
    beforeProjects: (hook: (() => Promise<void>) | null) => void (beforeProjects = hook),
    /** Returns once every read started has reached the database and back, and what follows from them has run (held results stay held). */
    async settled(): Promise<void> {
      for (let quiet = 0; quiet < 3; ) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        quiet = reading === 0 ? quiet + 1 : 0;
      }
    },
  };
}


/** The L2 lookups an instance's metrics counted, by result. */
async function l2Lookups(own: ReturnType<typeof createMetrics>): Promise<Record<'late' | 'hit' | 'miss', number | undefined>> {
  const values = (await own.registry.getSingleMetric('castellan_cache_lookups_total')!.get()).values;
  const l2 = (result: string) => values.find((v) => v.labels.tier === 'l2' && v.labels.result === result)?.value;
  return { late: l2('late'), hit: l2('hit'), miss: l2('miss') };
}

/** Waits until L2 holds the principals' rules (written in the background). */
async function inL2(cache: RulesCache, companyId: string, users: string[]): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const found = await Promise.all(users.map((user) => cache.get(companyId, user)));
    if (found.every((hit) => hit !== null)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the rules never reached L2');
}

/**
 * Starts a get() that misses and returns once its load has read the principal's snapshot
 * from PostgreSQL, with that result still held back (release() hands it over). A cold load's
 * first read is that snapshot; a cached entry's reload reads the version first.
 */
async function missHeldAfterSnapshot<T>(observed: ReturnType<typeof observedSource>, get: () => Promise<T> | T): Promise<{ answer: Promise<T> }> {
  observed.hold();
  const answer = Promise.resolve(get());
  await observed.settled();
  if (!observed.calls.at(-1)?.startsWith('loadPrincipal ')) {
    expect(observed.calls.at(-1)).toMatch(/^readVersion /); // its result held
    observed.release();
    observed.hold();
    await observed.settled();
  }
  expect(observed.calls.at(-1)).toMatch(/^loadPrincipal /);
  return { answer };
}

describe.skipIf(!servicesUp)('ability provider: versions, shared loads and shared project sets', () => {
  let database: TestDatabase;
  let store: Store;
  let redis: Redis;
  const prefix = `${uniqueName('abilities')}:`;
  let seq = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url, dataDir: 'unused' });
    await migrateToLatest(store.db);
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    await store?.close();
    await database?.drop();
  });

  /** A company of its own: u1 and u2 collaborators with viewer on p1, ed an editor; p1 and p2 registered. Version 1. */
  async function company(): Promise<string> {
    const id = `c${++seq}`;
    await seedCompany(store.db, policies, {
      id,
      members: [
        { id: 'u1', role: 'collaborator' },
        { id: 'u2', role: 'collaborator' },
        { id: 'ed', role: 'editor' },
      ],
      projects: ['p1', 'p2'],
      grants: [
        { project: 'p1', role: 'viewer', user: 'u1' },
        { project: 'p1', role: 'viewer', user: 'u2' },
      ],
    });
    return id;
  }

  /** L2 is waited for as long as it takes (CACHE_L2_WAIT_MS at its maximum): which tier answers is then up to the test, not to how busy the machine is. */
  function instance(source: PrincipalSource, rulesCache: RulesCache | null = null): { provider: AbilityProvider; bus: PolicyBus } {
    const bus = createLocalPolicyBus();
    return { bus, provider: createAbilityProvider({ policies, source, rulesCache, bus, maxEntries: 100, maxStalenessMs: 60_000, l2WaitMs: 60_000, metrics, logger }) };
  }

  const viewsProject = (entry: { ability: Parameters<typeof decide>[1]; projects: ReadonlySet<string> }, project: string) =>
    decide(policies.catalog, entry.ability, entry.projects, { action: 'view', resource: { type: 'Project', id: project } });

  describe('hole 9: minVersion ahead of the store', () => {
    it('is refused after reading PostgreSQL, with the version the store has, for a cold and a cached principal', async () => {
      const c = await company();
      const observed = observedSource(storeSource(store.db));
      const { provider } = instance(observed.source);
      await expect(provider.get(c, 'u1', 10n)).rejects.toMatchObject({
        constructor: UnavailableError,
        details: { currentVersion: '1', minVersion: '10' },
      });
      expect(await provider.get(c, 'u1', undefined)).toMatchObject({ versionText: '1' });
      const reads = observed.count('readVersion');
      await expect(provider.get(c, 'u1', 2n)).rejects.toMatchObject({ details: { currentVersion: '1', minVersion: '2' } });
      expect(observed.count('readVersion')).toBe(reads + 1);
    });

    it('callers with a minVersion share the load under way, and are answered once it is new enough', async () => {
      const c = await company();
      const observed = observedSource(storeSource(store.db));
      const { provider } = instance(observed.source);
      observed.hold();
      const first = provider.get(c, 'u1', undefined);
      const others = [1n, 1n, 0n, undefined].map((minVersion) => provider.get(c, 'u1', minVersion));
      await observed.settled();
      observed.release();
      const entries = await Promise.all([first, ...others]);
      expect(new Set(entries).size).toBe(1);
      // One statement for all of them: a cold load reads the version with the facts.
      expect([observed.count('readVersion'), observed.count('loadPrincipal')]).toEqual([0, 1]);
    });

    it('a caller whose minVersion is newer than what a shared load found loads once more, and is answered from the newer version', async () => {
      const c = await company();
      const observed = observedSource(storeSource(store.db));
      const { provider } = instance(observed.source);
      const { answer: early } = await missHeldAfterSnapshot(observed, () => provider.get(c, 'u1', undefined)); // the shared load has read version 1
      const version = await writeAndBump(store.db, c, (trx) => trx.deleteFrom('project_grants').where('company_id', '=', c).where('user_id', '=', 'u1').execute());
      const late = provider.get(c, 'u1', BigInt(version)); // its client got version 2 from the write
      observed.release();
      expect((await early).versionText).toBe('1');
      const answer = await late;
      expect(answer.versionText).toBe('2');
      expect(decide(policies.catalog, answer.ability, answer.projects, { action: 'view', resource: { type: 'Scenario', attributes: { projectId: 'p1' } } }).allowed).toBe(false);
      expect(observed.count('loadPrincipal')).toBe(2);
    });
  });

  describe('hole 3: never an entry older than the instance has heard of', () => {
    it('a check that joins a load started before a revoke was announced does not take its result', async () => {
      const c = await company();
      const observed = observedSource(storeSource(store.db));
      const { provider, bus } = instance(observed.source);
      const { answer: before } = await missHeldAfterSnapshot(observed, () => provider.get(c, 'u1', undefined));
      const version = await writeAndBump(store.db, c, (trx) => trx.deleteFrom('project_grants').where('company_id', '=', c).where('user_id', '=', 'u1').execute());
      await bus.announce(c, version);
      const after = provider.get(c, 'u1', undefined);
      observed.release();
      expect((await before).versionText).toBe('1'); // asked before the revoke was heard of
      const answer = await after;
      expect(answer.versionText).toBe(version);
      expect(decide(policies.catalog, answer.ability, answer.projects, { action: 'view', resource: { type: 'Scenario', attributes: { projectId: 'p1' } } })).toEqual({
        allowed: false,
        reason: 'no rule allows view Scenario',
      });
    });

    it('an announced version the store does not have is refused (fail closed), not answered from older data', async () => {
      const c = await company();
      const { provider, bus } = instance(storeSource(store.db));
      await bus.announce(c, '7');
      await expect(provider.get(c, 'u1', undefined)).rejects.toMatchObject({ constructor: UnavailableError, details: { currentVersion: '1', announcedVersion: '7' } });
    });
  });

  describe('hole 8: registered projects, one Set per company and version', () => {
    it('principals of one company and version share one Set, read once; a new version reads it again', async () => {
      const c = await company();
      const observed = observedSource(storeSource(store.db));
      const { provider, bus } = instance(observed.source);
      const u1 = await provider.get(c, 'u1', undefined);
      const ed = await provider.get(c, 'ed', undefined);
      expect(ed.projects).toBe(u1.projects);
      expect([...u1.projects].sort()).toEqual(['p1', 'p2']);
      expect(observed.calls.filter((call) => call.startsWith('loadPrincipal'))).toEqual([`loadPrincipal ${c} u1 unless null`, `loadPrincipal ${c} ed unless 1`]);

      const version = await writeAndBump(store.db, c, (trx) => trx.insertInto('projects').values({ company_id: c, id: 'p3', name: 'p3' }).execute());
      await bus.announce(c, version);
      const edLater = await provider.get(c, 'ed', undefined);
      expect(viewsProject(edLater, 'p3')).toEqual({ allowed: true, reason: 'company role editor allows view Project' });
      expect(viewsProject(ed, 'p3')).toEqual({ allowed: false, reason: 'project p3 is not registered in the company' });
      expect((await provider.get(c, 'u1', undefined)).projects).toBe(edLater.projects);
    });

    it('a load keeps the Set of its own version when another load has moved the shared one on meanwhile', async () => {
      const c = await company();
      const observed = observedSource(storeSource(store.db));
      const { provider, bus } = instance(observed.source);
      const u1 = await provider.get(c, 'u1', undefined); // the shared Set is version 1's
      const { answer: ed } = await missHeldAfterSnapshot(observed, () => provider.get(c, 'ed', undefined)); // its version 1 snapshot is read
      observed.hold((call) => call.includes(' ed ')); // only ed's result stays held
      const version = await writeAndBump(store.db, c, (trx) => trx.deleteFrom('projects').where('company_id', '=', c).where('id', '=', 'p2').execute());
      await bus.announce(c, version);
      const u1Later = await provider.get(c, 'u1', undefined); // moves the shared Set to version 2
      expect([...u1Later.projects]).toEqual(['p1']);
      observed.release();
      const edEntry = await ed;
      expect(edEntry.versionText).toBe('1');
      expect(edEntry.projects).toBe(u1.projects);
      expect(viewsProject(edEntry, 'p2').allowed).toBe(true);
    });

    it('rules found in L2 take the project Set of their version, read once for concurrent principals of the company', async () => {
      const c = await company();
      const cache = createRedisRulesCache(redis, prefix);
      const { provider: a } = instance(storeSource(store.db), cache);
      await a.get(c, 'u1', undefined);
      await a.get(c, 'ed', undefined);
      await inL2(cache, c, ['u1', 'ed']); // L2 writes are not awaited by the check path
      const observed = observedSource(storeSource(store.db));
      const { provider: b } = instance(observed.source, cache);
      const [u1, ed] = await Promise.all([b.get(c, 'u1', undefined), b.get(c, 'ed', undefined)]);
      expect(u1.projects).toBe(ed.projects);
      expect(viewsProject(ed, 'p2').allowed).toBe(true);
      expect([observed.count('loadProjects'), observed.count('loadPrincipal')]).toEqual([1, 0]);
    });

    it('an entry built from L2 is as compact as one built from the store: the same shared prefix and templates, a list of its own only for its grants', async () => {
      const c = await company();
      const cache = createRedisRulesCache(redis, prefix);
      const { provider: a } = instance(storeSource(store.db), cache);
      const fromStore = (await a.get(c, 'u1', undefined)) as unknown as CompactAbility;
      await inL2(cache, c, ['u1']);
      // L2 gives back the rules exactly as compiled (packRules' arrays and defaults made every rule miss the templates).
      expect(JSON.stringify((await cache.get(c, 'u1'))!.rules)).toBe(JSON.stringify(fromStore.rules));
      const observed = observedSource(storeSource(store.db));
      const { provider: b } = instance(observed.source, cache);
      const [fromL2, sameRole] = (await Promise.all([b.get(c, 'u1', undefined), b.get(c, 'u2', undefined)])) as unknown as CompactAbility[];
      expect(observed.count('loadPrincipal')).toBe(1); // u2 only: u1 came from L2
      expect(fromL2!.prefix).toBe(sameRole!.prefix);
      expect(fromL2!.groups.length).toBe(fromStore.groups.length);
      expect(fromL2!.groups[0]).toBe(sameRole!.groups[0]);
      expect(fromL2!.rules).toEqual(fromStore.rules);
    });

    it('L2 stores each project list once, and gives the rules back as compiled, one list per role shared by its rules', async () => {
      const c = `c${++seq}`;
      const projects = Array.from({ length: 40 }, (_, i) => `p${String(i).padStart(2, '0')}`);
      await seedCompany(store.db, policies, {
        id: c,
        members: [{ id: 'u1', role: 'collaborator' }],
        projects,
        grants: projects.map((project, i) => ({ project, role: i % 2 ? 'viewer' : 'contributor', user: 'u1' })),
      });
      const cache = createRedisRulesCache(redis, prefix);
      const fromStore = (await instance(storeSource(store.db), cache).provider.get(c, 'u1', undefined)) as unknown as CompactAbility;
      await inL2(cache, c, ['u1']);
      const raw = (await redis.get((await redis.keys(`${prefix}c3:rules:${c} u1`))[0]!))!;
      // The visible projects (all 40) and each role's 20, once each, however many rules name them.
      expect((JSON.parse(raw) as { l: string[][] }).l.map((list) => list.length)).toEqual([40, 20, 20]);
      expect(raw.match(/"p05"/g)).toHaveLength(2);
      const found = (await cache.get(c, 'u1'))!;
      expect(JSON.stringify(found.rules)).toBe(JSON.stringify(fromStore.rules));
      const lists = new Set(found.rules.flatMap((rule) => Object.values(rule.conditions ?? {}).map((operand) => operand.$in)));
      expect(lists.size).toBe(3);
      expect(found.rules.length).toBeGreaterThan(lists.size);
    });

    it('a value in L2 that is not of the stored form is a miss: the principal is loaded from the store', async () => {
      const c = await company();
      const cache = createRedisRulesCache(redis, prefix);
      const rulesKey = `${prefix}c3:rules:${c} u1`;
      const rule = (conditions: unknown) => ({ action: 'view', subject: 'Project', conditions, reason: 'x' });
      const malformed: unknown[] = [
        // A list it does not hold: read as an allow on nothing (or on everything) would be wrong either way.
        { v: '1', r: [rule({ id: { $in: 7 } })], l: [] },
        // Array.prototype is an array: taken as a list, an inverted rule would restrict nothing.
        { v: '1', r: [{ ...rule({ id: { $in: '__proto__' } }), action: 'edit', inverted: true }], l: [['p1']] },
        { v: '1', r: [rule({ id: { $in: '0' } })], l: [['p1']] },
        { v: '1', r: [rule({ id: { $in: 0, $nin: 0 } })], l: [['p1']] },
        { v: '1', r: [rule({ id: { $in: 0 } })], l: [['p1', 2]] },
        { v: '1', r: [rule({ 'id.x': { $in: 0 } })], l: [['p1']] },
        { v: '1', r: ['view Project'], l: [] },
        { v: '1', r: [{ action: 'view', reason: 'no subject' }], l: [] },
        { v: 1, r: [], l: [] },
        { v: '1', r: [rule({ id: { $in: [0] } })], l: [['p1']] },
      ];
      for (const value of malformed) {
        await redis.set(rulesKey, JSON.stringify(value));
        expect([value, await cache.get(c, 'u1')]).toEqual([value, null]);
      }
      await redis.set(rulesKey, '{"v":"1","r":[');
      expect(await cache.get(c, 'u1')).toBeNull();
      // The same value well formed is found: the refusals above are the shape's, not the key's.
      await redis.set(rulesKey, JSON.stringify({ v: '1', r: [rule({ id: { $in: 0 } })], l: [['p1']] }));
      expect(await cache.get(c, 'u1')).toEqual({ version: '1', rules: [rule({ id: { $in: ['p1'] } })] });
      await redis.set(rulesKey, JSON.stringify(malformed[0]));
      const observed = observedSource(storeSource(store.db));
      const entry = await instance(observed.source, cache).provider.get(c, 'u1', undefined);
      expect(observed.count('loadPrincipal')).toBe(1);
      expect(viewsProject(entry, 'p1').allowed).toBe(true);
      expect(viewsProject(entry, 'p2').allowed).toBe(false);
    });

    it('rules found in L2 whose version the project list has moved past are loaded from the store instead', async () => {
      const c = await company();
      const cache = createRedisRulesCache(redis, prefix);
      const { provider: a } = instance(storeSource(store.db), cache);
      await a.get(c, 'ed', undefined);
      await inL2(cache, c, ['ed']);
      const observed = observedSource(storeSource(store.db));
      // Between b's version read (1, matching L2) and its read of the project list, p2 goes.
      observed.beforeProjects(async () => {
        observed.beforeProjects(null);
        await writeAndBump(store.db, c, (trx) => trx.deleteFrom('projects').where('company_id', '=', c).where('id', '=', 'p2').execute());
      });
      const { provider: b } = instance(observed.source, cache);
      const ed = await b.get(c, 'ed', undefined);
      expect(ed.versionText).toBe('2');
      expect(viewsProject(ed, 'p2')).toEqual({ allowed: false, reason: 'project p2 is not registered in the company' });
      expect(observed.count('loadPrincipal')).toBe(1);
    });
  });
  describe('staleness counted from when PostgreSQL was read, not from when its answer arrived', () => {
    /**
     * A slow PostgreSQL (or network) hands a read's result back long after its snapshot was
     * taken; a write can commit in between. The entry is current as of the read's start: the
     * staleness bound counts from there, else a revoke acknowledged more than
     * CACHE_MAX_STALENESS_MS ago is still answered from the older version.
     */
    const staleness = 1000;
    function clocked(source: PrincipalSource) {
      const clock = { now: 1_000_000 };
      const bus = createLocalPolicyBus(); // nobody announces: as if the version notice were lost
      const provider = createAbilityProvider({ policies, source, rulesCache: null, bus, maxEntries: 100, maxStalenessMs: staleness, metrics, logger, now: () => clock.now });
      return { clock, provider };
    }
    const revoke = (c: string) => writeAndBump(store.db, c, (trx) => trx.deleteFrom('project_grants').where('company_id', '=', c).where('user_id', '=', 'u1').execute());

    it('a re-validation whose answer came late', async () => {
      const c = await company();
      const observed = observedSource(storeSource(store.db));
      const { clock, provider } = clocked(observed.source);
      expect(viewsProject(await provider.get(c, 'u1', undefined), 'p1').allowed).toBe(true);
      clock.now += staleness + 500; // stale: the next check reads the version again
      observed.hold();
      const revalidated = Promise.resolve(provider.get(c, 'u1', undefined));
      await observed.settled(); // the version (1) is read; its answer is on its way
      const revokedAt = clock.now;
      expect(await revoke(c)).toBe('2');
      clock.now += 800; // the answer arrives 800 ms after the read
      observed.release();
      expect((await revalidated).versionText).toBe('1'); // current when asked
      clock.now = revokedAt + staleness + 100; // the revoke is older than the bound now
      const later = await provider.get(c, 'u1', undefined);
      expect(later.versionText).toBe('2');
      expect(viewsProject(later, 'p1').allowed).toBe(false);
    });

    it('a load whose read took longer than the bound is not handed out: a new read decides (the chaos harness found it under a PostgreSQL stall)', async () => {
      const c = await company();
      const observed = observedSource(storeSource(store.db));
      const { clock, provider } = clocked(observed.source);
      expect(viewsProject(await provider.get(c, 'u1', undefined), 'p1').allowed).toBe(true);
      clock.now += staleness + 500;
      observed.hold();
      const first = Promise.resolve(provider.get(c, 'u1', undefined));
      await observed.settled(); // version 1 read at the start of the stall; its answer is held
      const revokedAt = clock.now;
      expect(await revoke(c)).toBe('2');
      clock.now = revokedAt + staleness + 5000; // long after the revoke, a check joins the load still under way
      const joined = Promise.resolve(provider.get(c, 'u1', undefined));
      observed.release(); // the stall ends
      // The first check's read started after it was asked: version 1 was current then.
      expect((await first).versionText).toBe('1');
      // The one that joined gets no data older than the bound at the time it asked.
      const answer = await joined;
      expect(answer.versionText).toBe('2');
      expect(viewsProject(answer, 'p1').allowed).toBe(false);
    });

    it('a cold load whose answer came late', async () => {
      const c = await company();
      const observed = observedSource(storeSource(store.db));
      const { clock, provider } = clocked(observed.source);
      const { answer } = await missHeldAfterSnapshot(observed, () => provider.get(c, 'u1', undefined));
      const revokedAt = clock.now;
      expect(await revoke(c)).toBe('2');
      clock.now += 800;
      observed.release();
      expect((await answer).versionText).toBe('1');
      clock.now = revokedAt + staleness + 100;
      const later = await provider.get(c, 'u1', undefined);
      expect(later.versionText).toBe('2');
      expect(viewsProject(later, 'p1').allowed).toBe(false);
    });
  });
  describe('an L2 lookup that does not answer within CACHE_L2_WAIT_MS', () => {
    it('is not waited for: PostgreSQL answers the load, and the lookup is counted late (neither hit nor miss)', async () => {
      const c = await company();
      const real = createRedisRulesCache(redis, prefix);
      let answerL2!: () => void;
      const l2Stalled = new Promise<void>((resolve) => (answerL2 = resolve));
      // Redis as a stalled server looks to its client: the command is sent and nothing comes back.
      const stalled: RulesCache = { ...real, get: (cc, u) => l2Stalled.then(() => real.get(cc, u)) };
      const observed = observedSource(storeSource(store.db));
      const own = createMetrics();
      const provider = createAbilityProvider({ policies, source: observed.source, rulesCache: stalled, bus: createLocalPolicyBus(), maxEntries: 100, maxStalenessMs: 60_000, l2WaitMs: 5, metrics: own, logger });
      try {
        const answer = await Promise.race([provider.get(c, 'u1', undefined), new Promise<'still waiting'>((resolve) => setTimeout(resolve, 3000, 'still waiting'))]);
        expect(answer).not.toBe('still waiting');
        expect(viewsProject(answer as Awaited<ReturnType<AbilityProvider['load']>>, 'p1').allowed).toBe(true);
        expect(observed.count('loadPrincipal')).toBe(1);
        expect(await l2Lookups(own)).toEqual({ late: 1, hit: 0, miss: 0 });

        // L2 answering afterwards changes nothing: the entry PostgreSQL gave is the one kept.
        answerL2();
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(await provider.get(c, 'u1', undefined)).toBe(answer);
        expect(observed.count('loadPrincipal')).toBe(1);
        expect(await l2Lookups(own)).toEqual({ late: 1, hit: 0, miss: 0 });
      } finally {
        answerL2();
      }
    });

    it('an answer that arrived while the event loop was busy past the wait is taken, not called late', async () => {
      const c = await company();
      const cache = createRedisRulesCache(redis, prefix);
      const { provider: a } = instance(storeSource(store.db), cache);
      await a.get(c, 'u1', undefined);
      await inL2(cache, c, ['u1']);
      const observed = observedSource(storeSource(store.db));
      const own = createMetrics();
      const provider = createAbilityProvider({ policies, source: observed.source, rulesCache: cache, bus: createLocalPolicyBus(), maxEntries: 100, maxStalenessMs: 60_000, l2WaitMs: 5, metrics: own, logger });
      const answer = provider.get(c, 'u1', undefined); // the GET is written to Redis's socket now
      // Busy well past the wait (a large compile, a large batch): Redis answers meanwhile, and when
      // the loop turns the wait's timer is due before the answer has been read from the socket.
      const busyUntil = performance.now() + 100;
      while (performance.now() < busyUntil);
      expect(viewsProject(await answer, 'p1').allowed).toBe(true);
      expect(await l2Lookups(own)).toEqual({ late: 0, hit: 1, miss: 0 });
      expect(observed.count('loadPrincipal')).toBe(0);
    });
  });

  describe('the L2 write of a cold load', () => {
    it('goes out after the answer: after a response written through the write batch in the same turn', async () => {
      const c = await company();
      const real = createRedisRulesCache(redis, prefix);
      const order: string[] = [];
      const watched: RulesCache = {
        ...real,
        set: (...args) => (order.push('L2 write'), real.set(...args)),
        setProjects: (...args) => (order.push('L2 projects write'), real.setProjects(...args)),
      };
      const { provider } = instance(storeSource(store.db), watched);
      // As the check handler answers: the decision, then the response queued on the write batch.
      const batch = createWriteBatch((error) => {
        throw error;
      });
      const answered = new Promise<void>((resolve) => {
        void Promise.resolve(provider.get(c, 'u1', undefined)).then((entry) => batch(() => (order.push(`response ${viewsProject(entry, 'p1').allowed}`), resolve())));
      });
      await answered;
      await inL2(real, c, ['u1']);
      expect(order).toEqual(['response true', 'L2 projects write', 'L2 write']);
    });
  });

  describe('the compile histogram', () => {
    it('times a cold load on the monotonic timer, not on the injected clock (Date.now, whole milliseconds)', async () => {
      const c = await company();
      const own = createMetrics();
      const provider = createAbilityProvider({ policies, source: storeSource(store.db), rulesCache: null, bus: createLocalPolicyBus(), maxEntries: 100, maxStalenessMs: 60_000, metrics: own, logger, now: () => 1_000_000 });
      expect(viewsProject(await provider.get(c, 'u1', undefined), 'p1').allowed).toBe(true);
      const values = (await own.registry.getSingleMetric('castellan_compile_duration_seconds')!.get()).values;
      // A histogram's values carry the series' name (prom-client types them as plain values).
      const valueOf = (name: string) => values.find((v) => (v as { metricName?: string }).metricName === name)!.value;
      expect(valueOf('castellan_compile_duration_seconds_count')).toBe(1);
      // The clock did not move; the load still took time.
      expect(valueOf('castellan_compile_duration_seconds_sum')).toBeGreaterThan(0);
    });
  });
});
