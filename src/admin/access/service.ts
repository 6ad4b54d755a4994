import { projectNamed } from '../../check/decide.js';
import { assertActiveMember, assertCan, type Caller, type Need } from '../context.js';
import { readCompany, type WriteDeps } from '../transaction.js';
import { NotFoundError } from '../../errors.js';
import type { ExplainAnswer, ExplainInput } from './schemas.js';

/**
 * The check service, narrowed to the one call the explain endpoint makes: a /v1/check body in,
 * its answer out. Admin depends on this shape, never the other way round.
 */
export type CheckDecider = (body: Record<string, unknown>) => ExplainAnswer | Promise<ExplainAnswer>;

/**
 * A decision about another member shows what they may do, and the reason names their roles
 * and teams: reading it takes the rights to see members and roles (what the members and roles
 * pages show), and for a question about one project, seeing that project's members.
 */
export const EXPLAIN_NEEDS: readonly Need[] = [
  { action: 'view', subject: 'Member' },
  { action: 'view', subject: 'Role' },
];

export function createAccessService(deps: Pick<WriteDeps, 'db' | 'policies'> & { decide: CheckDecider }) {
  const { policies, decide } = deps;

  return {
    /**
     * The decision /v1/check takes on the question, and its reason. About oneself it needs no
     * right (the check API answers a user's own token as much), only a membership of the
     * company, so that a stranger learns nothing about it, as everywhere in the admin API.
     */
    async explain(caller: Caller, companyId: string, input: ExplainInput): Promise<ExplainAnswer> {
      return readCompany(deps, caller, companyId, async (rights) => {
        if (input.principal.id === caller.sub) {
          if (rights.membership === null) throw new NotFoundError(`company ${companyId} not found`);
        } else {
          assertActiveMember(rights);
          for (const need of EXPLAIN_NEEDS) assertCan(rights, need);
          // The project as the check will read it (resource.id first for Project): the gate and the decision name the same one.
          const attribute = policies.catalog.subjects[input.resource.type]?.projectAttribute;
          const projectId = attribute === undefined ? undefined : projectNamed(attribute, input.resource);
          if (projectId !== undefined) assertCan(rights, { action: 'view', subject: 'ProjectMember', attributes: { projectId } });
        }
        const { principal, action, resource, field, consistency } = input;
        return decide({
          company: companyId,
          principal: { id: principal.id },
          action,
          resource,
          ...(field !== undefined ? { field } : {}),
          ...(consistency !== undefined ? { consistency } : {}),
        });
      });
    },
  };
}
