import { createHash } from 'node:crypto';
import { InvalidRequestError, PreconditionFailedError } from '../../errors.js';

/**
 * Optimistic concurrency on a company's roles. The ETag is derived from the content a
 * `GET /roles` shows, so it changes exactly when that content does, on every instance,
 * without a stored counter. Writes compare `If-Match` with the ETag of the roles they
 * read under the company's write lock, so the comparison and the write cannot interleave
 * with another writer.
 */

/** The strong ETag of a roles listing; `content` must be built in a fixed order. */
export function rolesEtag(content: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(content)).digest('base64url')}"`;
}

/** An `If-Match` header as a write needs it: no condition, `*`, or a list of entity tags. */
export type Precondition = { kind: 'none' } | { kind: 'any' } | { kind: 'tags'; tags: Array<{ weak: boolean; tag: string }> };

const ENTITY_TAG = /^(W\/)?("[\x21\x23-\x7e\x80-\xff]*")$/;

/** Parses `If-Match` (RFC 9110 §13.1.1); a header that is not one throws a 400 naming it. */
export function parseIfMatch(header: string | string[] | undefined): Precondition {
  if (header === undefined) return { kind: 'none' };
  const value = Array.isArray(header) ? header.join(', ') : header;
  if (value.trim() === '*') return { kind: 'any' };
  const parts = value.split(',').map((part) => part.trim());
  const tags: Array<{ weak: boolean; tag: string }> = [];
  for (const part of parts) {
    const match = ENTITY_TAG.exec(part);
    if (!match) {
      throw new InvalidRequestError('If-Match must be "*" or a list of entity tags such as "\\"abc\\"" from an ETag', { path: 'headers.if-match' });
    }
    tags.push({ weak: match[1] !== undefined, tag: match[2]! });
  }
  return { kind: 'tags', tags };
}

/**
 * Whether a write may proceed on roles whose ETag is `current`. If-Match uses strong
 * comparison, so a weak tag never matches; the roles always exist, so `*` always does.
 */
export function preconditionHolds(precondition: Precondition, current: string): boolean {
  if (precondition.kind !== 'tags') return true;
  return precondition.tags.some(({ weak, tag }) => !weak && tag === current);
}

export function assertPrecondition(precondition: Precondition, current: string): void {
  if (!preconditionHolds(precondition, current)) {
    // The current ETag is not handed out here: a client should see what changed before retrying.
    throw new PreconditionFailedError('the roles changed since you read them: GET the roles again and retry with the new ETag');
  }
}
