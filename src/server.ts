import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import express, { Router, type ErrorRequestHandler, type Express, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { jsonText } from './http/json.js';
import type { DocumentedRoute } from './http/openapi.js';
import { REQUEST_ID_HEADER, requestIdFrom, type Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { createCheckTokenGuard } from './check/check-token.js';
import { errorResponse, InvalidRequestError, NotFoundError, PayloadTooLargeError, UnauthenticatedError, UnavailableError } from './errors.js';
import { isConnectionError, isStatementTimeout } from './store/errors.js';

export interface HealthProbe {
  name: string;
  check(): Promise<void>;
}

/** What one client may take of the server: see HTTP_* in config.ts. */
export interface ConnectionLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
}

export interface ServerParts {
  /** Handles the hot-path routes on bare node:http; returns false for anything else. */
  checkHandler: (req: IncomingMessage, res: ServerResponse) => boolean;
  routers: Router[];
  probes: HealthProbe[];
  logger: Logger;
  metrics: Pick<Metrics, 'registry' | 'connectionsDropped'>;
  /** Guards `/metrics` as it guards the check API: open when unset (loopback only). */
  checkToken: string | undefined;
  limits: ConnectionLimits;
}

/** Probes and scrapes arrive every few seconds: logged at debug so they do not drown the access log. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** Express turns body-parser failures into errors with a `type`; map them, and store outages, to the contract's codes. */
function normaliseError(error: unknown): unknown {
  const type = (error as { type?: string } | null)?.type;
  if (type === 'entity.too.large') return new PayloadTooLargeError('request body is too large');
  if (type === 'entity.parse.failed') return new InvalidRequestError('the body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new InvalidRequestError('unsupported body encoding');
  // The router decodes path parameters with decodeURIComponent: a user id percent-encoded as anything but UTF-8 names nobody.
  if (error instanceof URIError) return new InvalidRequestError('a path parameter is not valid percent-encoded UTF-8');
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // body-parser marks what the client sent wrong (bad gzip, deflate or brotli data, a body cut short) as exposable.
    if ((error as { expose?: unknown }).expose === true) return new InvalidRequestError('the body could not be read: check its content-encoding and length');
  }
  // The store being away is an outage to retry, not a bug: 503, as the check API answers it.
  if (isConnectionError(error)) return new UnavailableError('the policy store is unreachable', { dependency: 'postgres' });
  if (isStatementTimeout(error)) return new UnavailableError('the policy store did not answer in time', { dependency: 'postgres' });
  return error;
}

/** The route pattern that answered (`/v1/companies/:company`), so log lines group by endpoint. */
function routeOf(req: Request): string | undefined {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? path : undefined;
}

const requestIdOf = (res: ServerResponse): string => String(res.getHeader(REQUEST_ID_HEADER) ?? '');

/**
 * Gives the request its id (echoed in the response) and writes one access line when the
 * response is done or abandoned. Only method, route, path, status and timing are logged:
 * never headers, bodies or the query string, which is where credentials travel.
 */
function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    // Settled (taken when safe, else generated) by createHttpServer before express runs.
    const requestId = req.headers[REQUEST_ID_HEADER] as string;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const started = performance.now();
    const path = req.path;
    res.once('close', () => {
      const line = {
        requestId,
        method: req.method,
        route: routeOf(req),
        path,
        status: res.statusCode,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      if (QUIET_PATHS.has(path)) logger.debug(line, 'request');
      else logger.info(line, 'request');
    });
    next();
  };
}

function readiness(probes: HealthProbe[]): RequestHandler {
  return async (_req, res) => {
    const results = await Promise.all(
      probes.map(async (probe) => {
        try {
          await probe.check();
          return { name: probe.name, ok: true as const };
        } catch (error) {
          return { name: probe.name, ok: false as const, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    const failing = results.filter((r) => !r.ok);
    const checks = Object.fromEntries(results.map((r) => [r.name, r.ok ? 'ok' : 'unreachable']));
    if (failing.length === 0) {
      res.json({ status: 'ready', checks });
      return;
    }
    res.status(503).json({
      error: {
        code: 'unavailable',
        message: `not ready: ${failing.map((f) => `${f.name} unreachable`).join(', ')}`,
        details: { checks },
      },
    });
  };
}

/** Prometheus text; behind the check token when one is configured, like the check API it describes. */
function metricsEndpoint(metrics: Pick<Metrics, 'registry'>, checkToken: string | undefined): RequestHandler {
  const isAuthorised = createCheckTokenGuard(checkToken);
  return async (req, res) => {
    if (!isAuthorised(req.headers.authorization)) {
      throw new UnauthenticatedError('a valid check token is required (Authorization: Bearer <CHECK_TOKEN>)');
    }
    const text = await metrics.registry.metrics();
    res.setHeader('content-type', metrics.registry.contentType);
    res.setHeader('cache-control', 'no-store');
    res.send(text);
  };
}

const readinessChecks = z.record(z.string(), z.enum(['ok', 'unreachable'])).describe('each dependency: postgres, and redis when configured');

/** The operations endpoints, served below, described for the OpenAPI document. */
export const OPERATIONS_ROUTES: readonly DocumentedRoute[] = [
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: the process answers',
    tag: 'Operations',
    security: 'none',
    success: { status: 200, description: 'alive', schema: z.object({ status: z.literal('ok') }) },
    errors: [],
  },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: PostgreSQL and Redis (when configured) are reachable; 503 names the failing one',
    tag: 'Operations',
    security: 'none',
    success: { status: 200, description: 'ready', schema: z.object({ status: z.literal('ready'), checks: readinessChecks }) },
    errors: ['unavailable'],
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (check latency, decisions, cache hits, compiles, invalidations, dependency errors, admin writes, process)',
    tag: 'Operations',
    security: 'service',
    success: { status: 200, description: 'Prometheus text exposition format' },
    produces: 'text/plain',
    errors: ['unauthenticated'],
  },
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    tag: 'Operations',
    security: 'none',
    success: { status: 200, description: 'OpenAPI 3.1', schema: z.record(z.string(), z.unknown()) },
    errors: [],
  },
];

/** Serves the document built once at start-up. */
export function openApiRouter(document: Record<string, unknown>): Router {
  const text = jsonText(document);
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(text);
  });
  return router;
}

