import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CheckAnswer, CheckService, VerifyToken } from '../check/service.js';
import { createSecretGuard } from '../check/check-token.js';
import { CastellanError, UnauthenticatedError, UnavailableError } from '../errors.js';
import { jsonText } from '../http/json.js';
import type { DocumentedRoute } from '../http/openapi.js';
import { createWriteBatch } from '../http/write-batch.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Catalog } from '../policy/catalog.js';
import { routeChecks, type PolicyRouteMatcher, type RouteCheck } from './routes.js';

export const FORWARD_AUTH_PATH = '/v1/forward-auth';
export const GATEWAY_TOKEN_HEADER = 'x-castellan-check-token';

/** What the gateway reads and passes upstream on a 200. */
export const ANSWER_HEADERS = {
  user: 'x-castellan-user',
  company: 'x-castellan-company',
  reason: 'x-castellan-reason',
  version: 'x-castellan-version',
} as const;

export const isForwardAuthUrl = (url: string): boolean =>
  url === FORWARD_AUTH_PATH || (url.startsWith(FORWARD_AUTH_PATH) && (url[FORWARD_AUTH_PATH.length] === '/' || url[FORWARD_AUTH_PATH.length] === '?'));

/** Gateways answer 200 as allow and anything else as a refusal: forward-auth answers only these. */
type Answer =
  | { status: 200; user: string; companyId: string; reason: string; version: string }
  | { status: 401; reason: string; tokenGiven: boolean }
  | { status: 403; reason: string }
  | { status: 503; reason: string };

/** A header's one value; a header sent twice (a client's and a gateway's) arrives joined and matches no route. */
const headerOf = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

/** The original request as the gateway describes it (API.md: X-Forwarded-*, else X-Original-*, else this request's own). */
export function originalRequest(req: IncomingMessage): { method: string; target: string } {
  const url = req.url ?? FORWARD_AUTH_PATH;
  const own = url.slice(FORWARD_AUTH_PATH.length);
  return {
    method: headerOf(req, 'x-forwarded-method') ?? headerOf(req, 'x-original-method') ?? req.method ?? 'GET',
    target: headerOf(req, 'x-forwarded-uri') ?? headerOf(req, 'x-original-uri') ?? (own.startsWith('/') ? own : `/${own}`),
  };
}

const bearerOf = (header: string | undefined): string | null => {
  if (header === undefined) return null;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match ? match[1]! : '';
};

/**
 * Header values are visible ASCII; anything else would make node refuse the answer. A user
 * id (any characters, API.md) travels as is when it is visible ASCII without "%", else
 * percent-encoded as UTF-8: upstreams decode it when it holds a "%".
 */
