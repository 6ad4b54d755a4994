import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { signToken, TEST_JWT_SECRET } from '../support/app.js';
import { createTestDatabase, servicesUp, TEST_REDIS_URL, uniqueName } from '../support/services.js';
import { openIdleConnection, request, startMain, startSlowRequest, waitUntilRefused, type MainProcess, type Outcome } from './process.js';

/**
 * Graceful shutdown of the real entry point: `node dist/main.js` under load, then SIGTERM.
 * Every request that got a response at all must have got all of it, and a good one.
 */

const OWNER = 'shutdown-owner';
const check = { company: 'acme', principal: { id: OWNER }, action: 'view', resource: { type: 'Project', id: 'p1' } };
const WORKERS = 8;

let running: MainProcess | undefined;
afterEach(() => {
  if (running && running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
  running = undefined;
});

async function start(env: Record<string, string>): Promise<{ main: MainProcess; token: string }> {
  const main = await startMain({ AUTH_JWT_SECRET: TEST_JWT_SECRET, ...env });
  running = main;
  const token = await signToken(OWNER);
  const created = await fetch(`${main.url}/v1/companies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'acme', name: 'Acme' }),
  });
  expect(created.status).toBe(201);
  // The load checks p1, which must be registered (D15).
  const registered = await fetch(`${main.url}/v1/companies/acme/projects/p1`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'P1' }),
  });
  expect(registered.status).toBe(201);
  return { main, token };
}

interface Recorded extends Outcome {
  what: 'check' | 'admin read';
}

/** Workers alternating checks and admin reads on keep-alive connections until connections are refused. */
function driveLoad(port: number, token: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS });
  const outcomes: Recorded[] = [];
  let completed = 0;
  const worker = async (n: number) => {
    for (let i = n; ; i++) {
      const what = i % 2 === 0 ? 'check' : 'admin read';
      const outcome =
        what === 'check'
          ? await request(agent, port, 'POST', '/v1/check', check)
          : await request(agent, port, 'GET', '/v1/companies/acme', undefined, { authorization: `Bearer ${token}` });
      outcomes.push({ ...outcome, what });
      if (outcome.kind === 'complete') completed++;
      if (outcome.kind === 'refused' && outcome.error === 'ECONNREFUSED') return;
    }
  };
  const done = Promise.all(Array.from({ length: WORKERS }, (_, n) => worker(n))).finally(() => agent.destroy());
  return {
    outcomes,
    done,
    async untilCompleted(count: number) {
      while (completed < count) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

function expectCorrect(outcome: Recorded): void {
  expect(outcome.kind, JSON.stringify(outcome)).toBe('complete');
  expect(outcome.status, JSON.stringify(outcome)).toBe(200);
  const body = JSON.parse(outcome.body!);
  if (outcome.what === 'check') expect(body).toMatchObject({ allowed: true, version: expect.stringMatching(/^\d+$/) });
  else expect(body).toMatchObject({ id: 'acme', name: 'Acme' });
}

/**
 * A store for tests that are not about the store: the test PostgreSQL when it is up (quick
 * to start), else embedded PGlite, whose start-up is heavy enough to slow the files running
 * alongside.
 */
async function withStore(run: (env: Record<string, string>) => Promise<void>): Promise<void> {
  if (!servicesUp) return run({ DATA_DIR: 'memory://' });
  const database = await createTestDatabase();
  try {
    await run({ DATABASE_URL: database.url });
  } finally {
    await database.drop();
  }
}

async function sigtermUnderLoad(env: Record<string, string>): Promise<void> {
  const { main, token } = await start({ SHUTDOWN_TIMEOUT_MS: '20000', ...env });
  const idle = await openIdleConnection(main.port);
  const slowCheck = await startSlowRequest(main.port, 'POST', '/v1/check', check);
  const slowWrite = await startSlowRequest(main.port, 'POST', '/v1/companies/acme/invitations', { email: 'late@example.test', role: 'collaborator' }, { authorization: `Bearer ${token}` });
  const load = driveLoad(main.port, token);
  await load.untilCompleted(200);

  main.child.kill('SIGTERM');

  // New connections are refused while requests in flight are still being waited for.
  await waitUntilRefused(main.port);
  await idle.closed;
  expect(main.child.exitCode).toBeNull();

  // The two requests taken in before the signal finish, answered in full, and their connections close.
  const checkAnswer = await slowCheck.finish();
  expect(checkAnswer.status).toBe(200);
  expect(checkAnswer.headers.connection).toBe('close');
  expect(JSON.parse(checkAnswer.body)).toMatchObject({ allowed: true });
  const writeAnswer = await slowWrite.finish();
  expect(writeAnswer.status).toBe(201);
  expect(writeAnswer.headers.connection).toBe('close');
  expect(JSON.parse(writeAnswer.body)).toMatchObject({ email: 'late@example.test', status: 'invited' });

  await load.done;
  const accepted = load.outcomes.filter((o) => o.kind !== 'refused');
  expect(accepted.length).toBeGreaterThanOrEqual(200);
  for (const outcome of accepted) expectCorrect(outcome);
  // Every worker ended on a refused connection: nothing was left hanging.
  expect(load.outcomes.filter((o) => o.error === 'ECONNREFUSED')).toHaveLength(WORKERS);

  // main.ts does not call process.exit on success: the process ends by itself once nothing is
  // left open, so exit 0 also shows the PostgreSQL pool (or PGlite) and both Redis clients were closed.
  expect(await main.exited).toEqual({ code: 0, signal: null });
  expect(main.output()).toContain('"msg":"shutdown complete"');
}

describe('graceful shutdown of node dist/main.js', () => {
  it('embedded mode: SIGTERM under load drops no accepted request, refuses new connections and exits 0', async () => {
    await sigtermUnderLoad({ DATA_DIR: 'memory://' });
  }, 120_000);

  it.skipIf(!servicesUp)('with PostgreSQL and Redis: the same, and both are closed before exiting 0', async () => {
    const database = await createTestDatabase();
    try {
      await sigtermUnderLoad({ DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: `${uniqueName('shutdown')}:` });
    } finally {
      await database.drop();
    }
  }, 120_000);

  it('SIGINT stops it the same way', async () => {
    await withStore(async (env) => {
      const { main } = await start(env);
      main.child.kill('SIGINT');
      expect(await main.exited).toEqual({ code: 0, signal: null });
      expect(main.output()).toContain('"signal":"SIGINT"');
    });
  }, 120_000);

  it('cuts a request still running at SHUTDOWN_TIMEOUT_MS and exits 1', async () => {
    await withStore(async (env) => {
      const { main } = await start({ ...env, SHUTDOWN_TIMEOUT_MS: '300' });
      const stuck = await startSlowRequest(main.port, 'POST', '/v1/check', check);
      main.child.kill('SIGTERM');
      // The rest of the body never comes: the deadline cuts the connection without an answer.
      await stuck.closed;
      expect(stuck.received()).toBe('');
      expect(await main.exited).toEqual({ code: 1, signal: null });
      expect(main.output()).toContain('requests still running after 300 ms were cut');
    });
  }, 120_000);
});
