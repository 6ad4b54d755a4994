import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT } from 'jose';
import { sql, type Kysely } from 'kysely';
import { ForbiddenError, TooManyRequestsError, UnauthenticatedError, UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/schema.js';
import type { HashQueue } from './hash-queue.js';
import { createPhantomAttempts, failureDelayMs, LOCK_MS, MAX_FAILED_ATTEMPTS, retryAfterSeconds } from './lockout.js';
import { hashPassword, needsRehash, verifyPassword } from './passwords.js';
import type { OwnKeys } from './signing-keys.js';
import { ACCESS_TOKEN_TTL_SECONDS, OWN_AUDIENCE, OWN_ISSUER } from './tokens.js';

export interface LoginRequest {
  company: string;
  login: string;
  password: string;
}

export interface TokenResponse {
  accessToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

const INVALID = 'invalid login or password';

/** A database (or key store) failure is the server's problem, not a wrong password: 503, never a token. */
export async function fromStore<T>(logger: Logger, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    logger.warn({ err: error }, 'postgres unavailable for authentication');
    throw new UnavailableError('the credential store is unreachable', { dependency: 'postgres' });
  }
}

function locked(seconds: number): TooManyRequestsError {
  return new TooManyRequestsError('too many failed logins; try again later', seconds);
}

/** Signs an access token for a local user with Castellan's current key. */
export async function issueLocalToken(keys: OwnKeys, logger: Logger, userId: string, companyId: string): Promise<TokenResponse> {
  const { kid, key } = await fromStore(logger, () => keys.signingKey());
  const accessToken = await new SignJWT({ company: companyId })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setIssuer(OWN_ISSUER)
    .setAudience(OWN_AUDIENCE)
    .setSubject(userId)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(`${ACCESS_TOKEN_TTL_SECONDS}s`)
    .sign(key);
  return { accessToken, expiresIn: ACCESS_TOKEN_TTL_SECONDS, tokenType: 'Bearer' };
}

/** What the password check leaves to do once its place in the hashing line is given back. */
type Checked = { ok: true; userId: string; rehash: string | null } | { ok: false; failedAttempts: number };

/** `POST /v1/auth/token` for local users (D3): password check, lockout, token. */
export function createLocalLogin(deps: { db: Kysely<Database>; keys: OwnKeys; logger: Logger; hashing: HashQueue }) {
  const { db, keys, logger, hashing } = deps;
  const phantoms = createPhantomAttempts();
  // Unknown logins are checked against this, so they take as long as known ones.
  const dummyHash = hashPassword(randomBytes(32).toString('hex'));

  /**
   * Counts the attempt and reads the hash in one statement. The row lock serialises
   * concurrent attempts, so no more than MAX_FAILED_ATTEMPTS are ever let through per lock.
   */
  function reserve(companyId: string, login: string) {
    return db
      .updateTable('local_credentials')
      .set({
        failed_attempts: sql<number>`failed_attempts + 1`,
        locked_until: sql<Date | null>`case when failed_attempts + 1 >= ${MAX_FAILED_ATTEMPTS} then now() + ${LOCK_MS} * interval '1 millisecond' else locked_until end`,
      })
      .where('company_id', '=', companyId)
      .where('login', '=', login)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', sql<Date>`now()`)]))
      .returning(['user_id', 'password_hash', 'failed_attempts'])
      .executeTakeFirst();
  }

  /** Nothing reserved: either the login is locked or it does not exist. */
  async function checkUnreserved(request: LoginRequest): Promise<Checked> {
    const row = await fromStore(logger, () =>
      db
        .selectFrom('local_credentials')
        .select(['locked_until', sql<Date>`now()`.as('now')])
        .where('company_id', '=', request.company)
        .where('login', '=', request.login)
        .executeTakeFirst(),
    );
    // The lock may have ended between the two statements: 1 s and a retry is the honest answer.
    if (row) throw locked(row.locked_until ? retryAfterSeconds(row.locked_until.getTime(), row.now.getTime()) : 1);

    const reservation = phantoms.reserve(`${request.company}\u0000${request.login}`, Date.now());
    if (!reservation.ok) throw locked(reservation.retryAfterSeconds);
    await verifyPassword(request.password, await dummyHash);
    return { ok: false, failedAttempts: reservation.attempts };
  }

  /** Counts the attempt and checks the password; runs holding a place in the hashing line. */
  async function checkPassword(request: LoginRequest): Promise<Checked> {
    const reserved = await fromStore(logger, () => reserve(request.company, request.login));
    if (!reserved) return checkUnreserved(request);
    if (!(await verifyPassword(request.password, reserved.password_hash))) {
      if (reserved.failed_attempts === MAX_FAILED_ATTEMPTS) {
        logger.warn({ company: request.company, userId: reserved.user_id }, 'local login locked after repeated failures');
      }
      return { ok: false, failedAttempts: reserved.failed_attempts };
    }
    return { ok: true, userId: reserved.user_id, rehash: needsRehash(reserved.password_hash) ? await hashPassword(request.password) : null };
  }

  return async function login(request: LoginRequest): Promise<TokenResponse> {
    // The place in line comes before the attempt is counted: a login refused as busy (429)
    // has not used up any of its lockout allowance.
    const checked = await hashing.run(() => checkPassword(request));
    if (!checked.ok) {
      // Served after giving the place back: a slow answer must not hold up other logins' hashes.
      await sleep(failureDelayMs(checked.failedAttempts));
      throw new UnauthenticatedError(INVALID);
    }

    const membership = await fromStore(logger, async () => {
      await db
        .updateTable('local_credentials')
        .set({ failed_attempts: 0, locked_until: null, ...(checked.rehash ? { password_hash: checked.rehash } : {}) })
        .where('user_id', '=', checked.userId)
        .execute();
      return db
        .selectFrom('memberships')
        .select('status')
        .where('company_id', '=', request.company)
        .where('user_id', '=', checked.userId)
        .executeTakeFirst();
    });
    // Only after the right password: a wrong one must not reveal the membership's state.
    if (membership?.status !== 'active') throw new ForbiddenError('this account has no active membership in the company');

    return issueLocalToken(keys, logger, checked.userId, request.company);
  };
}
