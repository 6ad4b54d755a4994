import type { Kysely, Transaction } from 'kysely';
import { NotFoundError } from '../errors.js';
import type { Policies } from '../policy/catalog.js';
import type { Database } from '../store/schema.js';
import { bumpPolicyVersion, lockCompany } from '../store/versions.js';
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
  /** Records one audit entry (D22); written in the same transaction, stamped with the write's version. */
  audit(entry: AuditEntry): void;
  /**
   * With `bump: 'on-change'`: call before the first change that can alter a decision.
   * It bumps the version once (the company is locked already); a no-op otherwise.
   */
  changing(): Promise<void>;
}

export interface WriteDeps {
  db: Kysely<Database>;
  policies: Policies;
  announce: (companyId: string, version: string) => Promise<void>;
}

export interface WriteOptions {
  /**
   * When the company's policy version moves (which empties caches everywhere):
   * - `always` (default): every write of this kind can change a decision;
   * - `never`: it cannot (names, domains, licenses): same lock, same version;
   * - `on-change`: only once the work calls `changing()`, so an idempotent repeat (the same
   *   PUT sent twice, a retry after a lost answer) keeps the version and the caches.
   */
  bump?: 'always' | 'never' | 'on-change';
}

/** Appends audit entries in the caller's transaction, so the log and the change commit together. */
export async function insertAudit(trx: Transaction<Database>, companyId: string, actor: string, version: string, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await trx
    .insertInto('audit_log')
    .values(
      entries.map((entry) => ({
        company_id: companyId,
        actor,
        action: entry.action,
        target: entry.target,
        before: entry.before === undefined ? null : JSON.stringify(entry.before),
        after: entry.after === undefined ? null : JSON.stringify(entry.after),
        version,
      })),
    )
    .execute();
}

/**
 * Runs one admin write on one company:
 * 1. bumps the company's policy version first, which takes the company's row lock and so
 *    serialises concurrent writers (two admins demoting each other see each other's result);
 * 2. loads the caller's rights inside the same transaction, after the lock;
 * 3. runs `work`, which starts with its permission assertion;
 * 4. writes the audit entries and commits, then announces the new version to every instance.
 */
export async function writeCompany<T>(
  deps: WriteDeps,
  caller: Caller,
  companyId: string,
  work: (ctx: WriteContext) => Promise<T>,
  options: WriteOptions = {},
): Promise<{ result: T; version: string }> {
  const bump = options.bump ?? 'always';
  const outcome = await deps.db.transaction().execute(async (trx) => {
    let version = bump === 'always' ? await bumpPolicyVersion(trx, companyId) : await lockCompany(trx, companyId);
    if (version === null) throw new NotFoundError(`company ${companyId} not found`);
    let bumped = bump === 'always';
    const rights = await loadRights(trx, deps.policies, caller, companyId);
    const entries: AuditEntry[] = [];
    const changing = async () => {
      if (bumped || bump !== 'on-change') return;
      bumped = true;
      version = (await bumpPolicyVersion(trx, companyId)) ?? version;
    };
    const result = await work({ trx, rights, audit: (entry) => entries.push(entry), changing });
    await insertAudit(trx, companyId, caller.sub, version!, entries);
    return { result, version: version!, bumped };
  });
  if (outcome.bumped) await deps.announce(companyId, outcome.version);
  return { result: outcome.result, version: outcome.version };
}

/** Reads run on the caller's fresh rights (never cached): admin decisions read their own writes. */
export async function readCompany<T>(deps: Pick<WriteDeps, 'db' | 'policies'>, caller: Caller, companyId: string, work: (rights: CallerRights) => Promise<T>): Promise<T> {
  const rights = await loadRights(deps.db, deps.policies, caller, companyId);
  return work(rights);
}
