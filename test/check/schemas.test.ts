import { createMongoAbility } from '@casl/ability';
import fc from 'fast-check';
import type { z } from 'zod';
import { describe, expect, it } from 'vitest';
import type { AbilityProvider, PrincipalAbility } from '../../src/check/abilities.js';
import { createCheckSchemas } from '../../src/check/schemas.js';
import { createCheckService } from '../../src/check/service.js';
import { InvalidRequestError } from '../../src/errors.js';
import { loadPolicies } from '../../src/policy/catalog.js';

/**
 * /v1/check and /v1/check/batch validate with a hand-written parser (it runs on every
 * check), while the OpenAPI document describes them with zod schemas built from the
 * catalog. This holds the two to the same answer: every body one accepts the other
 * accepts, and a refused body names a path the schema also objects to.
 */
const { catalog } = loadPolicies();
const schemas = createCheckSchemas(catalog);
const entry: PrincipalAbility = { ability: createMongoAbility([]), rules: [], projects: new Set(), version: 1n, versionText: '1', validatedAt: 0, standing: undefined };
const abilities: AbilityProvider = { peek: () => entry, load: async () => entry, get: () => entry, clear: () => {}, size: 1 };
const service = createCheckService({ catalog, abilities, verifyToken: async () => ({ sub: 'u1' }) });

const subjects = Object.keys(catalog.subjects);
const actions = [...new Set(subjects.flatMap((s) => catalog.subjects[s]!.actions)), 'fly', ''];
const fields = [...new Set(subjects.flatMap((s) => catalog.subjects[s]!.fields ?? [])), 'logo'];
// Company and resource ids are narrow; user ids (principal.id) are any 1-255 characters without control characters.
const ids = ['acme', 'u-42', 'p:7', 'a b', '', 'x'.repeat(129), 'auth0|zed', 'a\u0000b', 'x'.repeat(256), '\ud800', '..'];
const scalar = fc.oneof(fc.constantFrom(...ids), fc.integer(), fc.boolean(), fc.constant(null), fc.constant({ $ne: 'x' }), fc.constant(['p1']));
/** Mostly well-formed, sometimes not, field by field. */
const maybe = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary: good }, { weight: 1, arbitrary: scalar });

const resource = fc.record(
  {
    type: maybe(fc.constantFrom(...subjects, 'Invoice')),
    id: maybe(fc.constantFrom(...ids)),
    attributes: maybe(fc.dictionary(fc.constantFrom('projectId', 'id', 'colour'), scalar, { maxKeys: 2 })),
    owner: fc.constant('x'),
  },
  { requiredKeys: [] },
);
const question = fc.record(
  { action: maybe(fc.constantFrom(...actions)), resource: maybe(resource), field: maybe(fc.constantFrom(...fields)), extra: fc.constant(1) },
  { requiredKeys: [] },
);
const principal = fc.oneof(
  fc.record({ id: maybe(fc.constantFrom(...ids)) }),
  fc.record({ token: maybe(fc.constantFrom('a.b.c', '')) }),
  fc.record({ id: fc.constant('u1'), token: fc.constant('a.b.c') }),
  fc.record({ id: fc.constant('u1'), role: fc.constant('admin') }),
  scalar,
);
const envelope = {
  company: maybe(fc.constantFrom(...ids)),
  principal,
  consistency: maybe(fc.oneof(fc.record({ minVersion: maybe(fc.constantFrom('7', '007', '1'.repeat(21), 'x')) }, { requiredKeys: [] }), fc.constant({ at: 1 }))),
};
// Drop `undefined` keys, as JSON would.
const asJson = <T>(value: T): unknown => JSON.parse(JSON.stringify(value) ?? 'null');

const checkBody = fc
  .tuple(fc.record(envelope, { requiredKeys: ['principal'] }), question)
  .map(([head, q]) => asJson({ ...head, ...q }));
const batchBody = fc
  .record({ ...envelope, checks: maybe(fc.array(question, { minLength: 0, maxLength: 3 })) }, { requiredKeys: ['principal', 'checks'] })
  .map(asJson);

/** The paths zod objects to, named the way the API names them. */
function zodPaths(result: { success: true } | { success: false; error: z.ZodError }): string[] {
  if (result.success) return [];
  return result.error.issues.map((issue) => {
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
    return path.length ? path.map(String).join('.') : '(body)';
  });
}

async function handParser(run: () => unknown): Promise<{ ok: true } | { ok: false; path: string }> {
  try {
    await run();
    return { ok: true };
  } catch (error) {
    if (!(error instanceof InvalidRequestError)) throw error;
    return { ok: false, path: String(error.details?.path) };
  }
}

/**
 * The hand parser's path is one zod objects to, or lies inside or around one (zod names a
 * failed union, `principal`, where the parser names the member, `principal.token`).
 */
const agreesOnPath = (path: string, paths: string[]) =>
  paths.some((p) => p === path || p.startsWith(`${path}.`) || path.startsWith(`${p}.`) || path === '(body)' || p === '(body)');

describe('check request schemas agree with the hot-path parser', () => {
  it('POST /v1/check: the same bodies are accepted, and refusals name a path the schema also refuses', async () => {
    await fc.assert(
      fc.asyncProperty(checkBody, async (body) => {
        const hand = await handParser(() => service.check(body));
        const zod = schemas.checkBody.safeParse(body);
        expect(hand.ok).toBe(zod.success);
        if (!hand.ok) expect(agreesOnPath(hand.path, zodPaths(zod)), `${hand.path} not in ${zodPaths(zod).join(', ')}`).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('POST /v1/check/batch: the same', async () => {
    await fc.assert(
      fc.asyncProperty(batchBody, async (body) => {
        const hand = await handParser(() => service.batch(body));
        const zod = schemas.batchBody.safeParse(body);
        expect(hand.ok).toBe(zod.success);
        if (!hand.ok) expect(agreesOnPath(hand.path, zodPaths(zod)), `${hand.path} not in ${zodPaths(zod).join(', ')}`).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
