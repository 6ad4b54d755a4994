import { api, companyPath } from './api.js';
import type { ProjectPage } from './types.js';

export interface ProjectRef {
  id: string;
  name: string;
}

/** How a project is shown: its registered name with its id beside it (checks and grants name it by id). */
export const projectLabel = (project: ProjectRef): string => (project.name === project.id ? project.id : `${project.name} (${project.id})`);

/**
 * The company's registered projects the caller may view, with their names, in id order: every
 * page of the admin API's project list (the same projects `view Project` allows).
 */
export async function visibleProjects(): Promise<ProjectRef[]> {
  const projects: ProjectRef[] = [];
  let after: string | null = null;
  do {
    const query: string = after ? `limit=500&after=${encodeURIComponent(after)}` : 'limit=500';
    const { body }: { body: ProjectPage } = await api.get<ProjectPage>(companyPath(`/projects?${query}`));
    projects.push(...body.projects.map(({ id, name }) => ({ id, name })));
    after = body.next;
  } while (after);
  return projects;
}
