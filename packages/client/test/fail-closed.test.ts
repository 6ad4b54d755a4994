import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp, TestEnvironment } from '../../../test/support/app.js';
import { servicesUp } from '../../../test/support/services.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { CastellanUnavailableError, createCastellanClient, type CheckRequest } from '../src/index.js';
import { collab, startCastellan, startHttpServer } from './support.js';

/**
 * Whatever goes wrong between a service and Castellan, `check` rejects with
 * CastellanUnavailableError and never resolves an allow; `can` turns that into false only
 * when told to. Each failure is real: a stopped instance, a slowed connection, a server
 * answering garbage.
 */
const question: CheckRequest = { ...collab, action: 'view', resource: { type: 'Project', id: 'p1' } };

async function expectUnavailable(promise: Promise<unknown>, kind: string): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(CastellanUnavailableError);
  await expect(promise).rejects.toMatchObject({ kind });
}

describe.skipIf(!servicesUp)('fail closed against a real Castellan', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let proxy: TcpProxy;
  beforeAll(async () => {
    ({ env, app } = await startCastellan());
    proxy = await startTcpProxy('127.0.0.1', Number(new URL(app.url).port));
  });
  afterAll(async () => {
    await proxy?.close();
    await env?.close();
  });

  it('a stopped Castellan: unreachable, and can() denies only when asked to', async () => {
    const stopped = await env.start();
    await stopped.close();
    const client = createCastellanClient({ baseUrl: stopped.url, timeoutMs: 5000 });
    await expectUnavailable(client.check(question), 'unreachable');
    await expectUnavailable(client.checkBatch({ ...collab, checks: [question] }), 'unreachable');
    await expect(client.can(question)).rejects.toBeInstanceOf(CastellanUnavailableError);
    expect(await client.can(question, { onError: 'deny' })).toBe(false);
  });

  it('a slowed Castellan: the answer arrives after the deadline, so it is a timeout, not a decision', async () => {
    const through = createCastellanClient({ baseUrl: `http://127.0.0.1:${proxy.port}`, timeoutMs: 5000 });
    expect((await through.check(question)).allowed).toBe(true);
    proxy.setLatency(3000);
    try {
      const impatient = createCastellanClient({ baseUrl: `http://127.0.0.1:${proxy.port}`, timeoutMs: 150 });
      await expectUnavailable(impatient.check(question), 'timeout');
      await expectUnavailable(impatient.check({ ...question, resource: { type: 'Project', id: 'p2' } }), 'timeout');
      expect(await impatient.can(question, { onError: 'deny' })).toBe(false);
    } finally {
      proxy.setLatency(0);
    }
  });

  it('a Castellan that cannot reach its data answers 503: unavailable, never an allow', async () => {
    const client = createCastellanClient({ baseUrl: app.url, timeoutMs: 5000 });
    const { version } = await client.check(question);
    await expectUnavailable(client.check({ ...question, consistency: { minVersion: String(BigInt(version) + 1n) } }), 'server_error');
  });
});

