import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { isLoopback, ConfigError, type Config } from './config.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { loadPolicies, type Policies } from './policy/catalog.js';
import { openReadReplica, openStore, type Store } from './store/database.js';
import { warmPrincipalLoads } from './store/principal-facts.js';
import { migrateToLatest } from './store/migrator.js';
import { createAuth } from './auth/auth.js';
import { createHashQueue } from './auth/hash-queue.js';
import { authRoutes, createAuthRouter } from './auth/routes.js';
import { adminRoutes, createAdminRouter } from './admin/router.js';
import { createAbilityProvider, type AbilityProvider } from './check/abilities.js';
import { createCheckHandler } from './check/http-handler.js';
import { checkApiRoutes, createCheckRouter } from './check/routes.js';
import { createCheckTokenGuard } from './check/check-token.js';
import { createSelfCheckGuard } from './check/self-check.js';
import { createCheckService } from './check/service.js';
import { docsRouter } from './docs/routes.js';
import { devSecretPath, ensureDevSecret, usesDevSecret } from './auth/dev-secret.js';
import { createLocalPolicyBus, createRedisPolicyBus, type PolicyBus } from './check/policy-bus.js';
import { connectRedis, type RedisConnections, type RedisMode, type RedisTarget } from './check/redis.js';
import { createRedisRulesCache } from './check/rules-cache.js';
import { replicaRoutedSource, storeSource } from './check/source.js';
import { compilePolicyRoutes } from './gateway/routes.js';
import { createForwardAuthHandler, FORWARD_AUTH_ROUTES } from './gateway/forward-auth.js';
import { createEvaluator } from './authzen/evaluation.js';
import { authzenRoutes, createAuthzenRouter } from './authzen/routes.js';
import { createEvaluationHandler } from './authzen/http-handler.js';
import { createSearcher } from './authzen/search.js';
import { buildOpenApi } from './http/openapi.js';
import { appendEvents } from './webhooks/outbox.js';
import { createWebhookWorker, type WebhookWorker } from './webhooks/worker.js';
import { webhookDocs } from './webhooks/openapi.js';
import { createConsoleRouter } from './console/routes.js';
import { createHttpServer, drainServer, OPERATIONS_ROUTES, openApiRouter, ShutdownDeadlineError, type HealthProbe } from './server.js';

/** src/app.ts and dist/app.js both sit one folder below package.json. */
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface Castellan {
  readonly config: Config;
  readonly server: Server;
  readonly store: Store;
  readonly policies: Policies;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly abilities: AbilityProvider;
  readonly bus: PolicyBus;
  readonly mode: { store: Store['kind']; cache: 'redis' | 'in-process'; redis: RedisMode | null };
  /** Tokens signed with DATA_DIR's generated development secret are accepted (embedded mode, nothing configured). */
  readonly developmentIdentity: boolean;
  /** The webhook delivery loop, when WEBHOOK_URL is set: started by listen(), stopped by close(). */
  readonly webhooks: WebhookWorker | null;
  listen(): Promise<string>;
  /**
   * Graceful stop: no new connections, requests in flight finish, then PostgreSQL and Redis
   * are closed. Requests still running after SHUTDOWN_TIMEOUT_MS are cut, and the promise
   * then rejects with ShutdownDeadlineError (everything is closed all the same).
   * Calling it again waits for the same stop.
   */
  close(): Promise<void>;
}

export interface CastellanOptions {
  logger?: Logger;
}

/** A fingerprint of the policy files: cached rules compiled under other files are not reused. */
function policiesFingerprint(policies: Policies): string {
  const { catalog, companyRoles, projectRoles } = policies;
  return createHash('sha256').update(JSON.stringify({ catalog, companyRoles, projectRoles })).digest('hex').slice(0, 12);
}

/** The one Redis the configuration names (loadConfig has made sure there is at most one), if any. */
function redisTarget(config: Config): RedisTarget | null {
  if (config.REDIS_URL) return { mode: 'server', url: config.REDIS_URL };
  const credentials = { username: config.REDIS_USERNAME, password: config.REDIS_PASSWORD };
  if (config.REDIS_CLUSTER_NODES) return { mode: 'cluster', nodes: config.REDIS_CLUSTER_NODES, ...credentials };
  if (config.REDIS_SENTINELS && config.REDIS_SENTINEL_NAME) {
    return { mode: 'sentinel', sentinels: config.REDIS_SENTINELS, name: config.REDIS_SENTINEL_NAME, sentinelPassword: config.REDIS_SENTINEL_PASSWORD, ...credentials };
  }
  return null;
}

