import { pageHeader, type PageContext } from '../app.js';
import { replace } from '../dom.js';

export async function rolesPage({ root }: PageContext): Promise<void> {
  replace(root, pageHeader('roles', 'Not built yet.'));
}
