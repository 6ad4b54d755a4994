import { runPolicyTests, type PolicyCaseResult } from './check/policy-tests.js';
import { compilePolicyRoutes, createRouteCaseRunner } from './gateway/routes.js';
import { loadPolicies, PolicyFileError } from './policy/catalog.js';

// npm run policy:test [policies-dir]: prints PASS/FAIL per case, like `opa test`; exits 1 on any failure.
// An entry point like main.ts: it puts the check cases and the gateway cases (route map) together.

const outcome = (value: boolean | number | null) => (value === null ? 'error' : typeof value === 'number' ? String(value) : value ? 'allow' : 'deny');

function line(r: PolicyCaseResult): string {
  const detail = r.passed ? '' : ` (expected ${outcome(r.expected)}, got ${outcome(r.actual)}: ${r.reason})`;
  return `${r.passed ? 'PASS' : 'FAIL'}: ${r.suite} #${r.index} ${r.label}${detail}`;
}

try {
  const policies = loadPolicies(process.argv[2]);
  const results = runPolicyTests(policies, createRouteCaseRunner(policies, compilePolicyRoutes(policies)));
  for (const r of results) console.log(line(r));
  const failed = results.filter((r) => !r.passed).length;
  console.log('-'.repeat(40));
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
} catch (error) {
  console.error(error instanceof PolicyFileError ? error.message : error);
  process.exitCode = 1;
}
