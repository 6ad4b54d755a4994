import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runPolicySuite } from '../../src/check/policy-tests.js';
import { compilePolicyRoutes, createRouteCaseRunner } from '../../src/gateway/routes.js';
import { loadPolicies, PolicyFileError, policyTestSuiteSchema, type PolicyTestSuite } from '../../src/policy/catalog.js';

const shipped = path.resolve(import.meta.dirname, '../../policies');
const scratch = mkdtempSync(path.join(tmpdir(), 'castellan-routes-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let dirs = 0;
/** A copy of the shipped policies with another routes.json (or none). */
function policiesWith(routes: unknown | null): string {
  const dir = path.join(scratch, `p${++dirs}`);
  cpSync(shipped, dir, { recursive: true });
  if (routes === null) rmSync(path.join(dir, 'routes.json'));
  else writeFileSync(path.join(dir, 'routes.json'), JSON.stringify(routes));
  return dir;
}

const problemsOf = (routes: unknown): string[] => {
  const dir = policiesWith(routes);
  try {
    compilePolicyRoutes(loadPolicies(dir));
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyFileError);
    expect((error as PolicyFileError).file).toBe(path.join(dir, 'routes.json'));
    return (error as PolicyFileError).problems;
  }
  return [];
};

const scenario = { method: 'GET', path: '/c/:company/p/:projectId/s/:id', company: ':company', action: 'view', resource: { type: 'Scenario', id: ':id', attributes: { projectId: ':projectId' } } };

describe('routes.json is validated at start-up like the other policy files', () => {
  it('the shipped route map loads and compiles', () => {
    const policies = loadPolicies();
    expect(policies.routes.length).toBeGreaterThan(0);
    expect(compilePolicyRoutes(policies).size).toBe(policies.routes.length);
  });

  it('without routes.json there are no routes (forward-auth then denies everything)', () => {
    const policies = loadPolicies(policiesWith(null));
    expect(policies.routes).toEqual([]);
    expect(compilePolicyRoutes(policies).match('GET', '/anything')).toMatchObject({ matched: false });
  });

  it('names the route and the field of each problem', () => {
    expect(problemsOf({ routes: [{ ...scenario, action: 'fly' }] })).toEqual(['at routes.0.action: "fly" is not an action of Scenario']);
    expect(problemsOf({ routes: [{ ...scenario, company: ':tenant' }] })).toEqual(['at routes.0.company: ":tenant" is not a parameter of the path']);
    expect(problemsOf({ routes: [{ ...scenario, resource: { type: 'Invoice' } }] })).toEqual(['at routes.0.resource.type: unknown resource type "Invoice"']);
    expect(problemsOf({ routes: [{ ...scenario, resource: { type: 'Scenario', id: ':id' } }] })).toEqual([
      'at routes.0.resource: Scenario is project-scoped: the route must name the project (resource.attributes.projectId), else it denies every request',
    ]);
    expect(problemsOf({ routes: [{ ...scenario, resource: { ...scenario.resource, attributes: { projectId: ':projectId', owner: 'x' } } }] })).toEqual([
      'at routes.0.resource.attributes.owner: "owner" is not an attribute of Scenario',
    ]);
    expect(problemsOf({ routes: [{ ...scenario, field: 'general' }] })).toEqual(['at routes.0.field: Scenario has no fields']);
    expect(problemsOf({ routes: [{ ...scenario, resource: { type: 'CompanySettings' }, field: 'logo' }] })).toEqual(['at routes.0.field: "logo" is not a field of CompanySettings']);
    expect(problemsOf({ routes: [{ ...scenario, path: '/c/:company/p/:projectId/s/:id/' }] })[0]).toMatch(/^at routes\.0\.path: must be "\/" then segments/);
    expect(problemsOf({ routes: [{ ...scenario, method: 'get' }] })[0]).toMatch(/^at routes\.0\.method:/);
    expect(problemsOf({ routes: [{ ...scenario, extra: true }] })[0]).toMatch(/^at routes\.0: Unrecognized key/);
  });

  it('refuses two routes that one request would match the same way, and literals that differ only in case', () => {
    expect(problemsOf({ routes: [scenario, { ...scenario, path: '/c/:company/p/:projectId/s/:scenario', resource: { ...scenario.resource, id: ':scenario' } }] })).toEqual([
      'at routes.1: GET /c/:company/p/:projectId/s/:scenario has the same shape as route 0 (/c/:company/p/:projectId/s/:id)',
    ]);
    expect(problemsOf({ routes: [scenario, { ...scenario, path: '/C/:company/p/:projectId/s/:id' }] })[0]).toMatch(/differs only in case/);
    expect(problemsOf({ routes: [scenario, { ...scenario, path: '/c/:company/p/:projectId/s/../:id' }] })[0]).toMatch(/has a "\.\." segment/);
  });
});

describe('policy:test gateway cases', () => {
  const policies = loadPolicies();
  const runRoute = createRouteCaseRunner(policies, compilePolicyRoutes(policies));
  const suite = (raw: unknown): PolicyTestSuite => ({ ...policyTestSuiteSchema.parse(raw), file: 'inline.json', name: 'inline' });

  it('answers 200, 401 or 403 with the reason forward-auth gives', () => {
    const results = runPolicySuite(
      policies,
      suite({
        principal: { id: 'ada', role: 'editor', grants: [{ project: 'p1', role: 'viewer' }] },
        cases: [
          { method: 'GET', path: '/api/companies/acme/projects/p1/scenarios/s1', token: { sub: 'ada' }, expect: 200 },
          { method: 'PATCH', path: '/api/companies/acme/projects/p1/scenarios/s1', token: { sub: 'ada' }, expect: 403 },
          { method: 'GET', path: '/api/companies/acme/projects/p1/scenarios/s1', token: null, expect: 401 },
          { method: 'GET', path: '/api/companies/acme/projects/p1/scenarios/s1', token: { sub: 'bob' }, expect: 403 },
          { method: 'GET', path: '/api/companies/acme/projects/p1//scenarios/s1', token: { sub: 'ada' }, expect: 403 },
          { method: 'GET', path: '/api/companies/acme/projects/p1/scenarios/s%201', token: { sub: 'ada' }, expect: 403 },
          { method: 'GET', path: '/api/companies/acme/projects/p1', token: { sub: 'ada' }, expect: 401 },
          { action: 'view', resource: { type: 'Project', id: 'p1' }, allowed: true },
        ],
      }),
      runRoute,
    );
    expect(results.map((r) => [r.label, r.actual, r.reason])).toEqual([
      ['GET /api/companies/acme/projects/p1/scenarios/s1', 200, 'role viewer on project p1 allows view Scenario'],
      ['PATCH /api/companies/acme/projects/p1/scenarios/s1', 403, 'no rule allows edit Scenario'],
      ['GET /api/companies/acme/projects/p1/scenarios/s1', 401, 'no token'],
      ['GET /api/companies/acme/projects/p1/scenarios/s1', 403, 'bob has no membership in company acme'],
      ['GET /api/companies/acme/projects/p1//scenarios/s1', 403, 'the path has an empty segment (a trailing or repeated "/")'],
      [
        'GET /api/companies/acme/projects/p1/scenarios/s%201',
        403,
        'the path does not name a valid check for route GET /api/companies/:company/projects/:projectId/scenarios/:id: resource.id must be an id (1-128 chars of [A-Za-z0-9._:@-])',
      ],
      ['GET /api/companies/acme/projects/p1', 200, 'project membership on project p1 allows view Project'],
      ['view Project p1', true, 'project membership on project p1 allows view Project'],
    ]);
    expect(results.map((r) => r.passed)).toEqual([true, true, true, true, true, true, false, true]);
  });
});
