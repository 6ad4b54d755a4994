import { pageHeader, type PageContext } from '../app.js';
import { replace } from '../dom.js';

export async function projectsPage({ root }: PageContext): Promise<void> {
  replace(root, pageHeader('projects', 'Not built yet.'));
}
