import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { seedCompany } from '../check/seed.js';
import { parsePrometheus } from './prometheus.js';

const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 3000;
/** Node checks the timeouts on a timer and a loaded machine runs it late: generous, and still far below Node's 300 s. */
const SLACK_MS = 6000;

const CHECK = { company: 'acme', principal: { id: 'ada' }, action: 'view', resource: { type: 'Project', id: 'p1' } };

interface HalfOpen {
  openedAt: number;
  closedAt?: number;
  received: string;
  socket: net.Socket;
}

/** Connects, writes `payload` (maybe nothing) and then neither finishes nor leaves. */
function halfOpen(port: number, payload: string): Promise<HalfOpen> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const state: HalfOpen = { openedAt: 0, received: '', socket };
    socket.on('data', (chunk) => void (state.received += chunk.toString('latin1')));
    socket.on('error', () => {}); // a reset is one way for the server to be done with us
    socket.on('close', () => void (state.closedAt = performance.now()));
    socket.once('connect', () => {
      state.openedAt = performance.now();
      if (payload) socket.write(payload);
      resolve(state);
    });
    socket.once('error', reject);
  });
}

const NOTHING = '';
const PARTIAL_HEADERS = 'POST /v1/check HTTP/1.1\r\nHost: castellan\r\ncontent-type: application/json\r\n';
const PARTIAL_BODY = `POST /v1/check HTTP/1.1\r\nHost: castellan\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"company": "acme", `;

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition() && performance.now() < deadline) await sleep(50);
  return condition();
}

/** One keep-alive connection, as a service's HTTP client keeps to its sidecar. */
function keptConnection(port: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; body: string; socketPort: number }>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
        let text = '';
        res.on('data', (chunk) => void (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text, socketPort: req.socket!.localPort! }));
      });
      req.on('error', reject);
      req.end(payload);
    });
  return { send, close: () => agent.destroy() };
}

/**
 * Clients that connect and then dawdle (slowloris) must not hold connections for Node's
 * default 300 s, nor stop the check API: header and request timeouts close them, and a
 * connection cap bounds how many there can be at once.
 */
describe.skipIf(!servicesUp)('slow clients', () => {
  let env: TestEnvironment;

  beforeAll(async () => {
    env = await createTestEnvironment();
    const first = await env.start();
    await seedCompany(first.app.store.db, first.app.policies, { id: 'acme', members: [{ id: 'ada', role: 'admin' }], projects: ['p1'] });
  });
  afterAll(() => env?.close());

  it('300 half-open connections: checks are still answered, and each is closed after its timeout', async () => {
    const instance: TestApp = await env.start({ HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
    const port = Number(new URL(instance.url).port);
    const silent = await Promise.all(Array.from({ length: 100 }, () => halfOpen(port, NOTHING)));
    const headless = await Promise.all(Array.from({ length: 100 }, () => halfOpen(port, PARTIAL_HEADERS)));
    const bodiless = await Promise.all(Array.from({ length: 100 }, () => halfOpen(port, PARTIAL_BODY)));
    const all = [...silent, ...headless, ...bodiless];
    try {
      const checks = await Promise.all(Array.from({ length: 20 }, () => api(instance.url, 'POST', '/v1/check', CHECK)));
      for (const check of checks) expect(check).toMatchObject({ status: 200, body: { allowed: true } });
      expect(await api(instance.url, 'GET', '/healthz')).toMatchObject({ status: 200 });

      expect(await until(() => all.every((s) => s.closedAt !== undefined), REQUEST_TIMEOUT_MS + SLACK_MS)).toBe(true);
      for (const [group, timeoutMs] of [
        [silent, HEADERS_TIMEOUT_MS],
        [headless, HEADERS_TIMEOUT_MS],
        [bodiless, REQUEST_TIMEOUT_MS],
      ] as const) {
        for (const s of group) {
          const lifetime = s.closedAt! - s.openedAt;
          // Closed by the timeout, not before (Node measures from the connection, within its check interval).
          expect(lifetime).toBeGreaterThan(timeoutMs * 0.9);
          expect(lifetime).toBeLessThan(timeoutMs + SLACK_MS);
          expect(s.received).toMatch(/^HTTP\/1\.1 408 /);
        }
      }
    } finally {
      for (const s of all) s.socket.destroy();
    }
  }, 60_000);

  it('beyond the connection cap new connections are dropped, a kept connection still gets answers, and the timeouts make room again', async () => {
    const instance = await env.start({ HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), HTTP_MAX_CONNECTIONS: '50' });
    const port = Number(new URL(instance.url).port);
    const service = keptConnection(port);
    const idle: HalfOpen[] = [];
    try {
      const first = await service.send('POST', '/v1/check', CHECK);
      expect(first.status).toBe(200);

      // 49 more fill the cap (the service's connection is the 50th); the next 11 are dropped at once, unanswered.
      for (let i = 0; i < 60; i += 1) idle.push(await halfOpen(port, i % 2 ? NOTHING : PARTIAL_HEADERS));
      const unanswered = () => idle.filter((s) => s.closedAt !== undefined && s.received === '');
      expect(await until(() => unanswered().length >= 11, SLACK_MS)).toBe(true);

      // The service's kept connection is not a new one: still answered while the cap is full.
      const during = await service.send('POST', '/v1/check', CHECK);
      expect(during).toMatchObject({ status: 200, socketPort: first.socketPort });
      expect(JSON.parse(during.body)).toMatchObject({ allowed: true });
      const scrape = parsePrometheus((await service.send('GET', '/metrics')).body);
      expect(scrape.value('castellan_http_connections_dropped_total')).toBe(11);

      // Once the header timeout has closed the dawdlers (answering them 408), new connections are accepted again.
      expect(await until(() => idle.every((s) => s.closedAt !== undefined), HEADERS_TIMEOUT_MS + SLACK_MS)).toBe(true);
      expect(unanswered()).toHaveLength(11);
      for (const s of idle.filter((x) => x.received !== '')) expect(s.received).toMatch(/^HTTP\/1\.1 408 /);
      expect(await api(instance.url, 'POST', '/v1/check', CHECK)).toMatchObject({ status: 200, body: { allowed: true } });
      // Idle keep-alive connections are timed by keepAliveTimeout, not the header timeout.
      expect(await service.send('POST', '/v1/check', CHECK)).toMatchObject({ status: 200, socketPort: first.socketPort });
    } finally {
      service.close();
      for (const s of idle) s.socket.destroy();
    }
  }, 60_000);
});
