import { createMongoAbility, subject } from '@casl/ability';
import { unpackRules, type PackRule } from '@casl/ability/extra';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCheckAbility } from '../../src/check/abilities.js';
import { decide, type CheckQuestion } from '../../src/check/decide.js';
import { exportedRules } from '../../src/check/exported-rules.js';
import { loadPolicies } from '../../src/policy/catalog.js';
import { compileRules, type CompiledRule, type PrincipalFacts } from '../../src/policy/compiler.js';
import type { CompanyRole, StoredPermission } from '../../src/policy/types.js';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { seedCompany } from './seed.js';

/**
 * API.md promises that the exported rules, loaded into a stock createMongoAbility, answer as
 * /v1/check does; since D15 (hole 8 of issue 11) /v1/check also denies what is not a
 * registered project, which the export has to say in the rules themselves.
 */
const policies = loadPolicies();
const { catalog } = policies;
const PROJECTS = ['p0', 'p1', 'p2', 'p3'];
const UNREGISTERED = 'p-elsewhere';
const subjects = Object.keys(catalog.subjects);
const projectScoped = subjects.filter((s) => catalog.subjects[s]!.projectAttribute);

/** Any permission of the catalog, inverted or not: the export must hold whatever a role stores. */
const permissionArb = (among: string[]): fc.Arbitrary<StoredPermission> =>
  fc
    .constantFrom(...among)
    .chain((name) => {
      const spec = catalog.subjects[name]!;
      return fc.record(
        {
          action: fc.constantFrom(...spec.actions),
          subject: fc.constant(name),
          fields: spec.fields ? fc.subarray(spec.fields, { minLength: 1 }) : fc.constant(undefined),
          inverted: fc.boolean(),
        },
        { requiredKeys: ['action', 'subject'] },
      );
    })
    .map((p) => JSON.parse(JSON.stringify(p)) as StoredPermission);

const projectRolePermissionArb: fc.Arbitrary<StoredPermission> = fc
  .constantFrom(...projectScoped)
  .chain((name) => fc.record({ action: fc.constantFrom(...catalog.subjects[name]!.actions), subject: fc.constant(name) }));

const worldArb = fc.record({
  role: fc.constantFrom<CompanyRole>('admin', 'manager', 'editor', 'collaborator'),
  companyRole: fc.array(permissionArb(subjects), { maxLength: 6 }),
  registered: fc.subarray(PROJECTS),
  projectRole: fc.array(projectRolePermissionArb, { minLength: 1, maxLength: 5 }),
  grantPicks: fc.array(fc.nat(), { maxLength: 4 }),
});

const questionArb: fc.Arbitrary<CheckQuestion> = fc.constantFrom(...subjects).chain((type) => {
  const spec = catalog.subjects[type]!;
  return fc.record(
    {
      action: fc.constantFrom(...spec.actions),
      project: spec.projectAttribute ? fc.option(fc.constantFrom(...PROJECTS, UNREGISTERED), { nil: undefined }) : fc.constant(undefined),
      field: spec.fields ? fc.option(fc.constantFrom(...spec.fields), { nil: undefined }) : fc.constant(undefined),
    },
    { requiredKeys: ['action'] },
  ).map(({ action, project, field }) => {
    const question: CheckQuestion = { action, resource: { type } };
    if (project !== undefined) {
      if (spec.projectAttribute === 'id') question.resource.id = project;
      else question.resource.attributes = { [spec.projectAttribute!]: project };
    }
    if (field !== undefined) question.field = field;
    return question;
  });
});

/** What a service does with the exported rules. */
function localDecision(rules: CompiledRule[], question: CheckQuestion): boolean {
  const object = { ...question.resource.attributes, ...(question.resource.id !== undefined ? { id: question.resource.id } : {}) };
  return createMongoAbility(rules).can(question.action, subject(question.resource.type, object), question.field);
}

const describeCase = (rules: CompiledRule[], registered: readonly string[], question: CheckQuestion) =>
  `question: ${JSON.stringify(question)}\nregistered: ${JSON.stringify(registered)}\nrules: ${JSON.stringify(rules)}`;

