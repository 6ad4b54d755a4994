import http from 'node:http';

export interface HttpAnswer {
  status: number;
  text: string;
  /** Request written to last byte read, in milliseconds. */
  ms: number;
}

/** A keep-alive client for the bench's own calls (warming, polling, timing single requests). */
export class HttpClient {
  readonly #agent: http.Agent;
  constructor(maxSockets = 64) {
    this.#agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  request(method: string, url: string, body?: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = http.request(url, {
        method,
        agent: this.#agent,
        headers: body === undefined ? headers : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
      req.end(body);
    });
  }

  post(url: string, body: string, headers?: Record<string, string>): Promise<HttpAnswer> {
    return this.request('POST', url, body, headers);
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Runs `task` over every item with at most `concurrency` in flight; results in item order. */
export async function mapConcurrent<T, R>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
