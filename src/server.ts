import { createServer, type Server } from 'node:http';
import express, { type ErrorRequestHandler, type Express, type Router } from 'express';
import type { Logger } from './log.js';
import { errorResponse, InvalidRequestError, NotFoundError, PayloadTooLargeError } from './errors.js';

export interface HealthProbe {
  name: string;
  check(): Promise<void>;
}

export interface ServerParts {
  /** Handles the hot-path routes on bare node:http; returns false for anything else. */
  checkHandler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean;
  routers: Router[];
  probes: HealthProbe[];
  logger: Logger;
}

/** Express turns body-parser failures into errors with a `type`; map them to the contract's codes. */
function normaliseError(error: unknown): unknown {
  const type = (error as { type?: string } | null)?.type;
  if (type === 'entity.too.large') return new PayloadTooLargeError('request body is too large');
  if (type === 'entity.parse.failed') return new InvalidRequestError('the body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new InvalidRequestError('unsupported body encoding');
  return error;
}

export function createExpressApp(parts: Omit<ServerParts, 'checkHandler'>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    const id = req.headers['x-request-id'];
    if (typeof id === 'string' && id.length > 0 && id.length <= 200) res.setHeader('x-request-id', id);
    next();
  });
  app.use(express.json({ limit: '1mb', strict: true, type: ['application/json', 'application/*+json'] }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      parts.probes.map(async (probe) => {
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
  });

  for (const router of parts.routers) app.use(router);

  app.use((req, _res, next) => next(new NotFoundError(`no route for ${req.method} ${req.path}`)));
  const onError: ErrorRequestHandler = (rawError, req, res, _next) => {
    const error = normaliseError(rawError);
    const { status, body, expected } = errorResponse(error);
    if (!expected) parts.logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    res.status(status).json(body);
  };
  app.use(onError);
  return app;
}

/** One server, one port: the lean check handler first, express for the rest. */
export function createHttpServer(parts: ServerParts): Server {
  const app = createExpressApp(parts);
  const server = createServer((req, res) => {
    if (!parts.checkHandler(req, res)) app(req, res);
  });
  server.keepAliveTimeout = 65_000;
  return server;
}
