/**
 * The few HTTP calls the demo makes, to a running Castellan: the embedded store belongs to
 * the server's process (DATA_DIR is locked), so the demo goes through the public admin API
 * like any other client.
 */
export class DemoError extends Error {
  override name = 'DemoError';
}

export interface Reply {
  status: number;
  body: Record<string, unknown>;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Api {
  readonly baseUrl: string;
  call(method: Method, path: string, token: string, body?: unknown): Promise<Reply>;
}

function unreachable(baseUrl: string, error: unknown): DemoError {
  const cause = (error as { cause?: { code?: string } }).cause;
  return new DemoError(
    `nothing answers at ${baseUrl} (${cause?.code ?? String(error)}): start Castellan first (npm start), or set CASTELLAN_URL to where it runs`,
  );
}

export function createApi(baseUrl: string): Api {
  return {
    baseUrl,
    async call(method, path, token, body) {
      let response: Response;
      try {
        response = await fetch(`${baseUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (error) {
        throw unreachable(baseUrl, error);
      }
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new DemoError(`${method} ${path} answered ${response.status} with something that is not JSON: is ${baseUrl} a Castellan?`);
      }
      return { status: response.status, body: (parsed ?? {}) as Record<string, unknown> };
    },
  };
}

/** The reply, when its status is one of those expected; else what the server said, in one line. */
export function expectStatus(reply: Reply, expected: readonly number[], what: string): Reply {
  if (expected.includes(reply.status)) return reply;
  const error = reply.body.error as { code?: string; message?: string } | undefined;
  throw new DemoError(`${what}: answered ${reply.status}${error ? ` ${error.code}: ${error.message}` : ''}`);
}

/** Waits for /readyz, up to `seconds`; a server that answers but is not ready is reported as such. */
export async function waitReady(baseUrl: string, seconds: number, onWait: () => void): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let waited = false;
  for (;;) {
    let last: string;
    try {
      const response = await fetch(`${baseUrl}/readyz`);
      if (response.ok) return;
      last = `${baseUrl}/readyz answered ${response.status}: ${(await response.text()).trim()}`;
    } catch (error) {
      last = unreachable(baseUrl, error).message;
    }
    if (Date.now() >= deadline) throw new DemoError(last);
    if (!waited) onWait();
    waited = true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
