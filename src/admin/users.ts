import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { Caller } from './context.js';

/** Email domains are case-insensitive and decide Member vs Guest (D4): keep them lowercase. */
export function normaliseEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? email : `${email.slice(0, at)}@${email.slice(at + 1).toLowerCase()}`;
}

/** The identity provider is the source of truth for a platform user's email: keep the latest one seen. */
export async function upsertPlatformUser(trx: Transaction<Database>, caller: Caller): Promise<void> {
  const email = caller.email ? normaliseEmail(caller.email) : null;
  await trx
    .insertInto('users')
    .values({ id: caller.sub, kind: 'platform', email })
    .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ email: eb.fn.coalesce(eb.ref('excluded.email'), eb.ref('users.email')) })))
    .execute();
}
