import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicies } from '../../src/policy/catalog.js';
import { openStore, type Store } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import { loadPrincipalFacts, warmPrincipalLoads } from '../../src/store/principal-facts.js';
import { seedCompany, writeAndBump } from '../check/seed.js';
import { createTestDatabase, servicesUp, type TestDatabase } from '../support/services.js';

const policies = loadPolicies();
const USERS = Array.from({ length: 12 }, (_, i) => `u${i}`);

/**
 * A cold load is a prepared statement: PostgreSQL plans it for its parameters on its first
 * five runs, then keeps one generic plan if that plan is estimated no dearer. The load used
 * to carry the company's project list in every plan, so it was planned on every run.
 */
describe.skipIf(!servicesUp)('the load statement plans', () => {
  let database: TestDatabase;
  let store: Store;
  let version: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    // One connection, so the statements below and pg_prepared_statements are of one session.
    store = await openStore({ databaseUrl: database.url, dataDir: 'memory://', poolSize: 1 });
    await migrateToLatest(store.db);
    await seedCompany(store.db, policies, {
      id: 'acme',
      members: [{ id: 'boss', role: 'admin', owner: true }, ...USERS.map((id) => ({ id, role: 'collaborator' as const }))],
      projects: Array.from({ length: 300 }, (_, i) => `p${i}`),
      grants: USERS.map((user, i) => ({ project: `p${i}`, role: 'viewer', user })),
    });
    version = (await loadPrincipalFacts(store.db, 'acme', 'u0', { projectsUnlessAt: null })).version!;
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const plans = async () =>
    (
      await sql<{ name: string; generic_plans: string; custom_plans: string; statement: string }>`select name, generic_plans::text, custom_plans::text, statement from pg_prepared_statements where name like 'castellan_principal_load_%'`.execute(store.db)
    ).rows;

  it('a load with the project list held is planned once and then only bound and run', async () => {
    await warmPrincipalLoads(store.db);
    for (const user of USERS) {
      const loaded = await loadPrincipalFacts(store.db, 'acme', user, { projectsUnlessAt: version });
      expect(loaded).toMatchObject({ version, projectGrants: [{ projectId: `p${USERS.indexOf(user)}`, roleKey: 'viewer', teamId: null }] });
      expect(loaded.projectIds).toBeUndefined();
    }
    const held = (await plans()).filter((plan) => !plan.statement.includes('from projects p'));
    expect(held).toHaveLength(1);
    // 13 runs (the warm-up's and 12 loads): 5 planned for their parameters, the rest on the generic plan.
    expect(held[0]).toMatchObject({ custom_plans: '5', generic_plans: '8' });
  });

  it('a company past the held list: the list comes with the facts, read at the new version', async () => {
    const next = await writeAndBump(store.db, 'acme', (trx) => trx.insertInto('projects').values({ company_id: 'acme', id: 'p-new', name: 'p-new' }).execute());
    const loaded = await loadPrincipalFacts(store.db, 'acme', 'u1', { projectsUnlessAt: version });
    expect(loaded.version).toBe(next);
    expect(loaded.projectIds).toHaveLength(301);
    expect(loaded.projectIds).toContain('p-new');
    expect(loaded.projectGrants).toMatchObject([{ projectId: 'p1', roleKey: 'viewer' }]);
    // At the version held: no list.
    expect((await loadPrincipalFacts(store.db, 'acme', 'u1', { projectsUnlessAt: next })).projectIds).toBeUndefined();
    // Not held at all: the list, whatever the version.
    expect((await loadPrincipalFacts(store.db, 'acme', 'u1', { projectsUnlessAt: null })).projectIds).toHaveLength(301);
    // Not wanted: none.
    expect((await loadPrincipalFacts(store.db, 'acme', 'u1')).projectIds).toBeUndefined();
  });
});
