import type { Kysely, Transaction } from 'kysely';
import { NotFoundError } from '../errors.js';
import type { Policies } from '../policy/catalog.js';
import type { Database } from '../store/schema.js';
import { bumpPolicyVersion } from '../store/versions.js';
import { loadRights, type Caller, type CallerRights } from './context.js';

export interface AuditEntry {
  action: string;
  target: string;
  before?: unknown;
  after?: unknown;
}

export interface WriteContext {
  trx: Transaction<Database>;
  rights: CallerRights;
  /** The company's policy version this write produces. */
  version: string;
  /** Records one audit entry (D22); written in the same transaction, stamped with `version`. */
  audit(entry: AuditEntry): void;
}

export interface WriteDeps {
  db: Kysely<Database>;
  policies: Policies;
  announce: (companyId: string, version: string) => Promise<void>;
}

/**
 * Runs one admin write on one company:
 * 1. bumps the company's policy version first, which takes the company's row lock and so
 *    serialises concurrent writers (two admins demoting each other see each other's result);
 * 2. loads the caller's rights inside the same transaction, after the lock;
 * 3. runs `work`, which starts with its permission assertion;
 * 4. writes the audit entries and commits, then announces the new version to every instance.
 */
export async function writeCompany<T>(deps: WriteDeps, caller: Caller, companyId: string, work: (ctx: WriteContext) => Promise<T>): Promise<{ result: T; version: string }> {
  const entries: AuditEntry[] = [];
  const outcome = await deps.db.transaction().execute(async (trx) => {
    let version: string;
    try {
      version = await bumpPolicyVersion(trx, companyId);
    } catch {
      throw new NotFoundError(`company ${companyId} not found`);
    }
    const rights = await loadRights(trx, deps.policies, caller, companyId);
    const result = await work({ trx, rights, version, audit: (entry) => entries.push(entry) });
    if (entries.length) {
      await trx
        .insertInto('audit_log')
        .values(
          entries.map((entry) => ({
            company_id: companyId,
            actor: caller.sub,
            action: entry.action,
            target: entry.target,
            before: entry.before === undefined ? null : JSON.stringify(entry.before),
            after: entry.after === undefined ? null : JSON.stringify(entry.after),
            version,
          })),
        )
        .execute();
    }
    return { result, version };
  });
  await deps.announce(companyId, outcome.version);
  return outcome;
}

/** Reads run on the caller's fresh rights (never cached): admin decisions read their own writes. */
export async function readCompany<T>(deps: Pick<WriteDeps, 'db' | 'policies'>, caller: Caller, companyId: string, work: (rights: CallerRights) => Promise<T>): Promise<T> {
  const rights = await loadRights(deps.db, deps.policies, caller, companyId);
  return work(rights);
}
