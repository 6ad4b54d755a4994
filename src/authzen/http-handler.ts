import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseId } from '../check/service.js';
import { createCheckTokenGuard } from '../check/check-token.js';
import { errorResponse, InvalidRequestError, UnauthenticatedError } from '../errors.js';
import { onJsonBody, sendJson } from '../http/json.js';
import { parsePart } from '../http/route.js';
import { createWriteBatch } from '../http/write-batch.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { DecisionAnswer, Evaluator } from './evaluation.js';
import { evaluationBody } from './schemas.js';

const BODY_LIMIT = 1024 * 1024;
const EVALUATION = /^\/authzen\/([^/?#]+)\/access\/v1\/evaluation(?:\?.*)?$/;

/**
 * The Access Evaluation endpoint on bare node:http beside the check handler: a PEP asks it
 * on every request it guards, and express's per-request machinery costs several times the
 * decision. Same validation (the route's zod schema, through parsePart), same answers as
 * the route in routes.ts describes; answered in the tick its body ends on an L1 hit.
 * Returns false for anything else, evaluations and search included (express serves them).
 */
export function createEvaluationHandler(deps: { evaluator: Evaluator; checkToken: string | undefined; metrics: Metrics; logger: Logger }) {
  const { evaluator, metrics, logger } = deps;
  const isAuthorised = createCheckTokenGuard(deps.checkToken);
  const timer = metrics.checkDuration.labels({ endpoint: 'authzen_evaluation' });
  const outcomes = { allow: metrics.decisions.labels({ outcome: 'allow' }), deny: metrics.decisions.labels({ outcome: 'deny' }), error: metrics.decisions.labels({ outcome: 'error' }) };
  const writeInBatch = createWriteBatch((error) => logger.error({ err: error }, 'AuthZEN answer could not be written'));
  const idHeader = (requestId: string | undefined): Record<string, string> => (requestId ? { 'x-request-id': requestId } : {});

  function fail(res: ServerResponse, error: unknown, requestId: string | undefined, started: number): void {
    const { status, body, headers, expected } = errorResponse(error);
    outcomes.error.inc();
    if (!expected) logger.error({ err: error, requestId }, 'AuthZEN evaluation failed');
    else if (status >= 500) logger.warn({ code: body.error.code, requestId }, 'AuthZEN evaluation unavailable');
    sendJson(res, status, body, { ...headers, ...idHeader(requestId) });
    timer.observe((performance.now() - started) / 1000);
  }

  function succeed(res: ServerResponse, answer: DecisionAnswer, requestId: string | undefined, started: number): void {
    (answer.decision ? outcomes.allow : outcomes.deny).inc();
    writeInBatch(() => {
      sendJson(res, 200, answer, idHeader(requestId));
      timer.observe((performance.now() - started) / 1000);
    });
  }

  return function handleEvaluation(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '';
    if (req.method !== 'POST' || !url.startsWith('/authzen/')) return false;
    const match = EVALUATION.exec(url);
    if (!match) return false;
    const requestId = req.headers['x-request-id'] as string | undefined;
    const started = performance.now();
    const refuse = (error: unknown) => {
      req.resume();
      fail(res, error, requestId, started);
      return true;
    };
    if (!isAuthorised(req.headers.authorization)) return refuse(new UnauthenticatedError('a valid check token is required (Authorization: Bearer <CHECK_TOKEN>)'));
    const contentType = req.headers['content-type'];
    if (contentType !== undefined && !contentType.startsWith('application/json')) return refuse(new InvalidRequestError('content-type must be application/json'));
    let companyId: string;
    try {
      companyId = parseId(decodeURIComponent(match[1]!), 'company');
    } catch (error) {
      return refuse(error instanceof URIError ? new InvalidRequestError('company is not valid percent-encoded UTF-8', { path: 'company' }) : error);
    }
    onJsonBody(
      req,
      BODY_LIMIT,
      (raw) => {
        let answer: DecisionAnswer | Promise<DecisionAnswer>;
        try {
          answer = evaluator.evaluate(companyId, parsePart(evaluationBody, raw, 'body'));
        } catch (error) {
          fail(res, error, requestId, started);
          return;
        }
        if (answer instanceof Promise) answer.then((a) => succeed(res, a, requestId, started), (error: unknown) => fail(res, error, requestId, started));
        else succeed(res, answer, requestId, started);
      },
      (error) => fail(res, error, requestId, started),
    );
    return true;
  };
}
