import { subject } from '@casl/ability';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp, TestEnvironment } from '../../../test/support/app.js';
import { writeAndBump } from '../../../test/check/seed.js';
import { servicesUp } from '../../../test/support/services.js';
import { CastellanUnavailableError, createCastellanClient, type CheckRequest } from '../src/index.js';
import { collab, recordingFetch, startCastellan } from './support.js';

const viewP2: CheckRequest = { ...collab, action: 'view', resource: { type: 'Project', id: 'p2' } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!servicesUp)('local evaluation', () => {
  let env: TestEnvironment;
  let app: TestApp;
  beforeAll(async () => {
    ({ env, app } = await startCastellan());
  });
  afterAll(() => env?.close());
  const client = (extra: Partial<Parameters<typeof createCastellanClient>[0]> = {}) => {
    const recorder = recordingFetch();
    return { recorder, client: createCastellanClient({ baseUrl: app.url, timeoutMs: 5000, fetch: recorder.fetch, ...extra }) };
  };
  /** A write as the admin API makes it: in the store, then announced to the instance. */
  const write = async (change: Parameters<typeof writeAndBump>[2]) => {
    const version = await writeAndBump(app.app.store.db, 'acme', change);
    await app.app.bus.announce('acme', version);
    return version;
  };

  it('ability() decides as /v1/check does, on objects, registered projects only', async () => {
    const { client: c } = client();
    const ability = await c.ability('acme', 'collab');
    expect(ability.can('view', subject('Project', { id: 'p1' }))).toBe(true);
    expect(ability.can('view', subject('Project', { id: 'p2' }))).toBe(false);
    const editor = await c.ability('acme', 'editor');
    expect(editor.can('view', subject('Project', { id: 'p2' }))).toBe(true);
    expect(editor.can('view', subject('Project', { id: 'p3' }))).toBe(false);
    const local = await c.checkLocally({ ...collab, action: 'edit', resource: { type: 'Scenario', attributes: { projectId: 'p1' } } });
    const remote = await c.check({ ...collab, action: 'edit', resource: { type: 'Scenario', attributes: { projectId: 'p1' } } });
    expect(local).toEqual(remote);
  });

  it('within refreshMs the cached ability is used; after it, a 304 revalidates it without rules', async () => {
    const { client: c, recorder } = client({ refreshMs: 1500 });
    await c.checkLocally(viewP2);
    await c.checkLocally(viewP2);
    expect(recorder.sent.map((s) => s.status)).toEqual([200]);
    await sleep(2000);
    await c.checkLocally(viewP2);
    expect(recorder.sent).toHaveLength(2);
    expect(recorder.sent[1]).toMatchObject({ status: 304, ifNoneMatch: expect.stringMatching(/^".+"$/) });
  });

  it('a write is seen at the next revalidation, and at once after an answer with the newer version', async () => {
    const { client: c, recorder } = client({ refreshMs: 60_000 });
    expect((await c.checkLocally(viewP2)).allowed).toBe(false);
    const version = await write((trx) => trx.insertInto('project_grants').values({ company_id: 'acme', project_id: 'p2', role_key: 'viewer', user_id: 'collab', team_id: null }).execute());
    // Within refreshMs and nothing seen of the write: the cached rules still answer.
    expect((await c.checkLocally(viewP2)).allowed).toBe(false);
    // An answer of the new version (here a remote check) makes the cached ability revalidate.
    expect(await c.check({ ...collab, action: 'view', resource: { type: 'Project', id: 'p1' } })).toMatchObject({ version });
    expect(await c.checkLocally(viewP2)).toMatchObject({ allowed: true, version });
    expect(recorder.sent.filter((s) => s.path.endsWith('/rules')).map((s) => s.status)).toEqual([200, 200]);
    await write((trx) => trx.deleteFrom('project_grants').where('project_id', '=', 'p2').execute());
  });

  it('a check with a minVersion newer than the cached rules goes to the server', async () => {
    const { client: c, recorder } = client({ refreshMs: 60_000 });
    const before = await c.checkLocally(viewP2);
    const version = await writeAndBump(app.app.store.db, 'acme', (trx) =>
      trx.insertInto('project_grants').values({ company_id: 'acme', project_id: 'p2', role_key: 'viewer', user_id: 'collab', team_id: null }).execute(),
    );
    recorder.sent.length = 0;
    const after = await c.checkLocally({ ...viewP2, consistency: { minVersion: version } });
    expect(recorder.paths()).toEqual(['/v1/check']);
    expect(after).toMatchObject({ allowed: true, version });
    expect(before.allowed).toBe(false);
    // An older minVersion is met by the cached rules: no request.
    recorder.sent.length = 0;
    await c.checkLocally({ ...viewP2, consistency: { minVersion: '1' } });
    expect(recorder.paths().filter((p) => p === '/v1/check')).toEqual([]);
    await write((trx) => trx.deleteFrom('project_grants').where('project_id', '=', 'p2').execute());
  });

  it('principals by token go to the server; the cache keeps the most recent principals only', async () => {
    const { client: c, recorder } = client({ maxAbilities: 2 });
    await c.checkLocally({ company: 'acme', principal: { token: 'not-a-jwt' }, action: 'view', resource: { type: 'Project', id: 'p1' } }).catch(() => undefined);
    expect(recorder.paths()).toEqual(['/v1/check']);
    for (const user of ['collab', 'editor', 'gone', 'collab']) await c.ability('acme', user);
    expect(recorder.paths().filter((p) => p.endsWith('/rules'))).toHaveLength(4);
  });

  it('a stale ability is never used when Castellan cannot be asked', async () => {
    const other = await env.start();
    const c = createCastellanClient({ baseUrl: other.url, timeoutMs: 5000, refreshMs: 200 });
    expect((await c.checkLocally(viewP2)).allowed).toBe(false);
    await other.close();
    await sleep(400);
    await expect(c.checkLocally(viewP2)).rejects.toBeInstanceOf(CastellanUnavailableError);
    await expect(c.ability('acme', 'collab')).rejects.toBeInstanceOf(CastellanUnavailableError);
  });
});
