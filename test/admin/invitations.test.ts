import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { api, createTestEnvironment, signToken, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

const TTL_SECONDS = 2 * 86_400;

describe.skipIf(!servicesUp)('invitation lifecycle and membership self-service', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let seq = 0;

  const as = (userId: string, email: string | null = `${userId}@example.test`) => adminClient(app.url, userId, email);
  const db = () => app.app.store.db;

  /** A company of its own per test, owned by a fresh admin with the given plan. */
  async function company(prefix: string, plan = { name: 'team', userLicenses: 5, developerLicenses: 1 }) {
    seq += 1;
    const id = `${prefix}-${seq}`;
    const owner = as(`owner-${id}`, `owner@${id}.test`);
    await createCompany(owner, id, { plan, domains: [`${id}.test`] });
    return { id, owner };
  }

  async function join(companyId: string, by: AdminClient, userId: string, role: string, extra: Record<string, unknown> = {}) {
    const invited = await by.post(`/v1/companies/${companyId}/invitations`, { email: `${userId}@example.test`, role, ...extra });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    const accepted = await as(userId).post(`/v1/companies/${companyId}/invitations/accept`);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    return as(userId);
  }

  /** Moves an invitation's expiry into the past, as INVITATION_TTL passing would. */
  const expire = (companyId: string, userId: string) =>
    db().updateTable('memberships').set({ invitation_expires_at: sql`now() - interval '1 second'` }).where('company_id', '=', companyId).where('user_id', '=', userId).execute();

  const check = async (companyId: string, user: string, action: string, resource: Record<string, unknown>, minVersion?: string) => {
    const response = await api(app.url, 'POST', '/v1/check', { company: companyId, principal: { id: user }, action, resource, ...(minVersion ? { consistency: { minVersion } } : {}) });
    expect(response.status).toBe(200);
    return response.body.allowed as boolean;
  };

  const usage = async (companyId: string, owner: AdminClient) => (await owner.get(`/v1/companies/${companyId}`)).body.usage;
  const auditActions = async (companyId: string, owner: AdminClient) => ((await owner.get(`/v1/companies/${companyId}/audit?limit=500`)).body.entries as Array<{ action: string }>).map((e) => e.action);

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start({ INVITATION_TTL: '2d' });
  });
  afterAll(() => env?.close());

  describe('expiry (INVITATION_TTL)', () => {
    it('an invitation expires INVITATION_TTL after it is sent, as stamped by the database', async () => {
      const { id, owner } = await company('ttl');
      const invited = await owner.post(`/v1/companies/${id}/invitations`, { email: 'ida@example.test', role: 'editor' });
      expect(invited.status).toBe(201);
      const row = await db()
        .selectFrom('memberships')
        .select([sql<number>`extract(epoch from invitation_expires_at - now())::float8`.as('left'), 'invited_by'])
        .where('company_id', '=', id)
        .where('user_id', '=', invited.body.userId)
        .executeTakeFirstOrThrow();
      // The row's expiry is the transaction's now() + TTL: at most the time since then has passed.
      expect(row.left).toBeGreaterThan(TTL_SECONDS - 60);
      expect(row.left).toBeLessThanOrEqual(TTL_SECONDS);
      expect(row.invited_by).toBe(`owner-${id}`);
      expect(new Date(invited.body.invitation.expiresAt).getTime() - Date.now()).toBeGreaterThan((TTL_SECONDS - 60) * 1000);
    });

    it('an expired invitation is listed as expired, cannot be accepted (409, reason expired) or edited, and can be re-invited', async () => {
      const { id, owner } = await company('exp');
      const invited = await owner.post(`/v1/companies/${id}/invitations`, { email: 'Eve@Example.test', role: 'editor' });
      await expire(id, invited.body.userId);

      const listed = (await owner.get(`/v1/companies/${id}/members`)).body.members.find((m: { userId: string }) => m.userId === invited.body.userId);
      expect(listed).toMatchObject({ status: 'expired', email: 'Eve@example.test', invitation: { invitedBy: `owner-${id}` } });
      expect(new Date(listed.invitation.expiresAt).getTime()).toBeLessThan(Date.now());

      const eve = as('eve', 'eve@example.test');
      const refused = await eve.post(`/v1/companies/${id}/invitations/accept`);
      expect(refused.status).toBe(409);
      expect(refused.body.error).toEqual({
        code: 'conflict',
        message: 'this invitation has expired: ask for a new one',
        details: { reason: 'expired', expiresAt: listed.invitation.expiresAt },
      });
      // Nothing moved: still the placeholder, still expired, and eve has no membership.
      expect((await owner.get(`/v1/companies/${id}/members/${invited.body.userId}`)).body.status).toBe('expired');
      expect((await owner.get(`/v1/companies/${id}/members/eve`)).status).toBe(404);

      const patched = await owner.patch(`/v1/companies/${id}/members/${invited.body.userId}`, { role: 'manager' });
      expect(patched.status).toBe(409);
      expect(patched.body.error).toMatchObject({ code: 'conflict', details: { reason: 'expired' } });

      const resent = await owner.post(`/v1/companies/${id}/invitations/${encodeURIComponent(invited.body.userId)}/resend`);
      expect(resent.status).toBe(200);
      expect(resent.body).toMatchObject({ userId: invited.body.userId, status: 'invited', role: 'editor', version: expect.stringMatching(/^\d+$/) });
      expect(new Date(resent.body.invitation.expiresAt).getTime()).toBeGreaterThan(Date.now() + (TTL_SECONDS - 60) * 1000);

      const accepted = await eve.post(`/v1/companies/${id}/invitations/accept`);
      expect(accepted.status).toBe(200);
      expect(accepted.body).toMatchObject({ userId: 'eve', status: 'active', role: 'editor' });
      expect(accepted.body.invitation).toBeUndefined();
      expect(await auditActions(id, owner)).toEqual(['company.create', 'member.invite', 'member.reinvite', 'member.accept']);
    });

    it('seats (D14): an invitation holds its seat until it expires; re-inviting takes one again only if one is free', async () => {
      const { id, owner } = await company('seats', { name: 'team', userLicenses: 1, developerLicenses: 1 });
      const first = await owner.post(`/v1/companies/${id}/invitations`, { email: 'first@example.test', role: 'collaborator', applicationAccess: true, developerAccess: true });
      expect(first.status).toBe(201);
      expect(await usage(id, owner)).toEqual({ userLicenses: 1, developerLicenses: 1 });
      const second = { email: 'second@example.test', role: 'collaborator', applicationAccess: true };
      const full = await owner.post(`/v1/companies/${id}/invitations`, second);
      expect(full.status).toBe(409);
      expect(full.body.error).toMatchObject({ code: 'license_limit', details: { license: 'user', used: 1, limit: 1 } });

      await expire(id, first.body.userId);
      expect(await usage(id, owner)).toEqual({ userLicenses: 0, developerLicenses: 0 });
      const taken = await owner.post(`/v1/companies/${id}/invitations`, second);
      expect(taken.status).toBe(201);
      expect(await usage(id, owner)).toEqual({ userLicenses: 1, developerLicenses: 0 });

      // Reviving the first needs its seat back: the user license is gone, so it is refused whole.
      const revived = await owner.post(`/v1/companies/${id}/invitations/${encodeURIComponent(first.body.userId)}/resend`);
      expect(revived.status).toBe(409);
      expect(revived.body.error).toMatchObject({ code: 'license_limit', details: { license: 'user', used: 1, limit: 1 } });
      expect((await owner.get(`/v1/companies/${id}/members/${first.body.userId}`)).body.status).toBe('expired');
      // Re-invited without application access it fits, and takes its developer seat again.
      const without = await owner.post(`/v1/companies/${id}/invitations`, { email: 'FIRST@example.test', role: 'collaborator', developerAccess: true });
      expect(without.status).toBe(200);
      expect(without.body).toMatchObject({ userId: first.body.userId, status: 'invited', applicationAccess: false, developerAccess: true });
      expect(await usage(id, owner)).toEqual({ userLicenses: 1, developerLicenses: 1 });
      // Lowering the subscription counts pending invitations, not expired ones.
      await expire(id, taken.body.userId);
      expect(await usage(id, owner)).toEqual({ userLicenses: 0, developerLicenses: 1 });
    });
  });

  describe('re-invite', () => {
    it('inviting an email with a pending invitation answers it (200), renewed, with the role and access given', async () => {
      const { id, owner } = await company('again');
      const first = await owner.post(`/v1/companies/${id}/invitations`, { email: 'rita@example.test', role: 'editor', applicationAccess: true });
      await db().updateTable('memberships').set({ invitation_expires_at: sql`now() + interval '1 hour'` }).where('user_id', '=', first.body.userId).execute();
      const again = await owner.post(`/v1/companies/${id}/invitations`, { email: 'Rita@example.test', role: 'manager' });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ userId: first.body.userId, email: 'rita@example.test', status: 'invited', role: 'manager', applicationAccess: false, developerAccess: false });
      expect(new Date(again.body.invitation.expiresAt).getTime()).toBeGreaterThan(Date.now() + (TTL_SECONDS - 60) * 1000);
      const members = (await owner.get(`/v1/companies/${id}/members`)).body.members;
      expect(members.filter((m: { email: string }) => m.email === 'rita@example.test')).toHaveLength(1);
      const entries = (await owner.get(`/v1/companies/${id}/audit?limit=500`)).body.entries;
      expect(entries.at(-1)).toMatchObject({ action: 'member.reinvite', target: `member:${first.body.userId}`, before: { role: 'editor', applicationAccess: true }, after: { role: 'manager', applicationAccess: false } });
      // An accepted member is still a conflict.
      await as('rita', 'rita@example.test').post(`/v1/companies/${id}/invitations/accept`);
      const member = await owner.post(`/v1/companies/${id}/invitations`, { email: 'rita@example.test', role: 'editor' });
      expect(member.status).toBe(409);
      expect(member.body.error).toMatchObject({ code: 'conflict', details: { userId: 'rita' } });
      // Resending a membership that is no invitation is a conflict; an unknown id is 404.
      const notInvitation = await owner.post(`/v1/companies/${id}/invitations/rita/resend`);
      expect(notInvitation.status).toBe(409);
      expect(notInvitation.body.error).toMatchObject({ code: 'conflict', details: { userId: 'rita', status: 'active' } });
      expect((await owner.post(`/v1/companies/${id}/invitations/invite%3Anobody/resend`)).status).toBe(404);
    });

    it('D23: a re-invite is checked like a fresh invitation, whatever the invitation held before', async () => {
      const { id, owner } = await company('grant');
      const roles = await owner.get(`/v1/companies/${id}/roles`);
      const manager = roles.body.company.find((r: { key: string }) => r.key === 'manager');
      expect(manager.permissions).toContainEqual({ action: 'invite', subject: 'Member' });
      const mia = await join(id, owner, 'mia', 'manager');

      // The admin's invitation of an admin: mia may neither renew it nor resend it.
      const adminInvite = await owner.post(`/v1/companies/${id}/invitations`, { email: 'ada@example.test', role: 'admin' });
      const renew = await mia.post(`/v1/companies/${id}/invitations`, { email: 'ada@example.test', role: 'admin' });
      expect(renew.status).toBe(403);
      expect(renew.body.error.message).toBe('only admins change an invitation to the admin role');
      const resend = await mia.post(`/v1/companies/${id}/invitations/${encodeURIComponent(adminInvite.body.userId)}/resend`);
      expect(resend.status).toBe(403);
      expect(resend.body.error.message).toBe('only admins change an invitation to the admin role');
      // Nor turn it into a lesser one: an admin's invitation is an admin's to change (D12).
      const demote = await mia.post(`/v1/companies/${id}/invitations`, { email: 'ada@example.test', role: 'editor' });
      expect(demote.status).toBe(403);
      expect((await owner.get(`/v1/companies/${id}/members/${adminInvite.body.userId}`)).body.role).toBe('admin');
      // Nor turn an invitation into one with access she lacks (mia has no application access).
      const editorInvite = await mia.post(`/v1/companies/${id}/invitations`, { email: 'ed@example.test', role: 'editor' });
      expect(editorInvite.status).toBe(201);
      const widened = await mia.post(`/v1/companies/${id}/invitations`, { email: 'ed@example.test', role: 'editor', applicationAccess: true });
      expect(widened.status).toBe(403);
      expect(widened.body.error.details.lacking).toEqual([{ action: 'use', subject: 'Application' }]);

      // A project grant given to the invitation meanwhile (by the admin) is part of what renewing it hands out.
      await owner.put(`/v1/companies/${id}/projects/p1`, { name: 'P1' });
      const granted = await owner.put(`/v1/companies/${id}/projects/p1/members/users/${encodeURIComponent(editorInvite.body.userId)}`, { role: 'contributor' });
      expect(granted.status).toBe(201);
      await expire(id, editorInvite.body.userId);
      const revive = await mia.post(`/v1/companies/${id}/invitations/${encodeURIComponent(editorInvite.body.userId)}/resend`);
      expect(revive.status).toBe(403);
      expect(revive.body.error.details.lacking).toEqual(expect.arrayContaining([{ action: 'create', subject: 'Scenario', projectId: 'p1' }]));
      expect((await owner.get(`/v1/companies/${id}/members/${editorInvite.body.userId}`)).body.status).toBe('expired');
      // An admin may; a member without invite Member may not even ask (403 before anything is read).
      expect((await owner.post(`/v1/companies/${id}/invitations/${encodeURIComponent(editorInvite.body.userId)}/resend`)).status).toBe(200);
      const cole = await join(id, owner, 'cole', 'collaborator');
      const denied = await cole.post(`/v1/companies/${id}/invitations/${encodeURIComponent(editorInvite.body.userId)}/resend`);
      expect(denied.status).toBe(403);
      expect(denied.body.error.details).toEqual({ action: 'invite', subject: 'Member' });
      expect((await as('stranger').post(`/v1/companies/${id}/invitations/${encodeURIComponent(editorInvite.body.userId)}/resend`)).status).toBe(404);
    });
  });

  describe('decline', () => {
    it('the invitee declines with their verified email: the invitation and what was given to it go, audited', async () => {
      const { id, owner } = await company('decline');
      const invited = await owner.post(`/v1/companies/${id}/invitations`, { email: 'dora@example.test', role: 'editor', applicationAccess: true });
      await owner.post(`/v1/companies/${id}/teams`, { id: 'crew', name: 'Crew' });
      expect((await owner.put(`/v1/companies/${id}/teams/crew/members/${encodeURIComponent(invited.body.userId)}`)).status).toBe(200);

      const wrong = await as('mallory', 'mallory@example.test').post(`/v1/companies/${id}/invitations/decline`);
      expect(wrong.status).toBe(404);
      expect(wrong.body.error.code).toBe('not_found');
      // A look-alike (CYRILLIC SMALL LETTER A for a) is another address.
      const lookalike = await as('dora2', 'dor\u0430@example.test').post(`/v1/companies/${id}/invitations/decline`);
      expect(lookalike.status).toBe(404);
      const noEmail = await as('dora', null).post(`/v1/companies/${id}/invitations/decline`);
      expect(noEmail.status).toBe(403);
      expect(noEmail.body.error.code).toBe('forbidden');
      const unverified = await api(app.url, 'POST', `/v1/companies/${id}/invitations/decline`, undefined, {
        authorization: `Bearer ${await signToken('dora', { email: 'dora@example.test', email_verified: false })}`,
      });
      expect(unverified.status).toBe(403);
      expect((await owner.get(`/v1/companies/${id}/members/${invited.body.userId}`)).status).toBe(200);

      const declined = await as('dora', 'DORA@example.test').post(`/v1/companies/${id}/invitations/decline`);
      expect(declined.status).toBe(200);
      expect(declined.body).toEqual({ version: expect.stringMatching(/^\d+$/) });
      expect((await owner.get(`/v1/companies/${id}/members/${invited.body.userId}`)).status).toBe(404);
      expect((await owner.get(`/v1/companies/${id}/teams/crew`)).body.members).toEqual([]);
      expect(await db().selectFrom('users').select('id').where('id', '=', invited.body.userId).executeTakeFirst()).toBeUndefined();
      expect(await usage(id, owner)).toMatchObject({ userLicenses: 0 });
      const entry = (await owner.get(`/v1/companies/${id}/audit?limit=500`)).body.entries.at(-1);
      expect(entry).toMatchObject({ actor: 'dora', action: 'member.decline', target: `member:${invited.body.userId}`, before: { email: 'dora@example.test', role: 'editor', status: 'invited' }, after: null, version: declined.body.version });
      // Nothing left to accept or decline.
      expect((await as('dora').post(`/v1/companies/${id}/invitations/accept`)).status).toBe(404);
      expect((await as('dora').post(`/v1/companies/${id}/invitations/decline`)).status).toBe(404);
    });

    it('an expired invitation can be declined; a local user has none', async () => {
      const { id, owner } = await company('decline-exp');
      const invited = await owner.post(`/v1/companies/${id}/invitations`, { email: 'xena@example.test', role: 'editor' });
      await expire(id, invited.body.userId);
      expect((await as('xena').post(`/v1/companies/${id}/invitations/decline`)).status).toBe(200);
      expect((await owner.get(`/v1/companies/${id}/members/${invited.body.userId}`)).status).toBe(404);

      await owner.post(`/v1/companies/${id}/local-users`, { login: 'lou', password: 'long enough password', firstName: 'Lou', lastName: 'Local', role: 'collaborator' });
      const login = await api(app.url, 'POST', '/v1/auth/token', { company: id, login: 'lou', password: 'long enough password' });
      const local = adminClient(app.url, 'lou', null, login.body.accessToken);
      const refused = await local.post(`/v1/companies/${id}/invitations/decline`);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('forbidden');
    });
  });

  describe('leave (DELETE /members/me)', () => {
    it('a member leaves: their grants and team places go, and /v1/check denies at once', async () => {
      const { id, owner } = await company('leave');
      const lea = await join(id, owner, 'lea', 'editor', { applicationAccess: true });
      await owner.put(`/v1/companies/${id}/projects/p1`, { name: 'P1' });
      await owner.put(`/v1/companies/${id}/projects/p2`, { name: 'P2' });
      await owner.post(`/v1/companies/${id}/teams`, { id: 'crew', name: 'Crew' });
      await owner.put(`/v1/companies/${id}/teams/crew/members/lea`);
      await owner.put(`/v1/companies/${id}/projects/p1/members/users/lea`, { role: 'contributor' });
      const last = await owner.put(`/v1/companies/${id}/projects/p2/members/teams/crew`, { role: 'contributor' });
      // Warm every cache with allows first, so a stale answer would show.
      expect(await check(id, 'lea', 'edit', { type: 'Scenario', attributes: { projectId: 'p1' } }, last.body.version)).toBe(true);
      expect(await check(id, 'lea', 'edit', { type: 'Scenario', attributes: { projectId: 'p2' } })).toBe(true);
      expect(await check(id, 'lea', 'use', { type: 'Application' })).toBe(true);

      const left = await lea.delete(`/v1/companies/${id}/members/me`);
      expect(left.status).toBe(200);
      expect(left.body).toEqual({ version: String(Number(last.body.version) + 1) });
      // Right after, without and with minVersion.
      expect(await check(id, 'lea', 'edit', { type: 'Scenario', attributes: { projectId: 'p1' } })).toBe(false);
      expect(await check(id, 'lea', 'edit', { type: 'Scenario', attributes: { projectId: 'p2' } })).toBe(false);
      expect(await check(id, 'lea', 'use', { type: 'Application' }, left.body.version)).toBe(false);
      expect(await check(id, 'lea', 'view', { type: 'Project', id: 'p1' }, left.body.version)).toBe(false);

      expect((await owner.get(`/v1/companies/${id}/members/lea`)).status).toBe(404);
      expect((await owner.get(`/v1/companies/${id}/projects/p1/members`)).body.users).toEqual([{ userId: `owner-${id}`, role: 'project-admin' }]);
      expect((await owner.get(`/v1/companies/${id}/teams/crew`)).body.members).toEqual([]);
      expect(await usage(id, owner)).toMatchObject({ userLicenses: 0 });
      const entry = (await owner.get(`/v1/companies/${id}/audit?limit=500`)).body.entries.at(-1);
      expect(entry).toMatchObject({ actor: 'lea', action: 'member.leave', target: 'member:lea', before: { userId: 'lea', role: 'editor', status: 'active' }, after: null, version: left.body.version });
      // Gone: a second leave finds no membership, and the company is a stranger's (404).
      expect((await lea.delete(`/v1/companies/${id}/members/me`)).status).toBe(404);
      expect((await lea.get(`/v1/companies/${id}`)).status).toBe(404);
    });

    it('an inactive member may leave too', async () => {
      const { id, owner } = await company('leave-inactive');
      const ina = await join(id, owner, 'ina', 'collaborator');
      await owner.patch(`/v1/companies/${id}/members/ina`, { status: 'inactive' });
      expect((await ina.delete(`/v1/companies/${id}/members/me`)).status).toBe(200);
      expect((await owner.get(`/v1/companies/${id}/members/ina`)).status).toBe(404);
    });

    it('D10, D11: the owner transfers first, the last active admin cannot leave; local users are removed by an admin', async () => {
      const { id, owner } = await company('leave-owner');
      const alone = await owner.delete(`/v1/companies/${id}/members/me`);
      expect(alone.status).toBe(409);
      expect(alone.body.error).toMatchObject({ code: 'last_admin', details: { userId: `owner-${id}` } });

      const ada = await join(id, owner, 'ada', 'admin');
      const ownerLeaves = await owner.delete(`/v1/companies/${id}/members/me`);
      expect(ownerLeaves.status).toBe(409);
      expect(ownerLeaves.body.error).toEqual({ code: 'conflict', message: 'the owner cannot leave; transfer ownership first', details: { owner: `owner-${id}` } });
      expect((await owner.post(`/v1/companies/${id}/ownership`, { userId: 'ada' })).status).toBe(200);
      const left = await owner.delete(`/v1/companies/${id}/members/me`);
      expect(left.status).toBe(200);
      expect(await check(id, `owner-${id}`, 'view', { type: 'CompanySettings' }, left.body.version)).toBe(false);

      // An active admin who is not the owner but the last active admin (the owner's membership made inactive behind the API's back).
      const { id: other, owner: otto } = await company('leave-last');
      const abe = await join(other, otto, 'abe', 'admin');
      await db().updateTable('memberships').set({ status: 'inactive' }).where('company_id', '=', other).where('user_id', '=', `owner-${other}`).execute();
      const lastAdmin = await abe.delete(`/v1/companies/${other}/members/me`);
      expect(lastAdmin.status).toBe(409);
      expect(lastAdmin.body.error).toMatchObject({ code: 'last_admin', details: { userId: 'abe' } });
      expect((await ada.get(`/v1/companies/${id}/members/me`)).body).toMatchObject({ userId: 'ada', owner: true, status: 'active' });

      const created = await ada.post(`/v1/companies/${id}/local-users`, { login: 'lou', password: 'long enough password', firstName: 'Lou', lastName: 'Local', role: 'collaborator' });
      expect(created.status).toBe(201);
      const login = await api(app.url, 'POST', '/v1/auth/token', { company: id, login: 'lou', password: 'long enough password' });
      const lou = adminClient(app.url, created.body.userId, null, login.body.accessToken);
      const localLeaves = await lou.delete(`/v1/companies/${id}/members/me`);
      expect(localLeaves.status).toBe(403);
      expect(localLeaves.body.error).toMatchObject({ code: 'forbidden', details: { kind: 'local' } });
    });

    it('"me" names the caller only there: a user whose id is "me" is removed as %6De, and nobody removes themself by id', async () => {
      const { id, owner } = await company('me-id');
      await join(id, owner, 'me', 'collaborator');
      expect((await owner.get(`/v1/companies/${id}/members/me`)).body).toMatchObject({ userId: `owner-${id}`, owner: true });
      expect((await owner.get(`/v1/companies/${id}/members/%6De`)).body).toMatchObject({ userId: 'me', role: 'collaborator' });
      const self = await owner.delete(`/v1/companies/${id}/members/${encodeURIComponent(`owner-${id}`)}`);
      expect(self.status).toBe(403);
      expect((await owner.delete(`/v1/companies/${id}/members/%6De`)).status).toBe(200);
      expect((await owner.get(`/v1/companies/${id}/members/%6De`)).status).toBe(404);
    });
  });

  describe('GET /v1/me', () => {
    it("answers the caller's memberships and the invitations to their verified email, across companies", async () => {
      const a = await company('me-a');
      const b = await company('me-b');
      const c = await company('me-c');
      const d = await company('me-d');
      await join(a.id, a.owner, 'meg', 'editor', { applicationAccess: true });
      await join(b.id, b.owner, 'meg', 'collaborator');
      await b.owner.patch(`/v1/companies/${b.id}/members/meg`, { status: 'inactive' });
      const pending = await c.owner.post(`/v1/companies/${c.id}/invitations`, { email: `MEG@${c.id}.test`, role: 'manager', developerAccess: true });
      const lapsed = await d.owner.post(`/v1/companies/${d.id}/invitations`, { email: `meg@${c.id}.test`, role: 'editor' });
      await expire(d.id, lapsed.body.userId);
      // Someone else's invitation, and a look-alike address, are not hers.
      await a.owner.post(`/v1/companies/${a.id}/invitations`, { email: `peg@${c.id}.test`, role: 'editor' });

      const me = await as('meg', `meg@${c.id}.test`).get('/v1/me');
      expect(me.status).toBe(200);
      expect(me.body).toEqual({
        userId: 'meg',
        email: `meg@${c.id}.test`,
        memberships: [
          { company: { id: a.id, name: `Company ${a.id}` }, role: 'editor', status: 'active', owner: false, applicationAccess: true, developerAccess: false },
          { company: { id: b.id, name: `Company ${b.id}` }, role: 'collaborator', status: 'inactive', owner: false, applicationAccess: false, developerAccess: false },
        ],
        invitations: [
          {
            company: { id: c.id, name: `Company ${c.id}` },
            invitationId: pending.body.userId,
            email: `MEG@${c.id}.test`,
            role: 'manager',
            applicationAccess: false,
            developerAccess: true,
            type: 'member',
            status: 'invited',
            expiresAt: pending.body.invitation.expiresAt,
            invitedBy: `owner-${c.id}`,
          },
          {
            company: { id: d.id, name: `Company ${d.id}` },
            invitationId: lapsed.body.userId,
            email: `meg@${c.id}.test`,
            role: 'editor',
            applicationAccess: false,
            developerAccess: false,
            type: 'guest',
            status: 'expired',
            expiresAt: expect.any(String),
            invitedBy: `owner-${d.id}`,
          },
        ],
      });

      // Without a verified email: memberships only. With a look-alike (U+212A for k): none of them.
      expect((await as('meg', null).get('/v1/me')).body.invitations).toEqual([]);
      const kelvin = await as('kim', `\u212Aim@${c.id}.test`).get('/v1/me');
      await c.owner.post(`/v1/companies/${c.id}/invitations`, { email: `kim@${c.id}.test`, role: 'editor' });
      expect(kelvin.body.invitations).toEqual([]);
      expect((await as('kim2', `\u212Aim@${c.id}.test`).get('/v1/me')).body.invitations).toEqual([]);
      expect((await as('kim', `KIM@${c.id}.test`).get('/v1/me')).body.invitations).toHaveLength(1);
      // A stranger: nothing; no token: 401.
      expect((await as('nobody').get('/v1/me')).body).toEqual({ userId: 'nobody', email: 'nobody@example.test', memberships: [], invitations: [] });
      expect((await api(app.url, 'GET', '/v1/me')).status).toBe(401);
    });
  });
});
