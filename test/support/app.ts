import { SignJWT } from 'jose';
import { createCastellan, type Castellan } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { TEST_REDIS_URL, createTestDatabase, uniqueName, type TestDatabase } from './services.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long';
/** OPERATOR_TOKEN of every test instance: the platform's billing side, which sets plans and licenses. */
export const TEST_OPERATOR_TOKEN = 'test-operator-token-that-is-32-characters-or-more';
/** Request headers that carry the operator credential, beside a user's bearer token or alone. */
export const operatorHeaders = (token = TEST_OPERATOR_TOKEN): Record<string, string> => ({ 'x-castellan-operator-token': token });

export interface TestApp {
  app: Castellan;
  url: string;
  close(): Promise<void>;
}

/** Starts an instance on a free loopback port. */
export async function startApp(env: Record<string, string> = {}): Promise<TestApp> {
  const config: Config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', AUTH_JWT_SECRET: TEST_JWT_SECRET, OPERATOR_TOKEN: TEST_OPERATOR_TOKEN, ...env });
  const app = await createCastellan(config, { logger: createLogger(config.LOG_LEVEL) });
  const url = await app.listen();
  return { app, url, close: () => app.close() };
}

export interface TestEnvironment {
  database: TestDatabase;
  env: Record<string, string>;
  start(extra?: Record<string, string>): Promise<TestApp>;
  close(): Promise<void>;
}

/** A test file's own database and Redis key prefix; `start` may be called more than once (several instances). */
export async function createTestEnvironment(extra: Record<string, string> = {}): Promise<TestEnvironment> {
  const database = await createTestDatabase();
  // CACHE_L2_WAIT_MS at its maximum: which tier answers a load is then up to the test, not to how
  // busy the machine is (with the 5 ms default, a GET slowed by a loaded CI host reads PostgreSQL).
  const env = { DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: `${uniqueName('t')}:`, CACHE_L2_WAIT_MS: '60000', ...extra };
  const started: TestApp[] = [];
  return {
    database,
    env,
    async start(more = {}) {
      const app = await startApp({ ...env, ...more });
      started.push(app);
      return app;
    },
    async close() {
      for (const app of started) await app.close();
      await database.drop();
    },
  };
}

/** An HS256 token as an external identity provider would issue it in development. */
export function signToken(sub: string, claims: Record<string, unknown> = {}, secret = TEST_JWT_SECRET, expiresIn = '10m'): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

export interface JsonResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** fetch with JSON in and out. */
export async function api<T = any>(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // leave as text
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}
