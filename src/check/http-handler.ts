import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { errorResponse, InvalidRequestError } from '../errors.js';
import { onJsonBody, sendJson } from '../http/json.js';
import { createWriteBatch } from '../http/write-batch.js';
import type { BatchAnswer, CheckAnswer, CheckService } from './service.js';
import { checkTokenRefused, createCheckTokenGuard } from './check-token.js';
import { bearerOf, type AskedAbout } from './self-check.js';

const BODY_LIMIT = 1024 * 1024;

type Answer = CheckAnswer | BatchAnswer;

/**
 * `/v1/check` and `/v1/check/batch` on bare node:http, ahead of express on the same
 * server: express's per-request machinery costs several times the decision itself.
 * Returns false for any other path, which then goes to express.
 *
 * A check answered from L1 is decided in the tick its body ends: no promise, no
 * microtask. Only a cache miss (or a token to verify, or a batch) goes asynchronous.
 * Answers are written in batches (see write-batch.ts); the latency histogram includes
 * the wait.
 */
export function createCheckHandler(deps: {
  service: CheckService;
  checkToken: string | undefined;
  /** A user's own token asking about that user, where the check token is missing (self-check.ts). */
  authoriseSelf?: (authorization: string | undefined, asked: AskedAbout) => Promise<boolean>;
  metrics: Metrics;
  logger: Logger;
}) {
  const { service, metrics, logger, authoriseSelf } = deps;
  const isAuthorised = createCheckTokenGuard(deps.checkToken);
  const singleTimer = metrics.checkDuration.labels({ endpoint: 'check' });
  const batchTimer = metrics.checkDuration.labels({ endpoint: 'batch' });
  const allowed = metrics.decisions.labels({ outcome: 'allow' });
  const denied = metrics.decisions.labels({ outcome: 'deny' });
  const errored = metrics.decisions.labels({ outcome: 'error' });

  const writeInBatch = createWriteBatch((error) => logger.error({ err: error }, 'check answer could not be written'));

  // The request id is echoed through writeHead's headers rather than res.setHeader:
  // a response with nothing set before writeHead takes node's faster header path.
  const idHeader = (requestId: string | undefined) => (requestId ? { 'x-request-id': requestId } : undefined);

  function fail(res: ServerResponse, error: unknown, requestId: string | undefined): void {
    const { status, body, headers, expected: known } = errorResponse(error);
    errored.inc();
    if (!known) logger.error({ err: error, requestId }, 'check failed');
    else if (status >= 500) logger.warn({ code: body.error.code, requestId }, 'check unavailable');
    sendJson(res, status, body, headers ? { ...headers, ...idHeader(requestId) } : idHeader(requestId));
  }

  function count(answer: Answer): void {
    if ('allowed' in answer) (answer.allowed ? allowed : denied).inc();
    else for (const result of answer.results) (result.allowed ? allowed : denied).inc();
  }

  /** Takes the request from its parsed body to the written answer; `end` stops the latency timer. */
  function answer(res: ServerResponse, isSingle: boolean, body: unknown, requestId: string | undefined, end: () => void): void {
    const succeed = (value: Answer) => {
      count(value);
      writeInBatch(() => {
        sendJson(res, 200, value, idHeader(requestId));
        end();
      });
    };
    const failed = (error: unknown) => {
      fail(res, error, requestId);
      end();
    };
    let result: Answer | Promise<Answer>;
    try {
      result = isSingle ? service.check(body) : service.batch(body);
    } catch (error) {
      failed(error);
      return;
    }
    if (result instanceof Promise) result.then(succeed, failed);
    else succeed(result);
  }

  return function handleCheck(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url;
    const isSingle = url === '/v1/check';
    if (!isSingle && url !== '/v1/check/batch') return false;
    const requestId = req.headers['x-request-id'] as string | undefined;
    if (req.method !== 'POST') {
      req.resume();
      sendJson(res, 405, { error: { code: 'invalid_request', message: 'use POST' } }, { allow: 'POST', ...idHeader(requestId) });
      return true;
    }
    // The constant-time comparison first: callers with the check token, and instances without
    // one, never take the user-token branch.
    let asSelf = false;
    if (!isAuthorised(req.headers.authorization)) {
      if (!authoriseSelf || bearerOf(req.headers.authorization) === null) {
        req.resume();
        fail(res, checkTokenRefused(), requestId);
        return true;
      }
      asSelf = true;
    }
    const contentType = req.headers['content-type'];
    if (contentType !== undefined && !contentType.startsWith('application/json')) {
      req.resume();
      fail(res, asSelf ? checkTokenRefused() : new InvalidRequestError('content-type must be application/json'), requestId);
      return true;
    }
    // observe() on the bound child rather than startTimer(), which merges label objects and allocates hrtime pairs per call.
    const timer = isSingle ? singleTimer : batchTimer;
    const started = performance.now();
    const end = () => timer.observe((performance.now() - started) / 1000);
    if (asSelf) {
      // Whom the body asks about decides whether the user's token may ask it; a body that cannot
      // be read is refused like any other question the token may not ask.
      const refuse = () => {
        fail(res, checkTokenRefused(), requestId);
        end();
      };
      const authorization = req.headers.authorization;
      onJsonBody(
        req,
        BODY_LIMIT,
        (body) => {
          const asked = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
          authoriseSelf!(authorization, { company: asked.company, principal: asked.principal }).then(
            (self) => (self ? answer(res, isSingle, body, requestId, end) : refuse()),
            refuse,
          );
        },
        refuse,
      );
      return true;
    }
    onJsonBody(
      req,
      BODY_LIMIT,
      (body) => answer(res, isSingle, body, requestId, end),
      (error) => {
        fail(res, error, requestId);
        end();
      },
    );
    return true;
  };
}
