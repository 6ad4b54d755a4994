import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/admin/audit/schemas.js';
import type { Database } from '../../src/store/schema.js';
import { addMember, adminClient, companySequence, type AdminClient } from '../support/admin.js';
import { api, createTestEnvironment, operatorHeaders, TEST_OPERATOR_TOKEN, type JsonResponse, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

const failure = (status: number, code: string) => ({ status, body: { error: expect.objectContaining({ code }) } });
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface Entry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  version: string;
}

describe.skipIf(!servicesUp)('audit API', () => {
  let env: TestEnvironment;
  let instance: TestApp;
  let db: Kysely<Database>;

  const company = companySequence(() => instance.url);

  /** Every entry, following the cursor with pages of `limit`. */
  async function readAll(client: AdminClient, companyId: string, limit: number): Promise<{ entries: Entry[]; pages: number }> {
    const entries: Entry[] = [];
    let pages = 0;
    let after: string | null = null;
    do {
      const response: JsonResponse = await client.get(`/v1/companies/${companyId}/audit?limit=${limit}${after ? `&after=${after}` : ''}`);
      expect(response.status).toBe(200);
      expect(response.body.entries.length).toBeLessThanOrEqual(limit);
      entries.push(...response.body.entries);
      after = response.body.next;
      pages += 1;
    } while (after !== null && pages < 100);
    return { entries, pages };
  }

  beforeAll(async () => {
    env = await createTestEnvironment();
    instance = await env.start();
    db = instance.app.store.db;
  });
  afterAll(() => env?.close());

  it('records one entry per write, in order, with actor, before, after and the version of the write', async () => {
    const { id, owner, version: created } = await company('log');
    const base = `/v1/companies/${id}/roles`;
    const manager = await owner.put(`${base}/company/manager`, { permissions: [{ action: 'view', subject: 'Member' }] });
    const create = await owner.post(`${base}/project`, { key: 'reviewer', name: 'Reviewer', permissions: [{ action: 'view', subject: 'Scenario' }] });
    const update = await owner.put(`${base}/project/reviewer`, { name: 'Lead reviewer', permissions: [{ action: 'edit', subject: 'Scenario' }] });
    const remove = await owner.delete(`${base}/project/reviewer`);
    expect([manager.status, create.status, update.status, remove.status]).toEqual([200, 201, 200, 200]);
    // Refused writes leave no entry.
    expect(await owner.put(`${base}/company/admin`, { permissions: [] })).toMatchObject(failure(409, 'role_immutable'));
    expect(await owner.put(`${base}/company/editor`, { permissions: [] }, { 'if-match': '"stale"' })).toMatchObject(failure(412, 'precondition_failed'));
    expect(await owner.delete(`${base}/project/project-admin`)).toMatchObject(failure(409, 'conflict'));

    const response = await owner.get(`/v1/companies/${id}/audit`);
    expect(response.status).toBe(200);
    expect(response.body.next).toBeNull();
    const entries: Entry[] = response.body.entries;
    expect(entries.map((e) => [e.action, e.target, e.version])).toEqual([
      ['company.create', `company:${id}`, created],
      ['role.company.update', 'role:company/manager', manager.body.version],
      ['role.project.create', 'role:project/reviewer', create.body.version],
      ['role.project.update', 'role:project/reviewer', update.body.version],
      ['role.project.delete', 'role:project/reviewer', remove.body.version],
    ]);
    for (const entry of entries) {
      expect(entry.actor).toBe(owner.userId);
      expect(entry.at).toMatch(ISO_TIME);
    }
    const ids = entries.map((e) => BigInt(e.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);

    expect(entries[1]).toMatchObject({
      before: {
        permissions: [
          { action: 'view', subject: 'CompanySettings' },
          { action: 'edit', subject: 'CompanySettings', fields: ['branding'] },
          { action: 'view', subject: 'Member' },
          { action: 'invite', subject: 'Member' },
          { action: 'view', subject: 'Team' },
          { action: 'view', subject: 'Role' },
          { action: 'create', subject: 'Project' },
          { action: 'view', subject: 'Project' },
        ],
      },
      after: { permissions: [{ action: 'view', subject: 'Member' }] },
    });
    expect(entries[2]).toMatchObject({ before: null, after: { name: 'Reviewer', permissions: [{ action: 'view', subject: 'Scenario' }] } });
    expect(entries[3]).toMatchObject({
      before: { name: 'Reviewer', permissions: [{ action: 'view', subject: 'Scenario' }] },
      after: { name: 'Lead reviewer', permissions: [{ action: 'edit', subject: 'Scenario' }] },
    });
    expect(entries[4]).toMatchObject({ before: { name: 'Lead reviewer', permissions: [{ action: 'edit', subject: 'Scenario' }] }, after: null });
  });

  it('pages oldest first with an opaque cursor; next is null on the last page; limit defaults to 50', async () => {
    const { id, owner } = await company('pages');
    for (let i = 0; i < 54; i += 1) {
      const permissions = i % 2 ? [{ action: 'view', subject: 'Team' }] : [];
      expect((await owner.put(`/v1/companies/${id}/roles/company/collaborator`, { permissions })).status).toBe(200);
    }
    const first = await owner.get(`/v1/companies/${id}/audit`);
    expect(first.body.entries).toHaveLength(50);
    expect(first.body.next).toMatch(/^[A-Za-z0-9_-]+$/);
    const rest = await owner.get(`/v1/companies/${id}/audit?after=${first.body.next}`);
    expect(rest.body.entries).toHaveLength(5);
    expect(rest.body.next).toBeNull();
    const everything = [...first.body.entries, ...rest.body.entries] as Entry[];
    expect(everything[0]!.action).toBe('company.create');

    const paged = await readAll(owner, id, 7);
    expect(paged.pages).toBe(8);
    expect(paged.entries).toEqual(everything);

    // An exact multiple of the limit: the last full page already says there is no more.
    const exact = await owner.get(`/v1/companies/${id}/audit?limit=55`);
    expect(exact.body.entries).toHaveLength(55);
    expect(exact.body.next).toBeNull();
    const short = await owner.get(`/v1/companies/${id}/audit?limit=54`);
    const last = await owner.get(`/v1/companies/${id}/audit?after=${short.body.next}`);
    expect(last.body).toEqual({ entries: [everything[54]], next: null });
  });

  const badQueries: Array<[string, string, string]> = [
    ['limit 0', 'limit=0', 'limit'],
    ['limit above 500', 'limit=501', 'limit'],
    ['a limit that is not a number', 'limit=ten', 'limit'],
    ['a fractional limit', 'limit=2.5', 'limit'],
    ['a cursor that is not base64url', 'after=not%20a%20cursor', 'after'],
    ['a cursor that does not decode to an id', `after=${Buffer.from('abc').toString('base64url')}`, 'after'],
    ['a cursor with a leading zero', `after=${Buffer.from('012').toString('base64url')}`, 'after'],
    // Found by the fuzzer (test/fuzz): 19 digits beyond bigint reached PostgreSQL, which answered 500.
    ['a cursor past the largest id', `after=${Buffer.from('9223372036854775808').toString('base64url')}`, 'after'],
    ['a cursor of nineteen nines', `after=${Buffer.from('9999999999999999999').toString('base64url')}`, 'after'],
    ['an unknown parameter', 'before=1', 'before'],
    ['an empty target', 'target=', 'target'],
    ['a target with a control character', 'target=team%0A', 'target'],
    ['a target of 301 characters', `target=${'t'.repeat(301)}`, 'target'],
    ['an actor with a control character', 'actor=a%01b', 'actor'],
    ['an empty actor', 'actor=', 'actor'],
  ];
  for (const [name, query, path] of badQueries) {
    it(`refuses ${name} with 400 invalid_request`, async () => {
      const { id, owner } = await company('query');
      const response = await owner.get(`/v1/companies/${id}/audit?${query}`);
      expect(response).toMatchObject(failure(400, 'invalid_request'));
      expect(response.body.error.details.path).toBe(path);
    });
  }

  describe('filters: ?actor= (exactly) and ?target= (a prefix), applied by the server, paged like the whole log', () => {
    let id: string;
    let owner: AdminClient;
    const targets = (response: JsonResponse) => (response.body.entries as Entry[]).map((e) => e.target);

    beforeAll(async () => {
      ({ id, owner } = await company('filters'));
      for (const user of ['a_b', 'axb', 'a%c']) await addMember(db, id, user, 'collaborator');
      await addMember(db, id, 'mgr', 'manager');
      for (const team of ['design', 'design2']) expect((await owner.post(`/v1/companies/${id}/teams`, { id: team, name: team })).status).toBe(201);
      for (const user of ['a_b', 'axb', 'a%c']) expect((await owner.put(`/v1/companies/${id}/teams/design/members/${encodeURIComponent(user)}`)).status).toBe(200);
      const invited = await adminClient(instance.url, 'mgr').post(`/v1/companies/${id}/invitations`, { email: 'newcomer@example.test', role: 'collaborator' });
      expect(invited.status).toBe(201);
    });

    it('actor: only that user\'s entries', async () => {
      const byManager = await owner.get(`/v1/companies/${id}/audit?actor=mgr`);
      expect(byManager.body.entries.map((e: Entry) => [e.actor, e.action])).toEqual([['mgr', 'member.invite']]);
      expect(byManager.body.next).toBeNull();
      const byOwner = await owner.get(`/v1/companies/${id}/audit?actor=${owner.userId}`);
      expect(byOwner.body.entries.map((e: Entry) => e.action)).toEqual(['company.create', 'team.create', 'team.create', 'team.member.add', 'team.member.add', 'team.member.add']);
      expect((await owner.get(`/v1/companies/${id}/audit?actor=MGR`)).body.entries).toEqual([]);
    });

    it('target: a prefix, with LIKE\'s wildcards taken literally', async () => {
      expect(targets(await owner.get(`/v1/companies/${id}/audit?target=team:design`))).toEqual([
        'team:design',
        'team:design2',
        'team:design/user:a_b',
        'team:design/user:axb',
        'team:design/user:a%c',
      ]);
      expect(targets(await owner.get(`/v1/companies/${id}/audit?target=team:design/`))).toEqual(['team:design/user:a_b', 'team:design/user:axb', 'team:design/user:a%c']);
      // Unescaped, "_" would match any character and "%" anything at all.
      expect(targets(await owner.get(`/v1/companies/${id}/audit?target=${encodeURIComponent('team:design/user:a_')}`))).toEqual(['team:design/user:a_b']);
      expect(targets(await owner.get(`/v1/companies/${id}/audit?target=${encodeURIComponent('team:design/user:a%')}`))).toEqual(['team:design/user:a%c']);
      expect(targets(await owner.get(`/v1/companies/${id}/audit?target=${encodeURIComponent('%')}`))).toEqual([]);
      expect(targets(await owner.get(`/v1/companies/${id}/audit?target=Team:`))).toEqual([]);
    });

    it('both together, and the cursor carries on within the filter', async () => {
      const pages: string[][] = [];
      let after: string | null = null;
      do {
        const response: JsonResponse = await owner.get(`/v1/companies/${id}/audit?actor=${owner.userId}&target=team:design/&limit=2${after ? `&after=${after}` : ''}`);
        expect(response.status).toBe(200);
        pages.push(targets(response));
        after = response.body.next;
      } while (after !== null && pages.length < 10);
      expect(pages).toEqual([['team:design/user:a_b', 'team:design/user:axb'], ['team:design/user:a%c']]);
    });

    it('filters never widen who may read: an editor is refused with or without them', async () => {
      await addMember(db, id, 'ed', 'editor');
      const response = await adminClient(instance.url, 'ed').get(`/v1/companies/${id}/audit?actor=ed`);
      expect(response).toMatchObject(failure(403, 'forbidden'));
    });
  });

  it('accepts limit 1 and 500', async () => {
    const { id, owner } = await company('bounds');
    expect((await owner.get(`/v1/companies/${id}/audit?limit=1`)).body.entries).toHaveLength(1);
    expect((await owner.get(`/v1/companies/${id}/audit?limit=500`)).status).toBe(200);
  });

  describe('who may read it: view Member, view Role and view CompanySettings subscription', () => {
    it('an admin and a default manager may; an editor, a collaborator and an invited member may not', async () => {
      const { id, owner } = await company('readers');
      for (const [user, role, status] of [
        ['manager', 'manager', 'active'],
        ['editor', 'editor', 'active'],
        ['collab', 'collaborator', 'active'],
        ['invited', 'admin', 'invited'],
      ] as const) {
        await addMember(db, id, `${user}-${id}`, role, { status });
      }
      expect((await owner.get(`/v1/companies/${id}/audit`)).status).toBe(200);
      expect((await adminClient(instance.url, `manager-${id}`).get(`/v1/companies/${id}/audit`)).status).toBe(200);
      expect(await adminClient(instance.url, `editor-${id}`).get(`/v1/companies/${id}/audit`)).toMatchObject(failure(403, 'forbidden'));
      expect(await adminClient(instance.url, `collab-${id}`).get(`/v1/companies/${id}/audit`)).toMatchObject(failure(403, 'forbidden'));
      expect(await adminClient(instance.url, `invited-${id}`).get(`/v1/companies/${id}/audit`)).toMatchObject(failure(404, 'not_found'));
    });

    it('an editor given view Member and view Role is still refused: the subscription is hidden from them (D8)', async () => {
      const { id, owner } = await company('subscription');
      await addMember(db, id, `editor-${id}`, 'editor');
      const editor = adminClient(instance.url, `editor-${id}`);
      const granted = await owner.put(`/v1/companies/${id}/roles/company/editor`, {
        permissions: [
          { action: 'view', subject: 'CompanySettings' },
          { action: 'view', subject: 'CompanySettings', fields: ['subscription'], inverted: true },
          { action: 'view', subject: 'Member' },
          { action: 'view', subject: 'Role' },
        ],
      });
      expect(granted.status).toBe(200);
      const refused = await editor.get(`/v1/companies/${id}/audit`);
      expect(refused).toMatchObject(failure(403, 'forbidden'));
      expect(refused.body.error.details).toEqual({ action: 'view', subject: 'CompanySettings', field: 'subscription' });

      await owner.put(`/v1/companies/${id}/roles/company/editor`, {
        permissions: [{ action: 'view', subject: 'CompanySettings' }, { action: 'view', subject: 'Member' }, { action: 'view', subject: 'Role' }],
      });
      expect((await editor.get(`/v1/companies/${id}/audit`)).status).toBe(200);
    });

    it('needs a token', async () => {
      const { id } = await company('anon');
      expect(await api(instance.url, 'GET', `/v1/companies/${id}/audit`)).toMatchObject(failure(401, 'unauthenticated'));
    });
  });

  it("D1: an admin of company A cannot read company B's audit log (404), and each log holds only its company's entries", async () => {
    const a = await company('tenant-a');
    const b = await company('tenant-b');
    await b.owner.put(`/v1/companies/${b.id}/roles/company/editor`, { permissions: [] });
    const refused = await a.owner.get(`/v1/companies/${b.id}/audit`);
    expect(refused).toMatchObject(failure(404, 'not_found'));
    expect(JSON.stringify(refused.body)).not.toContain('role.company.update');
    // A cursor taken from B's log does not open it from A either.
    const cursor = (await b.owner.get(`/v1/companies/${b.id}/audit?limit=1`)).body.next;
    expect(await a.owner.get(`/v1/companies/${b.id}/audit?after=${cursor}`)).toMatchObject(failure(404, 'not_found'));

    const own = await a.owner.get(`/v1/companies/${a.id}/audit?after=${cursor}`);
    expect(own.status).toBe(200);
    expect(own.body.entries.every((e: Entry) => e.target === `company:${a.id}`)).toBe(true);
    expect((await b.owner.get(`/v1/companies/${b.id}/audit`)).body.entries.map((e: Entry) => e.target)).toEqual([`company:${b.id}`, 'role:company/editor']);
  });

  describe("D22: the log outlives its company; the platform operator reads it", () => {
    const asOperator = (path: string, token = TEST_OPERATOR_TOKEN) => api(instance.url, 'GET', path, undefined, operatorHeaders(token));

    it('deleting a company keeps its entries and records the deletion: who, and the last state', async () => {
      const { id, owner, version: created } = await company('doomed');
      const domain = `${id}.test`;
      expect((await owner.put(`/v1/companies/${id}/domains`, { domains: [domain] }, operatorHeaders())).status).toBe(200);
      const role = await owner.put(`/v1/companies/${id}/roles/company/collaborator`, { permissions: [{ action: 'view', subject: 'Team' }] });
      const deleted = await owner.delete(`/v1/companies/${id}`);
      expect(deleted.status).toBe(200);

      const log = await asOperator(`/v1/companies/${id}/audit`);
      expect(log.status).toBe(200);
      const entries: Entry[] = log.body.entries;
      expect(entries.map((e) => [e.action, e.actor, e.version])).toEqual([
        ['company.create', owner.userId, created],
        ['company.domains.update', owner.userId, created],
        ['role.company.update', owner.userId, role.body.version],
        ['company.delete', owner.userId, deleted.body.version],
      ]);
      expect(entries.at(-1)).toMatchObject({
        target: `company:${id}`,
        before: {
          id,
          name: `Company ${id}`,
          owner: owner.userId,
          domains: [domain],
          plan: { name: 'business', userLicenses: 10, developerLicenses: 2 },
          usage: { userLicenses: 0, developerLicenses: 0 },
        },
        after: null,
      });
      // Nothing but the log is left, and in the database too.
      expect(await db.selectFrom('audit_log').select('action').where('company_id', '=', id).orderBy('id').execute()).toHaveLength(4);
      expect(await db.selectFrom('companies').select('id').where('id', '=', id).execute()).toEqual([]);
      // Paging works the same on a deleted company's log.
      const first = await asOperator(`/v1/companies/${id}/audit?limit=3`);
      expect(first.body.entries).toEqual(entries.slice(0, 3));
      expect((await asOperator(`/v1/companies/${id}/audit?after=${first.body.next}`)).body).toEqual({ entries: entries.slice(3), next: null });
    });

    it('only the operator credential reads a deleted company\'s log; its former members get 404', async () => {
      const { id, owner } = await company('gone');
      await addMember(db, id, `admin-${id}`, 'admin');
      expect((await owner.delete(`/v1/companies/${id}`)).status).toBe(200);
      expect(await owner.get(`/v1/companies/${id}/audit`)).toMatchObject(failure(404, 'not_found'));
      expect(await adminClient(instance.url, `admin-${id}`).get(`/v1/companies/${id}/audit`)).toMatchObject(failure(404, 'not_found'));
      // Beside a user's token both credentials must hold: a former owner is nobody in the company any more.
      expect(await owner.get(`/v1/companies/${id}/audit`, operatorHeaders())).toMatchObject(failure(404, 'not_found'));
      expect(await asOperator(`/v1/companies/${id}/audit`, 'not-the-operator-token-but-as-long-as-it-must')).toMatchObject(failure(401, 'unauthenticated'));
      expect((await asOperator(`/v1/companies/${id}/audit`)).status).toBe(200);
    });

    it('the operator reads a live company\'s log too, and gets 404 for an id never used', async () => {
      const { id } = await company('alive');
      const live = await asOperator(`/v1/companies/${id}/audit`);
      expect(live.status).toBe(200);
      expect(live.body.entries.map((e: Entry) => e.action)).toEqual(['company.create']);
      expect(await asOperator('/v1/companies/never-was/audit')).toMatchObject(failure(404, 'not_found'));
      expect(await asOperator(`/v1/companies/${id}/audit?limit=0`)).toMatchObject(failure(400, 'invalid_request'));
    });
  });
});

describe('audit cursor', () => {
  it('round-trips an id and decodes nothing else', () => {
    expect(decodeCursor(encodeCursor('9223372036854775807'))).toBe('9223372036854775807');
    expect(decodeCursor(encodeCursor('1'))).toBe('1');
    for (const id of ['0', '01', '-1', '1.5', '92233720368547758070', '9223372036854775808', '9999999999999999999', 'abc', '']) expect(decodeCursor(encodeCursor(id)), id).toBeNull();
    expect(decodeCursor(`${encodeCursor('12')}=`)).toBeNull();
    expect(decodeCursor('a b')).toBeNull();
  });
});
