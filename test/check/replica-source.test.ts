import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAbilityProvider } from '../../src/check/abilities.js';
import { createLocalPolicyBus } from '../../src/check/policy-bus.js';
import { replicaRoutedSource, storeSource, type PrincipalSource, type ReplicaOutcome } from '../../src/check/source.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { loadPolicies } from '../../src/policy/catalog.js';
import { openStore, type Store } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import { createTestDatabase, servicesUp, type TestDatabase } from '../support/services.js';
import { seedCompany, writeAndBump } from './seed.js';

const policies = loadPolicies();
const metrics = createMetrics();
const logger = createLogger('silent');

/** A real source whose reads are counted by kind. */
function counted(real: PrincipalSource) {
  const reads: string[] = [];
  const source: PrincipalSource = {
    readVersion: (c) => (reads.push('readVersion'), real.readVersion(c)),
    loadPrincipal: (c, u, unlessAt) => (reads.push('loadPrincipal'), real.loadPrincipal(c, u, unlessAt)),
    loadProjects: (c) => (reads.push('loadProjects'), real.loadProjects(c)),
  };
  return { source, reads };
}

/**
 * What the replica-routed source costs the primary. Both sides read the same database here:
 * what is under test is which side is asked, and how often (the replica's lag has its own
 * test on two databases in test/store/postgres-settings.test.ts).
 */
describe.skipIf(!servicesUp)('replica-routed loads: the primary is read once per load', () => {
  let database: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url, dataDir: 'unused' });
    await migrateToLatest(store.db);
    await seedCompany(store.db, policies, {
      id: 'acme',
      members: [{ id: 'u1', role: 'collaborator' }],
      projects: ['p1', 'p2'],
      grants: [{ project: 'p1', role: 'viewer', user: 'u1' }],
    });
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  function setUp(maxStalenessMs = 60_000) {
    const primary = counted(storeSource(store.db));
    const replica = counted(storeSource(store.db));
    const outcomes: ReplicaOutcome[] = [];
    const clock = { now: 1_000_000 };
    const source = replicaRoutedSource(primary.source, replica.source, { maxCompanies: 100, onLoad: (outcome) => outcomes.push(outcome) });
    const provider = createAbilityProvider({ policies, source, rulesCache: null, bus: createLocalPolicyBus(), maxEntries: 100, maxStalenessMs, metrics, logger, now: () => clock.now });
    return { primary, replica, outcomes, clock, provider };
  }

  it('a cold load: one version read on the primary, the load on the replica', async () => {
    const { primary, replica, outcomes, provider } = setUp();
    expect((await provider.get('acme', 'u1', undefined)).versionText).toBe('1');
    expect([primary.reads, replica.reads, outcomes]).toEqual([['readVersion'], ['loadPrincipal'], ['replica']]);
  });

  it('a company the primary does not know: one read, nothing asked of the replica', async () => {
    const { primary, replica, outcomes, provider } = setUp();
    const entry = await provider.get('no-such-company', 'u1', undefined);
    expect(entry.standing).toBe('company no-such-company is not known');
    expect([primary.reads, replica.reads, outcomes]).toEqual([['readVersion'], [], ['unchecked']]);
  });

  it('a cached entry past its bound whose version moved: the version read that found it out is the floor, not read again', async () => {
    const { primary, replica, outcomes, clock, provider } = setUp(1000);
    await provider.get('acme', 'u1', undefined);
    const version = await writeAndBump(store.db, 'acme', (trx) => trx.deleteFrom('project_grants').where('company_id', '=', 'acme').where('user_id', '=', 'u1').execute());
    clock.now += 1500;
    primary.reads.length = replica.reads.length = outcomes.length = 0;
    expect((await provider.get('acme', 'u1', undefined)).versionText).toBe(version);
    expect([primary.reads, replica.reads, outcomes]).toEqual([['readVersion'], ['loadPrincipal'], ['replica']]);
  });
});
