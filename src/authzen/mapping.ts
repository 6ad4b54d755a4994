import type { z } from 'zod';
import { parseQuestion, QUESTION_KEYS, type CheckQuestion } from '../check/decide.js';
import { parseMinVersion, parseUserId } from '../check/service.js';
import { InvalidRequestError } from '../errors.js';
import type { Catalog } from '../policy/catalog.js';
import type { Action, Context, Resource } from './schemas.js';

/**
 * AuthZEN entities onto Castellan's check (API.md, "AuthZEN Authorization API 1.0"):
 * subject `{type: "user", id}`, action `{name}` from the catalog, resource `{type, id?,
 * properties: {<catalog attributes>, field?}}`, `context.minVersion` for consistency.minVersion.
 * Problems are refused with the AuthZEN name of the field (`resource.properties.projectId`),
 * under `at` (`evaluations.3.`) for an item of a batch.
 */
export const SUBJECT_TYPE = 'user';

const invalid = (path: string, message: string): never => {
  throw new InvalidRequestError(`${path}: ${message}`, { path });
};

/** A zod-checked entity, its first problem named by its path. */
export function parseEntity<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  return invalid([path, ...issue.path.map(String)].join('.'), issue.message);
}

export function userOf(subject: { type: string; id: string }, at: string): string {
  if (subject.type !== SUBJECT_TYPE) invalid(`${at}subject.type`, `must be "${SUBJECT_TYPE}" (got "${subject.type}")`);
  try {
    return parseUserId(subject.id, `${at}subject.id`);
  } catch (error) {
    return rename(error, () => `${at}subject.id`);
  }
}

/** Check names to AuthZEN names: the question's attributes and field are the resource's properties. */
function authzenPath(checkPath: string): string {
  if (checkPath === 'action') return 'action.name';
  if (checkPath === 'field') return 'resource.properties.field';
  if (checkPath.startsWith('resource.attributes.')) return `resource.properties.${checkPath.slice('resource.attributes.'.length)}`;
  return checkPath;
}

function rename(error: unknown, pathOf: (checkPath: string) => string): never {
  if (!(error instanceof InvalidRequestError)) throw error;
  const checkPath = String(error.details?.path ?? '');
  // "resource.id must be an id" under its new name reads "resource.id: must be an id".
  const message = checkPath && error.message.startsWith(`${checkPath} `) ? error.message.slice(checkPath.length + 1) : error.message;
  return invalid(pathOf(checkPath), message);
}

/**
 * The check the action and resource ask. Only the type's catalog attributes (and `field`)
 * are read from the properties; other properties are the PEP's business and are ignored.
 */
export function questionOf(catalog: Catalog, action: Action, resource: Resource, at: string): CheckQuestion {
  const properties = resource.properties ?? {};
  const names = catalog.subjects[resource.type]?.attributes ?? [];
  const attributes = Object.fromEntries(names.filter((name) => properties[name] !== undefined).map((name) => [name, properties[name]]));
  const raw = {
    action: action.name,
    resource: { type: resource.type, ...(resource.id !== undefined ? { id: resource.id } : {}), ...(Object.keys(attributes).length ? { attributes } : {}) },
    ...(properties.field !== undefined ? { field: properties.field } : {}),
  };
  try {
    return parseQuestion(catalog, raw, '', QUESTION_KEYS);
  } catch (error) {
    return rename(error, (checkPath) => `${at}${authzenPath(checkPath)}`);
  }
}

export function minVersionOf(context: Context | undefined, at: string): bigint | undefined {
  if (context?.minVersion === undefined) return undefined;
  try {
    return parseMinVersion({ minVersion: context.minVersion });
  } catch (error) {
    return rename(error, () => `${at}context.minVersion`);
  }
}