export function userHeaderValue(userId: string): string {
  return /^[\x21-\x24\x26-\x7E]+$/.test(userId) ? userId : encodeURIComponent(userId);
}
const visible = (text: string): string => text.replace(/[^\x20-\x7E]/g, '?');
/** RFC 6750 error_description: a quoted string without quotes or backslashes. */
const quotable = (text: string): string => visible(text).replace(/["\\]/g, "'");

/**
 * Every route the request matches must allow it, from the same decision as /v1/check.
 * Synchronous when every ability is in L1, like the check path.
 */
function decideAll(service: CheckService, userId: string, checks: readonly RouteCheck[]): Answer | Promise<Answer> {
  const answers: Array<CheckAnswer | Promise<CheckAnswer>> = checks.map((check) => service.decideParsed(check.companyId, userId, undefined, check.question));
  const settle = (settled: CheckAnswer[]): Answer => {
    const denied = settled.find((answer) => !answer.allowed);
    if (denied) return { status: 403, reason: denied.reason };
    return { status: 200, user: userId, companyId: checks[0]!.companyId, reason: settled[0]!.reason, version: settled[0]!.version };
  };
  return answers.some((a) => a instanceof Promise) ? Promise.all(answers).then(settle) : settle(answers as CheckAnswer[]);
}

export interface ForwardAuthDeps {
  service: CheckService;
  matcher: PolicyRouteMatcher;
  catalog: Catalog;
  verifyToken: VerifyToken;
  /** CHECK_TOKEN: the gateway sends it as X-Castellan-Check-Token, since Authorization carries the user's token. */
  checkToken: string | undefined;
  metrics: Metrics;
  logger: Logger;
}

/**
 * `/v1/forward-auth` (any method) on bare node:http beside the check handler: a gateway asks
 * on every request it proxies, so it costs what a check costs plus the route match. Returns
 * false for any other path.
 */
export function createForwardAuthHandler(deps: ForwardAuthDeps) {
  const { service, matcher, catalog, verifyToken, metrics, logger } = deps;
  const gatewayAuthorised = createSecretGuard(deps.checkToken);
  const timer = metrics.checkDuration.labels({ endpoint: 'forward_auth' });
  const outcomes = { allow: metrics.decisions.labels({ outcome: 'allow' }), deny: metrics.decisions.labels({ outcome: 'deny' }), error: metrics.decisions.labels({ outcome: 'error' }) };
  const writeInBatch = createWriteBatch((error) => logger.error({ err: error }, 'forward-auth answer could not be written'));

  /** Never an allow on an error: an outage is 503, anything unexpected too (logged), since gateways fail a request on it. */
  function failure(error: unknown, requestId: string | undefined): Answer {
    if (error instanceof UnauthenticatedError) return { status: 401, reason: error.message, tokenGiven: true };
    if (error instanceof UnavailableError) {
      logger.warn({ code: error.code, requestId }, 'forward-auth unavailable');
      return { status: 503, reason: error.message };
    }
    if (error instanceof CastellanError) return { status: 403, reason: error.message };
    logger.error({ err: error, requestId }, 'forward-auth failed');
    return { status: 503, reason: 'the decision could not be taken' };
  }

  function send(res: ServerResponse, answer: Answer, requestId: string | undefined, started: number): void {
    (answer.status === 200 ? outcomes.allow : answer.status === 403 ? outcomes.deny : outcomes.error).inc();
    const headers: Record<string, string | number> = requestId ? { 'x-request-id': requestId } : {};
    let body = '';
    if (answer.status === 200) {
      headers[ANSWER_HEADERS.user] = userHeaderValue(answer.user);
      headers[ANSWER_HEADERS.company] = answer.companyId;
      headers[ANSWER_HEADERS.reason] = visible(answer.reason);
      headers[ANSWER_HEADERS.version] = answer.version;
    } else {
      headers[ANSWER_HEADERS.reason] = visible(answer.reason);
      // Caddy and Traefik hand a refusal's answer to the client as it is: the contract's error body.
      const code = answer.status === 401 ? 'unauthenticated' : answer.status === 403 ? 'forbidden' : 'unavailable';
      body = jsonText({ error: { code, message: answer.reason } });
      headers['content-type'] = 'application/json; charset=utf-8';
      if (answer.status === 401) headers['www-authenticate'] = answer.tokenGiven ? `Bearer error="invalid_token", error_description="${quotable(answer.reason)}"` : 'Bearer';
    }
    headers['content-length'] = Buffer.byteLength(body);
    headers['cache-control'] = 'no-store';
    writeInBatch(() => {
      res.writeHead(answer.status, headers);
      res.end(body);
      timer.observe((performance.now() - started) / 1000);
    });
  }

  /** From the verified user to the answer; a promise only when a token or an ability had to be loaded. */
  function decideFor(userId: string, method: string, target: string): Answer | Promise<Answer> {
    const result = matcher.match(method, target);
    if (!result.matched) return { status: 403, reason: result.reason };
    const bound = routeChecks(catalog, result.matches);
    if (!bound.ok) return { status: 403, reason: bound.reason };
    return decideAll(service, userId, bound.checks);
  }

  return function handleForwardAuth(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '';
    if (!isForwardAuthUrl(url)) return false;
    // No body is needed; whatever a gateway sends is read and dropped.
    req.resume();
    const started = performance.now();
    const requestId = req.headers['x-request-id'] as string | undefined;
    if (!gatewayAuthorised(headerOf(req, GATEWAY_TOKEN_HEADER))) {
      send(res, { status: 403, reason: `the gateway's credential (${GATEWAY_TOKEN_HEADER}) is missing or wrong` }, requestId, started);
      return true;
    }
    // The user first: an anonymous caller learns nothing about which routes exist.
    const token = bearerOf(headerOf(req, 'authorization'));
    if (!token) {
      send(res, { status: 401, reason: token === null ? 'no bearer token' : 'the Authorization header is not "Bearer <token>"', tokenGiven: token !== null }, requestId, started);
      return true;
    }
    const { method, target } = originalRequest(req);
    let answer: Answer | Promise<Answer>;
    try {
      answer = verifyToken(token).then((claims) => decideFor(claims.sub, method, target));
    } catch (error) {
      answer = failure(error, requestId);
    }
    if (answer instanceof Promise) answer.then((a) => send(res, a, requestId, started), (error: unknown) => send(res, failure(error, requestId), requestId, started));
    else send(res, answer, requestId, started);
    return true;
  };
}

/** Forward-auth described for the OpenAPI document: every method, the same answers. */
export const FORWARD_AUTH_ROUTES: readonly DocumentedRoute[] = (['get', 'post', 'put', 'patch', 'delete'] as const).map((method) => ({
  method,
  path: FORWARD_AUTH_PATH,
  summary:
    'Gateway forward-auth (nginx auth_request, Caddy forward_auth, Traefik ForwardAuth, Envoy ext_authz): any method, no body; the original request is matched against policies/routes.json and decided like /v1/check. Envoy style also works: the original path appended to /v1/forward-auth and the original method',
  tag: 'Gateway',
  security: 'gateway' as const,
  success: { status: 200, description: 'allowed: empty body, the X-Castellan-* headers for the upstream. Nothing but 200 allows' },
  errors: ['unauthenticated', 'forbidden', 'unavailable'],
  headers: {
    request: {
      'X-Forwarded-Method': "the original request's method (else X-Original-Method, else this request's own)",
      'X-Forwarded-Uri': "the original request's path and query (else X-Original-URI, else this request's path after /v1/forward-auth); the gateway must overwrite any a client sends",
      'X-Original-Method': 'the original method, when X-Forwarded-Method is absent',
      'X-Original-URI': 'the original path, when X-Forwarded-Uri is absent',
    },
    response: {
      'X-Castellan-User': 'the user id: as is when visible ASCII without "%", else percent-encoded UTF-8',
      'X-Castellan-Company': 'the company the route named',
      'X-Castellan-Reason': 'the role and rule that decided (also on 401, 403 and 503: why not)',
      'X-Castellan-Version': 'the company policy version the decision was taken at',
    },
  },
}));
