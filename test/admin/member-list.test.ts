import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

interface Member {
  userId: string;
  email: string | null;
  kind: 'platform' | 'local';
  type: 'member' | 'guest';
  status: 'invited' | 'expired' | 'active' | 'inactive';
  role: string;
  login?: string;
  firstName?: string;
  lastName?: string;
}

const ROLES = ['manager', 'editor', 'collaborator'] as const;
const STATUSES = ['active', 'active', 'inactive', 'invited', 'expired'] as const;

describe.skipIf(!servicesUp)('GET /v1/companies/{c}/members, paged and filtered', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let olga: AdminClient;
  /** Every member, as the unpaged list answers (its own tests are in members.test.ts). */
  let all: Member[];
  const path = (query = '') => `/v1/companies/mlist/members${query ? `?${query}` : ''}`;

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    olga = adminClient(app.url, 'olga', 'olga@acme.test');
    await createCompany(olga, 'mlist', { domains: ['acme.test'], plan: { name: 'business', userLicenses: 100, developerLicenses: 10 } });
    const db = app.app.store.db;
    // 40 people: platform users at the company's domain (members) and elsewhere (guests), local
    // users with names, every status and role. Ids of one form, so any collation orders them alike.
    for (let i = 1; i <= 40; i++) {
      const id = `u${String(i).padStart(3, '0')}`;
      const local = i % 7 === 0;
      const status = local ? 'active' : STATUSES[i % STATUSES.length]!;
      await db.insertInto('users').values({ id, kind: local ? 'local' : 'platform', email: local ? null : `${id}@${i % 3 ? 'acme.test' : 'other.test'}` }).execute();
      await db
        .insertInto('memberships')
        .values({
          company_id: 'mlist',
          user_id: id,
          role: ROLES[i % ROLES.length]!,
          status: status === 'expired' ? 'invited' : status,
          invitation_expires_at: status === 'expired' ? sql<Date>`now() - interval '1 day'` : sql<Date>`now() + interval '7 days'`,
        })
        .execute();
      if (local) {
        await db
          .insertInto('local_credentials')
          .values({ user_id: id, company_id: 'mlist', login: `login.${i}`, password_hash: 'unused', first_name: i === 14 ? 'Elodie' : `First${i}`, last_name: i === 14 ? 'Martin' : `Last${i}` })
          .execute();
      }
    }
    // Another company's people never show.
    const greta = adminClient(app.url, 'greta', 'greta@acme.test');
    await createCompany(greta, 'other');
    const everyone = await olga.get(path());
    expect(everyone.status).toBe(200);
    all = everyone.body.members;
    expect(all).toHaveLength(41);
  });
  afterAll(() => env?.close());

  const byId = (members: readonly Member[]) => members.map((m) => m.userId).sort();

  /** Every page of a query with `limit`, checking each page's total and the cursor chain. */
  async function pages(query: string, limit: number): Promise<{ ids: string[]; total: number; count: number }> {
    const ids: string[] = [];
    let after: string | null = null;
    let total = -1;
    let count = 0;
    do {
      const response: { status: number; body: any } = await olga.get(path(`${query}${query ? '&' : ''}limit=${limit}${after ? `&after=${after}` : ''}`));
      expect(response.status).toBe(200);
      expect(Object.keys(response.body).sort()).toEqual(['members', 'next', 'total']);
      expect(response.body.members.length).toBeLessThanOrEqual(limit);
      if (total >= 0) expect(response.body.total).toBe(total);
      total = response.body.total;
      ids.push(...response.body.members.map((m: Member) => m.userId));
      after = response.body.next;
      count += 1;
    } while (after !== null && count < 100);
    return { ids, total, count };
  }

  it('without parameters the answer is the whole list, as before: members alone, oldest membership first', async () => {
    const response = await olga.get(path());
    expect(Object.keys(response.body)).toEqual(['members']);
    expect(response.body.members[0].userId).toBe('olga');
    expect(response.body.members.map((m: Member) => m.userId).slice(1)).toEqual(Array.from({ length: 40 }, (_, i) => `u${String(i + 1).padStart(3, '0')}`));
  });

  it('paging visits every member exactly once, in user id order, with the total on every page', async () => {
    for (const limit of [1, 7, 41, 1000]) {
      const { ids, total, count } = await pages('', limit);
      expect(ids).toEqual(byId(all));
      expect(total).toBe(41);
      expect(count).toBe(Math.max(1, Math.ceil(41 / limit)));
    }
    const last = await olga.get(path('limit=41'));
    expect(last.body.next).toBeNull();
    // The members of a page are the full member view, as the unpaged list gives them.
    const first = await olga.get(path('limit=2'));
    expect(first.body.members).toEqual([all.find((m) => m.userId === 'olga'), all.find((m) => m.userId === 'u001')]);
  });

  it('the cursor is a position, not an offset: members added or removed meanwhile neither repeat nor skip the others', async () => {
    const db = app.app.store.db;
    const add = async (ids: string[]) => {
      await db.insertInto('users').values(ids.map((id) => ({ id, kind: 'platform' as const, email: `${id}@acme.test` }))).execute();
      await db.insertInto('memberships').values(ids.map((user_id) => ({ company_id: 'mlist', user_id, role: 'editor' as const, status: 'active' as const }))).execute();
    };
    await add(['u0155', 'u0255']);
    try {
      const first = await olga.get(path('limit=10'));
      const seen: string[] = first.body.members.map((m: Member) => m.userId);
      expect(seen.at(-1)).toBe('u009');
      // One not yet seen goes; one arrives before the cursor (not shown: already passed), one after it (shown).
      await db.deleteFrom('users').where('id', '=', 'u0155').execute();
      await add(['u0005', 'u0305']);
      let after = first.body.next;
      while (after) {
        const page = await olga.get(path(`limit=10&after=${after}`));
        seen.push(...page.body.members.map((m: Member) => m.userId));
        after = page.body.next;
      }
      expect(seen).toEqual([...byId(all), 'u0255', 'u0305'].sort());
    } finally {
      await db.deleteFrom('users').where('id', 'in', ['u0005', 'u0155', 'u0255', 'u0305']).execute();
    }
  });

  it('each filter answers exactly the members the member view says match it, paged or not', async () => {
    const cases: Array<[string, (m: Member) => boolean]> = [
      ...(['invited', 'expired', 'active', 'inactive'] as const).map((s): [string, (m: Member) => boolean] => [`status=${s}`, (m) => m.status === s]),
      ...(['admin', 'manager', 'editor', 'collaborator'] as const).map((r): [string, (m: Member) => boolean] => [`role=${r}`, (m) => m.role === r]),
      ['type=member', (m) => m.type === 'member'],
      ['type=guest', (m) => m.type === 'guest'],
      ['kind=local', (m) => m.kind === 'local'],
      ['kind=platform', (m) => m.kind === 'platform'],
      ['type=guest&status=active&role=manager', (m) => m.type === 'guest' && m.status === 'active' && m.role === 'manager'],
    ];
    for (const [query, match] of cases) {
      const expected = all.filter(match);
      expect(expected.length, query).toBeGreaterThan(0);
      const { ids, total } = await pages(query, 4);
      expect(ids, query).toEqual(byId(expected));
      expect(total, query).toBe(expected.length);
      // Without limit, the same members in the list's own order.
      expect((await olga.get(path(query))).body, query).toEqual({ members: expected });
    }
    expect(all.filter((m) => m.type === 'guest').every((m) => m.email?.endsWith('@other.test'))).toBe(true);
  });

  it('q is a case-insensitive substring of the user id, email, login or name, literally (no wildcards)', async () => {
    const search = async (q: string) => (await pages(`q=${encodeURIComponent(q)}`, 5)).ids;
    expect(await search('U00')).toEqual(['u001', 'u002', 'u003', 'u004', 'u005', 'u006', 'u007', 'u008', 'u009']);
    expect(await search('@OTHER.test')).toEqual(byId(all.filter((m) => m.email?.endsWith('@other.test'))));
    expect(await search('login.2')).toEqual(['u021', 'u028']);
    expect(await search('elodie')).toEqual(['u014']);
    expect(await search('MARTIN')).toEqual(['u014']);
    expect(await search('Elodie Martin')).toEqual(['u014']);
    expect(await search('first21')).toEqual(['u021']);
    expect(await search('%')).toEqual([]);
    expect(await search('u0_1')).toEqual([]);
    expect(await search('nobody')).toEqual([]);
    // An empty q searches nothing out.
    expect((await pages('q=', 50)).ids).toEqual(byId(all));
    // q with the filters: both hold.
    expect(await search('u02')).toEqual(['u020', 'u021', 'u022', 'u023', 'u024', 'u025', 'u026', 'u027', 'u028', 'u029']);
    expect((await pages('q=u02&status=active&kind=platform', 3)).ids).toEqual(byId(all.filter((m) => m.userId.startsWith('u02') && m.status === 'active' && m.kind === 'platform')));
    expect((await olga.get(path('q=u02&limit=3'))).body.total).toBe(10);
  });

  it('bad parameters are 400 invalid_request, naming the parameter', async () => {
    const dot = Buffer.from('.').toString('base64url');
    const cases: Array<[string, string]> = [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=2.5', 'limit'],
      ['limit=10&after=not-a-cursor!', 'after'],
      ['limit=10&after=' + dot, 'after'],
      [`limit=10&after=${Buffer.from('u001').toString('base64url')}=`, 'after'],
      [`after=${Buffer.from('u001').toString('base64url')}`, 'after'],
      ['status=pending', 'status'],
      ['role=owner', 'role'],
      ['type=staff', 'type'],
      ['kind=robot', 'kind'],
      ['q=%00', 'q'],
      [`q=${'x'.repeat(201)}`, 'q'],
      ['status=active&status=inactive', 'status'],
      ['offset=10', 'offset'],
    ];
    for (const [query, name] of cases) {
      const response = await olga.get(path(query));
      expect(response.status, query).toBe(400);
      expect(response.body.error.code, query).toBe('invalid_request');
      expect(response.body.error.details.path, query).toBe(name);
    }
    // A cursor of another form (the audit log's) is refused only if it cannot be a user id; a user id past the last is an empty page.
    const past = await olga.get(path(`limit=10&after=${Buffer.from('zzz').toString('base64url')}`));
    expect(past.body).toEqual({ members: [], next: null, total: 41 });
  });

  it('whoever may not list the members may not page or search them either: 403, and nothing is counted', async () => {
    const db = app.app.store.db;
    await db.insertInto('users').values({ id: 'cora', kind: 'platform', email: 'cora@acme.test' }).execute();
    await db.insertInto('memberships').values({ company_id: 'mlist', user_id: 'cora', role: 'collaborator', status: 'active' }).execute();
    const cora = adminClient(app.url, 'cora', 'cora@acme.test');
    try {
      for (const query of ['', 'limit=10', 'limit=10&q=u0', 'status=active', `limit=1&after=${Buffer.from('u001').toString('base64url')}`]) {
        const response = await cora.get(path(query));
        expect(response.status, query).toBe(403);
        expect(response.body.error.code, query).toBe('forbidden');
        expect(JSON.stringify(response.body), query).not.toMatch(/total|u00/);
      }
      // Someone of another company: not found, as for the unpaged list.
      const greta = adminClient(app.url, 'greta', 'greta@acme.test');
      expect((await greta.get(path('limit=10'))).status).toBe(404);
      expect((await greta.get(path())).status).toBe(404);
    } finally {
      await db.deleteFrom('users').where('id', '=', 'cora').execute();
    }
  });
});
