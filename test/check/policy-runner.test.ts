import { describe, expect, it } from 'vitest';
import { runPolicySuite } from '../../src/check/policy-tests.js';
import { loadPolicies, policyTestSuiteSchema, type PolicyTestSuite } from '../../src/policy/catalog.js';

const policies = loadPolicies();

const suite = (raw: unknown): PolicyTestSuite => ({ ...policyTestSuiteSchema.parse(raw), file: 'inline.json', name: 'inline' });

/** The policy test runner decides in a company with registered projects (D15), as /v1/check does. */
describe('policy test runner: registered projects', () => {
  it('the shipped suite denies unregistered projects, and a check naming none, for the reason /v1/check gives', () => {
    const shipped = policies.testSuites.find((s) => s.name === 'unregistered-projects')!;
    const reasons = runPolicySuite(policies, shipped).map((r) => [r.label, r.passed, r.reason]);
    expect(reasons).toEqual([
      ['view Project p2', true, 'company role editor allows view Project'],
      ['view Project p-gone', true, 'project p-gone is not registered in acme'],
      ['view Project', true, 'Project checks need resource.id; none was given'],
      ['edit Scenario p1', true, 'role contributor on project p1 allows edit Scenario'],
      ['edit Scenario p-gone', true, 'project p-gone is not registered in acme'],
    ]);
  });

  it('without `projects`, the company has the projects its grants name', () => {
    const results = runPolicySuite(
      policies,
      suite({
        principal: { role: 'editor', grants: [{ project: 'p1', role: 'viewer' }] },
        cases: [
          { action: 'view', resource: { type: 'Project', id: 'p1' }, allowed: true },
          { action: 'view', resource: { type: 'Project', id: 'p2' }, allowed: false },
          { action: 'create', resource: { type: 'Project', id: 'p2' }, allowed: false },
        ],
      }),
    );
    expect(results.map((r) => [r.passed, r.reason])).toEqual([
      [true, 'project membership on project p1 allows view Project'],
      [true, 'project p2 is not registered in acme'],
      [true, 'no rule allows create Project'],
    ]);
  });

  it('refuses a suite whose grants name a project it does not list', () => {
    const parsed = policyTestSuiteSchema.safeParse({
      principal: { role: 'collaborator', grants: [{ project: 'p1', role: 'viewer' }] },
      projects: ['p2'],
      cases: [{ action: 'view', resource: { type: 'Project', id: 'p1' }, allowed: true }],
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['principal.grants.0.project', '"p1" is not in projects']]);
  });
});
