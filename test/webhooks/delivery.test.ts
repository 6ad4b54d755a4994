import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { adminClient, createCompany } from '../support/admin.js';
import { api, createTestEnvironment, startApp, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { scrape } from '../ops/prometheus.js';

const SECRET = 'webhook-secret-that-is-at-least-32-characters';
const TEMPLATE = 'https://console.example.test/invitations/accept?company={company}&invitation={invitation}&email={email}';

/** The README's five lines, run as written: every delivery is checked with what receivers are told to use. */
function readmeVerifier(): (secret: string, header: string, rawBody: string) => boolean {
  const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const block = /```js\n(const \{ createHmac, timingSafeEqual \}[\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README: the signature snippet is gone');
  expect(block[1]!.trim().split('\n')).toHaveLength(5);
  return new Function('require', `${block[1]}\nreturn verifyCastellan;`)(createRequire(import.meta.url));
}

const waitFor = <T>(what: () => T | Promise<T>) => vi.waitFor(what, { timeout: 30_000, interval: 50 });

describe.skipIf(!servicesUp)('webhooks: a transactional outbox delivered to a real receiver', () => {
  let env: TestEnvironment;
  let receiver: WebhookReceiver;
  let verify: ReturnType<typeof readmeVerifier>;
  let seq = 0;
  const webhookEnv = () => ({
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: SECRET,
    INVITE_URL_TEMPLATE: TEMPLATE,
    WEBHOOK_RETRY_BASE_MS: '20',
    WEBHOOK_RETRY_MAX_MS: '200',
    WEBHOOK_POLL_MS: '50',
    WEBHOOK_TIMEOUT_MS: '5000',
  });

  beforeAll(async () => {
    verify = readmeVerifier();
    receiver = await startReceiver();
    env = await createTestEnvironment();
  });
  afterAll(async () => {
    await env?.close();
    await receiver?.stop();
  });

  /** The deliveries the receiver took for one company, in arrival order. */
  const takenFor = (companyId: string) => receiver.accepted().filter((body) => body?.company?.id === companyId);
  const requestsFor = (companyId: string) => receiver.requests.filter((r) => r.body?.company?.id === companyId);

  async function company(app: TestApp, prefix: string) {
    seq += 1;
    const id = `${prefix}-${seq}`;
    const owner = adminClient(app.url, `owner-${id}`, `owner@${id}.test`);
    await createCompany(owner, id, { domains: [`${id}.test`] });
    return { id, owner };
  }

  /** Each delivery the receiver saw carries a valid signature over its raw body, and headers matching it. */
  function expectSigned(companyId: string) {
    for (const request of requestsFor(companyId)) {
      expect(verify(SECRET, String(request.headers['x-castellan-signature']), request.raw)).toBe(true);
      expect(verify('another-secret-of-at-least-32-characters!', String(request.headers['x-castellan-signature']), request.raw)).toBe(false);
      expect(verify(SECRET, String(request.headers['x-castellan-signature']), request.raw.replace('"type"', '"type" '))).toBe(false);
      // Forged headers are refused, never thrown on: another timestamp, no v1, a v1 of the wrong length or of non-hex characters.
      const [t, v1] = String(request.headers['x-castellan-signature']).split(',');
      expect(verify(SECRET, `t=${Number(t!.slice(2)) + 1},${v1}`, request.raw)).toBe(false);
      expect(verify(SECRET, t!, request.raw)).toBe(false);
      expect(verify(SECRET, `${t},v1=${v1!.slice(3, 40)}`, request.raw)).toBe(false);
      expect(verify(SECRET, `${t},v1=${'\u00e9'.repeat(64)}`, request.raw)).toBe(false);
      expect(verify(SECRET, `t=${Math.floor(Date.now() / 1000) - 600},${v1}`, request.raw)).toBe(false);
      expect(request.headers['x-castellan-event-id']).toBe(request.body.id);
      expect(request.headers['x-castellan-event-type']).toBe(request.body.type);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['user-agent']).toMatch(/^Castellan-Webhook\/\d+\.\d+\.\d+$/);
    }
  }

  it('sends every event once, in order, signed, with the payloads of the contract', async () => {
    const app = await env.start(webhookEnv());
    try {
      const { id, owner } = await company(app, 'flow');
      const invited = await owner.post(`/v1/companies/${id}/invitations`, { email: `Ivan@${id}.test`, role: 'editor', applicationAccess: true });
      const again = await owner.post(`/v1/companies/${id}/invitations`, { email: `ivan@${id}.test`, role: 'manager' });
      const resent = await owner.post(`/v1/companies/${id}/invitations/${encodeURIComponent(invited.body.userId)}/resend`);
      const ivan = adminClient(app.url, 'ivan', `ivan@${id}.test`);
      const accepted = await ivan.post(`/v1/companies/${id}/invitations/accept`);
      const dina = await owner.post(`/v1/companies/${id}/invitations`, { email: 'dina@gmail.test', role: 'collaborator' });
      const declined = await adminClient(app.url, 'dina', 'dina@gmail.test').post(`/v1/companies/${id}/invitations/decline`);
      const removed = await owner.delete(`/v1/companies/${id}/members/ivan`);
      await owner.post(`/v1/companies/${id}/invitations`, { email: 'lena@gmail.test', role: 'collaborator' });
      const lena = adminClient(app.url, 'lena', 'lena@gmail.test');
      await lena.post(`/v1/companies/${id}/invitations/accept`);
      const left = await lena.delete(`/v1/companies/${id}/members/me`);
      // A refused write sends nothing.
      expect((await owner.delete(`/v1/companies/${id}/members/me`)).status).toBe(409);
      for (const response of [invited, accepted, dina, declined, removed, left]) expect(response.status).toBeLessThan(300);

      const expected = ['invitation.created', 'invitation.resent', 'invitation.resent', 'invitation.accepted', 'invitation.created', 'invitation.declined', 'member.removed', 'invitation.created', 'invitation.accepted', 'member.removed'];
      await waitFor(() => expect(takenFor(id).map((e) => e.type)).toEqual(expected));
      const events = takenFor(id);
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      // In order: the policy versions the changes produced only grow.
      const versions = events.map((e) => Number(e.version));
      expect([...versions].sort((a, b) => a - b)).toEqual(versions);
      expectSigned(id);

      const acceptUrl = `https://console.example.test/invitations/accept?company=${id}&invitation=${encodeURIComponent(invited.body.userId)}&email=Ivan%40${id}.test`;
      expect(events[0]).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        type: 'invitation.created',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        company: { id, name: `Company ${id}` },
        version: invited.body.version,
        actor: { userId: `owner-${id}`, email: `owner@${id}.test` },
        data: {
          invitation: {
            invitationId: invited.body.userId,
            email: `Ivan@${id}.test`,
            role: 'editor',
            applicationAccess: true,
            developerAccess: false,
            type: 'member',
            expiresAt: invited.body.invitation.expiresAt,
            acceptUrl,
          },
        },
      });
      expect(events[1]).toMatchObject({ version: again.body.version, data: { invitation: { invitationId: invited.body.userId, role: 'manager', applicationAccess: false, acceptUrl } } });
      expect(events[2]).toMatchObject({ version: resent.body.version, data: { invitation: { expiresAt: resent.body.invitation.expiresAt } } });
      expect(events[3]).toMatchObject({
        version: accepted.body.version,
        actor: { userId: 'ivan', email: `ivan@${id}.test` },
        data: { invitation: { invitationId: invited.body.userId, email: `Ivan@${id}.test` }, member: { userId: 'ivan', email: `ivan@${id}.test`, kind: 'platform', role: 'manager', status: 'active' } },
      });
      expect(events[5]).toEqual(expect.objectContaining({ actor: { userId: 'dina', email: 'dina@gmail.test' }, data: { invitation: { invitationId: dina.body.userId, email: 'dina@gmail.test', role: 'collaborator' } } }));
      expect(events[6]).toMatchObject({ version: removed.body.version, data: { member: { userId: 'ivan', role: 'manager', status: 'active' }, reason: 'removed' } });
      expect(events[9]).toMatchObject({ version: left.body.version, actor: { userId: 'lena' }, data: { member: { userId: 'lena', kind: 'platform', role: 'collaborator', status: 'active' }, reason: 'left' } });
      // Delivered events leave the outbox.
      await waitFor(async () => expect(await app.app.store.db.selectFrom('webhook_outbox').select('id').where('company_id', '=', id).execute()).toEqual([]));
    } finally {
      await app.close();
    }
  });

  it('retries with backoff and holds a company\'s later events back until the first is taken; /metrics shows the backlog', async () => {
    const app = await env.start(webhookEnv());
    try {
      const { id, owner } = await company(app, 'retry');
      let refusals = 0;
      receiver.answer = (delivery) => (delivery.body?.company?.id === id && delivery.body.type === 'invitation.created' && refusals++ < 3 ? { status: 503 } : { status: 200 });
      await owner.post(`/v1/companies/${id}/invitations`, { email: 'a@example.test', role: 'editor' });
      await owner.post(`/v1/companies/${id}/invitations`, { email: 'b@example.test', role: 'editor' });
      await waitFor(() => expect(takenFor(id).map((e) => e.data.invitation.email)).toEqual(['a@example.test', 'b@example.test']));
      const attempts = requestsFor(id).map((r) => [r.body.data.invitation.email, r.status, r.headers['x-castellan-delivery-attempt']]);
      // The first event is refused three times (attempts 1-3), taken at the 4th; the second is never sent before that.
      expect(attempts).toEqual([
        ['a@example.test', 503, '1'],
        ['a@example.test', 503, '2'],
        ['a@example.test', 503, '3'],
        ['a@example.test', 200, '4'],
        ['b@example.test', 200, '1'],
      ]);
      const metrics = await scrape(app.url);
      expect(metrics.value('castellan_webhook_deliveries_total', { result: 'failed' })).toBeGreaterThanOrEqual(3);
    } finally {
      receiver.answer = () => ({ status: 200 });
      await app.close();
    }
  });

  it('a receiver that is down gets everything later, once each, in order; Castellan restarts in between', async () => {
    let app = await env.start(webhookEnv());
    const { id, owner } = await company(app, 'outage');
    await receiver.stop();
    try {
      for (const name of ['r1', 'r2', 'r3']) expect((await owner.post(`/v1/companies/${id}/invitations`, { email: `${name}@example.test`, role: 'editor' })).status).toBe(201);
      const metrics = await scrape(app.url);
      expect(metrics.value('castellan_webhook_backlog_events')).toBeGreaterThanOrEqual(3);
      expect(metrics.value('castellan_webhook_oldest_event_age_seconds')).toBeGreaterThanOrEqual(0);
      // Attempts fail (connection refused) and are retried meanwhile.
      await waitFor(async () => {
        const row = await app.app.store.db.selectFrom('webhook_outbox').select(['attempts', 'last_error']).where('company_id', '=', id).orderBy('id').executeTakeFirstOrThrow();
        expect(row.attempts).toBeGreaterThanOrEqual(2);
        expect(row.last_error).toBe('ECONNREFUSED');
      });
      // Castellan stops with the events still undelivered; another instance starts on the same database.
      await app.close();
      app = await env.start(webhookEnv());
      const owner2 = adminClient(app.url, owner.userId, `owner@${id}.test`);
      expect((await owner2.post(`/v1/companies/${id}/invitations`, { email: 'r4@example.test', role: 'editor' })).status).toBe(201);
    } finally {
      await receiver.start();
    }
    try {
      await waitFor(() => expect(takenFor(id).filter((e) => e.type === 'invitation.created').map((e) => e.data.invitation.email)).toEqual(['r1@example.test', 'r2@example.test', 'r3@example.test', 'r4@example.test']));
      expectSigned(id);
      await waitFor(async () => expect((await scrape(app.url)).value('castellan_webhook_backlog_events')).toBe(0));
      expect((await scrape(app.url)).value('castellan_webhook_oldest_event_age_seconds')).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('a stopping instance finishes the delivery in flight: it is not sent again after the restart', async () => {
    let app = await env.start(webhookEnv());
    const { id, owner } = await company(app, 'inflight');
    let slow = true;
    receiver.answer = (delivery) => (delivery.body?.company?.id === id && slow ? { status: 200, delayMs: 500 } : { status: 200 });
    try {
      await owner.post(`/v1/companies/${id}/invitations`, { email: 'slow@example.test', role: 'editor' });
      // The attempt has begun (leased) when close() is called.
      await waitFor(async () => expect((await app.app.store.db.selectFrom('webhook_outbox').select('lease_token').where('company_id', '=', id).executeTakeFirst())?.lease_token).toBeTruthy());
      await app.close();
      slow = false;
      expect(takenFor(id).map((e) => e.data.invitation.email)).toEqual(['slow@example.test']);
      app = await env.start(webhookEnv());
      await adminClient(app.url, owner.userId, `owner@${id}.test`).post(`/v1/companies/${id}/invitations`, { email: 'next@example.test', role: 'editor' });
      await waitFor(() => expect(takenFor(id).map((e) => e.data.invitation.email)).toEqual(['slow@example.test', 'next@example.test']));
      expect(requestsFor(id)).toHaveLength(2);
    } finally {
      receiver.answer = () => ({ status: 200 });
      await app.close();
    }
  });

  it('several instances deliver one outbox: no event twice, every company in order', async () => {
    const apps = [await env.start(webhookEnv()), await env.start(webhookEnv()), await env.start(webhookEnv())];
    // A receiver that answers at uneven speeds, so instances overtake one another.
    receiver.answer = () => ({ status: Math.random() < 0.15 ? 500 : 200, delayMs: Math.floor(Math.random() * 30) });
    try {
      const companies = [await company(apps[0]!, 'multi'), await company(apps[1]!, 'multi'), await company(apps[2]!, 'multi')];
      const writes = companies.map(async ({ id, owner }, c) => {
        for (let i = 0; i < 12; i++) {
          // Each write through another instance, so every instance's worker is woken by some of them.
          const via = adminClient(apps[(c + i) % apps.length]!.url, owner.userId, `owner@${id}.test`);
          expect((await via.post(`/v1/companies/${id}/invitations`, { email: `m${i}@example.test`, role: 'editor' })).status).toBe(201);
        }
      });
      await Promise.all(writes);
      for (const { id } of companies) {
        await waitFor(() => expect(takenFor(id)).toHaveLength(12));
        const events = takenFor(id);
        expect(events.map((e) => e.data.invitation.email)).toEqual(Array.from({ length: 12 }, (_, i) => `m${i}@example.test`));
        expect(new Set(events.map((e) => e.id)).size).toBe(12);
        expectSigned(id);
      }
      // Nothing more arrives later (no late duplicate).
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const { id } of companies) expect(takenFor(id)).toHaveLength(12);
    } finally {
      receiver.answer = () => ({ status: 200 });
      for (const app of apps) await app.close();
    }
  });

  it('writes nothing to the outbox without WEBHOOK_URL', async () => {
    const app = await env.start();
    try {
      const { id, owner } = await company(app, 'quiet');
      await owner.post(`/v1/companies/${id}/invitations`, { email: 'q@example.test', role: 'editor' });
      expect(await app.app.store.db.selectFrom('webhook_outbox').select('id').where('company_id', '=', id).execute()).toEqual([]);
      expect(app.app.webhooks).toBeNull();
    } finally {
      await app.close();
    }
  });
});

