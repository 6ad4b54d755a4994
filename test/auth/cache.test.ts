import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuth, type CastellanAuth } from '../../src/auth/auth.js';
import { createHashQueue } from '../../src/auth/hash-queue.js';
import { createLogger } from '../../src/log.js';
import { openStore, type Store } from '../../src/store/database.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import { signToken, TEST_JWT_SECRET } from '../support/app.js';

// Embedded PGlite: Auth keeps its own signing keys in the database even when only external tokens are used.
describe('Auth.verify on embedded PGlite', () => {
  let store: Store;
  let auth: CastellanAuth;

  beforeAll(async () => {
    store = await openStore({ dataDir: 'memory://' });
    await migrateToLatest(store.db);
    auth = await createAuth({ db: store.db, config: { jwtSecret: TEST_JWT_SECRET }, logger: createLogger('silent'), hashing: createHashQueue({ concurrency: 1, maxWaiting: 16 }) });
  });
  afterAll(() => store?.close());

  it('answers a repeated token from the cache: the same frozen claims object', async () => {
    const token = await signToken('alice', { email: 'alice@example.test', email_verified: true });
    const first = await auth.verify(token);
    expect(first).toEqual({ sub: 'alice', email: 'alice@example.test' });
    expect(Object.isFrozen(first)).toBe(true);
    expect(await auth.verify(token)).toBe(first);
    expect(await auth.verify(await signToken('alice', { email: 'alice@example.test', email_verified: true }, TEST_JWT_SECRET, '9m'))).not.toBe(first);
  });

  it('does not cache failures', async () => {
    const token = await signToken('alice', {}, 'another-secret-that-is-at-least-32-characters');
    await expect(auth.verify(token)).rejects.toThrow('token signature is invalid');
    await expect(auth.verify(token)).rejects.toThrow('token signature is invalid');
  });

  it('created one ES256 signing key in the database', async () => {
    expect((await auth.publicJwks()).keys).toEqual([expect.objectContaining({ kty: 'EC', alg: 'ES256', use: 'sig' })]);
    expect(await store.db.selectFrom('signing_keys').select('alg').execute()).toEqual([{ alg: 'ES256' }]);
  });
});
