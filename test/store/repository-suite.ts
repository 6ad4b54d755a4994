import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/database.js';
import { migrateAllDown, migrateToLatest } from '../../src/store/migrator.js';
import { grantsQuery, loadPrincipalFacts } from '../../src/store/principal-facts.js';
import { bumpPolicyVersion, readPolicyVersion, startPolicyVersion } from '../../src/store/versions.js';

const PERMS = JSON.stringify([{ action: 'view', subject: 'Scenario' }]);

/** Seeds one company with an owner, a team and a project; returns nothing, tests query what they need. */
async function seed(store: Store, company: string) {
  const db = store.db;
  await db.insertInto('users').values([
    { id: `${company}-owner`, kind: 'platform', email: `owner@${company}.test` },
    { id: `${company}-ann`, kind: 'platform', email: `ann@${company}.test` },
  ]).execute();
  await db.insertInto('companies').values({ id: company, name: company, plan_name: 'team', user_licenses: 5, developer_licenses: 1 }).execute();
  await db.insertInto('policy_versions').values({ company_id: company }).execute();
  await db.insertInto('memberships').values([
    { company_id: company, user_id: `${company}-owner`, status: 'active', role: 'admin', owner: true },
    { company_id: company, user_id: `${company}-ann`, status: 'active', role: 'collaborator' },
  ]).execute();
  await db.insertInto('project_roles').values({ company_id: company, key: 'viewer', name: 'Viewer', permissions: PERMS }).execute();
  await db.insertInto('teams').values({ company_id: company, id: 'team-1', name: 'Team' }).execute();
  await db.insertInto('team_members').values({ company_id: company, team_id: 'team-1', user_id: `${company}-ann` }).execute();
  await db.insertInto('projects').values([{ company_id: company, id: 'p1', name: 'P1' }, { company_id: company, id: 'p2', name: 'P2' }]).execute();
  await db.insertInto('project_grants').values([
    { company_id: company, project_id: 'p1', role_key: 'viewer', user_id: `${company}-ann` },
    { company_id: company, project_id: 'p2', role_key: 'viewer', team_id: 'team-1' },
  ]).execute();
}

