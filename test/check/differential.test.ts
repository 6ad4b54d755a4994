import { createMongoAbility } from '@casl/ability';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../../src/check/decide.js';
import { loadPolicies } from '../../src/policy/catalog.js';
import { compileRules, compileStoredPrincipal } from '../../src/policy/compiler.js';
import type { StoredPermission } from '../../src/policy/types.js';
import { openStore, type Store } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import { loadPrincipalFacts } from '../../src/store/principal-facts.js';
import { createTestDatabase, servicesUp, type TestDatabase } from '../support/services.js';
import { referenceDecision, type RawCheck, type RawCompany } from './reference.js';
import { seedCompany } from './seed.js';

const policies = loadPolicies();
const { catalog } = policies;
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4'];
const PROJECTS = ['p0', 'p1', 'p2', 'p3'];
const TEAMS = ['t0', 't1', 't2'];
const COMPANIES = ['c0', 'c1'];

/**
 * Any permission a company role could have stored, including those writes refuse today
 * (project permissions, written before D9 was enforced): the compiler must skip them as
 * the reference does.
 */
const storableSubjects = [...new Set([...Object.keys(catalog.companyRolePermissions), ...Object.keys(catalog.projectRolePermissions)])];
const companyPermission: fc.Arbitrary<StoredPermission> = fc
  .constantFrom(...storableSubjects)
  .chain((subject) => {
    const spec = catalog.subjects[subject]!;
    return fc.record(
      {
        action: fc.constantFrom(...spec.actions),
        subject: fc.constant(subject),
        fields: spec.fields ? fc.subarray(spec.fields, { minLength: 1 }) : fc.constant(undefined),
        inverted: fc.boolean(),
      },
      { requiredKeys: ['action', 'subject'] },
    );
  })
  .map((p) => JSON.parse(JSON.stringify(p)) as StoredPermission); // drop undefined keys, as storage does

/** Project permissions, sometimes inverted as rows written before D16 was enforced could be. */
const projectPermission: fc.Arbitrary<StoredPermission> = fc
  .constantFrom(...Object.keys(catalog.projectRolePermissions))
  .chain((subject) =>
    fc.record(
      { action: fc.constantFrom(...catalog.projectRolePermissions[subject]!), subject: fc.constant(subject), inverted: fc.constantFrom(true, false, false, false) },
      { requiredKeys: ['action', 'subject'] },
    ),
  )
  .map((p) => (p.inverted ? p : { action: p.action, subject: p.subject }));

const companyArb = (id: string): fc.Arbitrary<RawCompany> =>
  fc
    .record({
      members: fc.uniqueArray(
        fc.record({
          user: fc.constantFrom(...USERS),
          role: fc.constantFrom('admin' as const, 'manager' as const, 'editor' as const, 'collaborator' as const),
          status: fc.constantFrom('active' as const, 'active' as const, 'inactive' as const, 'invited' as const),
          app: fc.boolean(),
          dev: fc.boolean(),
        }),
        { selector: (m) => m.user, minLength: 1, maxLength: USERS.length },
      ),
      companyRoles: fc.record({
        manager: fc.array(companyPermission, { maxLength: 6 }),
        editor: fc.array(companyPermission, { maxLength: 6 }),
        collaborator: fc.array(companyPermission, { maxLength: 6 }),
      }),
      customRoles: fc.array(fc.array(projectPermission, { maxLength: 5 }), { maxLength: 2 }),
      registered: fc.subarray(PROJECTS),
      teamMembers: fc.array(fc.subarray(USERS), { minLength: TEAMS.length, maxLength: TEAMS.length }),
      grants: fc.array(
        fc.record({
          project: fc.constantFrom(...PROJECTS),
          role: fc.constantFrom('project-admin', 'contributor', 'viewer', 'custom-0', 'custom-1'),
          grantee: fc.oneof(fc.record({ user: fc.constantFrom(...USERS) }), fc.record({ team: fc.constantFrom(...TEAMS) })),
        }),
        { maxLength: 8 },
      ),
    })
    .map(({ members, companyRoles, customRoles, registered, teamMembers, grants }) => {
      const memberIds = new Set(members.map((m) => m.user));
      const projectRoles = [
        ...policies.projectRoles.map((r) => ({ key: r.key, permissions: r.permissions })),
        ...customRoles.map((permissions, i) => ({ key: `custom-${i}`, permissions })),
      ];
      const roleKeys = new Set(projectRoles.map((r) => r.key));
      // The database only holds what its constraints allow: members of this company, one grant per grantee and project.
      const seen = new Set<string>();
      const validGrants = grants
        .filter((g) => roleKeys.has(g.role) && registered.includes(g.project) && ('team' in g.grantee || memberIds.has(g.grantee.user)))
        .filter((g) => {
          const key = `${g.project}/${'team' in g.grantee ? `t:${g.grantee.team}` : `u:${g.grantee.user}`}`;
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        })
        .map((g) => ({ project: g.project, role: g.role, ...g.grantee }));
      return {
        id,
        memberships: members.map((m, i) => ({ ...m, owner: i === 0 && m.role === 'admin' })),
        companyRoles,
        projectRoles,
        teams: TEAMS.map((team, i) => ({ id: team, members: (teamMembers[i] ?? []).filter((u) => memberIds.has(u)) })),
        projects: registered,
        grants: validGrants,
      };
    });

