import { sql, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { Caller } from './context.js';

// ASCII-only case folding lives with the email rules; admin code folds with the same function.
export { asciiLowerCase } from '../auth/email.js';
import { asciiLowerCase } from '../auth/email.js';

/** SQL's lower() folds by the database's locale, look-alikes included: this folds A-Z only. */
export function asciiLowerSql(text: RawBuilder<string | null>): RawBuilder<string> {
  return sql<string>`translate(${text}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`;
}

/**
 * D4, in SQL over a membership `m` joined to its user `u`: the user's email domain is one the
 * membership's company registered (Member), else they are a Guest there.
 */
export const domainMemberSql = (): RawBuilder<boolean> =>
  sql<boolean>`exists (select 1 from company_domains d where d.company_id = m.company_id and d.domain = ${asciiLowerSql(sql<string | null>`substring(u.email from '@([^@]*)$')`)})`;

/** An invitation past its expiry, over a membership `m`, on the database's clock (the one that stamped it): instances agree on it. */
export const invitationExpiredSql = (): RawBuilder<boolean> => sql<boolean>`(m.status = 'invited' and m.invitation_expires_at <= now())`;

/** Email domains are case-insensitive and decide Member vs Guest (D4): keep them lowercase. */
export function normaliseEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? email : `${email.slice(0, at)}@${asciiLowerCase(email.slice(at + 1))}`;
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
