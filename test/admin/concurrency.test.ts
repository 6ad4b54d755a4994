import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, adminClient, createCompany } from '../support/admin.js';
import { createTestEnvironment, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

/**
 * Invariants under concurrent requests: every admin write takes the company's lock
 * before it reads the caller's rights for good (an earlier read only turns strangers away)
 * or counts anything, so racing requests see each other's results. Two instances share the database, as replicas would.
 */
describe.skipIf(!servicesUp)('admin invariants under concurrent requests', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    env = await createTestEnvironment();
    a = await env.start();
    b = await env.start();
  });
  afterAll(() => env?.close());

  const instance = (i: number) => (i % 2 === 0 ? a : b).url;

  it('D14: 20 parallel grants racing for the last license: exactly one wins, the others get license_limit', async () => {
    const owner = adminClient(a.url, 'lena');
    await createCompany(owner, 'seats', { plan: { name: 'team', userLicenses: 5, developerLicenses: 0 } });
    const { db } = a.app.store;
    for (let i = 0; i < 4; i++) await addMember(db, 'seats', `holder-${i}`, 'collaborator', { applicationAccess: true });
    for (let i = 0; i < 20; i++) await addMember(db, 'seats', `racer-${i}`, 'collaborator');

    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => adminClient(instance(i), 'lena').patch(`/v1/companies/seats/members/racer-${i}`, { applicationAccess: true })),
    );
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    const refused = answers.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(19);
    for (const r of refused) expect(r.body.error).toMatchObject({ code: 'license_limit', details: { license: 'user', used: 5, limit: 5 } });
    const holders = await db.selectFrom('memberships').select('user_id').where('company_id', '=', 'seats').where('application_access', '=', true).execute();
    expect(holders).toHaveLength(5);
  });

  it('D11: admins demoting each other at once never leave the ring without an admin, and a demoted admin cannot demote', async () => {
    const owner = adminClient(a.url, 'rhea');
    await createCompany(owner, 'ring');
    const { db } = a.app.store;
    const ring = Array.from({ length: 20 }, (_, i) => `admin-${i}`);
    for (const id of ring) await addMember(db, 'ring', id, 'admin');

    // admin-i demotes admin-(i+1): without the lock every request would see its caller as an admin and all 20 would pass.
    const answers = await Promise.all(
      ring.map((id, i) => adminClient(instance(i), id).patch(`/v1/companies/ring/members/${ring[(i + 1) % ring.length]}`, { role: 'manager' })),
    );
    for (const r of answers) expect([200, 403]).toContain(r.status);
    const succeeded = answers.filter((r) => r.status === 200).length;
    const rows = await db.selectFrom('memberships').select(['user_id', 'role']).where('company_id', '=', 'ring').where('user_id', 'in', ring).execute();
    const remaining = rows.filter((r) => r.role === 'admin').map((r) => r.user_id);
    expect(remaining.length).toBeGreaterThanOrEqual(1);
    expect(remaining.length + succeeded).toBe(ring.length);
    // Every refusal says why: the caller had been demoted by then.
    for (const r of answers.filter((x) => x.status === 403)) expect(r.body.error.code).toBe('forbidden');
    // Each success was made by someone who was still an admin when it ran: the demoter of an
    // admin that remains must have failed.
    for (const id of remaining) {
      const demoterIndex = (ring.indexOf(id) + ring.length - 1) % ring.length;
      expect(answers[demoterIndex]!.status).toBe(403);
    }
  });

  it('D11: every admin deactivating every other at once leaves exactly the owner active', async () => {
    const owner = adminClient(a.url, 'omar');
    await createCompany(owner, 'purge');
    const { db } = a.app.store;
    const admins = ['omar', ...Array.from({ length: 7 }, (_, i) => `admin-${i}`)];
    for (const id of admins.slice(1)) await addMember(db, 'purge', id, 'admin');

    // Only admins administer admins (D12), so each deactivation is made by an admin who may have been deactivated meanwhile.
    const attempts = admins.flatMap((actor) => admins.filter((target) => target !== actor).map((target) => ({ actor, target })));
    const answers = await Promise.all(attempts.map(({ actor, target }, i) => adminClient(instance(i), actor).patch(`/v1/companies/purge/members/${target}`, { status: 'inactive' })));
    answers.forEach((r, i) => {
      const { actor, target } = attempts[i]!;
      if (r.status === 200) return;
      // Refused: the caller had been deactivated by then (they learn nothing: 404), or the target is the owner.
      const allowed = target === 'omar' ? ['not_found', 'last_admin', 'conflict'] : ['not_found'];
      expect(allowed, `${actor} -> ${target}: ${JSON.stringify(r.body)}`).toContain(r.body.error.code);
    });
    // omar's own request reached every other admin while both were active, and omar cannot be deactivated.
    answers.forEach((r, i) => {
      if (attempts[i]!.actor === 'omar') expect(r.status, attempts[i]!.target).toBe(200);
    });
    const active = await db.selectFrom('memberships').select('user_id').where('company_id', '=', 'purge').where('role', '=', 'admin').where('status', '=', 'active').execute();
    expect(active).toEqual([{ user_id: 'omar' }]);
  });
});
