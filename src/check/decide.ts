import type { Catalog } from '../policy/catalog.js';
import { ID_PATTERN } from '../policy/catalog.js';
import { PROJECT_PLACEHOLDER } from '../policy/compiler.js';
import { InvalidRequestError } from '../errors.js';
import type { RuleFinder } from './compact-ability.js';

export interface CheckResource {
  type: string;
  id?: string;
  attributes?: Record<string, unknown>;
}

export interface CheckQuestion {
  action: string;
  resource: CheckResource;
  field?: string;
}

export interface Decision {
  allowed: boolean;
  reason: string;
}

type ResourceObject = Record<string, unknown>;

/**
 * Builds the object CASL decides on. Only catalog attributes reach CASL; `id` comes
 * from `resource.id` when given. The object is always typed: a bare type string would
 * let any conditional rule answer "yes". The type is its class's `modelName`, which CASL
 * reads by default, rather than `subject(type, …)`, which defines a property on every
 * object (a runtime call that showed in the warm-path profile).
 */
function resourceObject(type: TypeInfo, resource: CheckResource): ResourceObject {
  const object = new type.resourceClass();
  if (type.attributes && resource.attributes) {
    for (const name of type.attributes) {
      const value = resource.attributes[name];
      if (value !== undefined) object[name] = value;
    }
  }
  if (resource.id !== undefined) object.id = resource.id;
  return object;
}

/**
 * Creating a project is the one question about a project that is not registered yet (the
 * service that owns projects asks before it registers one), so it is not held to D15.
 */
export const isProjectCreation = (action: string, type: string): boolean => action === 'create' && type === 'Project';

/**
 * The project a question names, as resourceObject puts it on the object (`id` from
 * `resource.id` first), read from the question: the objects CASL gets are of a class per
 * type, so a lookup by attribute name on them would be megamorphic on the hot path.
 */
export function projectNamed(attribute: string, resource: CheckResource): unknown {
  return attribute === 'id' && resource.id !== undefined ? resource.id : resource.attributes?.[attribute];
}

/**
 * Why an allow on a project-scoped resource does not stand (D15), or null when it does: the
 * project must be registered in the company, and a question that names no project is about
 * none of them. Asked only after a rule allowed: a deny costs nothing more.
 */
function unregisteredProject(type: string, attribute: string, project: unknown, projects: ReadonlySet<string>, companyId: string | undefined): string | null {
  if (project === undefined) return `${type} checks need ${attribute === 'id' ? 'resource.id' : `resource.attributes.${attribute}`}; none was given`;
  if (projects.has(project as string)) return null;
  // Only an id can be registered; anything else is named as error messages name client input.
  return `project ${typeof project === 'string' && ID_PATTERN.test(project) ? project : shown(project)} is not registered in ${companyId ?? 'the company'}`;
}

/**
 * Why nothing allowed it, pointing at what decided: the principal's standing when they hold
 * nothing at all (no such company, not an active member), a project-scoped question that
 * names no project or an unregistered one, and only then the missing rule. Built on the deny
 * path only; the standing is a string made when the entry was loaded.
 */
function denialReason(type: TypeInfo, projects: ReadonlySet<string>, question: CheckQuestion, standing: string | undefined, companyId: string | undefined): string {
  if (standing !== undefined) return standing;
  const attribute = type.projectAttribute;
  if (attribute !== undefined && !isProjectCreation(question.action, question.resource.type)) {
    const why = unregisteredProject(question.resource.type, attribute, projectNamed(attribute, question.resource), projects, companyId);
    if (why !== null) return why;
  }
  return `no rule allows ${question.action} ${question.resource.type}${question.field ? ` (${question.field})` : ''}`;
}

/**
 * Takes one decision on a warm ability and the company's registered projects at the same
 * version. Pure: the same ability, projects, question and standing give the same answer.
 * `companyId` only names the company in a deny's reason.
 */
export function decide(catalog: Catalog, ability: RuleFinder, projects: ReadonlySet<string>, question: CheckQuestion, standing?: string, companyId?: string): Decision {
  const type = vocabularyOf(catalog).types.get(question.resource.type)!;
  const object = resourceObject(type, question.resource);
  const rule = ability.relevantRuleFor(question.action, object, question.field);
  if (rule === null) return { allowed: false, reason: denialReason(type, projects, question, standing, companyId) };
  const attribute = type.projectAttribute;
  const project = attribute === undefined ? undefined : projectNamed(attribute, question.resource);
  if (attribute !== undefined && !rule.inverted && !isProjectCreation(question.action, question.resource.type)) {
    const unregistered = unregisteredProject(question.resource.type, attribute, project, projects, companyId);
    if (unregistered !== null) return { allowed: false, reason: unregistered };
  }
  let reason = rule.reason ?? (rule.inverted ? 'a rule forbids it' : 'a rule allows it');
  if (reason.includes(PROJECT_PLACEHOLDER)) reason = reason.replace(PROJECT_PLACEHOLDER, String(project ?? ''));
  return { allowed: !rule.inverted, reason };
}