/** The same repository tests, run against PostgreSQL and against embedded PGlite. */
export function repositorySuite(label: string, open: () => Promise<Store>, cleanup: () => Promise<void> = async () => {}) {
  describe(`repository (${label})`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
      await migrateToLatest(store.db);
      await seed(store, 'acme');
    });
    afterAll(async () => {
      await store?.close();
      await cleanup();
    });

    it('refuses a second owner in one company', async () => {
      await expect(
        store.db.updateTable('memberships').set({ owner: true, role: 'admin' }).where('company_id', '=', 'acme').where('user_id', '=', 'acme-ann').execute(),
      ).rejects.toThrow(/memberships_one_owner/);
    });

    it('refuses an owner who is not an admin', async () => {
      await expect(
        store.db.updateTable('memberships').set({ role: 'manager' }).where('company_id', '=', 'acme').where('user_id', '=', 'acme-owner').execute(),
      ).rejects.toThrow(/memberships_owner_is_admin/);
    });

    it('refuses a domain registered by another company', async () => {
      await seed(store, 'globex');
      await store.db.insertInto('company_domains').values({ domain: 'acme.test', company_id: 'acme' }).execute();
      await expect(store.db.insertInto('company_domains').values({ domain: 'acme.test', company_id: 'globex' }).execute()).rejects.toThrow(
        /company_domains_pkey|duplicate key/,
      );
    });

    it('refuses a second membership of one user in one company', async () => {
      await expect(
        store.db.insertInto('memberships').values({ company_id: 'acme', user_id: 'acme-ann', status: 'active', role: 'editor' }).execute(),
      ).rejects.toThrow(/memberships_pk/);
    });

    it('refuses a team member or grant for someone who is not a member of the company (D1)', async () => {
      await expect(store.db.insertInto('team_members').values({ company_id: 'acme', team_id: 'team-1', user_id: 'globex-ann' }).execute()).rejects.toThrow(
        /team_members_membership_fk/,
      );
      await expect(
        store.db.insertInto('project_grants').values({ company_id: 'acme', project_id: 'p1', role_key: 'viewer', user_id: 'globex-ann' }).execute(),
      ).rejects.toThrow(/project_grants_membership_fk/);
    });

    it('refuses a grant to both a user and a team, and an unknown status or role', async () => {
      await expect(
        store.db.insertInto('project_grants').values({ company_id: 'acme', project_id: 'p1', role_key: 'viewer', user_id: 'acme-owner', team_id: 'team-1' }).execute(),
      ).rejects.toThrow(/project_grants_one_grantee/);
      await expect(sql`update memberships set status = 'banned' where user_id = 'acme-ann'`.execute(store.db)).rejects.toThrow(/check/);
      await expect(sql`update memberships set role = 'superuser' where user_id = 'acme-ann'`.execute(store.db)).rejects.toThrow(/check/);
    });

    it('refuses to delete a project role that is still granted', async () => {
      await expect(
        store.db.transaction().execute((trx) => trx.deleteFrom('project_roles').where('company_id', '=', 'acme').where('key', '=', 'viewer').execute()),
      ).rejects.toThrow(
        /project_grants_role_fk/,
      );
    });

    it('loads a principal with direct and team grants in one snapshot', async () => {
      const facts = await loadPrincipalFacts(store.db, 'acme', 'acme-ann');
      expect(facts.membership).toEqual({ status: 'active', role: 'collaborator', owner: false, applicationAccess: false, developerAccess: false });
      expect(facts.projectGrants).toEqual([
        { projectId: 'p1', roleKey: 'viewer', teamId: null, permissions: [{ action: 'view', subject: 'Scenario' }] },
        { projectId: 'p2', roleKey: 'viewer', teamId: 'team-1', permissions: [{ action: 'view', subject: 'Scenario' }] },
      ]);
      expect(facts.version).toBe('1');
      expect(await loadPrincipalFacts(store.db, 'acme', 'nobody')).toMatchObject({ version: '1', membership: null, projectGrants: [] });
      expect(await loadPrincipalFacts(store.db, 'no-such-company', 'acme-ann')).toMatchObject({ version: null, membership: null });
    });

    it('loading one principal\'s grants reads their grants by index, not the company\'s', async () => {
      // Many grants of other members, so a plan reading the company's grants would show.
      await sql`insert into users (id, kind) select 'bulk-' || i, 'platform' from generate_series(1, 400) i`.execute(store.db);
      await sql`insert into memberships (company_id, user_id, status, role) select 'acme', 'bulk-' || i, 'active', 'collaborator' from generate_series(1, 400) i`.execute(store.db);
      await sql`insert into projects (company_id, id, name) select 'acme', 'bulk-p' || i, 'P' from generate_series(1, 50) i`.execute(store.db);
      await sql`insert into project_grants (company_id, project_id, role_key, user_id) select 'acme', 'bulk-p' || (i % 50 + 1), 'viewer', 'bulk-' || (i / 50 + 1) from generate_series(0, 19999) i on conflict do nothing`.execute(store.db);
      await sql`analyze`.execute(store.db);
      const plan = await grantsQuery(store.db, 'acme', 'acme-ann').explain('json');
      const nodes: Array<Record<string, unknown>> = [];
      const walk = (node: Record<string, unknown>) => {
        nodes.push(node);
        for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
      };
      walk((plan[0] as { 'QUERY PLAN': Array<{ Plan: Record<string, unknown> }> })['QUERY PLAN'][0]!.Plan);
      const onGrants = nodes.filter((n) => n['Relation Name'] === 'project_grants' || String(n['Index Name'] ?? '').startsWith('project_grants'));
      expect(onGrants.length).toBeGreaterThan(0);
      for (const node of onGrants) {
        expect(node['Node Type'], JSON.stringify(node)).not.toBe('Seq Scan');
        if (node['Index Name'] !== undefined) expect(['project_grants_user_unique', 'project_grants_team_unique']).toContain(node['Index Name']);
      }
      // And the answer is the principal's own two grants.
      expect((await loadPrincipalFacts(store.db, 'acme', 'acme-ann')).projectGrants.map((g) => g.projectId)).toEqual(['p1', 'p2']);
    });

    it('bumps the policy version inside a transaction', async () => {
      const next = await store.db.transaction().execute((trx) => bumpPolicyVersion(trx, 'acme'));
      expect(next).toBe('2');
      expect(await readPolicyVersion(store.db, 'acme')).toBe('2');
    });

    it('deleting a company removes all its data but its audit log', async () => {
      await store.db
        .insertInto('audit_log')
        .values({ company_id: 'globex', actor: 'globex-owner', action: 'company.create', target: 'company:globex', version: 1 })
        .execute();
      await store.db.deleteFrom('companies').where('id', '=', 'globex').execute();
      for (const table of ['memberships', 'teams', 'team_members', 'projects', 'project_grants', 'project_roles', 'company_domains', 'local_credentials'] as const) {
        const rows = await store.db.selectFrom(table).select(sql<number>`count(*)::int`.as('n')).where('company_id', '=', 'globex').executeTakeFirstOrThrow();
        expect(rows.n, table).toBe(0);
      }
      // D22: the log outlives its company.
      expect(await store.db.selectFrom('audit_log').select(['actor', 'action']).where('company_id', '=', 'globex').execute()).toEqual([
        { actor: 'globex-owner', action: 'company.create' },
      ]);
      // The version row stays behind as a tombstone: versions of a company id never go
      // backwards, and the id is never started again.
      expect(await readPolicyVersion(store.db, 'globex')).toBe('1');
      expect(await store.db.transaction().execute((trx) => startPolicyVersion(trx, 'globex'))).toBeNull();
      expect(await readPolicyVersion(store.db, 'globex')).toBe('1');
      expect(await store.db.transaction().execute((trx) => startPolicyVersion(trx, 'initech'))).toBe('1');
    });

    it('an invitation written without an expiry (the previous release, during a rolling update) gets 14 days', async () => {
      await store.db.insertInto('users').values({ id: 'invite:old-release', kind: 'platform', email: 'old@acme.test' }).execute();
      await store.db.insertInto('memberships').values({ company_id: 'acme', user_id: 'invite:old-release', status: 'invited', role: 'editor' }).execute();
      const row = await store.db
        .selectFrom('memberships')
        .select(sql<number>`extract(epoch from invitation_expires_at - now())::float8`.as('left'))
        .where('user_id', '=', 'invite:old-release')
        .executeTakeFirstOrThrow();
      expect(row.left).toBeGreaterThan(14 * 86_400 - 60);
      expect(row.left).toBeLessThanOrEqual(14 * 86_400);
      await store.db.deleteFrom('users').where('id', '=', 'invite:old-release').execute();
    });

    it('reverts every migration and applies them again', async () => {
      const down = await migrateAllDown(store.db);
      expect(down).toEqual(['reverted 0007_audit_filters', 'reverted 0006_covering_load_indexes', 'reverted 0005_invitation_expiry_and_webhook_outbox', 'reverted 0004_audit_outlives_company', 'reverted 0003_audit_operator', 'reverted 0002_policy_version_tombstones', 'reverted 0001_initial']);
      const tables = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_schema = 'public' and table_name in ('memberships', 'companies', 'webhook_outbox')`.execute(store.db);
      expect(tables.rows[0]!.n).toBe(0);
      expect(await migrateToLatest(store.db)).toEqual([
        'applied 0001_initial',
        'applied 0002_policy_version_tombstones',
        'applied 0003_audit_operator',
        'applied 0004_audit_outlives_company',
        'applied 0005_invitation_expiry_and_webhook_outbox',
        'applied 0006_covering_load_indexes',
        'applied 0007_audit_filters',
      ]);
    });
  });
}
