import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDevSecret } from '../../src/auth/dev-secret.js';
import { createApi } from '../../src/demo/client.js';
import { DEMO_COMPANY } from '../../src/demo/company.js';
import { loadDemo } from '../../src/demo/load.js';
import { startMain, type MainProcess } from '../ops/process.js';

/**
 * Issue 18: `npm run demo` loads the demo company the README's examples ask about, into a
 * running server (whose embedded store it cannot open: the server holds DATA_DIR), through the
 * admin API. Run as a newcomer runs it: the built CLI against the built server, clean environments.
 */
const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/demo/cli.js');
const dirs: string[] = [];
const servers: MainProcess[] = [];
afterAll(() => {
  for (const server of servers) server.child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'castellan-demo-'));
  dirs.push(dir);
  return dir;
};

async function start(env: Record<string, string>): Promise<MainProcess> {
  const server = await startMain(env);
  servers.push(server);
  return server;
}

const demo = (env: Record<string, string>, args: string[] = []) =>
  spawnSync(process.execPath, [cli, ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 180_000 });

const sign = (secret: string, sub: string, email?: string) =>
  new SignJWT(email ? { email, email_verified: true } : {}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('10m').sign(new TextEncoder().encode(secret));

async function call(server: MainProcess, method: string, route: string, token?: string, body?: unknown) {
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const check = async (server: MainProcess, principal: object, action: string, resource: object, company = 'acme') =>
  (await call(server, 'POST', '/v1/check', undefined, { company, principal, action, resource })).body;

const member = (userId: unknown, email: string | null, fields: Record<string, unknown>) => ({
  userId,
  email,
  kind: 'platform',
  type: 'member',
  status: 'active',
  owner: false,
  applicationAccess: false,
  developerAccess: false,
  ...fields,
});

/** The people of the demo company, in the order they joined (the API lists by creation). */
const demoMembers = (adaEmail: string) => [
  member('ada', adaEmail, { role: 'admin', owner: true, type: adaEmail.endsWith('@acme.test') ? 'member' : 'guest' }),
  member('grace', 'grace@acme.test', { role: 'manager', applicationAccess: true }),
  member('linus', 'linus@acme.test', { role: 'editor', applicationAccess: true, developerAccess: true }),
  member('ken', 'ken@partner.test', { role: 'collaborator', applicationAccess: true, type: 'guest' }),
  member('alan', 'alan@acme.test', { role: 'editor', status: 'inactive' }),
  member(expect.stringMatching(/^invite:[0-9a-f-]{36}$/), 'hedy@acme.test', {
    role: 'editor',
    status: 'invited',
    applicationAccess: true,
    invitation: { expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), invitedBy: 'ada' },
  }),
  member(expect.stringMatching(/^local:[0-9a-f-]{36}$/), null, { kind: 'local', role: 'collaborator', applicationAccess: true, login: 'joan', firstName: 'Joan', lastName: 'Clarke' }),
];

/** Everything the demo makes, read back through the API as its owner. */
async function expectDemoCompany(server: MainProcess, ada: string, adaEmail: string, id = 'acme'): Promise<void> {
  const c = `/v1/companies/${id}`;
  const company = await call(server, 'GET', c, ada);
  expect(company).toMatchObject({ status: 200, body: { id, name: 'Acme', owner: 'ada', domains: ['acme.test'], plan: { name: 'starter' }, usage: { userLicenses: 5, developerLicenses: 1 } } });
  const members = (await call(server, 'GET', `${c}/members`, ada)).body.members as { userId: string; login?: string }[];
  expect(members).toEqual(demoMembers(adaEmail));
  const joan = members.find((m) => m.login === 'joan')!.userId;

  const roles = (await call(server, 'GET', `${c}/roles`, ada)).body as { project: { key: string; name: string; permissions: unknown[] }[] };
  expect(roles.project.map((r) => r.key).sort()).toEqual(['contributor', 'planner', 'project-admin', 'reviewer', 'viewer']);
  expect(roles.project.find((r) => r.key === 'reviewer')).toEqual({
    key: 'reviewer',
    name: 'Reviewer',
    permissions: [
      { action: 'view', subject: 'Scenario' },
      { action: 'view', subject: 'ProjectInformation' },
      { action: 'edit', subject: 'ProjectInformation' },
    ],
  });
  expect((await call(server, 'GET', `${c}/teams`, ada)).body).toEqual({
    teams: [
      { id: 'design', name: 'Design', members: ['ken', 'linus'] },
      { id: 'field', name: 'Field crew', members: [joan] },
    ],
  });
  const grants = async (project: string) => (await call(server, 'GET', `${c}/projects/${project}/members`, ada)).body;
  expect(await grants('bridge')).toEqual({ users: [{ userId: 'ada', role: 'project-admin' }, { userId: 'linus', role: 'contributor' }], teams: [{ teamId: 'design', role: 'reviewer' }] });
  expect(await grants('tunnel')).toEqual({ users: [{ userId: 'grace', role: 'project-admin' }, { userId: 'ken', role: 'viewer' }], teams: [] });
  expect(await grants('harbour')).toEqual({ users: [{ userId: 'ada', role: 'project-admin' }], teams: [{ teamId: 'field', role: 'planner' }] });

  // The decisions the README shows.
  expect(await check(server, { id: 'ken' }, 'edit', { type: 'ProjectInformation', attributes: { projectId: 'bridge' } }, id)).toMatchObject({
    allowed: true,
    reason: 'role reviewer via team design on project bridge allows edit ProjectInformation',
  });
  expect(await check(server, { id: 'ken' }, 'delete', { type: 'Scenario', attributes: { projectId: 'bridge' } }, id)).toMatchObject({ allowed: false });
  expect(await check(server, { id: 'alan' }, 'view', { type: 'Project', id: 'bridge' }, id)).toMatchObject({ allowed: false });
  expect(await check(server, { id: 'grace' }, 'view', { type: 'Project', id: 'bridge' }, id)).toMatchObject({ allowed: true });
  const login = await call(server, 'POST', '/v1/auth/token', undefined, { company: id, login: 'joan', password: 'correct horse battery staple' });
  expect(login.status).toBe(200);
  expect(await check(server, { token: login.body.accessToken }, 'delete', { type: 'Scenario', attributes: { projectId: 'harbour' } }, id)).toMatchObject({
    allowed: true,
    reason: 'role planner via team field on project harbour allows delete Scenario',
  });
}

const currentVersion = async (server: MainProcess, company = 'acme') => (await check(server, { id: 'ada' }, 'view', { type: 'Project', id: 'bridge' }, company)).version;

const SUMMARY = [
  '  company   acme (Acme), domain acme.test: its addresses are Members, others Guests; plan starter',
  '  owner     ada (admin; no application access: admins administer, D12)',
  '  members   grace (manager), linus (editor, developer), alan (editor, inactive), hedy@acme.test (editor, invited)',
  '  guests    ken (collaborator, ken@partner.test)',
  '  local     joan (collaborator), login joan, password "correct horse battery staple"',
  '  roles     custom project roles reviewer, planner (beside project-admin, contributor, viewer)',
  '  teams     design: linus, ken; field: joan',
  '  projects  bridge   ada project-admin, team design reviewer, linus contributor',
  '            tunnel   grace project-admin, ken viewer',
  '            harbour  ada project-admin, team field planner',
  'Tokens: npm run -s dev-token -- <ada|grace|linus|ken|alan>; joan logs in with POST /v1/auth/token.',
];

describe('npm run demo, on a fresh embedded server with its development secret (one server for the file)', () => {
  let server: MainProcess;
  let dataDir: string;
  let env: Record<string, string>;
  let ada: string;
  beforeAll(async () => {
    dataDir = tempDir();
    server = await start({ DATA_DIR: dataDir });
    // As the README runs it: the server's own environment, where PORT says where it listens.
    env = { DATA_DIR: dataDir, PORT: String(server.port) };
    ada = await sign(readDevSecret(dataDir)!, 'ada');
  }, 180_000);

  it('loads the demo company the README asks about, through the admin API', { timeout: 240_000 }, async () => {
    const run = demo(env);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`Loaded the demo company acme into http://127.0.0.1:${server.port} (26 admin writes, version ${await currentVersion(server)}):`);
    expect(lines.slice(1)).toEqual(SUMMARY);
    await expectDemoCompany(server, ada, 'ada@acme.test');
  });

  it('a second run writes nothing and says the company exists', { timeout: 120_000 }, async () => {
    const before = await currentVersion(server);
    const run = demo(env);
    expect(run.status).toBe(0);
    expect(run.stdout.trimEnd().split('\n')).toEqual([`The demo company acme exists already at http://127.0.0.1:${server.port}, as the demo makes it: nothing to do.`, ...SUMMARY]);
    expect(await currentVersion(server)).toBe(before);
    const audit = (await call(server, 'GET', '/v1/companies/acme/audit?limit=100', ada)).body.entries as { version: string }[];
    expect(audit.at(-1)!.version).toBe(before);
  });

  it('refuses, in one line, a company of that id that is not its owner\'s', { timeout: 120_000 }, async () => {
    // A deleted company's id stays taken (it is never reused), and ada is in no company of that id.
    expect((await call(server, 'DELETE', '/v1/companies/acme', ada)).status).toBe(200);
    const run = demo(env);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'npm run demo: a company acme exists (or existed), and ada is not an active member of it: the demo loads its own acme. ' +
        'Point it at a server with fresh data (another DATA_DIR, or the embedded data moved away)\n',
    );
  });

  it('fills in a company it finds half made: the empty one the first start\'s printed line makes', { timeout: 120_000 }, async () => {
    // The loader the CLI runs, on another id (acme's is retired by now, and its domain free):
    // first what main.ts's line does, ada opening the company with the address it gives her.
    const secret = readDevSecret(dataDir)!;
    const printed = await sign(secret, 'ada', 'ada@example.test');
    expect((await call(server, 'POST', '/v1/companies', printed, { id: 'acme-2', name: 'Acme' })).status).toBe(201);
    const demoCompany = { ...DEMO_COMPANY, id: 'acme-2' };
    const outcome = await loadDemo(createApi(server.url), demoCompany, (sub, email) => sign(secret, sub, email));
    // Everything but the company itself, and the domain it lacked.
    expect(outcome).toEqual({ writes: 26, version: await currentVersion(server, 'acme-2'), plan: 'starter' });
    await expectDemoCompany(server, ada, 'ada@example.test', 'acme-2');
  });
});

describe('npm run demo, on its own', () => {
  it('--help prints the usage; nothing answering is one line naming the URL; a bad argument is refused', async () => {
    expect(demo({}, ['--help'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^usage: npm run -s demo /) });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const run = demo({ AUTH_JWT_SECRET: 'demo-test-secret-0123456789abcdef0123456789', PORT: String(port) }, ['--wait', '0']);
    expect(run).toMatchObject({
      status: 1,
      stdout: '',
      stderr: `npm run demo: nothing answers at http://127.0.0.1:${port} (ECONNREFUSED): start Castellan first (npm start), or set CASTELLAN_URL to where it runs\n`,
    });
    expect(demo({}, ['--wait', 'soon'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^--wait needs a whole number of seconds \(got "soon"\)\nusage: /) });
    expect(demo({}, ['--company', 'x'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^unknown argument "--company"\nusage: /) });
  });
});
