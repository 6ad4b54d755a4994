import { timingSafeEqual } from 'node:crypto';

/** Service authentication for the check API: `Authorization: Bearer <CHECK_TOKEN>` when a token is configured. */
export function createCheckTokenGuard(checkToken: string | undefined): (header: string | undefined) => boolean {
  if (!checkToken) return () => true;
  const expected = Buffer.from(`Bearer ${checkToken}`);
  return (header) => {
    if (!header) return false;
    const given = Buffer.from(header);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}
