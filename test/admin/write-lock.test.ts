import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { createTestEnvironment, type JsonResponse, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

const COMPANY = 'held';

/** One write of each kind an admin tool sends, with a body that passes validation, so the service is reached. */
const WRITES: ReadonlyArray<{ name: string; send: (client: AdminClient) => Promise<JsonResponse> }> = [
  { name: 'rename the company', send: (c) => c.patch(`/v1/companies/${COMPANY}`, { name: 'Mine now' }) },
  { name: 'delete the company', send: (c) => c.delete(`/v1/companies/${COMPANY}`) },
  { name: 'take ownership', send: (c) => c.post(`/v1/companies/${COMPANY}/ownership`, { userId: c.userId }) },
  { name: 'set domains', send: (c) => c.put(`/v1/companies/${COMPANY}/domains`, { domains: [] }) },
  { name: 'invite', send: (c) => c.post(`/v1/companies/${COMPANY}/invitations`, { email: 'friend@example.test', role: 'collaborator' }) },
  {
    name: 'create a local user',
    send: (c) => c.post(`/v1/companies/${COMPANY}/local-users`, { login: 'intruder', password: 'a long enough password', firstName: 'I', lastName: 'N', role: 'collaborator' }),
  },
  { name: 'patch a member', send: (c) => c.patch(`/v1/companies/${COMPANY}/members/carl`, { applicationAccess: true }) },
  { name: 'remove a member', send: (c) => c.delete(`/v1/companies/${COMPANY}/members/carl`) },
  { name: 'edit a company role', send: (c) => c.put(`/v1/companies/${COMPANY}/roles/company/manager`, { permissions: [] }) },
  { name: 'create a project role', send: (c) => c.post(`/v1/companies/${COMPANY}/roles/project`, { key: 'spy', name: 'Spy', permissions: [] }) },
  { name: 'create a team', send: (c) => c.post(`/v1/companies/${COMPANY}/teams`, { name: 'Intruders' }) },
  { name: 'put a team member', send: (c) => c.put(`/v1/companies/${COMPANY}/teams/t1/members/carl`) },
  { name: 'register a project', send: (c) => c.put(`/v1/companies/${COMPANY}/projects/p-new`, { name: 'Mine' }) },
  { name: 'delete a project', send: (c) => c.delete(`/v1/companies/${COMPANY}/projects/p1`) },
  { name: 'grant a project role', send: (c) => c.put(`/v1/companies/${COMPANY}/projects/p1/members/users/carl`, { role: 'viewer' }) },
];

/**
 * The company's write lock is taken only by callers who may write: strangers and members
 * without the right are refused on a read of their rights before any lock, so they cannot
 * queue behind (or hold up) the company's real writers. A caller who passes that read is
 * checked again under the lock, where the answer is authoritative.
 */
describe.skipIf(!servicesUp)('admin writes authorise before the company lock', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let owner: AdminClient;

  /** Holds the company's row lock, as a long write of another instance would, until `release`. */
  async function holdLock(): Promise<{ client: pg.Client; release(): Promise<void> }> {
    const client = new pg.Client({ connectionString: env.database.url });
    await client.connect();
    await client.query('begin');
    await client.query('select version from policy_versions where company_id = $1 for update', [COMPANY]);
    return {
      client,
      async release() {
        await client.query('commit');
        await client.end();
      },
    };
  }

  /** The answers, or 'still waiting' for those not back within `ms`. */
  async function answersWithin(ms: number, requests: Array<Promise<JsonResponse>>): Promise<Array<JsonResponse | 'still waiting'>> {
    const deadline = sleep(ms).then(() => 'still waiting' as const);
    return Promise.all(requests.map((request) => Promise.race([request, deadline])));
  }

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    owner = adminClient(app.url, 'olga');
    await createCompany(owner, COMPANY);
    const { db } = app.app.store;
    await addMember(db, COMPANY, 'carl', 'collaborator');
    await addMember(db, COMPANY, 'ivan', 'editor', { status: 'inactive' });
    await addMember(db, COMPANY, 'ada', 'admin');
    expect((await owner.put(`/v1/companies/${COMPANY}/projects/p1`, { name: 'P1' })).status).toBe(201);
    expect((await owner.post(`/v1/companies/${COMPANY}/teams`, { id: 't1', name: 'T1' })).status).toBe(201);
  });
  afterAll(() => env?.close());

  it.each([
    ['a stranger', 'sam'],
    ['an inactive member', 'ivan'],
  ])("%s's writes are answered 404 while another transaction holds the lock", async (_who, userId) => {
    const lock = await holdLock();
    try {
      const stranger = adminClient(app.url, userId);
      const answers = await answersWithin(5000, WRITES.map((write) => write.send(stranger)));
      WRITES.forEach((write, i) => {
        expect({ write: write.name, answer: answers[i] === 'still waiting' ? 'still waiting' : answers[i]!.status }).toEqual({ write: write.name, answer: 404 });
        expect(answers[i]).toMatchObject({ body: { error: { code: 'not_found', message: `company ${COMPANY} not found` } } });
      });
    } finally {
      await lock.release();
    }
  });

  it("a member without the right gets 403 while the lock is held", async () => {
    const lock = await holdLock();
    try {
      const carl = adminClient(app.url, 'carl');
      const answers = await answersWithin(5000, WRITES.map((write) => write.send(carl)));
      WRITES.forEach((write, i) => {
        expect({ write: write.name, answer: answers[i] === 'still waiting' ? 'still waiting' : answers[i]!.status }).toEqual({ write: write.name, answer: 403 });
        expect(answers[i]).toMatchObject({ body: { error: { code: 'forbidden' } } });
      });
    } finally {
      await lock.release();
    }
  });

  it('a caller who may write waits for the lock, and is checked again under it: rights lost meanwhile refuse the write', async () => {
    const lock = await holdLock();
    const pending = adminClient(app.url, 'ada').patch(`/v1/companies/${COMPANY}`, { name: 'Renamed by Ada' });
    try {
      expect(await answersWithin(1000, [pending])).toEqual(['still waiting']);
      // Ada is deactivated by whoever held the lock: her early read said admin, the one under the lock says otherwise.
      await lock.client.query("update memberships set status = 'inactive' where company_id = $1 and user_id = 'ada'", [COMPANY]);
    } finally {
      await lock.release();
    }
    expect(await pending).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect((await owner.get(`/v1/companies/${COMPANY}`)).body.name).toBe(`Company ${COMPANY}`);
  });

  it('the owner still writes once the lock is free', async () => {
    expect(await owner.patch(`/v1/companies/${COMPANY}`, { name: 'Still ours' })).toMatchObject({ status: 200, body: { name: 'Still ours' } });
  });
});
