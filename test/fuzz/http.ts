import http from 'node:http';

export interface RawRequest {
  method: string;
  /** Already percent-encoded, with its query string. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer | undefined;
}

export type RawResponse =
  | { kind: 'response'; status: number; headers: http.IncomingHttpHeaders; body: Buffer; size: number; ms: number }
  | { kind: 'failed'; error: string; ms: number };

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** Sends bytes as given (node:http, not fetch: fetch refuses or rewrites much of what a fuzzer sends). */
export function send(agent: http.Agent, port: number, request: RawRequest, timeoutMs: number): Promise<RawResponse> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (response: RawResponse) => {
      if (!settled) resolve(response);
      settled = true;
    };
    let req: http.ClientRequest;
    try {
      req = http.request({ host: '127.0.0.1', port, method: request.method, path: request.path, headers: request.headers, agent, timeout: timeoutMs });
    } catch (error) {
      // The client refused to send it (a header or path node:http itself forbids): not the server's doing.
      settle({ kind: 'failed', error: `client refused: ${(error as Error).message}`, ms: ms() });
      return;
    }
    req.on('timeout', () => {
      settle({ kind: 'failed', error: `no answer within ${timeoutMs} ms`, ms: ms() });
      req.destroy();
    });
    req.on('error', (error: NodeJS.ErrnoException) => settle({ kind: 'failed', error: error.code ?? error.message, ms: ms() }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        // Past this the size alone fails the case; the rest is read and dropped.
      });
      res.on('error', (error) => settle({ kind: 'failed', error: `response cut: ${error.message}`, ms: ms() }));
      res.on('end', () => settle({ kind: 'response', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), size, ms: ms() }));
    });
    req.end(request.body);
  });
}

/** JSON in and out, for setting the fixtures up. */
export async function call(agent: http.Agent, port: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const response = await send(agent, port, { method, path, headers: { ...headers, ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) }, body: payload }, 30_000);
  if (response.kind === 'failed') throw new Error(`${method} ${path}: ${response.error}`);
  const text = response.body.toString('utf8');
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}