function createExpressApp(parts: Omit<ServerParts, 'checkHandler'>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Every res.json of the admin API, the errors and the operations endpoints: one serialisation, ending in a newline like sendJson's.
  app.response.json = function json(this: Response, body: unknown) {
    if (!this.get('content-type')) this.type('application/json');
    return this.send(jsonText(body));
  };
  app.use(accessLog(parts.logger));
  app.use(express.json({ limit: '1mb', strict: true, type: ['application/json', 'application/*+json'] }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', readiness(parts.probes));
  app.get('/metrics', metricsEndpoint(parts.metrics, parts.checkToken));

  for (const router of parts.routers) app.use(router);

  app.use((req, _res, next) => next(new NotFoundError(`no route for ${req.method} ${req.path}`)));
  const onError: ErrorRequestHandler = (rawError, req, res, _next) => {
    const error = normaliseError(rawError);
    const { status, body, headers, expected } = errorResponse(error);
    if (!expected) parts.logger.error({ err: error, requestId: requestIdOf(res), method: req.method, path: req.path }, 'request failed');
    else if (status >= 500) parts.logger.warn({ err: rawError, requestId: requestIdOf(res), method: req.method, path: req.path }, 'request failed: a dependency is unavailable');
    if (headers) res.set(headers);
    res.status(status).json(body);
  };
  app.use(onError);
  return app;
}

/**
 * Which connections have a response in progress, so a shutdown can tell them to close
 * once it is sent. Costs one Map write per request, nothing per byte.
 */
class ConnectionTracker {
  draining = false;
  private readonly latest = new Map<Socket, ServerResponse>();

  onConnection(socket: Socket): void {
    socket.once('close', () => this.latest.delete(socket));
  }

  onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.draining) res.setHeader('connection', 'close');
    else this.latest.set(req.socket, res);
  }

  /** Responses not yet started go out with `Connection: close`, so their keep-alive connection ends with them. */
  startDraining(): void {
    this.draining = true;
    for (const res of this.latest.values()) if (!res.headersSent && !res.writableEnded) res.setHeader('connection', 'close');
    this.latest.clear();
  }
}

const trackers = new WeakMap<Server, ConnectionTracker>();

/**
 * How often Node looks for connections past their header or request timeout. Its default,
 * 30 s, would let a client that sends nothing stay up to 30 s past the timeout; the sweep
 * walks the connections still receiving a request, so a tenth of the timeout (at most 1 s)
 * costs little.
 */
export function timeoutSweepMs(headersTimeoutMs: number): number {
  return Math.max(100, Math.min(1000, Math.floor(headersTimeoutMs / 10)));
}

/** One server, one port: the lean check handler first, express for the rest. */
export function createHttpServer(parts: ServerParts): Server {
  const app = createExpressApp(parts);
  const connections = new ConnectionTracker();
  const { limits } = parts;
  const options = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: timeoutSweepMs(limits.headersTimeoutMs),
  };
  const server = createServer(options, (req, res) => {
    // Settled here, ahead of both handlers, so the check handler echoes and logs a safe id too.
    req.headers[REQUEST_ID_HEADER] = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    connections.onRequest(req, res);
    if (!parts.checkHandler(req, res)) app(req, res);
  });
  server.on('connection', (socket: Socket) => connections.onConnection(socket));
  server.keepAliveTimeout = 65_000;
  // Beyond the cap Node closes new connections unanswered at accept; kept-alive ones carry on.
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => parts.metrics.connectionsDropped.inc());
  trackers.set(server, connections);
  return server;
}

/** Fallback for a response whose headers were already out when draining began: it cannot be told to close. */
const IDLE_SWEEP_MS = 100;

export interface DrainResult {
  /** False when the deadline passed and connections with requests still running were cut. */
  drained: boolean;
}

export class ShutdownDeadlineError extends Error {
  override readonly name = 'ShutdownDeadlineError';
  constructor(readonly timeoutMs: number) {
    super(`requests still running after ${timeoutMs} ms were cut`);
  }
}

/**
 * Graceful stop: refuse new connections at once, let requests in flight finish and close
 * each connection after its last response, cut whatever is left at the deadline.
 */
export function drainServer(server: Server, timeoutMs: number): Promise<DrainResult> {
  trackers.get(server)?.startDraining();
  if (!server.listening) return Promise.resolve({ drained: true });
  return new Promise((resolve) => {
    let drained = true;
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    const deadline = setTimeout(() => {
      drained = false;
      server.closeAllConnections();
    }, timeoutMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve({ drained });
    });
  });
}
