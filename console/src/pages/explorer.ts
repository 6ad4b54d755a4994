import { pageHeader, type PageContext } from '../app.js';
import { replace } from '../dom.js';

export async function explorerPage({ root }: PageContext): Promise<void> {
  replace(root, pageHeader('explorer', 'Not built yet.'));
}
