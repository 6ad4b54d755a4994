import { timingSafeEqual } from 'node:crypto';

/** Whether a presented value equals a configured secret, in constant time; anything passes when none is configured. */
export function createSecretGuard(secret: string | undefined): (presented: string | undefined) => boolean {
  if (!secret) return () => true;
  const expected = Buffer.from(secret);
  return (presented) => {
    if (!presented) return false;
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}

/** Service authentication for the check API: `Authorization: Bearer <CHECK_TOKEN>` when a token is configured. */
export function createCheckTokenGuard(checkToken: string | undefined): (header: string | undefined) => boolean {
  return createSecretGuard(checkToken ? `Bearer ${checkToken}` : undefined);
}
