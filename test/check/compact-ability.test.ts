import { createMongoAbility } from '@casl/ability';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCheckAbility } from '../../src/check/abilities.js';
import { CompactAbility, createCompactAbilities } from '../../src/check/compact-ability.js';
import { decide } from '../../src/check/decide.js';
import { loadPolicies } from '../../src/policy/catalog.js';
import { compileRules, type CompiledRule, type PrincipalFacts } from '../../src/policy/compiler.js';
import type { StoredPermission } from '../../src/policy/types.js';

const policies = loadPolicies();
const { catalog } = policies;
const SUBJECTS = [...Object.keys(catalog.subjects), 'all'];
const ACTIONS = [...new Set([...Object.values(catalog.subjects).flatMap((s) => s.actions), 'manage'])];
const FIELDS = [...new Set(Object.values(catalog.subjects).flatMap((s) => s.fields ?? []))];
const PROJECTS = ['p0', 'p1', 'p2', 'p3', 'p4', 'p10', 'P5', 'q'];
const REGISTERED = new Set(PROJECTS.slice(0, 6));

/** A type as decide() builds its resources: CASL reads the class's modelName. */
const classes = new Map(SUBJECTS.map((type) => [type, class {
  static readonly modelName = type;
}]));

const build = (rules: CompiledRule[], maxShared = 1000) => {
  const [prefix, groups] = createCompactAbilities({ maxShared, createAbility: createCheckAbility }).build('c1', rules, REGISTERED);
  return new CompactAbility(prefix, groups);
};

/**
 * Any rule CASL takes, not only the compiler's: unconditioned or with conditions of the
 * compact shape (one attribute, `$in` a list of strings, sorted or not) or of another shape
 * (which must stay with CASL), fields with and without patterns, inverted or not, with and
 * without a reason.
 */
const idList = fc.oneof(fc.uniqueArray(fc.constantFrom(...PROJECTS), { maxLength: 12 }).map((ids) => ids.sort()), fc.uniqueArray(fc.constantFrom(...PROJECTS), { maxLength: 5 }));
const conditions = fc.oneof(
  { weight: 4, arbitrary: fc.record({ attribute: fc.constantFrom('id', 'projectId'), ids: idList }).map(({ attribute, ids }) => ({ [attribute]: { $in: ids } })) },
  { weight: 1, arbitrary: fc.constantFrom<Record<string, unknown>>({ projectId: { $eq: 'p1' } }, { id: 'p2' }, { id: { $in: ['p1'] }, projectId: { $in: ['p1'] } }, { projectId: { $in: [1, 'p1'] } }) },
);
const ruleArb: fc.Arbitrary<CompiledRule> = fc
  .record(
    {
      action: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...ACTIONS) }, { weight: 1, arbitrary: fc.subarray(ACTIONS, { minLength: 1, maxLength: 3 }) }),
      subject: fc.constantFrom(...SUBJECTS),
      fields: fc.oneof(fc.subarray(FIELDS, { minLength: 1, maxLength: 3 }), fc.constant(['bra*'])),
      conditions,
      inverted: fc.boolean(),
      reason: fc.string({ maxLength: 6 }),
    },
    { requiredKeys: ['action', 'subject'] },
  )
  .map((rule) => rule as unknown as CompiledRule);

const question = fc.record({
  action: fc.constantFrom(...ACTIONS),
  type: fc.constantFrom(...SUBJECTS),
  field: fc.option(fc.constantFrom(...FIELDS, 'other'), { nil: undefined }),
  id: fc.option(fc.oneof(fc.constantFrom(...PROJECTS, 'zz'), fc.constant(3)), { nil: undefined }),
  projectId: fc.option(fc.oneof(fc.constantFrom(...PROJECTS), fc.array(fc.constantFrom(...PROJECTS), { maxLength: 3 }), fc.constant(true)), { nil: undefined }),
});

function objectOf(q: { type: string; id?: unknown; projectId?: unknown }): object {
  const object = new (classes.get(q.type)!)() as Record<string, unknown>;
  if (q.id !== undefined) object.id = q.id;
  if (q.projectId !== undefined) object.projectId = q.projectId;
  return object;
}

describe('compact abilities decide as CASL does on the same rules', () => {
  it('finds the same rule as the check path\'s CASL ability and a stock one, for any rules and questions', () => {
    let compared = 0;
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 14 }), fc.array(question, { minLength: 30, maxLength: 30 }), (rules, questions) => {
        const compact = build(rules);
        const checkPath = createCheckAbility(rules);
        const stock = createMongoAbility(rules);
        for (const q of questions) {
          const object = objectOf(q);
          const expected = checkPath.relevantRuleFor(q.action, object as never, q.field);
          const actual = compact.relevantRuleFor(q.action, object, q.field);
          const seen = (rule: { inverted: boolean; reason?: string | undefined } | null) => (rule === null ? null : { inverted: rule.inverted, reason: rule.reason });
          expect(seen(actual), JSON.stringify({ rules, q })).toEqual(seen(expected));
          expect(seen(stock.relevantRuleFor(q.action, object as never, q.field))).toEqual(seen(expected));
          compared++;
        }
      }),
      { numRuns: 400 },
    );
    expect(compared).toBe(12_000);
  });

  it('gives back the rules it was built from, key for key', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 14 }), (rules) => {
        expect(JSON.stringify(build(rules).rules)).toBe(JSON.stringify(rules));
      }),
      { numRuns: 300 },
    );
  });
});

