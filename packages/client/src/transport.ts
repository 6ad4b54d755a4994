import { CastellanRequestError, CastellanUnavailableError } from './errors.js';

export interface TransportOptions {
  baseUrl: string;
  checkToken?: string | undefined;
  timeoutMs: number;
  fetch: typeof fetch;
}

export interface Exchange {
  status: number;
  headers: Headers;
  /** The parsed JSON body; undefined for a 304. */
  body: unknown;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Send = (request: HttpRequest) => Promise<Exchange>;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** The contract's error body, or null when the body is something else (a proxy's page, garbage). */
function contractError(body: unknown): { code: string; message: string; details?: Record<string, unknown> } | null {
  const error = isObject(body) ? body.error : undefined;
  if (!isObject(error) || typeof error.code !== 'string' || typeof error.message !== 'string') return null;
  return { code: error.code, message: error.message, ...(isObject(error.details) ? { details: error.details } : {}) };
}

/**
 * What a status and body mean to the client. Only 2xx JSON is an answer; 5xx, 408 and 429
 * are Castellan not deciding now; other 4xx in the contract's shape are refusals; anything
 * else did not come from Castellan's API and is malformed.
 */
export function interpret(status: number, text: string): unknown {
  if (status === 304) return undefined;
  const parsed = parseJson(text);
  if (status >= 200 && status < 300) {
    if (!parsed.ok) throw new CastellanUnavailableError('malformed_answer', `Castellan answered ${status} with a body that is not JSON`, status);
    return parsed.value;
  }
  const error = parsed.ok ? contractError(parsed.value) : null;
  if (status >= 500 || status === 408 || status === 429) {
    const said = error ? `${error.code}: ${error.message}` : `status ${status}`;
    return failWith(new CastellanUnavailableError('server_error', `Castellan could not decide (${said})`, status, error?.code, error?.details));
  }
  if (status >= 400 && error) return failWith(new CastellanRequestError(status, error.code, error.message, error.details));
  return failWith(new CastellanUnavailableError('malformed_answer', `Castellan answered ${status}, which is not an answer of its API`, status));
}

const failWith = (error: Error): never => {
  throw error;
};

function failureOf(error: unknown, signal: AbortSignal, timeoutMs: number, what: string): CastellanUnavailableError {
  if (signal.aborted) return new CastellanUnavailableError('timeout', `Castellan did not answer within ${timeoutMs} ms`, undefined, undefined, undefined, { cause: error });
  const reason = (error as { cause?: { code?: string; message?: string } }).cause;
  return new CastellanUnavailableError('unreachable', `Castellan ${what}: ${reason?.code ?? reason?.message ?? (error as Error).message}`, undefined, undefined, undefined, { cause: error });
}

/** One HTTP exchange with a deadline covering the whole answer, body included. */
export function createTransport(options: TransportOptions): Send {
  const base = options.baseUrl.replace(/\/+$/, '');
  const auth: Record<string, string> = options.checkToken ? { authorization: `Bearer ${options.checkToken}` } : {};
  return async ({ method, path, body, headers }) => {
    const signal = AbortSignal.timeout(options.timeoutMs);
    // A redirect is not an answer: following it would send the check token elsewhere.
    const init: RequestInit = { method, signal, redirect: 'manual', headers: { accept: 'application/json', ...auth, ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    let response: Response;
    try {
      response = await options.fetch(`${base}${path}`, init);
    } catch (error) {
      throw failureOf(error, signal, options.timeoutMs, 'is unreachable');
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw failureOf(error, signal, options.timeoutMs, 'closed the connection before the whole answer');
    }
    return { status: response.status, headers: response.headers, body: interpret(response.status, text) };
  };
}
