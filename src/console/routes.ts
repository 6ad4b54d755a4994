import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { Router, type Response } from 'express';
import type { Catalog } from '../policy/catalog.js';
import { NotFoundError } from '../errors.js';
import { jsonText } from '../http/json.js';

/**
 * The console's files, built by `npm run build` (console/build.mjs). Both src/console/ and
 * dist/console/ sit two folders below the package root, so one URL serves tests and production.
 */
export const CONSOLE_ASSETS = fileURLToPath(new URL('../../dist/console-app/', import.meta.url));

/**
 * Everything the console loads comes from this origin, and nothing runs that is not one of its
 * own files: no inline script or style, no framing (clickjacking), no form posts elsewhere.
 * The token lives in sessionStorage, so script injection is the risk that matters.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface ConsoleOptions {
  catalog: Catalog;
  /** CONSOLE_TOKEN_URL: where the sign-in page sends platform users for a token. */
  tokenUrl: string | undefined;
  /** Overrides CONSOLE_ASSETS (tests). */
  assets?: string;
}

function secure(res: Response): void {
  res.set({
    'Content-Security-Policy': CONSOLE_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    // A new build must be seen at once: the files are small, and revalidation is cheap.
    'Cache-Control': 'no-cache',
  });
}

/**
 * Serves the admin console at /console/: static files and one JSON of what the page needs
 * to know about this instance (the catalog, the token URL). The console itself only talks
 * to the public admin and check APIs.
 */
export function createConsoleRouter(options: ConsoleOptions): Router {
  const assets = options.assets ?? CONSOLE_ASSETS;
  const router = Router();
  const config = jsonText({ tokenUrl: options.tokenUrl ?? null, catalog: options.catalog });
  // Relative URLs in the page resolve against /console/; express matches both spellings here.
  router.get('/console', (req, res, next) => (req.path === '/console' ? res.redirect(301, '/console/') : next()));
  router.get('/console/config.json', (_req, res) => {
    secure(res);
    res.type('application/json').send(config);
  });
  router.use('/console', (_req, res, next) => {
    if (!existsSync(assets)) return next(new NotFoundError('the console is not built: run npm run build'));
    secure(res);
    next();
  });
  router.use('/console', express.static(assets, { index: 'index.html', redirect: false, fallthrough: true, dotfiles: 'ignore' }));
  return router;
}
