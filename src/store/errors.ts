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
