import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, signToken, type TestApp, type TestEnvironment } from '../support/app.js';
import { CADDY, NGINX, startCaddy, startNginx, startUpstream, TEMPLATES, type Gateway, type GatewayValues, type SeenRequest } from '../support/gateways.js';
import { servicesUp } from '../support/services.js';
import { seedCompany } from '../check/seed.js';

/**
 * Castellan behind real gateways, configured with the very templates of docs/gateways/:
 * through the gateway, an allowed request reaches the service with Castellan's headers, and
 * nothing else ever does.
 */

const CHECK_TOKEN = 'gateway-check-token-0123456789';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request, so the path reaches the gateway exactly as written (fetch would normalise it). */
function request(base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('docs/gateways.md', () => {
  it('shows the very nginx and Caddy files the tests run, whole', () => {
    const doc = readFileSync(path.join(TEMPLATES, '../gateways.md'), 'utf8');
    for (const [file, fence] of [['nginx.conf', 'nginx'], ['Caddyfile', 'caddy']] as const) {
      expect(doc, file).toContain(`\`\`\`${fence}\n${readFileSync(path.join(TEMPLATES, file), 'utf8')}\`\`\``);
    }
  });
});

describe.skipIf(!NGINX || !CADDY)("the README's five-line configurations", () => {
  it('are configurations nginx and Caddy accept', () => {
    const readme = readFileSync(path.join(TEMPLATES, '../../README.md'), 'utf8');
    const block = (fence: string) => [...readme.matchAll(/```(\w+)\n([\s\S]*?)```/g)].find((m) => m[1] === fence)![2]!.replaceAll('app:3000', '127.0.0.1:3000').replaceAll('castellan:8080', '127.0.0.1:8080');
    const dir = mkdtempSync(path.join(tmpdir(), 'castellan-readme-'));
    try {
      writeFileSync(
        path.join(dir, 'nginx.conf'),
        `pid ${dir}/nginx.pid; events {} http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};\nserver { listen 127.0.0.1:1;\n${block('nginx')}}}\n`,
      );
      const nginx = spawnSync(NGINX!, ['-e', 'stderr', '-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')], { encoding: 'utf8' });
      expect(nginx.status, nginx.stderr).toBe(0);
      writeFileSync(path.join(dir, 'Caddyfile'), `{\n\tadmin off\n\tauto_https off\n}\nhttp://127.0.0.1:1 {\n${block('caddy')}}\n`);
      const caddy = spawnSync(CADDY!, ['validate', '--config', path.join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], { encoding: 'utf8', env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
      expect(caddy.status, caddy.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const gateways: Array<[string, string | null, (values: GatewayValues) => Promise<Gateway>]> = [
  ['nginx (auth_request)', NGINX, startNginx],
  ['Caddy (forward_auth)', CADDY, startCaddy],
];

for (const [name, binary, start] of gateways) {
  describe.skipIf(!servicesUp || !binary)(`Castellan behind ${name}`, () => {
    let env: TestEnvironment;
    let castellan: TestApp;
    let upstream: Awaited<ReturnType<typeof startUpstream>>;
    let gateway: Gateway;
    let collab: string;

    /** Runs a request through the gateway and says what reached the service meanwhile. */
    async function through(method: string, path: string, headers: Record<string, string> = {}): Promise<{ reply: Reply; reached: SeenRequest[] }> {
      const before = upstream.seen.length;
      const reply = await request(gateway.url, method, path, headers);
      return { reply, reached: upstream.seen.slice(before) };
    }
    const as = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });
    const allowedPath = '/api/companies/acme/projects/p1/scenarios/s-1';

    beforeAll(async () => {
      env = await createTestEnvironment();
      castellan = await env.start({ CHECK_TOKEN });
      await seedCompany(castellan.app.store.db, castellan.app.policies, {
        id: 'acme',
        members: [{ id: 'collab', role: 'collaborator' }],
        projects: ['p1', 'p2'],
        grants: [{ project: 'p1', role: 'contributor', user: 'collab' }],
      });
      collab = await signToken('collab');
      upstream = await startUpstream();
      gateway = await start({ castellan: new URL(castellan.url).host, upstream: upstream.address, checkToken: CHECK_TOKEN });
    });
    afterAll(async () => {
      await gateway?.stop();
      await upstream?.close();
      await env?.close();
    });

    it('an allowed request reaches the service, with X-Castellan-User and the rest of the decision', async () => {
      const { reply, reached } = await through('GET', `${allowedPath}?view=full`, as(collab));
      expect(reply.status, gateway.log()).toBe(200);
      expect(reply.body).toBe('upstream');
      expect(reached).toHaveLength(1);
      expect(reached[0]!.url).toBe(`${allowedPath}?view=full`);
      expect(reached[0]!.headers).toMatchObject({
        'x-castellan-user': 'collab',
        'x-castellan-company': 'acme',
        'x-castellan-reason': 'role contributor on project p1 allows view Scenario',
        'x-castellan-version': expect.stringMatching(/^\d+$/),
        authorization: `Bearer ${collab}`,
      });
      const write = await through('PATCH', allowedPath, as(collab));
      expect(write.reply.status).toBe(200);
      expect(write.reached.map((r) => r.method)).toEqual(['PATCH']);
    });

    it("a client's own X-Castellan-* headers never reach the service", async () => {
      const { reply, reached } = await through('GET', allowedPath, as(collab, { 'x-castellan-user': 'boss', 'x-castellan-company': 'globex' }));
      expect(reply.status).toBe(200);
      expect(reached[0]!.headers['x-castellan-user']).toBe('collab');
      expect(reached[0]!.headers['x-castellan-company']).toBe('acme');
    });

    it('a denied request gets 403 and never reaches the service', async () => {
      for (const [method, path] of [
        ['DELETE', allowedPath],
        ['GET', '/api/companies/acme/projects/p2/scenarios/s-1'],
      ] as const) {
        const { reply, reached } = await through(method, path, as(collab));
        expect(reply.status, `${method} ${path}`).toBe(403);
        expect(reached).toEqual([]);
      }
    });

    it('no token gets 401 with WWW-Authenticate: Bearer, and never reaches the service', async () => {
      const { reply, reached } = await through('GET', allowedPath);
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Bearer');
      expect(reached).toEqual([]);
      const expired = await through('GET', allowedPath, as(await signToken('collab', {}, undefined, '-5m')));
      expect(expired.reply.status).toBe(401);
      expect(expired.reached).toEqual([]);
    });

    it('a route the route map does not have gets 403', async () => {
      const { reply, reached } = await through('GET', '/api/companies/acme/audit', as(collab));
      expect(reply.status).toBe(403);
      expect(reached).toEqual([]);
    });

    it('paths bent to look like an allowed route never reach the service', async () => {
      const bent = [
        '/api/companies/acme/projects/p2/scenarios/s-1/../../../p1/scenarios/s-1',
        '/api/companies/acme/projects/p1/scenarios/..%2F..%2Fp2%2Fscenarios%2Fs-1',
        '/api/companies/acme/projects/p1;x=1/scenarios/s-1',
        '/api/companies/acme/projects/p1/scenarios/s-1/',
        '/api/companies/acme/projects//p1/scenarios/s-1',
        '/api/companies/acme/%70rojects/p1/scenarios/s-1',
        '/api/companies/acme/Projects/p1/scenarios/s-1',
        '/api/companies/acme/projects/p1/scenarios/s-1%00',
      ];
      for (const path of bent) {
        const { reply, reached } = await through('GET', path, as(collab));
        expect(reply.status, path).toBeGreaterThanOrEqual(400);
        expect(reached, path).toEqual([]);
      }
    });

    it("a client's own X-Forwarded-Uri or X-Original-URI cannot stand in for the request", async () => {
      const spoof = { 'x-forwarded-uri': allowedPath, 'x-forwarded-method': 'GET', 'x-original-uri': allowedPath, 'x-original-method': 'GET' };
      const { reply, reached } = await through('DELETE', allowedPath, as(collab, spoof));
      expect(reply.status).toBe(403);
      expect(reached).toEqual([]);
      const other = await through('GET', '/api/companies/acme/projects/p2/scenarios/s-1', as(collab, spoof));
      expect(other.reply.status).toBe(403);
      expect(other.reached).toEqual([]);
    });

    it('with Castellan stopped, the gateway answers an error and the service is never reached', async () => {
      await castellan.close();
      const { reply, reached } = await through('GET', allowedPath, as(collab));
      expect(reply.status).toBeGreaterThanOrEqual(500);
      expect(reached).toEqual([]);
    });
  });
}
