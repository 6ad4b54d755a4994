import { createCastellan } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { PolicyFileError } from './policy/catalog.js';
import { MigrationError } from './store/migrator.js';

/** Expected start-up failures print one clear message, not a stack trace. */
function fatal(error: unknown): never {
  const known = error instanceof ConfigError || error instanceof PolicyFileError || error instanceof MigrationError;
  console.error(known ? (error as Error).message : error);
  process.exit(1);
}

let config;
try {
  config = loadConfig();
} catch (error) {
  fatal(error);
}
const logger = createLogger(config.LOG_LEVEL);
let app;
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
    cache: app.mode.cache === 'redis' ? 'Redis (multi-instance)' : 'in process (single instance)',
  },
  `castellan listening on ${url}`,
);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.warn('shutdown timed out; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  });
}
