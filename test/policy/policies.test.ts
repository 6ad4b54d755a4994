import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicies, permissionProblems, PolicyFileError } from '../../src/policy/catalog.js';
import { runPolicyTests } from '../../src/check/policy-tests.js';
import { compilePolicyRoutes, createRouteCaseRunner } from '../../src/gateway/routes.js';

const fixtures = path.resolve(import.meta.dirname, '../fixtures');

describe('policies as code', () => {
  it('the shipped policy files validate', () => {
    const policies = loadPolicies();
    expect(Object.keys(policies.catalog.subjects)).toEqual([
      'Company', 'CompanySettings', 'Member', 'Team', 'Role', 'Project', 'ProjectInformation', 'Scenario', 'ProjectMember', 'Application', 'Builder',
    ]);
    expect(policies.projectRoles.map((r) => r.key)).toEqual(['project-admin', 'contributor', 'viewer']);
    expect(policies.testSuites.length).toBeGreaterThan(0);
  });

  it('the catalog answers only its own names: prototype keys such as constructor are no subjects (issue 12 item 7)', () => {
    const { catalog } = loadPolicies();
    const records = { subjects: catalog.subjects, projectRolePermissions: catalog.projectRolePermissions, companyRolePermissions: catalog.companyRolePermissions, adminRolePermissions: catalog.adminRolePermissions };
    for (const [name, record] of Object.entries(records)) {
      for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
        expect((record as Record<string, unknown>)[key], `${name}[${key}]`).toBeUndefined();
      }
    }
    expect(permissionProblems(catalog, { action: 'view', subject: 'constructor' }, 'project')).toEqual(['unknown subject "constructor"']);
    expect(permissionProblems(catalog, { action: 'view', subject: 'toString' }, 'admin')).toEqual(['unknown subject "toString"']);
  });

  it('every shipped policy test case passes, gateway cases through the shipped route map', () => {
    const policies = loadPolicies();
    const results = runPolicyTests(policies, createRouteCaseRunner(policies, compilePolicyRoutes(policies)));
    expect(results.filter((r) => !r.passed)).toEqual([]);
    expect(results.filter((r) => typeof r.expected === 'number').length).toBeGreaterThan(10);
  });

  it('gateway cases cannot pass without the route map', () => {
    const policies = loadPolicies();
    const failures = runPolicyTests(policies).filter((r) => !r.passed);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((r) => typeof r.expected === 'number' && r.actual === null)).toBe(true);
  });

  it('a broken policy file is refused with the file and the offending path', () => {
    const dir = path.join(fixtures, 'broken-policies');
    let error: unknown;
    try {
      loadPolicies(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyFileError);
    expect((error as PolicyFileError).file).toBe(path.join(dir, 'company-roles.json'));
    expect((error as Error).message).toBe(`Invalid policy file ${path.join(dir, 'company-roles.json')}:\n  at manager.1: "logo" is not a field of CompanySettings`);
  });

  it('the default project roles must include the role project creators receive (D15)', () => {
    const dir = path.join(fixtures, 'no-creator-role');
    expect(() => loadPolicies(dir)).toThrow(
      new PolicyFileError(path.join(dir, 'project-roles.json'), ['at (root): must define "project-admin", the role a project\'s creator receives (D15)']),
    );
  });

  it('a missing policy directory names the file it could not read', () => {
    expect(() => loadPolicies(path.join(fixtures, 'no-such-dir'))).toThrow(/Invalid policy file .*no-such-dir\/catalog\.json:\n  cannot be read/);
  });

  it('a failing policy test case is reported as a failure, not swallowed', () => {
    const policies = loadPolicies();
    const suite = { ...policies.testSuites[0]!, cases: [{ action: 'delete', resource: { type: 'Company' }, allowed: true }], principal: { ...policies.testSuites[0]!.principal, role: 'editor' as const, owner: false } };
    const [result] = runPolicyTests({ ...policies, testSuites: [suite] });
    expect(result).toMatchObject({ passed: false, expected: true, actual: false });
  });
});
