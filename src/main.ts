import { createCastellan, type Castellan } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './log.js';
import { PolicyFileError } from './policy/catalog.js';
import { ShutdownDeadlineError } from './server.js';
import { DataDirLockedError } from './store/data-dir-lock.js';
import { MigrationError } from './store/migrator.js';

/** Closing PostgreSQL and Redis after the drain is quick; this only bounds one that hangs. */
const DEPENDENCY_CLOSE_GRACE_MS = 5000;

/** Expected start-up failures print one clear message, not a stack trace. */
function fatal(error: unknown): never {
  const known = error instanceof ConfigError || error instanceof PolicyFileError || error instanceof MigrationError || error instanceof DataDirLockedError;
  console.error(known ? (error as Error).message : (portTaken(error) ?? error));
  process.exit(1);
}

function portTaken(error: unknown): string | undefined {
  const { code, address, port } = (error ?? {}) as NodeJS.ErrnoException & { address?: string; port?: number };
  if (code === 'EADDRINUSE') return `port ${port} on ${address} is in use by another process: stop it, or set PORT (and HOST) to a free one`;
  if (code === 'EACCES') return `not allowed to listen on port ${port} on ${address}: use a port above 1023, or set HOST/PORT`;
  return undefined;
}

/**
 * SIGTERM or SIGINT: stop accepting, let requests in flight finish, close PostgreSQL and
 * Redis, then exit 0 (1 if requests had to be cut). The process exits by itself once
 * nothing is left open, so a clean exit also proves every connection was closed; the
 * backstop timer only catches a handle something forgot to close. A second signal
 * exits at once, for an operator who does not want to wait.
 */
function stopOnSignals(app: Castellan, config: Config, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down: refusing new connections, finishing requests in flight');
    setTimeout(() => {
      logger.error('shutdown did not finish in time (something is still open); exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS + DEPENDENCY_CLOSE_GRACE_MS).unref();
    app.close().then(
      () => {
        logger.info('shutdown complete');
        process.exitCode = 0;
      },
      (error: unknown) => {
        if (error instanceof ShutdownDeadlineError) logger.warn({ timeoutMs: error.timeoutMs }, `shutdown complete, but ${error.message}`);
        else logger.error({ err: error }, 'error during shutdown');
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * A newcomer's way in: with the development identity and no company yet, one line to paste
 * makes the first company, with its creator as owner and admin.
 */
async function suggestFirstCompany(app: Castellan, url: string): Promise<void> {
  if (!app.developmentIdentity) return;
  const any = await app.store.db.selectFrom('companies').select('id').limit(1).execute().catch(() => [{ id: '?' }]);
  if (any.length > 0) return;
  // ada's verified address at acme.test proves the domain (D4), so she is a Member of acme, as in `npm run demo`.
  const token = '$(npm run -s dev-token -- ada ada@acme.test)';
  process.stdout.write(
    `# No company yet. Paste this to create one, owned by ada (a development user):\n` +
      `curl -s ${url}/v1/companies -H "authorization: Bearer ${token}" -H 'content-type: application/json' -d '{"id": "acme", "name": "Acme", "domains": ["acme.test"]}'\n`,
  );
}

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  fatal(error);
}
const logger = createLogger(config.LOG_LEVEL);
// The first line says which mode this is, before anything (migrations, warnings) is logged.
logger.info(
  {
    store: config.DATABASE_URL ? 'PostgreSQL' : `embedded PGlite in ${config.DATA_DIR}`,
    cache: config.REDIS_URL ? 'Redis (multi-instance)' : 'in process (single instance)',
  },
  `castellan starting: ${config.DATABASE_URL ? 'PostgreSQL' : 'embedded'} store, ${config.REDIS_URL ? 'Redis' : 'in-process'} cache`,
);
let app: Castellan;
try {
  app = await createCastellan(config, { logger });
} catch (error) {
  fatal(error);
}
const url = await app.listen().catch(fatal);
logger.info(
  {
    url,
    store: app.mode.store === 'pglite' ? `embedded PGlite in ${app.store.location}` : `PostgreSQL at ${app.store.location}`,
    cache: app.mode.redis ? `Redis ${{ server: 'server', cluster: 'Cluster', sentinel: 'via Sentinel' }[app.mode.redis]} (multi-instance)` : 'in process (single instance)',
  },
  `castellan listening on ${url}`,
);
stopOnSignals(app, config, logger);
await suggestFirstCompany(app, url);
