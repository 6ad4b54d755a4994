import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp, TestEnvironment } from '../../../test/support/app.js';
import { servicesUp } from '../../../test/support/services.js';
import { CastellanRequestError, CastellanUnavailableError, createCastellanClient, type CheckRequest } from '../src/index.js';
import { collab, recordingFetch, startCastellan } from './support.js';

const projects = ['p1', 'p2', 'p3'];
/** A mix of allows and denies, so each caller's own answer can be told from its neighbours'. */
const questions = (n: number): CheckRequest[] =>
  Array.from({ length: n }, (_, i) => ({ ...collab, action: i % 4 === 3 ? 'delete' : 'view', resource: { type: 'Scenario', attributes: { projectId: projects[i % 3]! } } }));

describe.skipIf(!servicesUp)('automatic batching', () => {
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

  it('checks of one principal in the same tick go as one batch, each caller getting its own answer', async () => {
    const batched = client();
    const unbatched = client({ batching: false });
    const asked = questions(60);
    const together = await Promise.all(asked.map((q) => batched.client.check(q)));
    const alone = await Promise.all(asked.map((q) => unbatched.client.check(q)));
    expect(batched.recorder.paths()).toEqual(['/v1/check/batch']);
    expect(unbatched.recorder.paths()).toEqual(Array(60).fill('/v1/check'));
    expect(together).toEqual(alone);
    expect(together.map((a) => a.allowed)).toContain(true);
    expect(together.map((a) => a.allowed)).toContain(false);
  });

  it('a lone check goes to /v1/check; other principals, companies and minVersions get batches of their own', async () => {
    const { client: c, recorder } = client();
    await c.check(questions(1)[0]!);
    expect(recorder.paths()).toEqual(['/v1/check']);
    const { version } = await c.check(questions(1)[0]!);
    recorder.sent.length = 0;
    const editor = { company: 'acme', principal: { id: 'editor' } } as const;
    await Promise.all([
      ...questions(3).map((q) => c.check(q)),
      ...questions(3).map((q) => c.check({ ...q, ...editor })),
      ...questions(3).map((q) => c.check({ ...q, consistency: { minVersion: version } })),
    ]);
    expect(recorder.paths()).toEqual(Array(3).fill('/v1/check/batch'));
  });

  it('splits at 1000 checks a batch', async () => {
    const { client: c, recorder } = client();
    const answers = await Promise.all(questions(2500).map((q) => c.check(q)));
    expect(answers).toHaveLength(2500);
    expect(recorder.paths()).toEqual(Array(3).fill('/v1/check/batch'));
    const small = client({ maxBatchSize: 10 });
    await Promise.all(questions(25).map((q) => small.client.check(q)));
    expect(small.recorder.paths()).toEqual(Array(3).fill('/v1/check/batch'));
  });

  it('a check the server refuses fails for its caller alone, as it would have on its own', async () => {
    const { client: c, recorder } = client();
    const asked = questions(8);
    asked[5] = { ...asked[5]!, action: 'fly' as never };
    const settled = await Promise.allSettled(asked.map((q) => c.check(q)));
    const refused = settled[5]!;
    expect(refused.status).toBe('rejected');
    const reason = (refused as PromiseRejectedResult).reason as CastellanRequestError;
    expect(reason).toBeInstanceOf(CastellanRequestError);
    expect(reason).toMatchObject({ status: 400, details: { path: 'action' } });
    expect(reason.message).not.toMatch(/checks\.5/);
    const alone = await createCastellanClient({ baseUrl: app.url, timeoutMs: 5000 }).check(asked[5]!).catch((e: unknown) => e);
    expect((alone as CastellanRequestError).details).toEqual(reason.details);
    for (const [i, outcome] of settled.entries()) if (i !== 5) expect(outcome.status, `check ${i}`).toBe('fulfilled');
    expect(recorder.paths()).toEqual(['/v1/check/batch', '/v1/check/batch']);
  });

  it('a failure shared by the batch reaches every caller as an error of its own', async () => {
    const stopped = await env.start();
    await stopped.close();
    const c = createCastellanClient({ baseUrl: stopped.url, timeoutMs: 5000 });
    const settled = await Promise.allSettled(questions(20).map((q) => c.check(q)));
    const errors = settled.map((s) => (s as PromiseRejectedResult).reason as unknown);
    for (const error of errors) expect(error).toBeInstanceOf(CastellanUnavailableError);
    expect(new Set(errors).size).toBe(20);
  });
});
