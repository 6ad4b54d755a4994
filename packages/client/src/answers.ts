import { malformed } from './errors.js';
import type { AccessibleAnswer, BatchAnswer, CheckAnswer, Decision, RulesAnswer } from './types.js';

/**
 * Guards on what came back. Only the fields the client relies on are checked, and only they
 * are passed on: a field the server adds later is not an error, but `allowed` that is not
 * the boolean true is never an allow.
 */
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const VERSION = /^\d{1,20}$/;

function versionOf(body: Record<string, unknown>): string {
  if (typeof body.version !== 'string' || !VERSION.test(body.version)) throw malformed('version is not a decimal string');
  return body.version;
}

function decisionOf(value: unknown, where: string): Decision {
  if (!isObject(value) || typeof value.allowed !== 'boolean' || typeof value.reason !== 'string') throw malformed(`${where} is not a decision`);
  return { allowed: value.allowed, reason: value.reason };
}

export function checkAnswerOf(body: unknown): CheckAnswer {
  if (!isObject(body)) throw malformed('not an object');
  return { ...decisionOf(body, 'the answer'), version: versionOf(body) };
}

export function batchAnswerOf(body: unknown, checks: number): BatchAnswer {
  if (!isObject(body)) throw malformed('not an object');
  const version = versionOf(body);
  if (!Array.isArray(body.results) || body.results.length !== checks) throw malformed(`expected ${checks} results`);
  return { version, results: body.results.map((result, i) => decisionOf(result, `results[${i}]`)) };
}

const KINDS = new Set(['all', 'none', 'some', 'conditional']);

export function accessibleAnswerOf(body: unknown): AccessibleAnswer {
  if (!isObject(body) || typeof body.kind !== 'string' || !KINDS.has(body.kind)) throw malformed('kind is not all, none, some or conditional');
  const answer: AccessibleAnswer = { version: versionOf(body), kind: body.kind as AccessibleAnswer['kind'] };
  if (body.kind === 'some') {
    if (!Array.isArray(body.ids) || !body.ids.every((id) => typeof id === 'string')) throw malformed('kind some without ids');
    answer.ids = body.ids as string[];
  }
  if (body.kind === 'conditional') {
    if (!isObject(body.filter)) throw malformed('kind conditional without a filter');
    answer.filter = body.filter;
  }
  return answer;
}

export function rulesAnswerOf(body: unknown): RulesAnswer {
  if (!isObject(body) || !Array.isArray(body.rules)) throw malformed('rules is not an array');
  return { version: versionOf(body), rules: body.rules };
}
