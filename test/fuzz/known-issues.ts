import type { FuzzCase } from './cases.js';
import type { World } from './world.js';

/**
 * Failures the fuzzer found in code another change is rewriting, so not fixed here: each names
 * its file and how to reproduce it, and the fuzzer does not send the cases it matches. Delete
 * an entry once its fix lands; the fuzzer then holds the fix.
 */
export interface KnownIssue {
  name: string;
  where: string;
  reproducer: string;
  matches(fuzzCase: FuzzCase, world: World): boolean;
}

// None at the moment: the two the fuzzer found in the check path are fixed, and held by fuzz.test.ts.
export const KNOWN_ISSUES: readonly KnownIssue[] = [];
