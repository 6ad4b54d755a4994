import type { Policies, PolicyTestSuite } from '../policy/catalog.js';
import { compileStoredPrincipal, type ProjectGrantFact } from '../policy/compiler.js';
import type { StoredPermission } from '../policy/types.js';
import { createCheckAbility } from './abilities.js';
import { decide, parseQuestion } from './decide.js';

export interface PolicyCaseResult {
  suite: string;
  file: string;
  index: number;
  label: string;
  expected: boolean;
  actual: boolean | null;
  reason: string;
  passed: boolean;
}

/**
 * Runs one suite of policy cases through the same compiler and decision function as
 * /v1/check, in a company whose registered projects are the suite's `projects` (by
 * default the projects its grants name).
 */
export function runPolicySuite(policies: Policies, suite: PolicyTestSuite): PolicyCaseResult[] {
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
  const ability = createCheckAbility(rules);
  const projects = new Set(suite.projects ?? grants.map((grant) => grant.projectId));

  return suite.cases.map((testCase, index) => {
    const target = testCase.resource.id ?? testCase.resource.attributes?.projectId ?? '';
    const label = `${testCase.action} ${testCase.resource.type}${target ? ` ${target}` : ''}${testCase.field ? ` (${testCase.field})` : ''}`;
    try {
      const question = parseQuestion(policies.catalog, testCase, `cases.${index}`, new Set(['action', 'resource', 'field', 'allowed']));
      const decision = decide(policies.catalog, ability, projects, question);
      return { suite: suite.name, file: suite.file, index, label, expected: testCase.allowed, actual: decision.allowed, reason: decision.reason, passed: decision.allowed === testCase.allowed };
    } catch (error) {
      return { suite: suite.name, file: suite.file, index, label, expected: testCase.allowed, actual: null, reason: (error as Error).message, passed: false };
    }
  });
}

export function runPolicyTests(policies: Policies): PolicyCaseResult[] {
  return policies.testSuites.flatMap((suite) => runPolicySuite(policies, suite));
}
