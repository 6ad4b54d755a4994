import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router, type Response } from 'express';

/**
 * The front door: `GET /` says where things are, and `/docs` renders /openapi.json with
 * Swagger UI, served from the installed swagger-ui-dist (nothing fetched from a CDN, so it
 * works offline and under a strict Content-Security-Policy).
 */
const swaggerDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
/** The files of swagger-ui-dist the page uses; nothing else of the package is served. */
const SWAGGER_FILES = new Set(['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png']);

const DOCS_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  // Swagger UI sets style attributes on elements it renders.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res: Response, title: string, body: string, head = ''): void {
  res
    .set('content-security-policy', DOCS_POLICY)
    .set('x-content-type-options', 'nosniff')
    .type('html')
    .send(
      `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<title>${escapeHtml(title)}</title>${head}</head><body>${body}</body></html>\n`,
    );
}

export interface FrontDoor {
  version: string;
  /** Further pages to link from `/` (the console, once it is served), by path. */
  links?: Record<string, string>;
}

export function docsRouter(door: FrontDoor): Router {
  // Strict: /docs and /docs/ are two paths (the first redirects to the second, where relative links resolve).
  const router = Router({ strict: true });
  const links: Record<string, string> = { docs: '/docs/', openapi: '/openapi.json', ...door.links, health: '/healthz', ready: '/readyz' };
  const labels: Record<string, string> = { docs: 'API reference', openapi: 'OpenAPI document', console: 'Admin console', health: 'Liveness', ready: 'Readiness' };

  router.get('/', (req, res) => {
    if (req.accepts(['html', 'json']) === 'json') {
      res.json({ name: 'castellan', version: door.version, links });
      return;
    }
    const items = Object.entries(links)
      .map(([key, href]) => `<li><a href="${escapeHtml(href)}">${escapeHtml(labels[key] ?? key)}</a> <code>${escapeHtml(href)}</code></li>`)
      .join('');
    page(
      res,
      'Castellan',
      `<main style="font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem"><h1>Castellan ${escapeHtml(door.version)}</h1>` +
        `<p>Authorization policy engine: the check API, gateway forward-auth, AuthZEN 1.0 and the admin API.</p><ul>${items}</ul></main>`,
    );
  });

  router.get('/docs', (_req, res) => res.redirect(301, '/docs/'));
  router.get('/docs/', (_req, res) =>
    page(
      res,
      'Castellan API reference',
      '<div id="swagger-ui"></div><script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script>',
      '<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png">',
    ),
  );
  router.get('/docs/init.js', (_req, res) => {
    res
      .type('application/javascript')
      .set('cache-control', 'no-cache')
      .send("window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, docExpansion: 'list', tryItOutEnabled: false });\n");
  });
  const assets = express.static(swaggerDir, { index: false, fallthrough: false, maxAge: '1h' });
  router.get('/docs/:file', (req, res, next) => {
    if (!SWAGGER_FILES.has(req.params.file)) {
      next();
      return;
    }
    req.url = `/${req.params.file}`;
    assets(req, res, next);
  });
  return router;
}
