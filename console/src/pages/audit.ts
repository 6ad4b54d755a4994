import { pageHeader, type PageContext } from '../app.js';
import { replace } from '../dom.js';

export async function auditPage({ root }: PageContext): Promise<void> {
  replace(root, pageHeader('audit', 'Not built yet.'));
}
