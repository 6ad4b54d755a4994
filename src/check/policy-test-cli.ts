import { loadPolicies, PolicyFileError } from '../policy/catalog.js';
import { runPolicyTests } from './policy-tests.js';

// npm run policy:test [policies-dir]: prints PASS/FAIL per case, like `opa test`; exits 1 on any failure.
try {
  const policies = loadPolicies(process.argv[2]);
  const results = runPolicyTests(policies);
  for (const r of results) {
    const verdict = r.passed ? 'PASS' : 'FAIL';
    const detail = r.passed ? '' : ` (expected ${r.expected ? 'allow' : 'deny'}, got ${r.actual === null ? 'error' : r.actual ? 'allow' : 'deny'}: ${r.reason})`;
    console.log(`${verdict}: ${r.suite} #${r.index} ${r.label}${detail}`);
  }
  const failed = results.filter((r) => !r.passed).length;
  console.log('-'.repeat(40));
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
} catch (error) {
  console.error(error instanceof PolicyFileError ? error.message : error);
  process.exitCode = 1;
}