/** Builds a whole instance from its configuration: the one place where parts are wired together. */
export async function createCastellan(config: Config, options: CastellanOptions = {}): Promise<Castellan> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  if (!isLoopback(config.HOST) && !config.CHECK_TOKEN) {
    throw new ConfigError(`Invalid configuration:\n  CHECK_TOKEN: required when HOST (${config.HOST}) is not a loopback address`);
  }
  const policies = loadPolicies(config.POLICIES_DIR);
  // Compiled once, before anything listens: a route map that is ambiguous stops start-up like any broken policy file.
  const routeMatcher = compilePolicyRoutes(policies);
  const metrics = createMetrics();
  const pools = { poolSize: config.DATABASE_POOL_SIZE, statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS };
  const store = await openStore({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, ...pools });
  const closers: Array<() => Promise<unknown>> = [() => store.close()];
  try {
    if (config.MIGRATE_ON_START) {
      const applied = await migrateToLatest(store.db);
      if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
    }
    // Best effort: a store not migrated yet, or away, is reported by /readyz and the checks themselves.
    const warm = (target: Store, name: string) => warmPrincipalLoads(target.db).catch((error: unknown) => logger.warn({ err: error }, `could not warm the ${name} connections`));
    await warm(store, 'database');

    // Only companies with cached principals need their version kept: L1 holds at most that many.
    const bookSize = Math.max(config.CACHE_MAX_ENTRIES, 10_000);
    let bus: PolicyBus;
    let redis: RedisConnections | null = null;
    const target = redisTarget(config);
    if (target) {
      const connections = connectRedis(target);
      redis = connections;
      closers.push(async () => connections.disconnect());
      bus = await createRedisPolicyBus({ notices: connections.notices, keyPrefix: config.REDIS_KEY_PREFIX, logger, metrics, maxCompanies: bookSize });
      closers.push(() => bus.close());
    } else {
      bus = createLocalPolicyBus({ maxCompanies: bookSize });
    }
    const rulesCache = redis ? createRedisRulesCache(redis.commands, `${config.REDIS_KEY_PREFIX}${policiesFingerprint(policies)}:`) : null;

    let source = storeSource(store.db);
    if (config.DATABASE_READ_URL) {
      const replica = openReadReplica(config.DATABASE_READ_URL, pools);
      closers.push(() => replica.close());
      await warm(replica, 'read replica');
      source = replicaRoutedSource(source, storeSource(replica.db), { maxCompanies: bookSize, onLoad: (result) => metrics.replicaLoads.inc({ result }) });
    }
    const abilities = createAbilityProvider({
      policies,
      source,
      rulesCache,
      bus,
      maxEntries: config.CACHE_MAX_ENTRIES,
      maxStalenessMs: config.CACHE_MAX_STALENESS_MS,
      maxDegradedMs: config.CACHE_MAX_DEGRADED_MS,
      l2WaitMs: config.CACHE_L2_WAIT_MS,
      metrics,
      logger,
    });

    // One line for every scrypt of the instance: logins and new local users' passwords.
    const hashing = createHashQueue({ concurrency: config.SCRYPT_CONCURRENCY, maxWaiting: config.SCRYPT_QUEUE });
    // After the store: the directory exists and this process holds it.
    const devSecret = usesDevSecret(config) ? ensureDevSecret(config.DATA_DIR) : undefined;
    if (devSecret) {
      logger.warn(
        { secretFile: devSecretPath(config.DATA_DIR), created: devSecret.created },
        'development identity provider: tokens signed with the secret in DATA_DIR are accepted (npm run dev-token); set AUTH_JWKS_URL (or AUTH_JWT_SECRET) for your own',
      );
    }
    const auth = await createAuth({
      db: store.db,
      config: {
        jwtSecret: config.AUTH_JWT_SECRET ?? devSecret?.secret,
        jwksUrl: config.AUTH_JWKS_URL,
        issuer: config.AUTH_ISSUER,
        audience: config.AUTH_AUDIENCE,
        trustEmails: config.AUTH_TRUST_EMAILS,
      },
      logger,
      hashing,
    });
    const checkService = createCheckService({ catalog: policies.catalog, abilities, verifyToken: (token) => auth.verify(token), policiesTag: policiesFingerprint(policies) });
    const probes: HealthProbe[] = [{ name: 'postgres', check: () => store.ping() }];
    if (redis) {
      const { commands } = redis;
      probes.push({ name: 'redis', check: async () => void (await commands.ping()) });
    }

    // Every endpoint is data, built once: the routers and the OpenAPI document come from the same lists.
    const checkRoutes = checkApiRoutes(checkService, policies.catalog);
    const ownAuthRoutes = authRoutes(auth);
    const evaluator = createEvaluator({ catalog: policies.catalog, service: checkService });
    const authzen = authzenRoutes({ evaluator, searcher: createSearcher({ policies, service: checkService, db: store.db }), publicUrl: config.PUBLIC_URL });
    // Events are written to the outbox only when there is somewhere to send them.
    const webhooks =
      config.WEBHOOK_URL && config.WEBHOOK_SECRET
        ? createWebhookWorker({
            db: store.db,
            url: config.WEBHOOK_URL,
            secret: config.WEBHOOK_SECRET,
            timeoutMs: config.WEBHOOK_TIMEOUT_MS,
            retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
            retryMaxMs: config.WEBHOOK_RETRY_MAX_MS,
            pollMs: config.WEBHOOK_POLL_MS,
            userAgent: `Castellan-Webhook/${PACKAGE_VERSION}`,
            logger,
            metrics,
          })
        : null;
    const admin = adminRoutes({
      db: store.db,
      policies,
      auth,
      announce: (c, v) => bus.announce(c, v),
      logger,
      metrics,
      hashing,
      invitations: { ttlSeconds: config.INVITATION_TTL, urlTemplate: config.INVITE_URL_TEMPLATE },
      events: webhooks ? { append: appendEvents, committed: () => webhooks.wake() } : undefined,
      decide: (body) => checkService.check(body),
    });
    const openApi = buildOpenApi(
      { title: 'Castellan', version: PACKAGE_VERSION, description: 'Authorization policy engine: check API, gateway forward-auth, AuthZEN 1.0 and admin API' },
      [...checkRoutes.hot, ...checkRoutes.other, ...FORWARD_AUTH_ROUTES, ...authzen.hot, ...authzen.other, ...ownAuthRoutes, ...admin, ...OPERATIONS_ROUTES],
      webhookDocs(),
    );

    // A user's own token may ask the check API about that user (the console); only where the check token is missing.
    const authoriseSelf = createSelfCheckGuard((token) => auth.verify(token));
    const checkHandler = createCheckHandler({ service: checkService, checkToken: config.CHECK_TOKEN, authoriseSelf, metrics, logger });
    const forwardAuth = createForwardAuthHandler({
      service: checkService,
      matcher: routeMatcher,
      catalog: policies.catalog,
      verifyToken: (token) => auth.verify(token),
      checkToken: config.CHECK_TOKEN,
      metrics,
      logger,
    });
    const authzenEvaluation = createEvaluationHandler({ evaluator, checkToken: config.CHECK_TOKEN, metrics, logger });
    const server = createHttpServer({
      // The endpoints asked on every request a service or gateway guards, on bare node:http; express for the rest.
      checkHandler: (req, res) => checkHandler(req, res) || forwardAuth(req, res) || authzenEvaluation(req, res),
      routers: [
        createCheckRouter(checkRoutes.other, createCheckTokenGuard(config.CHECK_TOKEN), authoriseSelf),
        createAuthzenRouter(authzen.other, createCheckTokenGuard(config.CHECK_TOKEN)),
        createAuthRouter(ownAuthRoutes),
        createAdminRouter(admin, { auth, metrics, operatorToken: config.OPERATOR_TOKEN }),
        openApiRouter(openApi),
        docsRouter({ version: PACKAGE_VERSION, links: { console: '/console/' } }),
        createConsoleRouter({ catalog: policies.catalog, tokenUrl: config.CONSOLE_TOKEN_URL }),
      ],
      probes,
      logger,
      metrics,
      checkToken: config.CHECK_TOKEN,
      limits: { headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS, maxConnections: config.HTTP_MAX_CONNECTIONS },
    });

    const mode = { store: store.kind, cache: redis ? ('redis' as const) : ('in-process' as const), redis: redis?.mode ?? null };
    let closing: Promise<void> | undefined;
    return {
      config,
      server,
      store,
      policies,
      metrics,
      logger,
      abilities,
      bus,
      mode,
      developmentIdentity: devSecret !== undefined,
      webhooks,
      listen: () =>
        new Promise((resolve, reject) => {
          server.once('error', reject);
          server.listen(config.PORT, config.HOST, () => {
            server.off('error', reject);
            webhooks?.start();
            const { port } = server.address() as AddressInfo;
            const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
            resolve(`http://${host}:${port}`);
          });
        }),
      close() {
        closing ??= (async () => {
          // The webhook worker stops claiming at once; its attempts in flight (each within WEBHOOK_TIMEOUT_MS)
          // finish beside the drain, and record their outcome before PostgreSQL closes.
          const webhooksStopped = webhooks?.stop();
          const { drained } = await drainServer(server, config.SHUTDOWN_TIMEOUT_MS);
          await webhooksStopped;
          // Dependencies close only once no request can use them any more.
          for (const close of closers.reverse()) {
            await close().catch((error: unknown) => logger.warn({ err: error }, 'error while closing a dependency'));
          }
          if (!drained) throw new ShutdownDeadlineError(config.SHUTDOWN_TIMEOUT_MS);
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => {});
    throw error;
  }
}