const checkArb: fc.Arbitrary<RawCheck> = fc
  .record({ company: fc.constantFrom(...COMPANIES, 'c-unknown'), user: fc.constantFrom(...USERS, 'u-stranger'), type: fc.constantFrom(...Object.keys(catalog.subjects)) })
  .chain(({ company, user, type }) => {
    const spec = catalog.subjects[type]!;
    return fc.record(
      {
        company: fc.constant(company),
        user: fc.constant(user),
        type: fc.constant(type),
        action: fc.constantFrom(...spec.actions),
        project: spec.projectAttribute ? fc.constantFrom(...PROJECTS, 'p-other', undefined) : fc.constant(undefined),
        field: spec.fields ? fc.constantFrom(...spec.fields) : fc.constant(undefined),
      },
      { requiredKeys: ['company', 'user', 'type', 'action'] },
    );
  })
  .map((c) => JSON.parse(JSON.stringify(c)) as RawCheck);

function questionOf(check: RawCheck) {
  const spec = catalog.subjects[check.type]!;
  const attributes = check.project !== undefined && spec.projectAttribute ? { [spec.projectAttribute]: check.project } : undefined;
  return { action: check.action, resource: { type: check.type, ...(attributes ? { attributes } : {}) }, ...(check.field ? { field: check.field } : {}) };
}

/** The principal's facts straight from the raw data, as the loader would return them. */
function factsOf(companies: RawCompany[], companyId: string, userId: string) {
  const company = companies.find((c) => c.id === companyId);
  const membership = company?.memberships.find((m) => m.user === userId);
  if (!company || !membership) return { membership: null, companyRolePermissions: [], projectGrants: [] };
  const teams = new Set(company.teams.filter((t) => t.members.includes(userId)).map((t) => t.id));
  return {
    membership: { status: membership.status, role: membership.role, owner: membership.owner, applicationAccess: membership.app, developerAccess: membership.dev },
    companyRolePermissions: membership.role === 'admin' ? policies.companyRoles.admin : company.companyRoles[membership.role],
    projectGrants: company.grants
      .filter((g) => g.user === userId || (g.team !== undefined && teams.has(g.team)))
      .map((g) => ({ projectId: g.project, roleKey: g.role, teamId: g.team ?? null, permissions: company.projectRoles.find((r) => r.key === g.role)!.permissions })),
  };
}

const describeWorld = (companies: RawCompany[], check: RawCheck) => {
  const company = companies.find((c) => c.id === check.company);
  const membership = company?.memberships.find((m) => m.user === check.user);
  return [
    `check: ${check.user} ${check.action} ${check.type}${check.project ? ` in ${check.project}` : ''}${check.field ? ` (${check.field})` : ''} in ${check.company}`,
    `membership: ${membership ? JSON.stringify(membership) : 'none'}`,
    membership && membership.role !== 'admin' ? `role ${membership.role}: ${JSON.stringify(company!.companyRoles[membership.role])}` : '',
    `grants: ${JSON.stringify(company?.grants ?? [])}`,
    `teams: ${JSON.stringify(company?.teams ?? [])}`,
  ]
    .filter(Boolean)
    .join('\n');
};

const worldArb = fc.tuple(companyArb('c0'), companyArb('c1'));

describe('differential: compiled CASL abilities agree with a reference evaluator written from DOMAIN.md', () => {
  it('for random companies, roles, teams, grants and thousands of checks', () => {
    let checks = 0;
    fc.assert(
      fc.property(worldArb, fc.array(checkArb, { minLength: 20, maxLength: 20 }), (world, batch) => {
        const companies = [...world];
        for (const check of batch) {
          checks++;
          const rules = compileRules(catalog, factsOf(companies, check.company, check.user));
          const registered = new Set(companies.find((c) => c.id === check.company)?.projects);
          const actual = decide(catalog, createMongoAbility(rules), registered, questionOf(check)).allowed;
          const expected = referenceDecision(companies, check);
          if (actual !== expected) throw new Error(`compiled says ${actual ? 'allow' : 'deny'}, reference says ${expected ? 'allow' : 'deny'}\n${describeWorld(companies, check)}`);
        }
      }),
      { numRuns: 300 },
    );
    expect(checks).toBe(6000);
  });
});

describe.skipIf(!servicesUp)('differential through the store: loader + compiler on PostgreSQL agree with the reference', () => {
  let database: TestDatabase;
  let store: Store;
  let run = 0;
  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url, dataDir: 'unused' });
    await migrateToLatest(store.db);
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it('for random worlds written to PostgreSQL', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, fc.array(checkArb, { minLength: 30, maxLength: 30 }), async (world, batch) => {
        run++;
        // Each run writes its companies under fresh ids so runs never see each other's rows.
        const ids = new Map(world.map((c) => [c.id, `${c.id}-r${run}`]));
        for (const company of world) {
          await seedCompany(store.db, policies, {
            id: ids.get(company.id)!,
            members: company.memberships.map((m) => ({ id: m.user, role: m.role, status: m.status, owner: m.owner, applicationAccess: m.app, developerAccess: m.dev })),
            companyRoles: company.companyRoles,
            projectRoles: company.projectRoles.filter((r) => r.key.startsWith('custom-')),
            teams: company.teams,
            projects: company.projects,
            grants: company.grants,
          });
        }
        for (const check of batch) {
          const stored = { ...check, company: ids.get(check.company) ?? check.company };
          const loaded = await loadPrincipalFacts(store.db, stored.company, stored.user, { projectsUnlessAt: null });
          const actual = decide(catalog, createMongoAbility(compileStoredPrincipal(policies, loaded)), new Set(loaded.projectIds), questionOf(check)).allowed;
          const expected = referenceDecision(world, check);
          if (actual !== expected) throw new Error(`stored path says ${actual ? 'allow' : 'deny'}, reference says ${expected ? 'allow' : 'deny'}\n${describeWorld(world, check)}`);
        }
      }),
      { numRuns: 15 },
    );
  });
});
