import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { ROOT } from '../lib/castellan.js';
import { latencyPercentiles, type LatencyPercentiles } from '../lib/load.js';
import type { BenchContext } from './context.js';

/** What the scenario uses of src/webhooks/outbox.ts, as built in dist/. */
interface OutboxModule {
  claimHeads(db: Kysely<object>, limit: number, leaseMs: number): Promise<Array<{ id: string; leaseToken: string }>>;
  markDelivered(db: Kysely<object>, event: { id: string; leaseToken: string }): Promise<boolean>;
}

export interface OutboxShape extends LatencyPercentiles {
  events: number;
  companies: number;
  /** Claims timed (each leases up to 4 companies' heads, as the worker does). */
  claims: number;
}

export interface OutboxResult {
  shapes: OutboxShape[];
  /** Claim and mark delivered, one claim of 4 after another, no HTTP: the database's share of draining a backlog. */
  drain: { events: number; companies: number; seconds: number; eventsPerSecond: number };
}

const CLAIM_BATCH = 4;
const LEASE_MS = 50_000;
const BODY = JSON.stringify({ padding: 'x'.repeat(560) });

async function fill(db: Kysely<object>, events: number, companies: number): Promise<void> {
  await sql`delete from webhook_outbox`.execute(db);
  for (let start = 0; start < events; start += 10_000) {
    const count = Math.min(10_000, events - start);
    const ids = Array.from({ length: count }, () => randomUUID());
    const owners = Array.from({ length: count }, (_, i) => `bench-outbox-${(start + i) % companies}`);
    await sql`insert into webhook_outbox (company_id, event_id, type, body)
              select c, e::uuid, 'invitation.created', ${BODY} from unnest(${owners}::text[], ${ids}::text[]) as t(c, e)`.execute(db);
  }
  await sql`analyze webhook_outbox`.execute(db);
}

/**
 * The webhook worker's claim (src/webhooks/outbox.ts) against backlogs of growing size, timed in
 * the bench process straight on PostgreSQL: what one poll costs the database when a receiver has
 * been down and events piled up, and how fast the database side drains a backlog.
 */
export async function outboxScenario(ctx: BenchContext): Promise<OutboxResult> {
  const outbox = (await import(pathToFileURL(path.join(ROOT, 'dist/webhooks/outbox.js')).href)) as OutboxModule;
  const pool = new pg.Pool({ connectionString: ctx.env.databaseUrl, max: 2 });
  const db = new Kysely<object>({ dialect: new PostgresDialect({ pool }) });
  const claims = ctx.options.quick ? 20 : 100;
  const shapes: OutboxShape[] = [];
  try {
    for (const [events, companies] of [
      [100, 10],
      [10_000, 100],
      [100_000, 1_000],
    ] as const) {
      await fill(db, events, companies);
      const latencies: number[] = [];
      for (let i = 0; i < claims; i++) {
        const started = performance.now();
        const claimed = await outbox.claimHeads(db, CLAIM_BATCH, LEASE_MS);
        latencies.push(performance.now() - started);
        if (claimed.length !== CLAIM_BATCH) throw new Error(`claimed ${claimed.length} heads of ${companies} companies`);
        // Given back untried, so every claim finds as many due heads.
        await sql`update webhook_outbox set lease_token = null, lease_until = null where lease_token is not null`.execute(db);
      }
      shapes.push({ events, companies, claims, ...latencyPercentiles(latencies) });
      ctx.log(`  ${events.toLocaleString('en-US')} events over ${companies} companies: claim p50 ${shapes.at(-1)!.p50.toFixed(2)} ms`);
    }

    const drained = ctx.options.quick ? 1_000 : 5_000;
    await fill(db, drained, 100);
    const started = performance.now();
    let delivered = 0;
    while (delivered < drained) {
      const claimed = await outbox.claimHeads(db, CLAIM_BATCH, LEASE_MS);
      if (claimed.length === 0) throw new Error(`the backlog ran dry after ${delivered} of ${drained}`);
      for (const event of claimed) if (await outbox.markDelivered(db, event)) delivered++;
    }
    const seconds = (performance.now() - started) / 1000;
    return { shapes, drain: { events: drained, companies: 100, seconds, eventsPerSecond: drained / seconds } };
  } finally {
    await sql`delete from webhook_outbox`.execute(db).catch(() => {});
    await db.destroy();
  }
}
