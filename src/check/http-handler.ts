import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { errorResponse, UnauthenticatedError, InvalidRequestError } from '../errors.js';
import { readJsonBody, sendJson } from '../http/json.js';
import type { BatchAnswer, CheckAnswer, CheckService } from './service.js';
import { createCheckTokenGuard } from './check-token.js';

const BODY_LIMIT = 1024 * 1024;

/**
 * `/v1/check` and `/v1/check/batch` on bare node:http, ahead of express on the same
 * server: express's per-request machinery costs several times the decision itself.
 * Returns false for any other path, which then goes to express.
 */
export function createCheckHandler(deps: { service: CheckService; checkToken: string | undefined; metrics: Metrics; logger: Logger }) {
  const { service, metrics, logger } = deps;
  const isAuthorised = createCheckTokenGuard(deps.checkToken);
  const singleTimer = metrics.checkDuration.labels({ endpoint: 'check' });
  const batchTimer = metrics.checkDuration.labels({ endpoint: 'batch' });
  const allowed = metrics.decisions.labels({ outcome: 'allow' });
  const denied = metrics.decisions.labels({ outcome: 'deny' });
  const errored = metrics.decisions.labels({ outcome: 'error' });

  function fail(res: ServerResponse, error: unknown, requestId: string | undefined): void {
    const { status, body, expected: known } = errorResponse(error);
    errored.inc();
    if (!known) logger.error({ err: error, requestId }, 'check failed');
    else if (status >= 500) logger.warn({ code: body.error.code, requestId }, 'check unavailable');
    sendJson(res, status, body);
  }

  return function handleCheck(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url;
    const isSingle = url === '/v1/check';
    if (!isSingle && url !== '/v1/check/batch') return false;
    const requestId = req.headers['x-request-id'] as string | undefined;
    if (requestId) res.setHeader('x-request-id', requestId);
    if (req.method !== 'POST') {
      req.resume();
      sendJson(res, 405, { error: { code: 'invalid_request', message: 'use POST' } }, { allow: 'POST' });
      return true;
    }
    if (!isAuthorised(req.headers.authorization)) {
      req.resume();
      fail(res, new UnauthenticatedError('a valid check token is required (Authorization: Bearer <CHECK_TOKEN>)'), requestId);
      return true;
    }
    const contentType = req.headers['content-type'];
    if (contentType !== undefined && !contentType.startsWith('application/json')) {
      req.resume();
      fail(res, new InvalidRequestError('content-type must be application/json'), requestId);
      return true;
    }
    const end = (isSingle ? singleTimer : batchTimer).startTimer();
    readJsonBody(req, BODY_LIMIT)
      .then((body): CheckAnswer | BatchAnswer | Promise<CheckAnswer | BatchAnswer> => (isSingle ? service.check(body) : service.batch(body)))
      .then((answer) => {
        if ('allowed' in answer) (answer.allowed ? allowed : denied).inc();
        else for (const result of answer.results) (result.allowed ? allowed : denied).inc();
        sendJson(res, 200, answer);
        end();
      })
      .catch((error: unknown) => {
        fail(res, error, requestId);
        end();
      });
    return true;
  };
}
