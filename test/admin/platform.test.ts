import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { api, createTestEnvironment, operatorHeaders, signToken, TEST_OPERATOR_TOKEN, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

const failure = (status: number, code: string) => ({ status, body: { error: expect.objectContaining({ code }) } });
/** policies/plans.json: what a company gets when the platform chose no plan for it. */
const DEFAULT_PLAN = { name: 'starter', userLicenses: 5, developerLicenses: 1 };
const HUGE_PLAN = { name: 'Enterprise', userLicenses: 1_000_000, developerLicenses: 1_000_000 };

/**
 * Settings only the platform decides (D4, D5, D14): which email domains a company owns, and
 * its plan and licenses. A company admin proves a domain with their own verified email at it;
 * everything else needs the operator credential (OPERATOR_TOKEN, X-Castellan-Operator-Token).
 */
describe.skipIf(!servicesUp)('admin API: domains, plans and the operator credential (D4, D5, D14)', () => {
  let env: TestEnvironment;
  let app: TestApp;

  /** A platform user whose token says their email is verified, unless `verification` says otherwise. */
  async function user(userId: string, email: string, verification: Record<string, unknown> = { email_verified: true }): Promise<AdminClient> {
    return adminClient(app.url, userId, email, await signToken(userId, { email, ...verification }, undefined, '1h'));
  }
  /** The platform itself: the operator credential and no user at all. */
  const operator = {
    put: (path: string, body: unknown, token = TEST_OPERATOR_TOKEN) => api(app.url, 'PUT', path, body, operatorHeaders(token)),
    get: (path: string, token = TEST_OPERATOR_TOKEN) => api(app.url, 'GET', path, undefined, operatorHeaders(token)),
  };

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
  });
  afterAll(() => env?.close());

  describe('plans and licenses belong to the billing side (D14)', () => {
    it('a company opened without the operator credential gets the default plan of policies/', async () => {
      const ann = await user('ann', 'ann@annco.test');
      const created = await ann.post('/v1/companies', { id: 'annco', name: 'Ann Co' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ plan: DEFAULT_PLAN, usage: { userLicenses: 0, developerLicenses: 0 } });
      // Its admin keeps reading the subscription and its usage.
      const read = await ann.get('/v1/companies/annco');
      expect(read.body).toMatchObject({ plan: DEFAULT_PLAN, usage: { userLicenses: 0, developerLicenses: 0 } });
    });

    it('choosing a plan at creation needs the operator credential', async () => {
      const mal = await user('mal', 'mal@malco.test');
      const chosen = await mal.post('/v1/companies', { id: 'malco', name: 'Mal Co', plan: HUGE_PLAN });
      expect(chosen).toMatchObject(failure(403, 'forbidden'));
      expect(chosen.body.error.details).toMatchObject({ credential: 'operator', path: 'plan' });
      expect((await mal.get('/v1/companies/malco')).status).toBe(404);
      // The platform chooses it beside the new owner's token.
      const granted = await mal.post('/v1/companies', { id: 'malco', name: 'Mal Co', plan: HUGE_PLAN }, operatorHeaders());
      expect(granted.status).toBe(201);
      expect(granted.body.plan).toEqual(HUGE_PLAN);
    });

    it('PUT /subscription needs the operator credential, alone or beside an admin token; admins only read it', async () => {
      const bo = await user('bo', 'bo@boco.test');
      await createCompany(bo, 'boco');
      const byAdmin = await bo.put('/v1/companies/boco/subscription', HUGE_PLAN_BODY);
      expect(byAdmin).toMatchObject(failure(403, 'forbidden'));
      expect(byAdmin.body.error.details).toMatchObject({ credential: 'operator' });
      expect((await bo.get('/v1/companies/boco')).body.plan).toEqual({ name: 'business', userLicenses: 10, developerLicenses: 2 });

      const beside = await bo.put('/v1/companies/boco/subscription', { plan: 'business', userLicenses: 20, developerLicenses: 3 }, operatorHeaders());
      expect(beside.status).toBe(200);
      expect(beside.body.plan).toEqual({ name: 'business', userLicenses: 20, developerLicenses: 3 });

      const alone = await operator.put('/v1/companies/boco/subscription', { plan: 'Enterprise', userLicenses: 50, developerLicenses: 5 });
      expect(alone.status).toBe(200);
      expect(alone.body).toMatchObject({ id: 'boco', plan: { name: 'Enterprise', userLicenses: 50, developerLicenses: 5 }, usage: { userLicenses: 0, developerLicenses: 0 } });
      const seen = await bo.get('/v1/companies/boco');
      expect(seen.body).toMatchObject({ plan: { name: 'Enterprise', userLicenses: 50, developerLicenses: 5 }, usage: { userLicenses: 0, developerLicenses: 0 } });

      // The log says who: the admin, with the operator credential beside; then the platform alone.
      const log = await bo.get('/v1/companies/boco/audit');
      const changes = log.body.entries.filter((e: { action: string }) => e.action === 'company.subscription.update');
      expect(changes.map((e: { actor: string; operator: boolean }) => [e.actor, e.operator])).toEqual([
        ['bo', true],
        ['operator', true],
      ]);
    });

    it('the operator credential still respects the seats in use and a company that does not exist', async () => {
      const cy = await user('cy', 'cy@cyco.test');
      await createCompany(cy, 'cyco');
      expect((await cy.patch('/v1/companies/cyco/members/cy', { applicationAccess: true })).status).toBe(200);
      expect(await operator.put('/v1/companies/cyco/subscription', { plan: 'business', userLicenses: 0, developerLicenses: 0 })).toMatchObject(failure(409, 'license_limit'));
      expect(await operator.put('/v1/companies/no-such-co/subscription', { plan: 'business', userLicenses: 1, developerLicenses: 0 })).toMatchObject(failure(404, 'not_found'));
      expect(await operator.put('/v1/companies/cyco/subscription', { plan: 'business' })).toMatchObject(failure(400, 'invalid_request'));
    });

    it('a wrong operator token is 401 unauthenticated, with or without a user token, wherever it is accepted', async () => {
      const di = await user('di', 'di@dico.test');
      await createCompany(di, 'dico');
      const wrong = 'not-the-operator-token-but-just-as-long-as-it';
      const body = { plan: 'business', userLicenses: 1, developerLicenses: 0 };
      for (const response of [
        await operator.put('/v1/companies/dico/subscription', body, wrong),
        await operator.put('/v1/companies/dico/subscription', body, ''),
        await operator.put('/v1/companies/dico/subscription', body, `${TEST_OPERATOR_TOKEN}x`),
        await di.put('/v1/companies/dico/subscription', body, operatorHeaders(wrong)),
        // Even where the request would pass without it: a credential presented is checked, never ignored.
        await di.post('/v1/companies', { id: 'dico-2', name: 'Di Co 2' }, operatorHeaders(wrong)),
        await di.put('/v1/companies/dico/domains', { domains: [] }, operatorHeaders(wrong)),
        await operator.get('/v1/companies/dico/audit', wrong),
      ]) {
        expect(response).toMatchObject(failure(401, 'unauthenticated'));
      }
      expect((await di.get('/v1/companies/dico')).body.plan).toEqual({ name: 'business', userLicenses: 10, developerLicenses: 2 });
      expect((await di.get('/v1/companies/dico-2')).status).toBe(404);
      // Without any credential, the operator routes ask for one.
      expect(await api(app.url, 'PUT', '/v1/companies/dico/subscription', body)).toMatchObject(failure(401, 'unauthenticated'));
    });

    it('without OPERATOR_TOKEN configured, no operator credential is accepted', async () => {
      const bare = await env.start({ OPERATOR_TOKEN: '' });
      const eve = adminClient(bare.url, 'eve', 'eve@eveco.test', await signToken('eve', { email: 'eve@eveco.test', email_verified: true }));
      expect(await eve.post('/v1/companies', { id: 'eveco', name: 'Eve Co', plan: HUGE_PLAN }, operatorHeaders())).toMatchObject(failure(401, 'unauthenticated'));
      expect(await eve.post('/v1/companies', { id: 'eveco', name: 'Eve Co', plan: HUGE_PLAN })).toMatchObject(failure(403, 'forbidden'));
      const plain = await eve.post('/v1/companies', { id: 'eveco', name: 'Eve Co', domains: ['eveco.test'] });
      expect(plain.status).toBe(201);
      expect(plain.body).toMatchObject({ plan: DEFAULT_PLAN, domains: ['eveco.test'] });
    });
  });

  describe('a domain is registered by someone who proves it (D4, D5)', () => {
    it('at creation: the caller own verified email must be at each domain', async () => {
      const mal = await user('mallory', 'mallory@evil.test');
      for (const domains of [['gmail.com'], ['rival.test'], ['evil.test.rival.test'], ['test']]) {
        const response = await mal.post('/v1/companies', { id: 'evil', name: 'Evil', domains });
        expect(response.status, JSON.stringify(domains)).not.toBe(201);
      }
      const gmail = await mal.post('/v1/companies', { id: 'evil', name: 'Evil', domains: ['gmail.com'] });
      expect(gmail).toMatchObject(failure(403, 'forbidden'));
      expect(gmail.body.error.details).toMatchObject({ domain: 'gmail.com' });
      expect((await mal.get('/v1/companies/evil')).status).toBe(404);
      // Their own verified domain is fine.
      const own = await mal.post('/v1/companies', { id: 'evil', name: 'Evil', domains: ['evil.test'] });
      expect(own.status).toBe(201);
      expect(own.body.domains).toEqual(['evil.test']);
    });

    it('an email counts only when the token says email_verified: true (the boolean)', async () => {
      const unverified: Array<[string, Record<string, unknown>]> = [
        ['unv-missing', {}],
        ['unv-false', { email_verified: false }],
        ['unv-string', { email_verified: 'true' }],
        ['unv-one', { email_verified: 1 }],
      ];
      for (const [userId, verification] of unverified) {
        const client = await user(userId, `${userId}@unverified.test`, verification);
        const response = await client.post('/v1/companies', { id: `co-${userId}`, name: userId, domains: ['unverified.test'] });
        expect(response, JSON.stringify(verification)).toMatchObject(failure(403, 'forbidden'));
      }
      const noEmail = adminClient(app.url, 'no-email', null);
      expect(await noEmail.post('/v1/companies', { id: 'co-no-email', name: 'x', domains: ['unverified.test'] })).toMatchObject(failure(403, 'forbidden'));
    });

    it('the email domain must be the registered domain itself: case folds, look-alikes and subdomains do not', async () => {
      const upper = await user('upper', 'Upper@UPPER.Test');
      expect((await upper.post('/v1/companies', { id: 'upper', name: 'Upper', domains: ['upper.test'] })).status).toBe(201);
      // U+212A KELVIN SIGN lowercases to "k" in JavaScript; it is not the domain kelvin.test.
      const kelvin = await user('kelvin', 'k@\u212Aelvin.test');
      expect(await kelvin.post('/v1/companies', { id: 'kelvin', name: 'Kelvin', domains: ['kelvin.test'] })).toMatchObject(failure(403, 'forbidden'));
      // Nor does a look-alike in the domain itself become the ASCII domain.
      const realKelvin = await user('real-kelvin', 'k@kelvin.test');
      const folded = await realKelvin.post('/v1/companies', { id: 'kelvin', name: 'Kelvin', domains: ['\u212Aelvin.test'] });
      expect(folded).toMatchObject(failure(400, 'invalid_request'));
      expect(folded.body.error.details).toMatchObject({ path: 'domains.0' });
      const sub = await user('sub', 'sub@eu.parent.test');
      expect(await sub.post('/v1/companies', { id: 'parent', name: 'Parent', domains: ['parent.test'] })).toMatchObject(failure(403, 'forbidden'));
      const parent = await user('parent', 'p@parent.test');
      expect(await parent.post('/v1/companies', { id: 'parent', name: 'Parent', domains: ['eu.parent.test'] })).toMatchObject(failure(403, 'forbidden'));
    });

    it("PUT /domains: an admin registers only their own verified domain, and never learns about another company's", async () => {
      const gil = await user('gil', 'gil@gilco.test');
      await createCompany(gil, 'gilco', { domains: ['gilco.test'] });
      const rival = await user('rae', 'rae@rival.test');
      await createCompany(rival, 'rival', { domains: ['rival.test'] });

      // Someone else's domain is refused for want of proof, before anyone says it is taken.
      const stolen = await gil.put('/v1/companies/gilco/domains', { domains: ['rival.test'] });
      expect(stolen).toMatchObject(failure(403, 'forbidden'));
      expect(stolen.body.error.details).toMatchObject({ domain: 'rival.test' });
      expect(await gil.put('/v1/companies/gilco/domains', { domains: ['gmail.com'] })).toMatchObject(failure(403, 'forbidden'));
      expect((await rival.get('/v1/companies/rival')).body.domains).toEqual(['rival.test']);

      // Domains already registered stay without new proof; removing one needs none.
      expect((await gil.put('/v1/companies/gilco/domains', { domains: ['gilco.test'] })).status).toBe(200);
      expect((await gil.put('/v1/companies/gilco/domains', { domains: [] })).body.domains).toEqual([]);
      expect((await gil.put('/v1/companies/gilco/domains', { domains: ['gilco.test'] })).body.domains).toEqual(['gilco.test']);
      // A verified rival who proves the domain still finds it taken (D5).
      const rae2 = await user('rae2', 'rae2@rival.test');
      expect(await rae2.post('/v1/companies', { id: 'rival-2', name: 'Rival 2', domains: ['rival.test'] })).toMatchObject(failure(409, 'domain_taken'));
    });

    it('the operator credential registers any domain: beside an admin token or alone', async () => {
      const hal = await user('hal', 'hal@halco.test');
      await createCompany(hal, 'halco', { plan: { name: 'enterprise', userLicenses: 5, developerLicenses: 1 } });
      const beside = await hal.put('/v1/companies/halco/domains', { domains: ['halco.test', 'hal-labs.test'] }, operatorHeaders());
      expect(beside.status).toBe(200);
      expect(beside.body.domains).toEqual(['hal-labs.test', 'halco.test']);
      const alone = await operator.put('/v1/companies/halco/domains', { domains: ['halco.test', 'hal-partner.test'] });
      expect(alone.status).toBe(200);
      expect(alone.body.domains).toEqual(['hal-partner.test', 'halco.test']);
      // The operator is not above D5 and the plan rules.
      expect(await operator.put('/v1/companies/halco/domains', { domains: ['gilco.test'] })).toMatchObject(failure(409, 'domain_taken'));
      expect(await operator.put('/v1/companies/gilco/domains', { domains: ['gilco.test', 'gilco.example'] })).toMatchObject(failure(409, 'conflict'));
      expect(await operator.put('/v1/companies/no-such-co/domains', { domains: [] })).toMatchObject(failure(404, 'not_found'));
      // Members of the company without the right are still refused, operator or not (both credentials must hold).
      const { db } = app.app.store;
      await db.insertInto('users').values({ id: 'ed', kind: 'platform', email: 'ed@halco.test' }).execute();
      await db.insertInto('memberships').values({ company_id: 'halco', user_id: 'ed', role: 'editor', status: 'active' }).execute();
      const ed = await user('ed', 'ed@halco.test');
      expect(await ed.put('/v1/companies/halco/domains', { domains: ['halco.test'] }, operatorHeaders())).toMatchObject(failure(403, 'forbidden'));
      expect(await ed.put('/v1/companies/halco/subscription', { plan: 'enterprise', userLicenses: 9, developerLicenses: 9 }, operatorHeaders())).toMatchObject(failure(403, 'forbidden'));
    });
  });
});

const HUGE_PLAN_BODY = { plan: HUGE_PLAN.name, userLicenses: HUGE_PLAN.userLicenses, developerLicenses: HUGE_PLAN.developerLicenses };