describe('webhooks on embedded PGlite', () => {
  let receiver: WebhookReceiver;
  let app: TestApp;
  beforeAll(async () => {
    receiver = await startReceiver();
    app = await startApp({ DATA_DIR: 'memory://', WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_BASE_MS: '20', WEBHOOK_RETRY_MAX_MS: '100' });
    // Starting PGlite and migrating it takes seconds on a quiet machine and more than a minute beside the full suite on two busy cores.
  }, 180_000);
  afterAll(async () => {
    await app?.close();
    await receiver?.stop();
  });

  it('runs the same outbox SQL: claims, retries and delivers in order', async () => {
    const verify = readmeVerifier();
    const owner = adminClient(app.url, 'pg-owner', 'owner@lite.test');
    await createCompany(owner, 'lite');
    let refusals = 0;
    receiver.answer = () => (refusals++ < 2 ? { status: 500 } : { status: 200 });
    await owner.post('/v1/companies/lite/invitations', { email: 'one@example.test', role: 'editor' });
    await owner.post('/v1/companies/lite/invitations', { email: 'two@example.test', role: 'editor' });
    await vi.waitFor(() => expect(receiver.accepted().map((e) => e.data.invitation.email)).toEqual(['one@example.test', 'two@example.test']), { timeout: 30_000, interval: 50 });
    expect(receiver.requests.map((r) => r.status)).toEqual([500, 500, 200, 200]);
    for (const request of receiver.requests) expect(verify(SECRET, String(request.headers['x-castellan-signature']), request.raw)).toBe(true);
    await vi.waitFor(async () => expect((await scrape(app.url)).value('castellan_webhook_backlog_events')).toBe(0), { timeout: 10_000, interval: 50 });
    expect((await api(app.url, 'GET', '/healthz')).status).toBe(200);
  });
});
