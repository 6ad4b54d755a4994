import type { Selectable } from 'kysely';
import { InvalidRequestError, NotFoundError } from '../../errors.js';
import type { AdminCaller } from '../../http/route.js';
import type { AuditLogTable } from '../../store/schema.js';
import { readPolicyVersion } from '../../store/versions.js';
import { assertCan, type Need } from '../context.js';
import { readCompany, type WriteDeps } from '../transaction.js';
import { decodeCursor, encodeCursor, type AuditEntryView, type AuditPage, type AuditQuery } from './schemas.js';

/**
 * Entries show member, role and subscription changes with their before and after, so
 * reading them takes the rights to see each of those: a caller must not learn through
 * the log what their role hides elsewhere (an editor does not see the subscription, D8).
 */
export const AUDIT_READER_NEEDS: readonly Need[] = [
  { action: 'view', subject: 'Member' },
  { action: 'view', subject: 'Role' },
  { action: 'view', subject: 'CompanySettings', field: 'subscription' },
];

export function toEntry(row: Selectable<AuditLogTable>): AuditEntryView {
  return {
    id: String(row.id),
    at: new Date(row.at).toISOString(),
    actor: row.actor,
    operator: row.operator,
    action: row.action,
    target: row.target,
    before: row.before ?? null,
    after: row.after ?? null,
    version: String(row.version),
  };
}

/** A page from `limit + 1` rows: the extra row only says whether another page exists. */
export function toPage(rows: readonly Selectable<AuditLogTable>[], limit: number): AuditPage {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { entries: page.map(toEntry), next: rows.length > limit && last ? encodeCursor(String(last.id)) : null };
}

/** The id a cursor stands for; the query schema has already refused any other cursor. */
function afterId(cursor: string): string {
  const id = decodeCursor(cursor);
  if (id === null) throw new InvalidRequestError('after: must be the "next" cursor of a previous page', { path: 'after' });
  return id;
}

/** A LIKE pattern matching the text itself: `%`, `_` and the escape character (backslash, LIKE's default) taken literally. */
export const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export function createAuditService(deps: Pick<WriteDeps, 'db' | 'policies'>) {
  const { db } = deps;

  /**
   * Oldest first, by id. Within one company, id order is commit order: every writer
   * holds the company's row lock from before its audit insert until commit, so a page
   * boundary never skips an entry committed later with a smaller id.
   */
  async function page(companyId: string, query: AuditQuery): Promise<AuditPage> {
    let select = db.selectFrom('audit_log').selectAll().where('company_id', '=', companyId);
    if (query.after !== undefined) select = select.where('id', '>', afterId(query.after));
    if (query.actor !== undefined) select = select.where('actor', '=', query.actor);
    if (query.target !== undefined) select = select.where('target', 'like', `${escapeLike(query.target)}%`);
    const rows = await select.orderBy('id').limit(query.limit + 1).execute();
    return toPage(rows, query.limit);
  }

  return {
    /**
     * A member reads their company's log with the rights its entries need. The operator alone
     * reads any company's whose id was ever used: a deleted company keeps its log and its
     * version row (D22), and nobody else can reach it any more.
     */
    async list(caller: AdminCaller, companyId: string, query: AuditQuery): Promise<AuditPage> {
      if (caller.user === null) {
        if ((await readPolicyVersion(db, companyId)) === null) throw new NotFoundError(`company ${companyId} not found`);
        return page(companyId, query);
      }
      return readCompany(deps, caller.user, companyId, async (rights) => {
        for (const need of AUDIT_READER_NEEDS) assertCan(rights, need);
        return page(companyId, query);
      });
    },
  };
}
