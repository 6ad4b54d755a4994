/**
 * Castellan's HTTP API as the load test's setup uses it (admin API for sampling and the
 * synthetic company, check API for classifying questions): plain fetch, off the measured path.
 */

export interface ApiAnswer<T> {
  status: number;
  body: T;
  headers: Headers;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  url: string;
  checkToken: string | null;
  /** How long one setup call may take. */
  timeoutMs?: number;
}

const RETRY_STATUSES = new Set([429, 503]);

export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  /** One call; 429 and 503 are retried after their Retry-After (the scrypt line, a store hiccup), a few times. */
  async call<T = any>(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<ApiAnswer<T>> {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(new URL(path, this.options.url), {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
      });
      const text = await response.text();
      if (RETRY_STATUSES.has(response.status) && attempt < 20) {
        const seconds = Number(response.headers.get('retry-after'));
        await new Promise((r) => setTimeout(r, Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 10) * 1000 : 250 * (attempt + 1)));
        continue;
      }
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: kept as text
      }
      return { status: response.status, body: parsed as T, headers: response.headers };
    }
  }

  /** An admin API call as the holder of `token`; anything but `expect` is an ApiError naming the call and the answer. */
  async admin<T = any>(token: string, method: string, path: string, body?: unknown, expect: readonly number[] = [200, 201]): Promise<T> {
    const answer = await this.call<T>(method, path, body, { authorization: `Bearer ${token}` });
    if (!expect.includes(answer.status)) throw new ApiError(`${method} ${path} answered ${answer.status}: ${describe(answer.body)}`, answer.status);
    return answer.body;
  }

  /** A check API call with the deployment's CHECK_TOKEN. */
  async check<T = any>(path: string, body: unknown): Promise<T> {
    const answer = await this.call<T>('POST', path, body, this.options.checkToken ? { authorization: `Bearer ${this.options.checkToken}` } : {});
    if (answer.status === 401) throw new ApiError(`POST ${path} answered 401: the check API wants CHECK_TOKEN (--check-token or the CHECK_TOKEN variable)`, 401);
    if (answer.status !== 200) throw new ApiError(`POST ${path} answered ${answer.status}: ${describe(answer.body)}`, answer.status);
    return answer.body;
  }
}

function describe(body: unknown): string {
  const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
  if (error?.message) return `${error.code ?? 'error'}: ${error.message}`;
  return typeof body === 'string' ? body.slice(0, 200) : JSON.stringify(body)?.slice(0, 200);
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
