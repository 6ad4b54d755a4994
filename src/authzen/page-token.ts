import { createHash } from 'node:crypto';
import { InvalidRequestError } from '../errors.js';

/**
 * Search page tokens: opaque to the PEP, they carry where the next page starts, the version
 * the first page was answered at (a floor for the next ones, so paging through several
 * instances never goes back in time) and a digest of the first page's parameters. The spec
 * has every parameter but the token stay the same across pages; a token presented with
 * others is refused. Nothing in a token grants anything: a forged one only starts a search
 * the caller could start anyway.
 */
export interface Cursor {
  /** The last result of the previous page (null: from the start). */
  after: string | null;
  version: string;
  /** The first page's page.limit: a later page may leave it out (the spec's own example of 8.2.3 does) but not change it. */
  limit: number;
}

/** JSON with object keys sorted, so equal parameters give equal digests whatever their order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The digest a token is bound to: the endpoint, the company and every parameter but the token. */
export const searchBinding = (parameters: unknown): string => createHash('sha256').update(canonical(parameters)).digest('base64url').slice(0, 22);

export const writeToken = (binding: string, cursor: Cursor): string =>
  Buffer.from(JSON.stringify({ b: binding, a: cursor.after, v: cursor.version, l: cursor.limit })).toString('base64url');

const refuse = (message: string): never => {
  throw new InvalidRequestError(`page.token: ${message}`, { path: 'page.token' });
};

export function readToken(token: string, binding: string): Cursor {
  let state: unknown;
  try {
    state = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return refuse('is not a next_token this endpoint gave');
  }
  const { b, a, v, l } = (state ?? {}) as Record<string, unknown>;
  const wellFormed = typeof b === 'string' && (a === null || typeof a === 'string') && typeof v === 'string' && /^\d{1,20}$/.test(v) && Number.isInteger(l) && (l as number) >= 0;
  if (!wellFormed) return refuse('is not a next_token this endpoint gave');
  if (b !== binding) return refuse('belongs to a search with other parameters: subject, action, resource and context must be those of the first page');
  return { after: a as string | null, version: v as string, limit: l as number };
}
