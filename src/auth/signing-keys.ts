import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../store/schema.js';

/** Castellan signs its own tokens with ES256 (P-256): small signatures, fast to verify. */
export const OWN_ALG = 'ES256';

export interface SigningKey {
  kid: string;
  key: CryptoKey;
}

export interface OwnKeys {
  /** Loads (creating if need be) the stored keys; later calls return at once. */
  ready(): Promise<void>;
  /** The key new tokens are signed with: the oldest stored one, so every instance picks the same. */
  signingKey(): Promise<SigningKey>;
  /** The public key with this kid, reloading from the database once per cooldown on an unknown kid. */
  verificationKey(kid: string): Promise<CryptoKey | undefined>;
  /** Every stored public key, for `/.well-known/jwks.json`. */
  publicJwks(): Promise<{ keys: JWK[] }>;
}

const publicJwkSchema = z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string().min(1), y: z.string().min(1) });
const privateJwkSchema = publicJwkSchema.extend({ d: z.string().min(1) });

interface KeyRing {
  signing: SigningKey;
  verifying: Map<string, CryptoKey>;
  jwks: JWK[];
}

// One advisory lock name for key creation: instances starting together against an empty
// table wait for each other, and only the first creates a key.
const CREATE_LOCK = 'castellan:signing_keys:create';

async function createKeyIfNone(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${CREATE_LOCK}))`.execute(trx);
    const existing = await trx.selectFrom('signing_keys').select('kid').where('alg', '=', OWN_ALG).limit(1).executeTakeFirst();
    if (existing) return;
    const pair = await generateKeyPair(OWN_ALG, { extractable: true });
    const publicJwk = publicJwkSchema.parse(await exportJWK(pair.publicKey));
    const privateJwk = privateJwkSchema.parse(await exportJWK(pair.privateKey));
    // RFC 7638 thumbprint: the kid follows from the key itself.
    const kid = await calculateJwkThumbprint(publicJwk);
    await trx
      .insertInto('signing_keys')
      .values({ kid, alg: OWN_ALG, private_jwk: JSON.stringify(privateJwk), public_jwk: JSON.stringify(publicJwk) })
      .execute();
  });
}

async function loadKeyRing(db: Kysely<Database>): Promise<KeyRing | null> {
  const rows = await db
    .selectFrom('signing_keys')
    .select(['kid', 'private_jwk', 'public_jwk'])
    .where('alg', '=', OWN_ALG)
    .orderBy('created_at')
    .orderBy('kid')
    .execute();
  const first = rows[0];
  if (!first) return null;
  const verifying = new Map<string, CryptoKey>();
  const jwks: JWK[] = [];
  for (const row of rows) {
    const publicJwk = publicJwkSchema.parse(row.public_jwk);
    verifying.set(row.kid, await importJWK(publicJwk, OWN_ALG));
    jwks.push({ ...publicJwk, kid: row.kid, alg: OWN_ALG, use: 'sig' });
  }
  const signing = { kid: first.kid, key: await importJWK(privateJwkSchema.parse(first.private_jwk), OWN_ALG) };
  return { signing, verifying, jwks };
}

/** Castellan's own ES256 keys, kept in PostgreSQL so that every instance signs and verifies alike. */
export function createOwnKeys(deps: { db: Kysely<Database>; reloadCooldownMs: number; now?: () => number }): OwnKeys {
  const { db, reloadCooldownMs } = deps;
  const now = deps.now ?? Date.now;
  let ring: KeyRing | null = null;
  let pending: Promise<KeyRing> | null = null;
  let lastLoadAt = -Infinity;

  // One load at a time, shared by every caller waiting for it.
  function load(): Promise<KeyRing> {
    pending ??= (async () => {
      lastLoadAt = now();
      try {
        let loaded = await loadKeyRing(db);
        if (!loaded) {
          await createKeyIfNone(db);
          loaded = await loadKeyRing(db);
        }
        if (!loaded) throw new Error('no signing key after creating one');
        ring = loaded;
        return loaded;
      } finally {
        pending = null;
      }
    })();
    return pending;
  }

  const current = (): Promise<KeyRing> => (ring ? Promise.resolve(ring) : load());

  return {
    ready: async () => void (await current()),
    signingKey: async () => (await current()).signing,
    async verificationKey(kid) {
      const known = (await current()).verifying.get(kid);
      if (known) return known;
      // Unknown kid: another instance may hold a key this one has not seen. Rate-limited,
      // as tokens with made-up kids are free to send.
      if (now() - lastLoadAt < reloadCooldownMs) return undefined;
      return (await load()).verifying.get(kid);
    },
    publicJwks: async () => ({ keys: (await current()).jwks }),
  };
}
