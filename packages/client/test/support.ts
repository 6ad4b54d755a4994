import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestEnvironment, type TestApp, type TestEnvironment } from '../../../test/support/app.js';
import { seedCompany } from '../../../test/check/seed.js';

/**
 * A real Castellan on PostgreSQL and Redis with one company: `collab` holds contributor on
 * p1 only, `editor` sees every registered project, p3 is not registered.
 */
export async function startCastellan(extra: Record<string, string> = {}): Promise<{ env: TestEnvironment; app: TestApp }> {
  const env = await createTestEnvironment(extra);
  const app = await env.start();
  await seedCompany(app.app.store.db, app.app.policies, {
    id: 'acme',
    members: [
      { id: 'collab', role: 'collaborator' },
      { id: 'editor', role: 'editor' },
      { id: 'gone', role: 'editor', status: 'inactive' },
    ],
    projects: ['p1', 'p2'],
    grants: [{ project: 'p1', role: 'contributor', user: 'collab' }],
  });
  return { env, app };
}

export const collab = { company: 'acme', principal: { id: 'collab' } } as const;

/** fetch, with every request's method, path and answer status written down: what went over the wire. */
export function recordingFetch() {
  const sent: Array<{ method: string; path: string; status?: number; ifNoneMatch?: string | undefined }> = [];
  const recording: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    const entry: (typeof sent)[number] = { method: init?.method ?? 'GET', path: new URL(String(input)).pathname, ifNoneMatch: headers.get('if-none-match') ?? undefined };
    sent.push(entry);
    const response = await fetch(input, init);
    entry.status = response.status;
    return response;
  };
  return { sent, fetch: recording, paths: () => sent.map((s) => s.path) };
}

/** A real HTTP server that answers whatever `handle` writes: Castellan's place taken by something broken. */
export async function startHttpServer(handle: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
