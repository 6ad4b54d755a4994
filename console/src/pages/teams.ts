import { pageHeader, type PageContext } from '../app.js';
import { replace } from '../dom.js';

export async function teamsPage({ root }: PageContext): Promise<void> {
  replace(root, pageHeader('teams', 'Not built yet.'));
}
