import { randomUUID } from 'node:crypto';
import { pino, stdTimeFunctions, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Censored should an object carrying a secret be logged by mistake. The real guarantee
 * is upstream: request logs carry no headers, bodies or query strings.
 */
const REDACTED_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'secret',
  '*.secret',
  'AUTH_JWT_SECRET',
  '*.AUTH_JWT_SECRET',
  'CHECK_TOKEN',
  '*.CHECK_TOKEN',
  'DATABASE_URL',
  '*.DATABASE_URL',
  'REDIS_URL',
  '*.REDIS_URL',
  'WEBHOOK_SECRET',
  '*.WEBHOOK_SECRET',
];

/** JSON logs, one object a line, with level names and ISO times so any log pipeline reads them as is. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'castellan' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}

export const REQUEST_ID_HEADER = 'x-request-id';
export const REQUEST_ID_MAX_LENGTH = 128;

// Ids a caller sends are echoed in a header and written to logs: only characters that
// are harmless in both (no spaces, quotes or control characters), and a bounded length.
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:+=/@-]+$/;

/** The caller's `x-request-id` when it is short and safe, else a new UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  if (typeof header === 'string' && header.length > 0 && header.length <= REQUEST_ID_MAX_LENGTH && SAFE_REQUEST_ID.test(header)) return header;
  return randomUUID();
}
