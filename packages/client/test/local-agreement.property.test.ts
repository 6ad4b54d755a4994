import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCompany } from '../../../test/check/seed.js';
import type { TestApp, TestEnvironment } from '../../../test/support/app.js';
import { createTestEnvironment } from '../../../test/support/app.js';
import { servicesUp } from '../../../test/support/services.js';
import { loadPolicies } from '../../../src/policy/catalog.js';
import type { CompanyRole, StoredPermission } from '../../../src/policy/types.js';
import { createCastellanClient, type CheckRequest } from '../src/index.js';

/**
 * Local evaluation is only worth having if it answers what the server answers. Random
 * companies (a role with random company permissions, a custom project role granted on
 * some registered projects, directly or through a team) are written into a real Castellan;
 * random checks, on registered, unregistered and unnamed projects, are asked of the server
 * (`check`) and of the client's own ability (`checkLocally`), and must agree.
 */
const policies = loadPolicies();
const { catalog } = policies;
const subjects = Object.keys(catalog.subjects);
const projectScoped = subjects.filter((s) => catalog.subjects[s]!.projectAttribute);
const PROJECTS = ['p0', 'p1', 'p2', 'p3'];

const permissionArb = (among: string[], invertible: boolean): fc.Arbitrary<StoredPermission> =>
  fc
    .constantFrom(...among)
    .chain((name) => {
      const spec = catalog.subjects[name]!;
      return fc.record(
        {
          action: fc.constantFrom(...spec.actions),
          subject: fc.constant(name),
          fields: spec.fields ? fc.subarray(spec.fields, { minLength: 1 }) : fc.constant(undefined),
          inverted: invertible ? fc.boolean() : fc.constant(false),
        },
        { requiredKeys: ['action', 'subject'] },
      );
    })
    .map((p) => JSON.parse(JSON.stringify(p)) as StoredPermission);

// Company roles hold company-level permissions only (D9); project roles only allow (D16).
const companyLevel = subjects.filter((s) => !catalog.subjects[s]!.projectAttribute || s === 'Project');
const worldArb = fc.record({
  role: fc.constantFrom<CompanyRole>('admin', 'manager', 'editor', 'collaborator'),
  companyRole: fc.array(permissionArb(companyLevel, true), { maxLength: 5 }).map((ps) => ps.filter((p) => p.subject !== 'Project' || ['create', 'view'].includes(p.action))),
  registered: fc.subarray(PROJECTS),
  projectRole: fc.array(permissionArb(projectScoped, false), { minLength: 1, maxLength: 5 }).map((ps) => ps.map(({ fields: _f, ...p }) => p)),
  grants: fc.array(fc.record({ pick: fc.nat(), viaTeam: fc.boolean() }), { maxLength: 3 }),
});

const questionArb = fc.constantFrom(...subjects).chain((type) => {
  const spec = catalog.subjects[type]!;
  return fc
    .record({
      action: fc.constantFrom(...spec.actions),
      project: spec.projectAttribute ? fc.option(fc.constantFrom(...PROJECTS, 'p-elsewhere'), { nil: undefined }) : fc.constant(undefined),
      field: spec.fields ? fc.option(fc.constantFrom(...spec.fields), { nil: undefined }) : fc.constant(undefined),
    })
    .map(({ action, project, field }) => {
      const resource: CheckRequest['resource'] = { type: type as CheckRequest['resource']['type'] };
      if (project !== undefined) {
        if (spec.projectAttribute === 'id') resource.id = project;
        else resource.attributes = { [spec.projectAttribute!]: project };
      }
      return { action: action as CheckRequest['action'], resource, ...(field !== undefined ? { field: field as CheckRequest['field'] } : {}) };
    });
});

describe.skipIf(!servicesUp)('local evaluation agrees with the server', () => {
  let env: TestEnvironment;
  let app: TestApp;
  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
  });
  afterAll(() => env?.close());

  it('on random roles, grants and checks', async () => {
    let run = 0;
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(worldArb, fc.array(questionArb, { minLength: 20, maxLength: 20 }), async (world, questions) => {
        const company = `local-${++run}`;
        const granted = world.registered.length ? world.grants.map((g) => ({ ...g, project: world.registered[g.pick % world.registered.length]! })) : [];
        await seedCompany(app.app.store.db, policies, {
          id: company,
          members: [{ id: 'u', role: world.role }],
          teams: [{ id: 'team', members: ['u'] }],
          ...(world.role === 'admin' ? {} : { companyRoles: { [world.role]: world.companyRole } }),
          projectRoles: [{ key: 'custom', permissions: world.projectRole }],
          projects: world.registered,
          grants: [...new Map(granted.map((g) => [`${g.project}/${g.viaTeam}`, { project: g.project, role: 'custom', ...(g.viaTeam ? { team: 'team' } : { user: 'u' }) }])).values()],
        });
        const client = createCastellanClient({ baseUrl: app.url, timeoutMs: 10_000, refreshMs: 60_000 });
        const asked = questions.map((q) => ({ company, principal: { id: 'u' }, ...q }));
        const remote = await Promise.all(asked.map((q) => client.check(q)));
        for (const [i, question] of asked.entries()) {
          const local = await client.checkLocally(question);
          if (local.allowed !== remote[i]!.allowed || local.version !== remote[i]!.version) {
            throw new Error(`server: ${JSON.stringify(remote[i])}, local: ${JSON.stringify(local)}\nquestion: ${JSON.stringify(question)}\nworld: ${JSON.stringify(world)}`);
          }
          compared++;
        }
      }),
      { numRuns: 100 },
    );
    expect(compared).toBe(100 * 20);
  }, 120_000);
});
