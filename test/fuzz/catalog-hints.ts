import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { World } from './world.js';

/**
 * The document lists actions, types and fields, but not which belong together: drawn from its
 * enums alone, a batch of checks or a role's permissions is nearly always refused for a
 * mismatch. Well-formed requests draw them from the catalog itself (policies/catalog.json).
 */
interface Catalog {
  subjects: Record<string, { actions: string[]; fields?: string[]; attributes?: string[] }>;
  projectRolePermissions: Record<string, string[]>;
  companyRolePermissions: Record<string, string[]>;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function loadCatalog(): Catalog {
  return JSON.parse(readFileSync(path.join(ROOT, 'policies/catalog.json'), 'utf8')) as Catalog;
}

/** A question whose action and field belong to its type, about the world's projects. */
export function question(catalog: Catalog, world: World): fc.Arbitrary<Record<string, unknown>> {
  return fc.constantFrom(...Object.entries(catalog.subjects)).chain(([type, spec]) =>
    fc.record(
      {
        action: fc.constantFrom(...spec.actions),
        resource: fc.record(
          {
            type: fc.constant(type),
            id: fc.constantFrom(...world.projects),
            attributes: spec.attributes ? fc.record({ [spec.attributes[0]!]: fc.constantFrom(...world.projects) }) : fc.constant({}),
          },
          { requiredKeys: ['type'] },
        ),
        field: spec.fields ? fc.constantFrom(...spec.fields) : fc.constant(undefined),
      },
      { requiredKeys: ['action', 'resource'] },
    ).map((q) => (q.field === undefined ? { action: q.action, resource: q.resource } : q)),
  );
}

/** Permissions a role of that kind may hold. */
export function permissions(catalog: Catalog, kind: 'company' | 'project'): fc.Arbitrary<unknown[]> {
  const vocabulary = kind === 'company' ? catalog.companyRolePermissions : catalog.projectRolePermissions;
  const permission = fc.constantFrom(...Object.entries(vocabulary)).chain(([subject, actions]) => {
    const fields = catalog.subjects[subject]?.fields;
    return fc.record(
      {
        action: fc.constantFrom(...actions),
        subject: fc.constant(subject),
        fields: fields ? fc.subarray(fields, { minLength: 1 }) : fc.constant(undefined),
        // Only company roles may restrict (D16).
        inverted: kind === 'company' ? fc.boolean() : fc.constant(false),
      },
      { requiredKeys: ['action', 'subject'] },
    ).map((p) => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)));
  });
  return fc.array(permission, { maxLength: 4 });
}
