import type { Catalog } from '../policy/catalog.js';
import type { CompiledRule } from '../policy/compiler.js';
import { isProjectCreation } from './decide.js';

const actionsOf = (rule: CompiledRule): string[] => (Array.isArray(rule.action) ? rule.action : [rule.action]);

/**
 * A principal's rules as a service outside Castellan gets them (the rules endpoint) and as
 * /v1/accessible reads them: a stock `createMongoAbility` of these answers what /v1/check
 * answers, the check on registered projects (D15) included, which on the check path is
 * a lookup after the rules (decide.ts) rather than part of them.
 *
 * So every allowing rule on a project-scoped subject without conditions (a company role's:
 * an editor's `view Project`, an admin's `manage Project`) is limited to the registered
 * projects, `{<projectAttribute>: {$in: [ids]}}`; conditioned rules already name projects
 * of the company's grants, which the store only holds for registered projects (grants go
 * with their project). Inverted rules stay as they are: a deny needs no registration.
 *
 * Creating a project is exempt (see isProjectCreation), and `manage` covers `create` in
 * CASL: an unconditioned `create` or `manage` rule on Project becomes an unconditioned
 * `create` plus the limited rule for the other actions, both at the original's place, so
 * the rules after it (restrictions) keep their priority over both. Computed per request,
 * off the hot path; nothing of it is kept per principal.
 */
export function exportedRules(catalog: Catalog, rules: readonly CompiledRule[], projects: ReadonlySet<string>): CompiledRule[] {
  let registered: string[] | undefined;
  const limitedTo = (attribute: string) => ({ [attribute]: { $in: (registered ??= [...projects].sort()) } });
  const exported: CompiledRule[] = [];
  for (const rule of rules) {
    const attribute = catalog.subjects[rule.subject]?.projectAttribute;
    if (attribute === undefined || rule.inverted || rule.conditions) {
      exported.push(rule);
      continue;
    }
    const actions = actionsOf(rule);
    const creates = isProjectCreation('create', rule.subject) && actions.some((action) => action === 'manage' || action === 'create');
    if (creates) exported.push({ ...rule, action: 'create' });
    const others = actions.filter((action) => !isProjectCreation(action, rule.subject));
    if (others.length > 0) exported.push({ ...rule, action: others.length === 1 ? others[0]! : others, conditions: limitedTo(attribute) });
  }
  return exported;
}
