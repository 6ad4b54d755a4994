import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { createTestEnvironment, signToken, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

/**
 * An invitation is the grant (D6), so whoever claims it must own the invited address: the
 * token's `email` counts only with `email_verified: true`, and addresses match exactly
 * after ASCII case folding, never Unicode folding (the Kelvin sign K lowercases to k).
 */
describe.skipIf(!servicesUp)('invitations are claimed by verified, exact emails only (issue 12)', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let trusting: TestApp;
  let owner: AdminClient;
  let companies = 0;

  /** A platform user whose token carries exactly these claims besides `sub`. */
  const as = async (url: string, sub: string, claims: Record<string, unknown>) => adminClient(url, sub, null, await signToken(sub, claims));
  const verified = (email: string) => ({ email, email_verified: true });

  async function companyInviting(email: string, via: AdminClient = owner): Promise<string> {
    companies += 1;
    const id = `mail-${companies}`;
    await createCompany(via, id);
    const invited = await via.post(`/v1/companies/${id}/invitations`, { email, role: 'collaborator' });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    return id;
  }

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    trusting = await env.start({ AUTH_TRUST_EMAILS: 'true' });
    owner = await as(app.url, 'olga', verified('olga@kelvin.test'));
  });
  afterAll(() => env?.close());

  it('an email without email_verified: true does not claim an invitation (403)', async () => {
    const c = await companyInviting('kim@acme.test');
    for (const claims of [{ email: 'kim@acme.test' }, { email: 'kim@acme.test', email_verified: false }, { email: 'kim@acme.test', email_verified: 'true' }]) {
      const response = await (await as(app.url, 'kim', claims)).post(`/v1/companies/${c}/invitations/accept`);
      expect(response.status, JSON.stringify(claims)).toBe(403);
      expect(response.body.error.code).toBe('forbidden');
    }
    expect((await owner.get(`/v1/companies/${c}/members`)).body.members.find((m: { email: string }) => m.email === 'kim@acme.test')).toMatchObject({ status: 'invited' });
    const accepted = await (await as(app.url, 'kim', verified('kim@acme.test'))).post(`/v1/companies/${c}/invitations/accept`);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ userId: 'kim', status: 'active', email: 'kim@acme.test' });
  });

  it('a Unicode look-alike does not claim an invitation (404); ASCII case does not matter', async () => {
    const c = await companyInviting('kim@kelvin.test');
    for (const lookAlike of ['\u212Aim@kelvin.test', 'kim@\u212Aelvin.test', '\u212AIM@KELVIN.TEST', 'kim@kelvin.te\u017Ft', 'kim@k\u0435lvin.test']) {
      const response = await (await as(app.url, 'mallory', verified(lookAlike))).post(`/v1/companies/${c}/invitations/accept`);
      expect(response.status, lookAlike).toBe(404);
      expect(response.body.error.code).toBe('not_found');
    }
    const accepted = await (await as(app.url, 'kim', verified('KIM@Kelvin.TEST'))).post(`/v1/companies/${c}/invitations/accept`);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ userId: 'kim', status: 'active' });
  });

  it('an invitation matches its address in any ASCII case, as before', async () => {
    const c = await companyInviting('Ivan.Petrov@ACME.test');
    const accepted = await (await as(app.url, 'ivan', verified('ivan.petrov@acme.TEST'))).post(`/v1/companies/${c}/invitations/accept`);
    expect(accepted.status).toBe(200);
  });

  it('an invitation to a non-ASCII address is refused with 400 (look-alikes cannot be invited either)', async () => {
    companies += 1;
    const c = `mail-${companies}`;
    await createCompany(owner, c);
    for (const email of ['\u212Aim@kelvin.test', 'jos\u00E9@acme.test', 'kim@b\u00FCcher.test', 'kim@acme.test\u200B']) {
      const response = await owner.post(`/v1/companies/${c}/invitations`, { email, role: 'collaborator' });
      expect(response.status, email).toBe(400);
      expect(response.body.error).toMatchObject({ code: 'invalid_request', details: { path: 'email' } });
    }
    expect((await owner.post(`/v1/companies/${c}/invitations`, { email: 'kim@xn--bcher-kva.test', role: 'collaborator' })).status).toBe(201);
  });

  it('an unverified or look-alike email never makes someone a Member of a company with that domain (D4)', async () => {
    companies += 1;
    const c = `mail-${companies}`;
    await createCompany(owner, c, { domains: ['kelvin.test'] });
    for (const user of ['eve', 'frank']) {
      expect((await owner.post(`/v1/companies/${c}/invitations`, { email: `${user}@gmail.test`, role: 'collaborator' })).status).toBe(201);
      expect((await (await as(app.url, user, verified(`${user}@gmail.test`))).post(`/v1/companies/${c}/invitations/accept`)).status).toBe(200);
    }
    // Each then opens a company of their own with another email in their token, which Castellan keeps as their latest.
    await createCompany(await as(app.url, 'eve', verified('eve@\u212Aelvin.test')), `${c}-eve`);
    await createCompany(await as(app.url, 'frank', { email: 'frank@kelvin.test' }), `${c}-frank`);

    const eve = (await owner.get(`/v1/companies/${c}/members/eve`)).body;
    expect(eve).toMatchObject({ email: 'eve@\u212Aelvin.test', type: 'guest' });
    const frank = (await owner.get(`/v1/companies/${c}/members/frank`)).body;
    expect(frank).toMatchObject({ email: 'frank@gmail.test', type: 'guest' });
  });

  it('with AUTH_TRUST_EMAILS=true an email counts without email_verified, but never with email_verified: false', async () => {
    const c = await companyInviting('tess@acme.test', await as(trusting.url, 'olga', verified('olga@kelvin.test')));
    const refused = await (await as(trusting.url, 'tess', { email: 'tess@acme.test', email_verified: false })).post(`/v1/companies/${c}/invitations/accept`);
    expect(refused.status).toBe(403);
    const lookAlike = await (await as(trusting.url, 'tess', { email: 'tess@acme.tes\u0074\u200B' })).post(`/v1/companies/${c}/invitations/accept`);
    expect(lookAlike.status).toBe(404);
    const accepted = await (await as(trusting.url, 'tess', { email: 'TESS@acme.test' })).post(`/v1/companies/${c}/invitations/accept`);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ userId: 'tess', status: 'active' });
  });
});
