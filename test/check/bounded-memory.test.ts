import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAbilityProvider, type PrincipalSource } from '../../src/check/abilities.js';
import { createLocalPolicyBus } from '../../src/check/policy-bus.js';
import { storeSource } from '../../src/check/source.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { loadPolicies } from '../../src/policy/catalog.js';
import { openStore, type Store } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import type { LoadedPrincipal } from '../../src/store/principal-facts.js';
import { createTestDatabase, servicesUp, type TestDatabase } from '../support/services.js';
import { seedCompany, writeAndBump } from './seed.js';

const policies = loadPolicies();
const metrics = createMetrics();
const logger = createLogger('silent');

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

function heapAfterCollection(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

const MiB = 1024 * 1024;

/**
 * Issue 12 item 9: every company id a check names was remembered for ever (its version read,
 * in the provider's confirmations), so a client naming ids that do not exist grew the heap
 * without end (200,000 unknown ids: +56 MiB while L1 held 100 entries).
 */
describe.skipIf(!servicesUp)('memory bounded whatever company ids are named', () => {
  let database: TestDatabase;
  let store: Store;
  /** What PostgreSQL answers for a company id never used: read once, handed back for every id. */
  let unknown: { version: string | null; principal: LoadedPrincipal };

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url, dataDir: 'unused' });
    await migrateToLatest(store.db);
    const real = storeSource(store.db);
    unknown = { version: await real.readVersion('never-used'), principal: await real.loadPrincipal('never-used', 'nobody', null) };
    expect(unknown.version).toBeNull();
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it('keeps the heap flat over a million unknown company ids', { timeout: 300_000 }, async () => {
    // The provider's own state is under test, so the store's answer is replayed from memory:
    // a million PostgreSQL round trips would measure nothing more.
    let principalLoads = 0;
    let versionReads = 0;
    const replay: PrincipalSource = {
      readVersion: async () => {
        versionReads++;
        return unknown.version;
      },
      loadPrincipal: async () => {
        principalLoads++;
        return structuredClone(unknown.principal);
      },
      loadProjects: async () => ({ version: null, ids: [] }),
    };
    const provider = createAbilityProvider({
      policies,
      source: replay,
      rulesCache: null,
      bus: createLocalPolicyBus(),
      maxEntries: 100,
      maxStalenessMs: 5000,
      metrics,
      logger,
    });
    let named = 0;
    const nameUnknownCompanies = async (count: number) => {
      for (let end = named + count; named < end; ) {
        const batch: Array<Promise<unknown>> = [];
        for (let i = 0; i < 1000; i++) batch.push(Promise.resolve(provider.get(`no-such-company-${named++}`, 'u1', undefined)));
        await Promise.all(batch);
      }
    };

    await nameUnknownCompanies(100_000);
    const before = heapAfterCollection();
    await nameUnknownCompanies(900_000);
    const after = heapAfterCollection();

    expect(named).toBe(1_000_000);
    expect(provider.size).toBe(100);
    // A company that does not exist costs one read: the load statement finds no company row.
    expect([principalLoads, versionReads]).toEqual([1_000_000, 0]);
    // Unbounded, 900,000 more ids held well over 50 MiB.
    expect((after - before) / MiB).toBeLessThan(8);
  });

  it('keeps the heap of the version book flat over a million announced companies', { timeout: 120_000 }, async () => {
    const bus = createLocalPolicyBus({ maxCompanies: 1000 });
    const forgotten: string[] = [];
    bus.onForget((companyId) => forgotten.push(companyId));
    const announceCompanies = async (from: number, to: number) => {
      for (let i = from; i < to; i++) await bus.announce(`announced-${i}`, '7');
    };
    await announceCompanies(0, 100_000);
    const before = heapAfterCollection();
    await announceCompanies(100_000, 1_000_000);
    forgotten.length = Math.min(forgotten.length, 3); // what it held is not the point
    const after = heapAfterCollection();

    expect((after - before) / MiB).toBeLessThan(8);
    expect(forgotten).toEqual(['announced-0', 'announced-1', 'announced-2']);
    expect(bus.knownVersion('announced-0')).toBeUndefined();
    expect(bus.knownVersion('announced-999999')).toBe(7n);
  });

  it('a company the version book lets go of loses its cached principals: no older entry answers once its newer version is forgotten', async () => {
    await seedCompany(store.db, policies, { id: 'kept', members: [{ id: 'u1', role: 'collaborator' }], projects: ['p1'], grants: [] });
    const bus = createLocalPolicyBus({ maxCompanies: 2 });
    const provider = createAbilityProvider({ policies, source: storeSource(store.db), rulesCache: null, bus, maxEntries: 100, maxStalenessMs: 60_000, metrics, logger });

    expect(await provider.get('kept', 'u1', undefined)).toMatchObject({ versionText: '1' });
    const version = await writeAndBump(store.db, 'kept', async () => {});
    await bus.announce('kept', version);
    expect(provider.peek('kept', 'u1', undefined)).toBeUndefined();

    // Two other companies heard of later push 'kept' out of a book of two.
    await bus.announce('other-1', '1');
    await bus.announce('other-2', '1');
    expect(bus.knownVersion('kept')).toBeUndefined();
    expect(provider.peek('kept', 'u1', undefined)).toBeUndefined();
    expect(await provider.get('kept', 'u1', undefined)).toMatchObject({ versionText: version });
  });

  it('an entry whose load saw its company forgotten answers its caller but is not kept', async () => {
    await seedCompany(store.db, policies, { id: 'raced', members: [{ id: 'u1', role: 'collaborator' }], projects: ['p1'], grants: [] });
    const real = storeSource(store.db);
    let letLoadFinish!: () => void;
    const loadHeld = new Promise<void>((resolve) => (letLoadFinish = resolve));
    let loadRead!: () => void;
    const loadHasRead = new Promise<void>((resolve) => (loadRead = resolve));
    const slowSource: PrincipalSource = {
      ...real,
      loadPrincipal: async (...args) => {
        const loaded = await real.loadPrincipal(...args);
        loadRead();
        await loadHeld;
        return loaded;
      },
    };
    const bus = createLocalPolicyBus({ maxCompanies: 2 });
    const provider = createAbilityProvider({ policies, source: slowSource, rulesCache: null, bus, maxEntries: 100, maxStalenessMs: 60_000, metrics, logger });

    const answer = provider.get('raced', 'u1', undefined);
    await loadHasRead; // the load read version 1
    const version = await writeAndBump(store.db, 'raced', async () => {});
    await bus.announce('raced', version);
    await bus.announce('other-1', '1');
    await bus.announce('other-2', '1'); // 'raced' and its version 2 are forgotten
    letLoadFinish();

    // The caller asked before version 2 was heard of: version 1 is an answer it may have.
    expect(await answer).toMatchObject({ versionText: '1' });
    // Kept, the version 1 entry would answer now that nothing here says it is stale.
    expect(provider.peek('raced', 'u1', undefined)).toBeUndefined();
    expect(await provider.get('raced', 'u1', undefined)).toMatchObject({ versionText: version });
  });
});
