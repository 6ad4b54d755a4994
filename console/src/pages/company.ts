import { pageHeader, type PageContext } from '../app.js';
import { replace } from '../dom.js';

export async function companyPage({ root }: PageContext): Promise<void> {
  replace(root, pageHeader('company', 'Not built yet.'));
}
