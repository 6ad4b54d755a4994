import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Shortest password a local user may be given (NIST SP 800-63B asks for at least 8; 12 leaves margin). */
export const PASSWORD_MIN_LENGTH = 12;

/**
 * Current scrypt cost: N = 2^15, r = 8, p = 1 (OWASP's recommended floor), about 32 MiB and
 * tens of milliseconds per hash. Each hash records its own parameters, so raising these later
 * only affects new hashes; `needsRehash` tells the login to upgrade old ones.
 */
const CURRENT = { logN: 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

// Bounds on parameters read back from a stored hash: a corrupted or hostile row must not
// make one login allocate gigabytes or spin for minutes.
const LIMITS = { logN: [10, 20], r: [1, 32], p: [1, 16], keyBytes: [16, 64], saltBytes: [8, 64] } as const;

interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

interface ParsedHash extends ScryptParams {
  salt: Buffer;
  key: Buffer;
}

// PHC string format: $scrypt$ln=15,r=8,p=1$<salt>$<key>, base64 without padding.
const HASH_FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function within(value: number, [min, max]: readonly [number, number]): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/** Reads a stored hash; null when it is not one this module wrote (or its parameters are out of bounds). */
export function parsePasswordHash(stored: string): ParsedHash | null {
  const match = HASH_FORMAT.exec(stored);
  if (!match) return null;
  const [, logN, r, p, salt, key] = match;
  const parsed: ParsedHash = {
    logN: Number(logN),
    r: Number(r),
    p: Number(p),
    salt: Buffer.from(salt!, 'base64'),
    key: Buffer.from(key!, 'base64'),
  };
  const ok =
    within(parsed.logN, LIMITS.logN) &&
    within(parsed.r, LIMITS.r) &&
    within(parsed.p, LIMITS.p) &&
    within(parsed.key.length, LIMITS.keyBytes) &&
    within(parsed.salt.length, LIMITS.saltBytes);
  return ok ? parsed : null;
}

function derive(password: string, salt: Buffer, keyBytes: number, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.logN;
  // scrypt needs 128·N·r bytes; Node's default ceiling (32 MiB) is exactly N = 2^15, r = 8 and too tight.
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r };
  return new Promise((resolve, reject) => {
    // NFC: the same password typed on different systems may arrive composed or decomposed.
    scryptCallback(password.normalize('NFC'), salt, keyBytes, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

/** Hashes a password with scrypt and a fresh random salt; the result carries its parameters. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, CURRENT);
  return `$scrypt$ln=${CURRENT.logN},r=${CURRENT.r},p=${CURRENT.p}$${b64(salt)}$${b64(key)}`;
}

/** Compares a password with a stored hash in constant time; a malformed hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parsePasswordHash(stored);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.key.length, parsed);
  return timingSafeEqual(key, parsed.key);
}

/** True when a stored hash was made with other parameters than today's: rehash it after a successful login. */
export function needsRehash(stored: string): boolean {
  const parsed = parsePasswordHash(stored);
  return !parsed || parsed.logN !== CURRENT.logN || parsed.r !== CURRENT.r || parsed.p !== CURRENT.p || parsed.key.length !== KEY_BYTES;
}