const permission = (scope: 'company' | 'project'): fc.Arbitrary<StoredPermission> => {
  const table = scope === 'project' ? catalog.projectRolePermissions : catalog.companyRolePermissions;
  return fc.constantFrom(...Object.keys(table)).chain((subject) =>
    fc
      .record(
        {
          action: fc.constantFrom(...table[subject]!),
          subject: fc.constant(subject),
          fields: catalog.subjects[subject]!.fields ? fc.subarray(catalog.subjects[subject]!.fields!, { minLength: 1 }) : fc.constant(undefined),
          inverted: scope === 'project' ? fc.constant(undefined) : fc.boolean(),
        },
        { requiredKeys: ['action', 'subject'] },
      )
      .map((p) => JSON.parse(JSON.stringify(p)) as StoredPermission),
  );
};

const factsArb: fc.Arbitrary<PrincipalFacts> = fc.record({
  membership: fc.record({
    status: fc.constantFrom('active' as const, 'active' as const, 'inactive' as const),
    role: fc.constantFrom('admin' as const, 'manager' as const, 'editor' as const, 'collaborator' as const),
    owner: fc.boolean(),
    applicationAccess: fc.boolean(),
    developerAccess: fc.boolean(),
  }),
  companyRolePermissions: fc.array(permission('company'), { maxLength: 6 }),
  projectGrants: fc.array(
    fc.record({
      projectId: fc.constantFrom(...PROJECTS.slice(0, 6)),
      roleKey: fc.constantFrom('viewer', 'contributor', 'custom'),
      teamId: fc.constantFrom(null, 't1', 't2'),
      permissions: fc.array(permission('project'), { minLength: 1, maxLength: 4 }),
    }),
    { maxLength: 10 },
  ),
});

describe('compiled principals: decide() on the compact entry answers what it answers on CASL', () => {
  it('for random facts, shared tables and questions (allowed and reason)', () => {
    // One set of shared tables for every run, small enough to evict: sharing never mixes principals.
    const shared = createCompactAbilities({ maxShared: 8, createAbility: createCheckAbility });
    fc.assert(
      fc.property(fc.array(factsArb, { minLength: 1, maxLength: 4 }), fc.array(question, { minLength: 20, maxLength: 20 }), (principals, questions) => {
        // A role's permissions are the same for every grant of it, as the store has them.
        const entries = principals.map((facts) => {
          const roles = new Map<string, readonly StoredPermission[]>();
          const projectGrants = facts.projectGrants.map((g) => ({ ...g, permissions: roles.get(g.roleKey) ?? (roles.set(g.roleKey, g.permissions), g.permissions) }));
          const rules = compileRules(catalog, { ...facts, projectGrants });
          const [prefix, groups] = shared.build('c1', rules, REGISTERED);
          return { rules, compact: new CompactAbility(prefix, groups), casl: createCheckAbility(rules) };
        });
        for (const { rules, compact, casl } of entries) {
          expect(JSON.stringify(compact.rules)).toBe(JSON.stringify(rules));
          for (const q of questions) {
            if (q.type === 'all' || !catalog.subjects[q.type]!.actions.includes(q.action)) continue;
            const spec = catalog.subjects[q.type]!;
            const project = typeof q.projectId === 'string' ? q.projectId : undefined;
            const resource = { type: q.type, ...(spec.projectAttribute === 'id' && project ? { id: project } : {}), ...(spec.projectAttribute === 'projectId' && project ? { attributes: { projectId: project } } : {}) };
            const field = q.field && spec.fields?.includes(q.field) ? q.field : undefined;
            const asked = { action: q.action, resource, ...(field ? { field } : {}) };
            expect(decide(catalog, compact, REGISTERED, asked)).toEqual(decide(catalog, casl, REGISTERED, asked));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('principals of one company share the prefix ability, templates and a team\'s project list', () => {
    const shared = createCompactAbilities({ maxShared: 100, createAbility: createCheckAbility });
    const viewer = policies.projectRoles.find((r) => r.key === 'viewer')!.permissions;
    const facts = (grants: PrincipalFacts['projectGrants']): PrincipalFacts => ({
      membership: { status: 'active', role: 'editor', owner: false, applicationAccess: true, developerAccess: false },
      companyRolePermissions: policies.companyRoles.editor,
      projectGrants: grants,
    });
    const team = [
      { projectId: 'p1', roleKey: 'viewer', teamId: 't1', permissions: viewer },
      { projectId: 'p2', roleKey: 'viewer', teamId: 't1', permissions: viewer },
    ];
    const [prefixA, groupsA] = shared.build('c1', compileRules(catalog, facts([...team, { projectId: 'p3', roleKey: 'viewer', teamId: null, permissions: viewer }])), REGISTERED);
    const [prefixB, groupsB] = shared.build('c1', compileRules(catalog, facts([{ projectId: 'p4', roleKey: 'viewer', teamId: null, permissions: viewer }, ...team])), REGISTERED);
    expect(prefixA).toBe(prefixB);
    // [view Project, union] then the groups: the team's templates and list are one object for both.
    const teamGroup = (groups: unknown[]) => groups.findIndex((g) => Array.isArray(g) && (g as Array<{ reason?: string }>)[0]?.reason?.includes('via team t1'));
    expect(groupsA[teamGroup(groupsA)]).toBe(groupsB[teamGroup(groupsB)]);
    expect(groupsA[teamGroup(groupsA) + 1]).toBe(groupsB[teamGroup(groupsB) + 1]);
    expect(groupsA[1]).toBe(0); // the view-Project list is the union of the others: not stored
  });
});
