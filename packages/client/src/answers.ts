import { malformed } from './errors.js';
import type { AccessibleAnswer, BatchAnswer, CheckAnswer, Decision, EvaluationAnswer, EvaluationsAnswer, EvaluationsRequest, RulesAnswer } from './types.js';

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

/** An AuthZEN decision: `decision` must be a boolean, and only the boolean true is a permit. */
function evaluationOf(value: unknown, where: string): EvaluationAnswer {
  if (!isObject(value) || typeof value.decision !== 'boolean') throw malformed(`${where} has no boolean decision`);
  const answer: EvaluationAnswer = { decision: value.decision };
  if (value.context !== undefined) {
    if (!isObject(value.context)) throw malformed(`${where}'s context is not an object`);
    if (value.context.version !== undefined) versionOf(value.context);
    answer.context = value.context as EvaluationAnswer['context'];
  }
  return answer;
}

export const evaluationAnswerOf = (body: unknown): EvaluationAnswer => evaluationOf(body, 'the answer');

/**
 * A batch of evaluations answers one decision per item in request order, fewer only when a
 * semantic that stops early was asked for; with no items the request was one evaluation and
 * the answer is one decision.
 */
export function evaluationsAnswerOf(body: unknown, request: EvaluationsRequest): EvaluationsAnswer {
  const asked = request.evaluations?.length ?? 0;
  if (asked === 0) return evaluationAnswerOf(body);
  if (!isObject(body) || !Array.isArray(body.evaluations)) throw malformed('evaluations is not an array');
  const stopsEarly = (request.options?.evaluations_semantic ?? 'execute_all') !== 'execute_all';
  const answered = body.evaluations.length;
  if (stopsEarly ? answered < 1 || answered > asked : answered !== asked) throw malformed(`expected ${stopsEarly ? `1 to ${asked}` : asked} evaluations, got ${answered}`);
  return { evaluations: body.evaluations.map((item, i) => evaluationOf(item, `evaluations[${i}]`)) };
}
