import { sql, type Kysely, type Transaction } from 'kysely';
import { LicenseLimitError } from '../errors.js';
import type { Database } from '../store/schema.js';

export type LicenseKind = 'user' | 'developer';

export interface LicenseUsage {
  user: { used: number; limit: number };
  developer: { used: number; limit: number };
}

/**
 * Seats in use (D14): memberships holding application (user license) or developer access,
 * platform and local users alike. Invited memberships hold their seat from the invitation
 * on, so accepting can never fail for want of a license; inactive ones give it back, and so
 * do expired invitations (on the database's clock, the one expiry is stamped with), which
 * take it again only if one is free when they are re-invited.
 * Read inside the company's write lock, so concurrent grants count each other.
 */
export async function licenseUsage(trx: Kysely<Database>, companyId: string): Promise<LicenseUsage> {
  const limits = await trx.selectFrom('companies').select(['user_licenses', 'developer_licenses']).where('id', '=', companyId).executeTakeFirstOrThrow();
  const used = await trx
    .selectFrom('memberships')
    .select([sql<number>`count(*) filter (where application_access)::int`.as('users'), sql<number>`count(*) filter (where developer_access)::int`.as('developers')])
    .where('company_id', '=', companyId)
    .where((eb) => eb.or([eb('status', '=', 'active'), eb.and([eb('status', '=', 'invited'), eb('invitation_expires_at', '>', sql<Date>`now()`)])]))
    .executeTakeFirstOrThrow();
  return {
    user: { used: used.users, limit: limits.user_licenses },
    developer: { used: used.developers, limit: limits.developer_licenses },
  };
}

/** Throws license_limit unless `needed` more seats of `kind` fit in the subscription. */
export async function assertSeatsAvailable(trx: Transaction<Database>, companyId: string, needed: Partial<Record<LicenseKind, number>>): Promise<void> {
  if (!needed.user && !needed.developer) return;
  const usage = await licenseUsage(trx, companyId);
  for (const kind of ['user', 'developer'] as const) {
    const extra = needed[kind] ?? 0;
    if (extra > 0 && usage[kind].used + extra > usage[kind].limit) {
      const what = kind === 'user' ? 'user licenses (application access)' : 'developer licenses (developer access)';
      throw new LicenseLimitError(`all ${usage[kind].limit} ${what} are in use`, { license: kind, used: usage[kind].used, limit: usage[kind].limit });
    }
  }
}
