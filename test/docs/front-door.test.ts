import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { CHROMIUM, launchChromium } from '../support/chromium.js';

/**
 * Issue 18, item 4: `GET /` answered "no route", and the API reference was a file outside the
 * repository. Now `/` says where things are and `/docs` renders /openapi.json, from files
 * served by Castellan itself.
 */
describe('the front door: GET / and /docs', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ DATA_DIR: 'memory://' });
  }, 180_000);
  afterAll(() => app?.close());

  it('GET / answers JSON to a client that asks for it, and a page of links to a browser', async () => {
    const json = await fetch(`${app.url}/`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({
      name: 'castellan',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      links: { docs: '/docs/', openapi: '/openapi.json', console: '/console/', health: '/healthz', ready: '/readyz' },
    });
    const html = await fetch(`${app.url}/`, { headers: { accept: 'text/html' } });
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    const text = await html.text();
    for (const href of ['/docs/', '/openapi.json', '/console/', '/healthz']) expect(text).toContain(`href="${href}"`);
  });

  it('every JSON answer ends with a newline: the hot paths, the admin API, errors, operations and documents (issue 18, item 7)', async () => {
    const check = { company: 'nobody', principal: { id: 'u' }, action: 'view', resource: { type: 'Project', id: 'p' } };
    const post = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answers: Array<[string, Response]> = [
      ['GET / (json)', await fetch(`${app.url}/`, { headers: { accept: 'application/json' } })],
      ['/v1/check', await fetch(`${app.url}/v1/check`, post(check))],
      ['/v1/check/batch', await fetch(`${app.url}/v1/check/batch`, post({ company: 'nobody', principal: { id: 'u' }, checks: [{ action: 'view', resource: { type: 'Project', id: 'p' } }] }))],
      ['/v1/check invalid', await fetch(`${app.url}/v1/check`, post({ company: 'nobody' }))],
      ['AuthZEN evaluation', await fetch(`${app.url}/authzen/nobody/access/v1/evaluation`, post({ subject: { type: 'user', id: 'u' }, action: { name: 'view' }, resource: { type: 'Project', id: 'p' } }))],
      ['forward-auth refusal', await fetch(`${app.url}/v1/forward-auth`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/nowhere' } })],
      ['admin API 401', await fetch(`${app.url}/v1/companies/acme`)],
      ['404', await fetch(`${app.url}/no/such/route`)],
      ['/healthz', await fetch(`${app.url}/healthz`)],
      ['/readyz', await fetch(`${app.url}/readyz`)],
      ['/openapi.json', await fetch(`${app.url}/openapi.json`)],
      ['/console/config.json', await fetch(`${app.url}/console/config.json`)],
    ];
    const endings = await Promise.all(
      answers.map(async ([name, response]) => {
        const text = await response.text();
        JSON.parse(text);
        return [name, response.headers.get('content-type')?.startsWith('application/json') ?? false, text.endsWith('}\n')];
      }),
    );
    expect(endings).toEqual(answers.map(([name]) => [name, true, true]));
  });

  it('/docs redirects to /docs/, which is served with a strict policy; only Swagger UI\'s own files are served beside it', async () => {
    const redirect = await fetch(`${app.url}/docs`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/docs/');
    const page = await fetch(`${app.url}/docs/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    await page.text();
    // Read to its end: a body of a megabyte left unread holds its response open (the client
    // reads no more), and the app's close then waited its whole shutdown deadline for it.
    const bundle = await fetch(`${app.url}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    const other = await fetch(`${app.url}/docs/package.json`);
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it.skipIf(!CHROMIUM)('a browser renders the reference from /openapi.json, asking nothing of any other origin and breaking no policy', { timeout: 120_000 }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const elsewhere: string[] = [];
      const problems: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(app.url)) elsewhere.push(request.url());
      });
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(error.message));
      await page.goto(`${app.url}/docs/`);
      await page.locator('.swagger-ui .info .title').waitFor({ timeout: 60_000 });
      expect(await page.locator('.swagger-ui .info .title').innerText()).toContain('Castellan');
      await page.locator('.opblock-summary-path[data-path="/v1/check"]').first().waitFor();
      if (process.env.DOCS_SCREENSHOT) await page.screenshot({ path: process.env.DOCS_SCREENSHOT });
      expect(elsewhere).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
