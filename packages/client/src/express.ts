import type { Request, RequestHandler, Response } from 'express';
import type { CastellanClient } from './client.js';
import { CastellanRequestError, CastellanUnavailableError } from './errors.js';
import type { Action, CheckRequest, Field, Principal, Resource } from './types.js';

/** The decision behind a request that reached the handler (or was refused 403), for logging. */
export interface CastellanDecision {
  allowed: boolean;
  reason: string;
  version: string;
  company: string;
  action: Action;
  resource: Resource;
}

declare global {
  // express's own way to type what middleware adds to a request.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      castellan?: CastellanDecision;
    }
  }
}

export interface AuthorizeOptions {
  action: Action;
  resource: (req: Request) => Resource;
  field?: Field;
  company: (req: Request) => string;
  /** Who asks; default the request's `Authorization: Bearer` token. Undefined: 401. */
  principal?: (req: Request) => Principal | undefined;
  /** Told of every failure answered 5xx (Castellan unavailable, its refusal of this service, a throwing extractor), for the service's logs. */
  onError?: (error: unknown, req: Request) => void;
}

/** What a front end sends after a write (the write's `version`), so the next check is answered from data at least that new. */
export const VERSION_HEADER = 'x-castellan-version';
const VERSION = /^\d{1,20}$/;

export function bearerToken(req: Request): Principal | undefined {
  const match = /^Bearer +([^\s]+)\s*$/i.exec(req.headers.authorization ?? '');
  return match ? { token: match[1]! } : undefined;
}

function refuse(res: Response, status: number, code: string, message: string, details?: Record<string, unknown>): void {
  if (status === 401) res.setHeader('www-authenticate', 'Bearer');
  res.status(status).json({ error: { code, message, ...(details ? { details } : {}) } });
}

/** Castellan's refusal, as the service answers it: the user's own token and input are theirs to fix; anything else is the service's outage. */
function answerRefusal(res: Response, error: CastellanRequestError): boolean {
  if (error.status === 401 && !error.refusedServiceCredential) return (refuse(res, 401, 'unauthenticated', error.message), true);
  if (error.status === 400) return (refuse(res, 400, 'invalid_request', error.message, error.details), true);
  if (error.status === 413) return (refuse(res, 413, 'payload_too_large', error.message), true);
  return false;
}

/**
 * An express middleware that asks Castellan before the route runs. Allowed: `next()`, with
 * the decision on `req.castellan`. Denied: 403 in the contract's error shape with the reason.
 * No principal: 401. Castellan unavailable: 503. Every failure is answered here; `next` is
 * called only for an allow, never with an error.
 */
export function authorize(client: Pick<CastellanClient, 'check'>, options: AuthorizeOptions): RequestHandler {
  const principalOf = options.principal ?? bearerToken;
  return async (req, res, next) => {
    let request: CheckRequest;
    try {
      const principal = principalOf(req);
      if (principal === undefined) return refuse(res, 401, 'unauthenticated', 'a bearer token is required');
      const minVersion = req.headers[VERSION_HEADER];
      if (minVersion !== undefined && (typeof minVersion !== 'string' || !VERSION.test(minVersion))) {
        return refuse(res, 400, 'invalid_request', `${VERSION_HEADER} must be a decimal version`, { path: VERSION_HEADER });
      }
      request = { company: options.company(req), principal, action: options.action, resource: options.resource(req) };
      if (options.field !== undefined) request.field = options.field;
      if (minVersion !== undefined) request.consistency = { minVersion };
    } catch (error) {
      options.onError?.(error, req);
      return refuse(res, 500, 'internal_error', 'the authorization question could not be built');
    }
    try {
      const answer = await client.check(request);
      req.castellan = { ...answer, company: request.company, action: request.action, resource: request.resource };
      if (answer.allowed === true) return next();
      return refuse(res, 403, 'forbidden', answer.reason, { reason: answer.reason, version: answer.version });
    } catch (error) {
      if (error instanceof CastellanRequestError && answerRefusal(res, error)) return;
      options.onError?.(error, req);
      const known = error instanceof CastellanUnavailableError || error instanceof CastellanRequestError;
      return refuse(res, 503, 'unavailable', known ? 'authorization is unavailable' : 'authorization failed');
    }
  };
}
