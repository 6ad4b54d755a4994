import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { ID_PATTERN } from '../policy/catalog.js';

export const idSchema = z.string().regex(ID_PATTERN, 'must be an id (1-128 chars of [A-Za-z0-9._:@-])');

/** Parses a request body with a strict zod schema; the first problems become a 400 naming their paths. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 10).map((issue) => ({ path: issue.path.map(String).join('.') || '(body)', message: issue.message }));
  const first = issues[0]!;
  throw new InvalidRequestError(`${first.path}: ${first.message}`, { issues });
}

/** Path parameters are ids; a malformed one is a 400, not a lookup. */
export function parseId(value: unknown, name: string): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) throw new InvalidRequestError(`${name} must be an id (1-128 chars of [A-Za-z0-9._:@-])`, { path: name });
  return value;
}
