import type { Session } from './session.js';
import type { BatchAnswer, CheckQuestion } from './types.js';

/** An error answer of the API, as it worded it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(message);
  }
}

export interface Reply<T> {
  body: T;
  headers: Headers;
}

let current: Session | null = null;
let onExpired: (reason: string) => void = () => {};

export function useSession(session: Session | null, expired: (reason: string) => void): void {
  current = session;
  onExpired = expired;
}

export const session = (): Session => {
  if (!current) throw new Error('not signed in');
  return current;
};

/** The company's own admin API paths. */
export const companyPath = (rest = ''): string => `/v1/companies/${encodeURIComponent(session().company)}${rest}`;
export const enc = encodeURIComponent;

async function send<T>(method: string, path: string, body: unknown, headers: Record<string, string>, auth: boolean): Promise<Reply<T>> {
  const init: RequestInit = { method, headers: { accept: 'application/json', ...headers }, cache: 'no-store', credentials: 'omit' };
  if (auth && current) (init.headers as Record<string, string>).authorization = `Bearer ${current.token}`;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'Castellan could not be reached. Check your connection and try again.', undefined);
  }
  const text = await response.text();
  let parsed: any = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const error = parsed?.error;
    const apiError = new ApiError(
      response.status,
      typeof error?.code === 'string' ? error.code : `http_${response.status}`,
      typeof error?.message === 'string' ? error.message : `${response.status} ${response.statusText}`,
      error?.details,
    );
    // The caller's token was refused (expired, or its key rotated away): back to sign in,
    // keeping what they were doing. A refused check-API credential is the instance's setup, not theirs.
    if (auth && response.status === 401 && apiError.details?.credential !== 'check_token') onExpired(apiError.message);
    throw apiError;
  }
  return { body: parsed as T, headers: response.headers };
}

export const api = {
  get: <T>(path: string) => send<T>('GET', path, undefined, {}, true),
  post: <T>(path: string, body?: unknown) => send<T>('POST', path, body, {}, true),
  put: <T>(path: string, body?: unknown, headers: Record<string, string> = {}) => send<T>('PUT', path, body, headers, true),
  patch: <T>(path: string, body: unknown) => send<T>('PATCH', path, body, {}, true),
  delete: <T>(path: string, headers: Record<string, string> = {}) => send<T>('DELETE', path, undefined, headers, true),
  /** Unauthenticated: the local sign-in. */
  anonymous: <T>(method: string, path: string, body?: unknown) => send<T>(method, path, body, {}, false),
};

/**
 * A call to the check API about the signed-in user, with their own token as the credential:
 * where the operator set CHECK_TOKEN, Castellan answers a user's token about that user only
 * (README, Check API), which is all the console asks it. A refusal of that token is the
 * session's end, whatever credential the refusal names.
 */
export async function checkApi<T>(path: string, body?: unknown, options: { aboutSelf: boolean } = { aboutSelf: true }): Promise<T> {
  try {
    return (await send<T>(body === undefined ? 'GET' : 'POST', path, body, {}, true)).body;
  } catch (error) {
    // About someone else, the same refusal only says this instance keeps such questions for services.
    if (options.aboutSelf && error instanceof ApiError && error.status === 401 && error.details?.credential === 'check_token') onExpired(error.message);
    throw error;
  }
}

/** Whether the check API refused a question for want of CHECK_TOKEN (one about another user, on an instance that has one). */
export const isCheckTokenRefusal = (error: unknown): boolean => error instanceof ApiError && error.status === 401 && error.details?.credential === 'check_token';

/**
 * What the signed-in caller may do, asked of the check API in one batch per page. The
 * answers only decide which controls are offered: the admin API still decides every write.
 */
export async function can<K extends string>(questions: Record<K, CheckQuestion>): Promise<Record<K, boolean>> {
  const keys = Object.keys(questions) as K[];
  if (!keys.length) return {} as Record<K, boolean>;
  const body = await checkApi<BatchAnswer>('/v1/check/batch', {
    company: session().company,
    principal: { id: session().userId },
    checks: keys.map((k) => questions[k]),
  });
  return Object.fromEntries(keys.map((k, i) => [k, body.results[i]?.allowed === true])) as Record<K, boolean>;
}
