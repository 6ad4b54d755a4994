import type { Kysely } from 'kysely';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Database } from '../store/schema.js';
import { claimHeads, markDelivered, readBacklog, releaseLease, scheduleRetry, type ClaimedEvent } from './outbox.js';
import { SIGNATURE_HEADER, signatureHeader } from './signature.js';

export interface WebhookWorkerOptions {
  db: Kysely<Database>;
  url: string;
  secret: string;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  pollMs: number;
  userAgent: string;
  logger: Logger;
  metrics: Pick<Metrics, 'webhookDeliveries' | 'dependencyErrors' | 'setWebhookBacklogSource'>;
  /** Companies whose head events are delivered at once. */
  concurrency?: number;
}

export interface WebhookWorker {
  /** Starts the delivery loop (idempotent). */
  start(): void;
  /** A write committed events: look for them now rather than at the next poll. */
  wake(): void;
  /** Stops claiming, lets attempts in flight finish (each at most WEBHOOK_TIMEOUT_MS), then resolves. */
  stop(): Promise<void>;
}

/** Wait before attempt `attempt + 1`, after `attempt` failures: base * 2^(attempt - 1), capped, minus up to 20% jitter. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 40));
  return Math.round(exponential * (1 - 0.2 * random()));
}

const describeFailure = (error: unknown): string => {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
    if (error.name === 'TimeoutError') return 'timed out';
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
};

/**
 * The in-process delivery loop of one instance: claims companies' head events (see outbox.ts),
 * posts each, signed, to WEBHOOK_URL, and deletes it on a 2xx answer or schedules its retry.
 * Every instance runs one; the leases keep them from sending one event twice or a company's
 * events out of order.
 */
export function createWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const { db, logger, metrics } = options;
  const concurrency = options.concurrency ?? 4;
  const leaseMs = 2 * options.timeoutMs + 30_000;
  let running = false;
  let loop: Promise<void> | null = null;
  let woken = false;
  let wakeSleeper: (() => void) | null = null;

  const wake = () => {
    woken = true;
    wakeSleeper?.();
  };

  /** Sleeps for the poll interval, or until woken or stopped. */
  const idle = () =>
    new Promise<void>((resolve) => {
      if (woken || !running) return resolve();
      const timer = setTimeout(done, options.pollMs);
      function done() {
        clearTimeout(timer);
        wakeSleeper = null;
        resolve();
      }
      wakeSleeper = done;
    });

  async function attempt(event: ClaimedEvent): Promise<void> {
    if (!running) {
      await releaseLease(db, event);
      return;
    }
    const timestamp = Math.floor(Date.now() / 1000);
    let failure: string | null = null;
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        body: event.body,
        // A redirect is a failure: the signed body goes where it was configured to go, or nowhere.
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': options.userAgent,
          [SIGNATURE_HEADER]: signatureHeader(options.secret, timestamp, event.body),
          'X-Castellan-Event-Id': event.eventId,
          'X-Castellan-Event-Type': event.type,
          'X-Castellan-Delivery-Attempt': String(event.attempts + 1),
        },
      });
      await response.body?.cancel().catch(() => {});
      if (response.status < 200 || response.status > 299) failure = `HTTP ${response.status}`;
    } catch (error) {
      failure = describeFailure(error);
    }
    metrics.webhookDeliveries.inc({ result: failure === null ? 'delivered' : 'failed' });
    if (failure === null) {
      // The receiver has it. Should this delete fail, the lease runs out and the event is sent again: receivers deduplicate on its id.
      await markDelivered(db, event);
      return;
    }
    const delayMs = retryDelayMs(event.attempts + 1, options.retryBaseMs, options.retryMaxMs);
    logger.warn({ eventId: event.eventId, type: event.type, company: event.companyId, attempt: event.attempts + 1, error: failure, retryInMs: delayMs }, 'webhook delivery failed; will retry');
    await scheduleRetry(db, event, delayMs, failure);
  }

  async function run(): Promise<void> {
    while (running) {
      woken = false;
      let claimed: ClaimedEvent[] = [];
      try {
        claimed = await claimHeads(db, concurrency, leaseMs);
      } catch (error) {
        metrics.dependencyErrors.inc({ dependency: 'postgres' });
        logger.warn({ err: error }, 'webhook outbox unreachable; retrying at the next poll');
      }
      if (claimed.length > 0) {
        const results = await Promise.allSettled(claimed.map(attempt));
        for (const result of results) {
          // The outcome could not be recorded (PostgreSQL away): the lease runs out and the event is tried again.
          if (result.status === 'rejected') {
            metrics.dependencyErrors.inc({ dependency: 'postgres' });
            logger.warn({ err: result.reason }, 'could not record a webhook delivery; it will be tried again');
          }
        }
        continue;
      }
      await idle();
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      metrics.setWebhookBacklogSource({ read: () => readBacklog(db) });
      loop = run();
    },
    wake,
    async stop() {
      running = false;
      wakeSleeper?.();
      await loop;
      loop = null;
      metrics.setWebhookBacklogSource(null);
    },
  };
}
