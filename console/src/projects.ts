import { checkApi, session } from './api.js';
import type { AccessibleAnswer } from './types.js';

/**
 * The company's registered projects the caller may view, from the check API (there is no
 * admin endpoint listing projects: the service that owns them registers them).
 */
export async function visibleProjects(): Promise<string[]> {
  const body = await checkApi<AccessibleAnswer>('/v1/accessible', {
    company: session().company,
    principal: { id: session().userId },
    action: 'view',
    resourceType: 'Project',
  });
  return body.kind === 'some' ? [...(body.ids ?? [])].sort() : [];
}
