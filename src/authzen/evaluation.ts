import type { PrincipalAbility } from '../check/abilities.js';
import type { CheckQuestion } from '../check/decide.js';
import { checkAnswer, type CheckAnswer, type CheckService } from '../check/service.js';
import { CastellanError, InvalidRequestError } from '../errors.js';
import type { Catalog } from '../policy/catalog.js';
import { minVersionOf, parseEntity, questionOf, userOf } from './mapping.js';
import { actionSchema, contextSchema, resourceSchema, subjectSchema, type Context, type EvaluationBody, type EvaluationsBody } from './schemas.js';

export interface DecisionAnswer {
  decision: boolean;
  context: { reason_admin?: { en: string }; version?: string; error?: { status: number; message: string } };
}

/** A Castellan decision as an AuthZEN Decision: the reason for administrators, and the version it was taken at. */
export const decisionOf = (answer: CheckAnswer): DecisionAnswer => ({ decision: answer.allowed, context: { reason_admin: { en: answer.reason }, version: answer.version } });

/** An item that could not be evaluated: denied, with why (spec 7.2.1, Errors). */
const itemError = (status: number, message: string): DecisionAnswer => ({ decision: false, context: { error: { status, message } } });

/** One evaluation, its entities resolved: who, which check, how fresh. */
interface Evaluation {
  userId: string;
  minVersion: bigint | undefined;
  question: CheckQuestion;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function required<T>(value: T | undefined, path: string): T {
  if (value === undefined) throw new InvalidRequestError(`${path}: required, here or at the top level`, { path });
  return value;
}

/** An item of `evaluations` with the top level's defaults: each key it names replaces the default whole (spec 7.1.1). */
function resolveItem(catalog: Catalog, defaults: EvaluationsBody, raw: unknown, index: number): Evaluation {
  const at = `evaluations.${index}.`;
  if (!isPlainObject(raw)) throw new InvalidRequestError(`evaluations.${index}: must be an object`, { path: `evaluations.${index}` });
  const own = (key: string) => raw[key] !== undefined;
  const subject = own('subject') ? parseEntity(subjectSchema, raw.subject, `${at}subject`) : required(defaults.subject, `${at}subject`);
  const action = own('action') ? parseEntity(actionSchema, raw.action, `${at}action`) : required(defaults.action, `${at}action`);
  const resource = own('resource') ? parseEntity(resourceSchema, raw.resource, `${at}resource`) : required(defaults.resource, `${at}resource`);
  const context: Context | undefined = own('context') ? parseEntity(contextSchema, raw.context, `${at}context`) : defaults.context;
  return {
    userId: userOf(subject, own('subject') ? at : ''),
    question: questionOf(catalog, action, resource, own('action') || own('resource') ? at : ''),
    minVersion: minVersionOf(context, own('context') ? at : ''),
  };
}

type Loaded = { entry: PrincipalAbility } | { error: CastellanError };

/**
 * The Access Evaluation and Access Evaluations APIs on the check path: each decision is
 * /v1/check's (the same ability, decide(), minVersion floor), for the company of the URL.
 */
export function createEvaluator(deps: { catalog: Catalog; service: CheckService }) {
  const { catalog, service } = deps;

  /** Synchronous when the principal's ability is in L1, like /v1/check. */
  function evaluate(companyId: string, body: EvaluationBody): DecisionAnswer | Promise<DecisionAnswer> {
    const question = questionOf(catalog, body.action, body.resource, '');
    const answer = service.decideParsed(companyId, userOf(body.subject, ''), minVersionOf(body.context, ''), question);
    return answer instanceof Promise ? answer.then(decisionOf) : decisionOf(answer);
  }

  /**
   * Evaluations in request order. Each distinct principal's ability is read once; an item
   * that cannot be evaluated (bad input, or its principal's data unavailable) is a deny with
   * its error, and the others are answered. The short-circuiting semantics stop at the
   * deciding item, and read nothing for the items after it.
   */
  async function evaluations(companyId: string, body: EvaluationsBody): Promise<{ evaluations: DecisionAnswer[] } | DecisionAnswer> {
    if (!body.evaluations?.length) {
      // Backwards compatible with a single evaluation (spec 7.1): the top level is the request.
      return evaluate(companyId, { subject: required(body.subject, 'subject'), action: required(body.action, 'action'), resource: required(body.resource, 'resource'), context: body.context });
    }
    const semantic = body.options?.evaluations_semantic ?? 'execute_all';
    const items = body.evaluations.map((raw, i): Evaluation | CastellanError => {
      try {
        return resolveItem(catalog, body, raw, i);
      } catch (error) {
        if (error instanceof CastellanError) return error;
        throw error;
      }
    });

    const loads = new Map<string, Promise<Loaded>>();
    const load = (item: Evaluation): Promise<Loaded> => {
      const key = JSON.stringify([item.userId, String(item.minVersion ?? '')]);
      let pending = loads.get(key);
      if (!pending) {
        pending = Promise.resolve()
          .then(() => service.ability(companyId, item.userId, item.minVersion))
          .then(
            (entry): Loaded => ({ entry }),
            (error: unknown): Loaded => {
              if (error instanceof CastellanError) return { error };
              throw error;
            },
          );
        loads.set(key, pending);
      }
      return pending;
    };
    // Every item is answered: read every principal at once.
    if (semantic === 'execute_all') for (const item of items) if (!(item instanceof CastellanError)) void load(item).catch(() => {});

    const answers: DecisionAnswer[] = [];
    for (const item of items) {
      let answer: DecisionAnswer;
      if (item instanceof CastellanError) answer = itemError(item.status, item.message);
      else {
        const loaded = await load(item);
        answer = 'error' in loaded ? itemError(loaded.error.status, loaded.error.message) : decisionOf(checkAnswer(catalog, loaded.entry, item.question, companyId));
      }
      answers.push(answer);
      if (semantic === 'deny_on_first_deny' && !answer.decision) break;
      if (semantic === 'permit_on_first_permit' && answer.decision) break;
    }
    return { evaluations: answers };
  }

  return { evaluate, evaluations };
}

export type Evaluator = ReturnType<typeof createEvaluator>;
