import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * JSON logs. Secrets never reach them: request logs carry no headers or bodies,
 * and these paths are censored should an object carrying them be logged by mistake.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'castellan' },
      redact: {
        paths: ['password', '*.password', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'accessToken', '*.accessToken'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