describe('exported rules decide as /v1/check does, registered projects included (D15)', () => {
  it('for random roles, grants on registered projects and questions (in process)', () => {
    let checks = 0;
    fc.assert(
      fc.property(worldArb, fc.array(questionArb, { minLength: 25, maxLength: 25 }), (world, questions) => {
        // Grants only ever name registered projects: the store removes them with their project.
        const granted = world.registered.length ? [...new Set(world.grantPicks.map((i) => world.registered[i % world.registered.length]!))] : [];
        const facts: PrincipalFacts = {
          membership: { status: 'active', role: world.role, owner: false, applicationAccess: false, developerAccess: false },
          companyRolePermissions: world.role === 'admin' ? policies.companyRoles.admin : world.companyRole,
          projectGrants: granted.map((projectId) => ({ projectId, roleKey: 'custom', teamId: null, permissions: world.projectRole })),
        };
        const rules = compileRules(catalog, facts);
        const registered = new Set(world.registered);
        const ability = createCheckAbility(rules);
        const exported = exportedRules(catalog, rules, registered);
        for (const question of questions) {
          checks++;
          const onCheckPath = decide(catalog, ability, registered, question).allowed;
          const local = localDecision(exported, question);
          if (onCheckPath !== local) throw new Error(`check path says ${onCheckPath}, exported rules say ${local}\n${describeCase(exported, world.registered, question)}`);
        }
      }),
      { numRuns: 400 },
    );
    expect(checks).toBe(400 * 25);
  });

  it('an admin keeps creating projects and managing the registered ones; an editor views only registered ones', () => {
    const registered = new Set(['p1']);
    const admin = exportedRules(catalog, compileRules(catalog, { membership: { status: 'active', role: 'admin', owner: false, applicationAccess: false, developerAccess: false }, companyRolePermissions: policies.companyRoles.admin, projectGrants: [] }), registered);
    expect(admin.filter((r) => r.subject === 'Project')).toEqual([
      { action: 'create', subject: 'Project', reason: 'company role admin allows manage Project' },
      { action: 'manage', subject: 'Project', conditions: { id: { $in: ['p1'] } }, reason: 'company role admin allows manage Project' },
    ]);
    const can = (action: string, id?: string) => localDecision(admin, { action, resource: { type: 'Project', ...(id ? { id } : {}) } });
    expect([can('create'), can('create', 'p-new'), can('delete', 'p1'), can('delete', 'p-new'), can('delete')]).toEqual([true, true, true, false, false]);
  });
});

describe.skipIf(!servicesUp)('exported rules and /v1/accessible agree with /v1/check over HTTP', () => {
  let env: TestEnvironment;
  let instance: TestApp;
  beforeAll(async () => {
    env = await createTestEnvironment();
    instance = await env.start();
  });
  afterAll(() => env?.close());

  it('for random principals and questions', async () => {
    let run = 0;
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(worldArb, fc.array(questionArb, { minLength: 20, maxLength: 20 }), async (world, questions) => {
        const company = `export-${++run}`;
        const granted = world.registered.length ? [...new Set(world.grantPicks.map((i) => world.registered[i % world.registered.length]!))] : [];
        await seedCompany(instance.app.store.db, policies, {
          id: company,
          members: [{ id: 'u', role: world.role }],
          ...(world.role === 'admin' ? {} : { companyRoles: { [world.role]: world.companyRole } }),
          projectRoles: [{ key: 'custom', permissions: world.projectRole }],
          projects: world.registered,
          grants: granted.map((project) => ({ project, role: 'custom', user: 'u' })),
        });
        const raw = await api(instance.url, 'GET', `/v1/companies/${company}/principals/u/rules`);
        const packed = await api(instance.url, 'GET', `/v1/companies/${company}/principals/u/rules?format=packed`);
        expect(raw.status).toBe(200);
        const unpacked = unpackRules(packed.body.rules as PackRule<CompiledRule>[]);
        for (const question of questions) {
          const answer = await api(instance.url, 'POST', '/v1/check', { company, principal: { id: 'u' }, ...question });
          expect(answer.status, JSON.stringify([question, answer.body])).toBe(200);
          expect(answer.body.version).toBe(raw.body.version);
          const local = localDecision(raw.body.rules, question);
          if (local !== answer.body.allowed) throw new Error(`/v1/check says ${answer.body.allowed} (${answer.body.reason}), exported rules say ${local}\n${describeCase(raw.body.rules, world.registered, question)}`);
          expect(localDecision(unpacked, question)).toBe(local);
          compared++;
        }
        // /v1/accessible on Project names exactly the projects /v1/check allows.
        const candidates = [...PROJECTS, UNREGISTERED];
        for (const action of catalog.subjects.Project!.actions) {
          const accessible = await api(instance.url, 'POST', '/v1/accessible', { company, principal: { id: 'u' }, action, resourceType: 'Project' });
          const checks = candidates.map((id) => ({ action, resource: { type: 'Project', id } }));
          const batch = await api(instance.url, 'POST', '/v1/check/batch', { company, principal: { id: 'u' }, checks });
          const allowed = candidates.filter((_, i) => batch.body.results[i].allowed);
          const { kind, ids } = accessible.body as { kind: string; ids?: string[] };
          if (kind === 'conditional') continue; // a restriction in the role: a condition tree, not a list
          const said = kind === 'all' ? [...PROJECTS, UNREGISTERED] : kind === 'some' ? ids! : [];
          expect(said, `${action} Project`).toEqual(allowed);
        }
      }),
      { numRuns: 25 },
    );
    expect(compared).toBe(25 * 20);
  }, 120_000);
});
