/**
 * Local-user lockout. The database applies the same rules in one atomic UPDATE (see
 * login.ts); the functions here are the rules themselves, and an in-process copy of them
 * for logins that do not exist, so a lockout does not tell which logins do.
 */

/** Five consecutive failures cover typos and a forgotten caps lock; more looks like guessing. */
export const MAX_FAILED_ATTEMPTS = 5;

/**
 * A locked login refuses every attempt, even the right password, for this long. A minute
 * caps online guessing at a handful of tries per minute per login while a person who
 * mistyped waits only briefly. Every further failure after the threshold locks again.
 */
export const LOCK_MS = 60_000;

/**
 * Failures from the third on are answered this much later per failure, so a script reaches
 * the lock slower than a person retyping; the lock, not the delay, is what holds under
 * parallel guessing.
 */
export const FAILURE_DELAY_STEP_MS = 200;

export interface AttemptState {
  failedAttempts: number;
  lockedUntilMs: number | null;
}

export type Reservation =
  | { ok: true; attempts: number; next: AttemptState }
  | { ok: false; retryAfterSeconds: number };

/** Whole seconds until a lock ends, at least 1 (a Retry-After of 0 invites an immediate retry). */
export function retryAfterSeconds(lockedUntilMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((lockedUntilMs - nowMs) / 1000));
}

/**
 * Counts an attempt before the password is checked (a success resets the count), so
 * parallel guesses cannot all slip in under the threshold. Refused while locked.
 */
export function reserveAttempt(state: AttemptState, nowMs: number): Reservation {
  if (state.lockedUntilMs !== null && state.lockedUntilMs > nowMs) {
    return { ok: false, retryAfterSeconds: retryAfterSeconds(state.lockedUntilMs, nowMs) };
  }
  const attempts = state.failedAttempts + 1;
  return {
    ok: true,
    attempts,
    next: { failedAttempts: attempts, lockedUntilMs: attempts >= MAX_FAILED_ATTEMPTS ? nowMs + LOCK_MS : state.lockedUntilMs },
  };
}

/** How long to hold back the answer to the `attempts`-th consecutive failure. */
export function failureDelayMs(attempts: number): number {
  if (attempts >= MAX_FAILED_ATTEMPTS) return 0; // locked now: the 429s that follow say the rest
  return Math.max(0, attempts - 2) * FAILURE_DELAY_STEP_MS;
}

/**
 * The lockout rules for logins that do not exist, in process and bounded: an attacker
 * probing for logins sees a lockout on made-up ones too. Per instance only (documented).
 */
export function createPhantomAttempts(maxEntries = 10_000) {
  const states = new Map<string, AttemptState>();
  return {
    reserve(key: string, nowMs: number): Reservation {
      const reservation = reserveAttempt(states.get(key) ?? { failedAttempts: 0, lockedUntilMs: null }, nowMs);
      if (reservation.ok) {
        states.delete(key); // re-insert last: the Map's order is then least recently tried first
        states.set(key, reservation.next);
        if (states.size > maxEntries) states.delete(states.keys().next().value!);
      }
      return reservation;
    },
  };
}
