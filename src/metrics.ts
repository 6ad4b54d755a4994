import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotHistogram } from './hot-metrics.js';

/**
 * One registry per app instance (tests run several in one process). Labels have a small
 * fixed set of values.
 */
export interface WebhookBacklogSource {
  read(): Promise<{ events: number; oldestSeconds: number }>;
}

export function createMetrics() {
  const registry = new Registry();
  // Set by the webhook worker when WEBHOOK_URL is configured; read from the outbox at each scrape.
  let backlogSource: WebhookBacklogSource | null = null;
  let dependencyErrors: Counter<'dependency'>;
  /** A scrape reads the outbox; PostgreSQL away keeps the last values and counts the error. */
  const backlogGauge = (name: string, help: string, pick: (backlog: { events: number; oldestSeconds: number }) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        if (!backlogSource) return;
        try {
          this.set(pick(await backlogSource.read()));
        } catch {
          dependencyErrors.inc({ dependency: 'postgres' });
        }
      },
    });
  collectDefaultMetrics({ register: registry });
  const latencyBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
  // Cold loads take a few milliseconds: bounds close enough together there to tell 3 ms from 5 and 5 from 10.
  // A superset of the compile histogram's bounds before them, so queries on those still work.
  const loadBuckets = [0.00025, 0.0005, 0.001, 0.002, 0.0025, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  const metrics = {
    registry,
    // The three the check path updates on every request: see hot-metrics.ts.
    checkDuration: new HotHistogram('castellan_check_duration_seconds', 'Check API, forward-auth and AuthZEN evaluation request latency, by endpoint', ['endpoint'], latencyBuckets, registry),
    decisions: new HotCounter('castellan_decisions_total', 'Decisions taken, by outcome', ['outcome'], registry),
    cacheLookups: new HotCounter('castellan_cache_lookups_total', 'Ability cache lookups by tier (l1 in process, l2 Redis) and result (l2 late: no answer within CACHE_L2_WAIT_MS, PostgreSQL read instead)', ['tier', 'result'], registry),
    compileDuration: new Histogram({
      name: 'castellan_compile_duration_seconds',
      help: 'Time to load a principal from the store and compile its rules',
      buckets: loadBuckets,
      registers: [registry],
    }),
    loadPhaseDuration: new Histogram({
      name: 'castellan_load_phase_duration_seconds',
      help: 'Each step of a principal\'s load (not cached in process, or cached past its staleness bound), failed ones included: l2 (the Redis lookup, to its answer), version (the company version read confirming rules found in L2 or a cached entry), store (the PostgreSQL load statement), compile',
      labelNames: ['phase'] as const,
      buckets: loadBuckets,
      registers: [registry],
    }),
    invalidationsReceived: new Counter({
      name: 'castellan_invalidations_received_total',
      help: 'Policy version notices received over Redis pub/sub',
      registers: [registry],
    }),
    staleRefreshes: new Counter({
      name: 'castellan_stale_refreshes_total',
      help: 'L1 entries re-validated after the staleness bound, by result (kept or reloaded)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    dependencyErrors: (dependencyErrors = new Counter({
      name: 'castellan_dependency_errors_total',
      help: 'Errors talking to a dependency',
      labelNames: ['dependency'] as const,
      registers: [registry],
    })),
    replicaLoads: new Counter({
      name: 'castellan_replica_loads_total',
      help: 'Check-path loads with DATABASE_READ_URL, by who answered: replica, or the primary because the replica was lagging, failed, or the version to reach was unchecked',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    connectionsDropped: new Counter({
      name: 'castellan_http_connections_dropped_total',
      help: 'Connections closed unanswered on arrival because HTTP_MAX_CONNECTIONS were open',
      registers: [registry],
    }),
    adminWrites: new Counter({
      name: 'castellan_admin_writes_total',
      help: 'Admin API writes, by route and status class',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
    }),
    webhookBacklog: backlogGauge('castellan_webhook_backlog_events', 'Webhook events written and not yet delivered, all companies and instances (the outbox)', (b) => b.events),
    webhookOldest: backlogGauge('castellan_webhook_oldest_event_age_seconds', 'Age of the oldest webhook event not yet delivered (0 when none)', (b) => b.oldestSeconds),
    webhookDeliveries: new Counter({
      name: 'castellan_webhook_deliveries_total',
      help: 'Webhook delivery attempts by this instance, by result (delivered: a 2xx answer; failed: anything else, retried later)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    /** Where the backlog gauges read from (the outbox), once webhooks are configured. */
    setWebhookBacklogSource(source: WebhookBacklogSource | null) {
      backlogSource = source;
    },
  };
  exposeKnownSeries(metrics);
  return metrics;
}

/**
 * Every series an alert may be written on exists from the start at 0: a rate over a
 * series that appears only with its first error misses that first error.
 */
function exposeKnownSeries(metrics: Pick<Metrics, 'checkDuration' | 'decisions' | 'cacheLookups' | 'loadPhaseDuration' | 'staleRefreshes' | 'dependencyErrors' | 'replicaLoads' | 'webhookDeliveries'>): void {
  for (const endpoint of ['check', 'batch', 'forward_auth', 'authzen_evaluation']) metrics.checkDuration.zero({ endpoint });
  for (const outcome of ['allow', 'deny', 'error']) metrics.decisions.inc({ outcome }, 0);
  for (const tier of ['l1', 'l2']) for (const result of ['hit', 'miss']) metrics.cacheLookups.inc({ tier, result }, 0);
  metrics.cacheLookups.inc({ tier: 'l2', result: 'late' }, 0);
  for (const phase of LOAD_PHASES) metrics.loadPhaseDuration.zero({ phase });
  for (const result of ['kept', 'reloaded']) metrics.staleRefreshes.inc({ result }, 0);
  for (const dependency of ['postgres', 'redis']) metrics.dependencyErrors.inc({ dependency }, 0);
  for (const result of ['replica', 'lagging', 'failed', 'unchecked']) metrics.replicaLoads.inc({ result }, 0);
  for (const result of ['delivered', 'failed']) metrics.webhookDeliveries.inc({ result }, 0);
}

export type Metrics = ReturnType<typeof createMetrics>;

export const LOAD_PHASES = ['l2', 'version', 'store', 'compile'] as const;
export type LoadPhase = (typeof LOAD_PHASES)[number];
