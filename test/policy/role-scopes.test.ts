import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMongoAbility } from '@casl/ability';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPolicies, PolicyFileError } from '../../src/policy/catalog.js';
import { compileRules } from '../../src/policy/compiler.js';
import type { StoredPermission } from '../../src/policy/types.js';

const shipped = path.resolve(import.meta.dirname, '../../policies');
const policies = loadPolicies();
const { catalog } = policies;

describe('policy files: roles hold only what their kind may (holes 5 and 6 of issue 11)', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** A copy of the shipped policies with one file edited. */
  function policiesWith(file: string, edit: (json: any) => void): string {
    dir = mkdtempSync(path.join(tmpdir(), 'castellan-policies-'));
    cpSync(shipped, dir, { recursive: true });
    const json = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    edit(json);
    writeFileSync(path.join(dir, file), JSON.stringify(json));
    return dir;
  }

  const problemsOf = (loadFrom: string) => {
    try {
      loadPolicies(loadFrom);
    } catch (error) {
      expect(error).toBeInstanceOf(PolicyFileError);
      return (error as PolicyFileError).problems;
    }
    return [];
  };

  it('a default company role naming a project permission is refused at its path', () => {
    const loadFrom = policiesWith('company-roles.json', (roles) => roles.editor.push({ action: 'delete', subject: 'Scenario' }));
    expect(problemsOf(loadFrom)).toEqual([
      'at editor.3: a company role cannot name Scenario: what a user does inside a project comes from project roles (D18)',
    ]);
  });

  it('edit Project in a default company role is refused; manage Project in the admin role is the one exception (D18)', () => {
    const loadFrom = policiesWith('company-roles.json', (roles) => roles.manager.push({ action: 'edit', subject: 'Project' }));
    expect(problemsOf(loadFrom)).toEqual([
      `at manager.${policies.companyRoles.manager.length}: "edit" is not allowed on Project in a company role: what a user does inside a project comes from project roles (D18)`,
    ]);
    const adminScenario = policiesWith('company-roles.json', (roles) => roles.admin.push({ action: 'view', subject: 'Scenario' }));
    expect(problemsOf(adminScenario)).toEqual([
      `at admin.${policies.companyRoles.admin.length}: the admin role cannot name Scenario: what a user does inside a project comes from project roles (D18)`,
    ]);
  });

  it('an inverted permission in a default project role is refused (D16)', () => {
    const loadFrom = policiesWith('project-roles.json', (roles) => roles[2].permissions.push({ action: 'view', subject: 'Scenario', inverted: true }));
    expect(problemsOf(loadFrom)).toEqual(['at 2.permissions.2: a project role only allows: inverted permissions are refused (D16)']);
  });
});

describe('compiler: a role decides the same whatever the order of its permissions (hole 4 of issue 11, D9)', () => {
  const companyPermission: fc.Arbitrary<StoredPermission> = fc
    .constantFrom(...Object.keys(catalog.companyRolePermissions))
    .chain((subject) => {
      const spec = catalog.subjects[subject]!;
      return fc.record(
        {
          action: fc.constantFrom(...catalog.companyRolePermissions[subject]!),
          subject: fc.constant(subject),
          fields: spec.fields ? fc.subarray(spec.fields, { minLength: 1 }) : fc.constant(undefined),
          inverted: fc.boolean(),
        },
        { requiredKeys: ['action', 'subject'] },
      );
    })
    .map((p) => JSON.parse(JSON.stringify(p)) as StoredPermission);

  const questions = Object.entries(catalog.subjects).flatMap(([type, spec]) =>
    spec.actions.flatMap((action) =>
      [undefined, ...(spec.fields ?? [])].flatMap((field) =>
        (spec.projectAttribute ? ['p1', 'p2'] : [undefined]).map((project) => ({ action, type, field, attributes: project && spec.projectAttribute ? { [spec.projectAttribute]: project } : {} })),
      ),
    ),
  );

  const decisions = (permissions: StoredPermission[], grants: Array<{ projectId: string; roleKey: string; permissions: StoredPermission[] }>) => {
    const rules = compileRules(catalog, {
      membership: { status: 'active', role: 'editor', owner: false, applicationAccess: true, developerAccess: false },
      companyRolePermissions: permissions,
      projectGrants: grants.map((g) => ({ ...g, teamId: null })),
    });
    const ability = createMongoAbility(rules);
    return questions.map((q) => ability.can(q.action, Object.assign(Object.create({ constructor: { modelName: q.type } }), q.attributes), q.field));
  };

  it('any permutation of a company role (and of the grants after it) gives the same decisions', () => {
    let runs = 0;
    fc.assert(
      fc.property(
        fc.array(companyPermission, { maxLength: 8 }).chain((permissions) => fc.tuple(fc.constant(permissions), fc.shuffledSubarray(permissions, { minLength: permissions.length }))),
        ([permissions, shuffled]) => {
          runs++;
          const grants = [{ projectId: 'p1', roleKey: 'viewer', permissions: policies.projectRoles.find((r) => r.key === 'viewer')!.permissions }];
          expect(decisions(shuffled, grants)).toEqual(decisions(permissions, grants));
        },
      ),
      { numRuns: 300 },
    );
    expect(runs).toBe(300);
  });

  it('the permutation of the issue: a restriction listed first still narrows what follows', () => {
    const rules = compileRules(catalog, {
      membership: { status: 'active', role: 'editor', owner: false, applicationAccess: false, developerAccess: false },
      companyRolePermissions: [
        { action: 'view', subject: 'CompanySettings', fields: ['subscription'], inverted: true },
        { action: 'view', subject: 'CompanySettings' },
      ],
      projectGrants: [],
    });
    const ability = createMongoAbility(rules);
    expect(ability.can('view', 'CompanySettings', 'subscription')).toBe(false);
    expect(ability.can('view', 'CompanySettings', 'general')).toBe(true);
  });

  it('stored permissions a role may not hold decide nothing (rows written before the rule)', () => {
    const rules = compileRules(catalog, {
      membership: { status: 'active', role: 'editor', owner: false, applicationAccess: false, developerAccess: false },
      companyRolePermissions: [{ action: 'delete', subject: 'Scenario' }, { action: 'edit', subject: 'Project' }],
      projectGrants: [{ projectId: 'p1', roleKey: 'muzzle', teamId: null, permissions: [{ action: 'view', subject: 'Scenario' }, { action: 'manage', subject: 'Project', inverted: true }] }],
    });
    expect(rules.filter((r) => r.subject !== 'Project' || r.action !== 'view')).toEqual([
      { action: 'view', subject: 'Scenario', conditions: { projectId: { $in: ['p1'] } }, reason: 'role muzzle on project {projectId} allows view Scenario' },
    ]);
  });
});
