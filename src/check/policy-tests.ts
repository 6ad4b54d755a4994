import type { MongoAbility } from '@casl/ability';
import { isRouteCase, type CheckCase, type Policies, type PolicyTestSuite, type RouteCase } from '../policy/catalog.js';
import { compileStoredPrincipal, type ProjectGrantFact } from '../policy/compiler.js';
import type { StoredPermission } from '../policy/types.js';
import { createCheckAbility } from './abilities.js';
import { decide, parseQuestion } from './decide.js';

export interface PolicyCaseResult {
  suite: string;
  file: string;
  index: number;
  label: string;
  /** A decision case expects allowed or not; a gateway case the status forward-auth answers. */
  expected: boolean | number;
  /** Null when the case could not be run (its reason says why). */
  actual: boolean | number | null;
  reason: string;
  passed: boolean;
}

/** The suite's principal as /v1/check would hold it: its ability and its company's registered projects. */
export interface SuitePrincipal {
  suite: PolicyTestSuite;
  ability: MongoAbility;
  projects: ReadonlySet<string>;
}

/** Runs one gateway case (`{method, path, token, expect}`) for the suite's principal; supplied by the gateway. */
export type RouteCaseRunner = (testCase: RouteCase, principal: SuitePrincipal) => { status: number; reason: string };

/**
 * Compiles the suite's principal with the same compiler and ability as /v1/check, in a
 * company whose registered projects are the suite's `projects` (by default the projects
 * its grants name).
 */
export function suitePrincipal(policies: Policies, suite: PolicyTestSuite): SuitePrincipal {
  const role = suite.principal.role;
  const projectRoles = new Map<string, readonly StoredPermission[]>(policies.projectRoles.map((r) => [r.key, r.permissions]));
  for (const custom of suite.projectRoles ?? []) projectRoles.set(custom.key, custom.permissions);

  const grants: ProjectGrantFact[] = suite.principal.grants.map((grant) => {
    const permissions = projectRoles.get(grant.role);
    if (!permissions) throw new Error(`${suite.file}: grant names unknown project role "${grant.role}"`);
    return { projectId: grant.project, roleKey: grant.role, teamId: grant.team ?? null, permissions };
  });
  const rules = compileStoredPrincipal(policies, {
    membership: {
      status: suite.principal.status,
      role,
      owner: suite.principal.owner,
      applicationAccess: suite.principal.applicationAccess,
      developerAccess: suite.principal.developerAccess,
    },
    companyRolePermissions: role === 'admin' ? null : (suite.companyRoles?.[role] ?? null),
    projectGrants: grants,
  });
  return { suite, ability: createCheckAbility(rules), projects: new Set(suite.projects ?? grants.map((grant) => grant.projectId)) };
}

function checkCase(policies: Policies, principal: SuitePrincipal, testCase: CheckCase, index: number): PolicyCaseResult {
  const { suite } = principal;
  const target = testCase.resource.id ?? testCase.resource.attributes?.projectId ?? '';
  const label = `${testCase.action} ${testCase.resource.type}${target ? ` ${target}` : ''}${testCase.field ? ` (${testCase.field})` : ''}`;
  const base = { suite: suite.name, file: suite.file, index, label, expected: testCase.allowed };
  try {
    const question = parseQuestion(policies.catalog, testCase, `cases.${index}`, new Set(['action', 'resource', 'field', 'allowed']));
    const decision = decide(policies.catalog, principal.ability, principal.projects, question, undefined, suite.company);
    return { ...base, actual: decision.allowed, reason: decision.reason, passed: decision.allowed === testCase.allowed };
  } catch (error) {
    return { ...base, actual: null, reason: (error as Error).message, passed: false };
  }
}

function routeCase(principal: SuitePrincipal, testCase: RouteCase, index: number, runRoute: RouteCaseRunner | undefined): PolicyCaseResult {
  const { suite } = principal;
  const base = { suite: suite.name, file: suite.file, index, label: `${testCase.method} ${testCase.path}`, expected: testCase.expect };
  if (!runRoute) return { ...base, actual: null, reason: 'gateway cases need the route map (run them with npm run policy:test)', passed: false };
  try {
    const { status, reason } = runRoute(testCase, principal);
    return { ...base, actual: status, reason, passed: status === testCase.expect };
  } catch (error) {
    return { ...base, actual: null, reason: (error as Error).message, passed: false };
  }
}

/** Runs one suite's cases through the same compiler and decision function as /v1/check; gateway cases through `runRoute`. */
export function runPolicySuite(policies: Policies, suite: PolicyTestSuite, runRoute?: RouteCaseRunner): PolicyCaseResult[] {
  const principal = suitePrincipal(policies, suite);
  return suite.cases.map((testCase, index) => (isRouteCase(testCase) ? routeCase(principal, testCase, index, runRoute) : checkCase(policies, principal, testCase, index)));
}

export function runPolicyTests(policies: Policies, runRoute?: RouteCaseRunner): PolicyCaseResult[] {
  return policies.testSuites.flatMap((suite) => runPolicySuite(policies, suite, runRoute));
}