describe('fail closed against a server answering garbage', () => {
  let mode = '';
  let server: { url: string; close(): Promise<void> };
  const answers: Record<string, (res: http.ServerResponse) => void> = {
    'not JSON': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('allowed'),
    'allowed as a string': (res) => res.writeHead(200).end(JSON.stringify({ allowed: 'true', reason: 'x', version: '1' })),
    'allowed as a number': (res) => res.writeHead(200).end(JSON.stringify({ allowed: 1, reason: 'x', version: '1' })),
    'no version': (res) => res.writeHead(200).end(JSON.stringify({ allowed: true, reason: 'x' })),
    'a bad version': (res) => res.writeHead(200).end(JSON.stringify({ allowed: true, reason: 'x', version: 'latest' })),
    'an array': (res) => res.writeHead(200).end('[true]'),
    'an empty 200': (res) => res.writeHead(200).end(),
    'a 404 page': (res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>not found</h1>'),
    'a redirect': (res) => res.writeHead(302, { location: 'http://127.0.0.1:1/v1/check' }).end(),
    'a 500 in the contract shape': (res) => res.writeHead(500).end(JSON.stringify({ error: { code: 'internal', message: 'boom' } })),
    'a 502 from a proxy': (res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>bad gateway</h1>'),
    'half an answer, then the connection closes': (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
      res.write('{"allowed": true,');
      setTimeout(() => res.destroy(), 20);
    },
    'headers, then silence': (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"allowed": true');
    },
  };
  const kinds: Record<string, string> = {
    'a 500 in the contract shape': 'server_error',
    'a 502 from a proxy': 'server_error',
    'half an answer, then the connection closes': 'unreachable',
    'headers, then silence': 'timeout',
  };

  beforeAll(async () => {
    server = await startHttpServer((req, res) => {
      req.resume();
      req.on('end', () => answers[mode]!(res));
    });
  });
  afterAll(() => server?.close());

  for (const name of Object.keys(answers)) {
    it(`${name}: check rejects (${kinds[name] ?? 'malformed_answer'})`, async () => {
      mode = name;
      const client = createCastellanClient({ baseUrl: server.url, timeoutMs: 300 });
      await expectUnavailable(client.check(question), kinds[name] ?? 'malformed_answer');
      expect(await client.can(question, { onError: 'deny' })).toBe(false);
    });
  }

  it('a batch answer with a result missing or malformed rejects every coalesced caller', async () => {
    const client = createCastellanClient({ baseUrl: server.url, timeoutMs: 1000 });
    for (const results of [[{ allowed: true, reason: 'x' }], [{ allowed: true, reason: 'x' }, { allowed: 'yes', reason: 'x' }]]) {
      answers.batch = (res) => res.writeHead(200).end(JSON.stringify({ version: '3', results }));
      mode = 'batch';
      const both = [client.check(question), client.check({ ...question, resource: { type: 'Project', id: 'p2' } })];
      for (const answer of both) await expectUnavailable(answer, 'malformed_answer');
    }
  });

  it('an AuthZEN answer whose decision is not the boolean true, or whose evaluations do not match the request, is no permit', async () => {
    const client = createCastellanClient({ baseUrl: server.url, timeoutMs: 1000 });
    const evaluation = { subject: { type: 'user', id: 'collab' }, action: { name: 'view' }, resource: { type: 'Project', id: 'p1' } };
    const items = [{}, { resource: { type: 'Project', id: 'p2' } }];
    const cases: Array<[string, unknown, () => Promise<unknown>]> = [
      ['decision as a string', { decision: 'true' }, () => client.evaluation('acme', evaluation)],
      ['no decision', { context: { version: '1' } }, () => client.evaluation('acme', evaluation)],
      ['a bad version', { decision: true, context: { version: 'latest' } }, () => client.evaluation('acme', evaluation)],
      ['a context that is not an object', { decision: true, context: 'ok' }, () => client.evaluation('acme', evaluation)],
      ['one decision for two items', { evaluations: [{ decision: true }] }, () => client.evaluations('acme', { ...evaluation, evaluations: items })],
      ['three decisions for two items', { evaluations: [{ decision: true }, { decision: true }, { decision: true }] }, () => client.evaluations('acme', { ...evaluation, evaluations: items, options: { evaluations_semantic: 'permit_on_first_permit' } })],
      ['an item decision as a number', { evaluations: [{ decision: true }, { decision: 1 }] }, () => client.evaluations('acme', { ...evaluation, evaluations: items })],
      ['a list where one decision was asked', { evaluations: [{ decision: true }] }, () => client.evaluations('acme', evaluation)],
    ];
    for (const [name, body, call] of cases) {
      answers[name] = (res) => res.writeHead(200).end(JSON.stringify(body));
      mode = name;
      await expect(call(), name).rejects.toMatchObject({ name: 'CastellanUnavailableError', kind: 'malformed_answer' });
    }
  });
});
