import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { EventActor, WebhookEvent } from './events.js';

/**
 * The transactional outbox (table webhook_outbox). Events are appended in the transaction of
 * the change they announce, under the company's write lock, so an event exists if and only if
 * its change committed, and within a company id order is commit order.
 *
 * Delivery is in id order per company, one event of a company in flight at a time, by any
 * number of instances. An instance claims a company's *head* (its oldest undelivered event)
 * with a lease: a token and a deadline, set in one UPDATE that only succeeds while nobody else
 * holds an unexpired lease on that row. It then posts without holding any transaction or lock,
 * and deletes the event (delivered) or schedules its retry, each only if it still holds the
 * lease. Why a lease rather than a row lock (FOR UPDATE SKIP LOCKED) or an advisory lock held
 * during the POST:
 * - holding either means a transaction (or a pinned session) open for as long as the receiver
 *   takes to answer; embedded PGlite has one connection that every query of the instance waits
 *   for, so one slow receiver would stall the whole embedded instance, and on PostgreSQL each
 *   delivery in flight would pin one of the pool's 10 connections;
 * - SKIP LOCKED on the events themselves would skip a locked head and hand out the next event of
 *   the same company: reordering. Only the head is ever claimable here (the oldest id per company),
 *   and a head that is leased is skipped, so a company's next event waits for its head to go.
 * The lease is stamped and compared with the database's clock, never an instance's. It outlasts
 * an attempt by far (2 x WEBHOOK_TIMEOUT_MS + 30 s, and an attempt is cut at the timeout), so it
 * only runs out under an instance that died (its events are then picked up by others once the
 * lease ends) or stalled for longer than that (its event may then be delivered twice).
 */

export interface ClaimedEvent {
  id: string;
  companyId: string;
  eventId: string;
  type: string;
  body: string;
  /** Attempts before this one. */
  attempts: number;
  leaseToken: string;
}

type Db = Kysely<Database>;

/** Appends events in the write's transaction, each with its envelope; the body is serialised once, here. */
export async function appendEvents(trx: Transaction<Database>, companyId: string, version: string, actor: EventActor, events: readonly WebhookEvent[]): Promise<void> {
  if (events.length === 0) return;
  const company = await trx.selectFrom('companies').select('name').where('id', '=', companyId).executeTakeFirstOrThrow();
  const createdAt = new Date().toISOString();
  const rows = events.map((event) => {
    const id = randomUUID();
    const body = JSON.stringify({ id, type: event.type, createdAt, company: { id: companyId, name: company.name }, version, actor, data: event.data });
    return { company_id: companyId, event_id: id, type: event.type, body };
  });
  await trx.insertInto('webhook_outbox').values(rows).execute();
}

/**
 * Leases up to `limit` companies' head events that are due and not leased. The heads are found
 * by skipping through the (company_id, id) index one company at a time (a recursive CTE: two
 * index probes per company with a backlog), so a large backlog costs its companies, not its
 * rows. Two instances racing for one head: the second one's UPDATE waits for the first's row
 * lock, then re-reads the row, finds the lease and skips it.
 */
export async function claimHeads(db: Db, limit: number, leaseMs: number): Promise<ClaimedEvent[]> {
  const { rows } = await sql<{ id: string; company_id: string; event_id: string; type: string; body: string; attempts: number; lease_token: string }>`
    with recursive companies(company_id) as (
      (select company_id from webhook_outbox order by company_id limit 1)
      union all
      select (select w.company_id from webhook_outbox w where w.company_id > c.company_id order by w.company_id limit 1)
        from companies c
       where c.company_id is not null
    ), due as (
      select h.id
        from companies c
             cross join lateral (select w.id, w.next_attempt_at, w.lease_until
                                   from webhook_outbox w
                                  where w.company_id = c.company_id
                                  order by w.id
                                  limit 1) h
       where h.next_attempt_at <= now() and (h.lease_until is null or h.lease_until < now())
       order by h.next_attempt_at, h.id
       limit ${limit}
    )
    update webhook_outbox o
       set lease_token = gen_random_uuid(), lease_until = now() + ${leaseMs} * interval '1 millisecond'
      from due
     where o.id = due.id and (o.lease_until is null or o.lease_until < now())
    returning o.id, o.company_id, o.event_id, o.type, o.body, o.attempts, o.lease_token`.execute(db);
  return rows.map((row) => ({
    id: String(row.id),
    companyId: row.company_id,
    eventId: row.event_id,
    type: row.type,
    body: row.body,
    attempts: row.attempts,
    leaseToken: row.lease_token,
  }));
}

/** Delivered: the event goes, and the company's next event becomes its head. False when the lease was lost meanwhile. */
export async function markDelivered(db: Db, event: ClaimedEvent): Promise<boolean> {
  const result = await db.deleteFrom('webhook_outbox').where('id', '=', event.id).where('lease_token', '=', event.leaseToken).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Not delivered: the head stays the head, due again after `delayMs`, and holds its company's later events back. */
export async function scheduleRetry(db: Db, event: ClaimedEvent, delayMs: number, error: string): Promise<void> {
  await db
    .updateTable('webhook_outbox')
    .set({
      attempts: sql`attempts + 1`,
      next_attempt_at: sql`now() + ${delayMs} * interval '1 millisecond'`,
      last_error: error.slice(0, 500),
      lease_token: null,
      lease_until: null,
    })
    .where('id', '=', event.id)
    .where('lease_token', '=', event.leaseToken)
    .execute();
}

/** Gives a claimed event back untried (the instance is stopping): due at once, for any instance. */
export async function releaseLease(db: Db, event: ClaimedEvent): Promise<void> {
  await db.updateTable('webhook_outbox').set({ lease_token: null, lease_until: null }).where('id', '=', event.id).where('lease_token', '=', event.leaseToken).execute();
}

export interface Backlog {
  events: number;
  /** Age of the oldest undelivered event; 0 when there is none. */
  oldestSeconds: number;
}

export async function readBacklog(db: Db): Promise<Backlog> {
  const row = await db
    .selectFrom('webhook_outbox')
    .select([sql<string>`count(*)`.as('events'), sql<number | null>`extract(epoch from now() - min(created_at))::float8`.as('oldest')])
    .executeTakeFirstOrThrow();
  return { events: Number(row.events), oldestSeconds: Math.max(0, Number(row.oldest ?? 0)) };
}
