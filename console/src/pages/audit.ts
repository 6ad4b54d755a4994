import { api, companyPath } from '../api.js';
import { pageHeader, replaceParams, type PageContext } from '../app.js';
import { field, h, replace, tableBox } from '../dom.js';
import { diff } from '../diff.js';
import type { AuditEntry, AuditPage } from '../types.js';

const PAGE = 100;

export async function auditPage({ root, params }: PageContext): Promise<void> {
  const entries: AuditEntry[] = [];
  let next: string | null = null;
  let exhausted = false;
  const actor = h('input', { type: 'search', name: 'actor', value: params.get('actor') ?? '' });
  const target = h('input', { type: 'search', name: 'target', value: params.get('target') ?? '' });
  const tbody = h('tbody');
  const status = h('p', { class: 'summary', role: 'status' });
  const more = h('button', { type: 'button' }, 'Load more entries');

  async function load(): Promise<void> {
    // Pages come oldest first; the console reads them all up to now, newest shown first.
    do {
      const query = new URLSearchParams({ limit: String(PAGE) });
      if (next) query.set('after', next);
      const { body } = await api.get<AuditPage>(companyPath(`/audit?${query}`));
      entries.push(...body.entries);
      if (!body.next || body.entries.length < PAGE) {
        exhausted = true;
        next = body.next ?? next;
        break;
      }
      next = body.next;
    } while (entries.length % 1000 !== 0);
  }

  function draw(): void {
    const a = actor.value.trim().toLowerCase();
    const t = target.value.trim().toLowerCase();
    const shown = entries.filter((e) => (!a || e.actor.toLowerCase().includes(a)) && (!t || e.target.toLowerCase().includes(t))).reverse();
    status.textContent = `${shown.length} of ${entries.length} entries${exhausted ? '' : ' loaded so far'}`;
    more.hidden = exhausted;
    replace(
      tbody,
      shown.length
        ? shown.slice(0, 500).map((e) =>
            h(
              'tr',
              null,
              h('td', null, new Date(e.at).toLocaleString()),
              h('td', null, e.actor, e.operator ? h('span', { class: 'tag' }, 'operator') : null),
              h('th', { scope: 'row' }, e.action),
              h('td', null, h('code', null, e.target)),
              h(
                'td',
                null,
                h(
                  'ul',
                  { class: 'diff' },
                  diff(e.before, e.after).map((d) => h('li', null, h('span', { class: 'key' }, `${d.key}: `), d.from !== undefined ? h('del', null, d.from) : null, d.from !== undefined && d.to !== undefined ? ' → ' : null, d.to !== undefined ? h('ins', null, d.to) : null)),
                ),
              ),
              h('td', null, e.version),
            ),
          )
        : h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'No entry matches.')),
    );
  }
  const onFilter = () => {
    replaceParams('audit', { actor: actor.value.trim(), target: target.value.trim() });
    draw();
  };
  actor.addEventListener('input', onFilter);
  target.addEventListener('input', onFilter);
  more.addEventListener('click', async () => {
    await load();
    draw();
  });

  await load();
  replace(
    root,
    pageHeader('Audit log', 'Every change to roles, memberships, teams, projects, domains and licenses: who, what, when, before and after.'),
    h('div', { class: 'filters', role: 'search' }, field('Actor', actor), field('Target', target)),
    status,
    tableBox(
      'Audit entries',
      h('table', { class: 'audit' }, h('caption', { class: 'visually-hidden' }, 'Audit entries, newest first'), h('thead', null, h('tr', null, ['When', 'Actor', 'Action', 'Target', 'Change', 'Version'].map((t) => h('th', { scope: 'col' }, t)))), tbody),
    ),
    more,
  );
  draw();
}
