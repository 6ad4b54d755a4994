/** PostgreSQL error details, as both pg and PGlite report them. */
interface PgError {
  code?: string;
  constraint?: string;
}

const asPgError = (error: unknown): PgError => (typeof error === 'object' && error !== null ? (error as PgError) : {});

/** A unique (23505) violation, optionally of one named constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const pg = asPgError(error);
  return pg.code === '23505' && (constraint === undefined || pg.constraint === constraint);
}

/** A foreign-key (23503) violation, optionally of one named constraint. */
export function isForeignKeyViolation(error: unknown, constraint?: string): boolean {
  const pg = asPgError(error);
  return pg.code === '23503' && (constraint === undefined || pg.constraint === constraint);
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300']);
const CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|not queryable|connect ECONNREFUSED/;

/**
 * The database could not be reached (refused, dropped, shutting down, out of connections),
 * as opposed to refusing the statement: the request may succeed later, elsewhere.
 */
export function isConnectionError(error: unknown): boolean {
  const pg = asPgError(error);
  if (pg.code && (CONNECTION_CODES.has(pg.code) || pg.code.startsWith('08'))) return true;
  return error instanceof Error && CONNECTION_MESSAGES.test(error.message);
}

/** A statement cancelled by DATABASE_STATEMENT_TIMEOUT_MS (57014, query_canceled): the store was too slow, the request may succeed later. */
export function isStatementTimeout(error: unknown): boolean {
  return asPgError(error).code === '57014';
}
