import { checkApi, checkApiClosed, session } from './api.js';
import type { AccessibleAnswer } from './types.js';

/**
 * The company's registered projects the caller may view, from the check API (there is no
 * admin endpoint listing projects: the service that owns them registers them).
 */
export async function visibleProjects(): Promise<string[]> {
  let body: AccessibleAnswer;
  try {
    body = await checkApi<AccessibleAnswer>('/v1/accessible', {
      company: session().company,
      principal: { token: session().token },
      action: 'view',
      resourceType: 'Project',
    });
  } catch (error) {
    if (checkApiClosed(error)) return [];
    throw error;
  }
  return body.kind === 'some' ? [...(body.ids ?? [])].sort() : [];
}