/**
 * What an error message may say of a value the client sent: at most 64 characters of a
 * string, the kind of anything else. Never String() of client input: an object with a
 * `toString` key throws, a deep array overflows the stack, and a long value would come back
 * several times over.
 */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${typeof value === 'number' || typeof value === 'boolean' ? value : ''}`.trim();
}

const fail = (message: string, path: string): never => {
  throw new InvalidRequestError(message, { path });
};

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(object: Record<string, unknown>, allowed: ReadonlySet<string>, path: string): void {
  for (const key in object) if (!allowed.has(key)) fail(`unknown field ${shown(key)}`, path ? `${path}.${key.slice(0, 64)}` : key.slice(0, 64));
}

export const QUESTION_KEYS: ReadonlySet<string> = new Set(['action', 'resource', 'field']);
const RESOURCE_KEYS = new Set(['type', 'id', 'attributes']);

/**
 * Validates one question against the catalog. Hand-written rather than a schema
 * library: it runs on every check, and unknown actions must be refused before they
 * reach CASL (each new action string would grow CASL's rule index). `allowedKeys` null:
 * the caller has already refused unknown keys of `value`.
 */
export function parseQuestion(catalog: Catalog, value: unknown, path: string, allowedKeys: ReadonlySet<string> | null = QUESTION_KEYS): CheckQuestion {
  if (!isPlainObject(value)) return fail('must be an object', path || '(body)');
  const at = (name: string) => (path ? `${path}.${name}` : name);
  const vocabulary = vocabularyOf(catalog);
  // First the shape of every field, then whether they fit together: a body with both kinds of
  // problem is refused for its shape, as the OpenAPI schema (test/check/schemas.test.ts) says.
  const { action, resource, field } = value;
  if (typeof action !== 'string' || !vocabulary.actions.has(action)) return fail(`${shown(action)} is not an action of the catalog`, at('action'));
  if (!isPlainObject(resource)) return fail('resource must be an object', at('resource'));
  checkKeys(resource, RESOURCE_KEYS, at('resource'));
  const { type, id, attributes } = resource;
  if (typeof type !== 'string') return fail('resource.type must be a string', at('resource.type'));
  const spec = catalog.subjects[type];
  if (!spec) return fail(`unknown resource type ${shown(type)}`, at('resource.type'));
  if (id !== undefined && (typeof id !== 'string' || !ID_PATTERN.test(id))) return fail('resource.id must be an id (1-128 chars of [A-Za-z0-9._:@-])', at('resource.id'));
  if (attributes !== undefined) {
    if (!isPlainObject(attributes)) return fail('resource.attributes must be an object', at('resource.attributes'));
    for (const key in attributes) {
      const attributeValue = attributes[key];
      if (typeof attributeValue !== 'string' && typeof attributeValue !== 'number' && typeof attributeValue !== 'boolean') {
        fail('attribute values must be strings, numbers or booleans', at(`resource.attributes.${key.slice(0, 64)}`));
      }
    }
  }
  if (field !== undefined && (typeof field !== 'string' || !vocabulary.fields.has(field))) return fail(`${shown(field)} is not a field of the catalog`, at('field'));
  if (allowedKeys) checkKeys(value, allowedKeys, path);
  if (!spec.actions.includes(action)) return fail(`"${action}" is not an action of ${type}`, at('action'));
  if (field !== undefined && !spec.fields?.includes(field as string)) return fail(`"${field as string}" is not a field of ${type}`, at('field'));
  const question: CheckQuestion = { action, resource: { type } };
  if (id !== undefined) question.resource.id = id as string;
  if (attributes !== undefined) question.resource.attributes = attributes as Record<string, unknown>;
  if (field !== undefined) question.field = field as string;
  return question;
}

/** A class whose instances CASL takes for resources of `type`. */
function resourceClass(type: string): new () => ResourceObject {
  return class {
    static readonly modelName = type;
  } as unknown as new () => ResourceObject;
}

/** What a decision needs to know of a subject type, looked up once per decision. */
interface TypeInfo {
  readonly resourceClass: new () => ResourceObject;
  readonly attributes: readonly string[] | undefined;
  /** The attribute naming the resource's project, for project-scoped types. */
  readonly projectAttribute: string | undefined;
}

interface Vocabulary {
  actions: ReadonlySet<string>;
  fields: ReadonlySet<string>;
  types: ReadonlyMap<string, TypeInfo>;
}

/** Every action and field the catalog names, and what a decision needs per subject type: computed once per catalog. */
const vocabularies = new WeakMap<Catalog, Vocabulary>();
function vocabularyOf(catalog: Catalog): Vocabulary {
  let vocabulary = vocabularies.get(catalog);
  if (!vocabulary) {
    const specs = Object.values(catalog.subjects);
    vocabulary = {
      actions: new Set(specs.flatMap((s) => s.actions)),
      fields: new Set(specs.flatMap((s) => s.fields ?? [])),
      types: new Map(
        Object.entries(catalog.subjects).map(([type, spec]) => [type, { resourceClass: resourceClass(type), attributes: spec.attributes, projectAttribute: spec.projectAttribute }]),
      ),
    };
    vocabularies.set(catalog, vocabulary);
  }
  return vocabulary;
}
