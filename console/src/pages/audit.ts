import { api, companyPath } from '../api.js';
import { pageHeader, replaceParams, type PageContext } from '../app.js';
import { field, h, replace, tableBox } from '../dom.js';
import { diff } from '../diff.js';
import { displayName, loadMembers } from '../members.js';
import type { AuditEntry, AuditPage } from '../types.js';

const PAGE = 100;
/** Typing pauses this long before the server is asked again. */
const FILTER_DELAY_MS = 250;

/**
 * The log, filtered by the server (`?actor=` exactly, `?target=` by prefix), so a filter finds
 * every matching entry, not only those already loaded.
 */
export async function auditPage({ root, params }: PageContext): Promise<void> {
  let entries: AuditEntry[] = [];
  let next: string | null = null;
  let exhausted = false;
  // Answers to an older filter arriving late are dropped.
  let generation = 0;
  const actor = h('input', { type: 'search', name: 'actor', list: 'audit-actors', value: params.get('actor') ?? '', autocomplete: 'off' });
  const target = h('input', { type: 'search', name: 'target', value: params.get('target') ?? '', autocomplete: 'off' });
  const actors = h('datalist', { id: 'audit-actors' }, h('option', { value: 'operator' }, 'the platform operator'));
  const tbody = h('tbody');
  const status = h('p', { class: 'summary', role: 'status' });
  const more = h('button', { type: 'button' }, 'Load more entries');
  const filters = () => ({ actor: actor.value.trim(), target: target.value.trim() });

  async function load(): Promise<void> {
    const mine = generation;
    const { actor: by, target: about } = filters();
    // Pages come oldest first; the console reads them all up to now, newest shown first.
    do {
      const query = new URLSearchParams({ limit: String(PAGE) });
      if (next) query.set('after', next);
      if (by) query.set('actor', by);
      if (about) query.set('target', about);
      const { body } = await api.get<AuditPage>(companyPath(`/audit?${query}`));
      if (mine !== generation) return;
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
    const shown = [...entries].reverse();
    const { actor: by, target: about } = filters();
    const matching = by || about ? ' matching' : '';
    status.textContent = `${entries.length}${exhausted ? '' : '+'}${matching} ${entries.length === 1 ? 'entry' : 'entries'}${exhausted ? '' : ', more to load'}${shown.length > 500 ? ' (newest 500 shown)' : ''}`;
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
  let timer: ReturnType<typeof setTimeout> | undefined;
  const reload = async () => {
    generation += 1;
    entries = [];
    next = null;
    exhausted = false;
    status.textContent = 'Loading…';
    const mine = generation;
    try {
      await load();
    } catch (error) {
      if (mine === generation) status.textContent = `The log could not be read: ${error instanceof Error ? error.message : String(error)}`;
      return;
    }
    if (mine === generation) draw();
  };
  const onFilter = () => {
    replaceParams('audit', filters());
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), FILTER_DELAY_MS);
  };
  actor.addEventListener('input', onFilter);
  target.addEventListener('input', onFilter);
  more.addEventListener('click', async () => {
    await load();
    draw();
  });

  // Readers of the log may view members (its reading rights include view Member): offer their ids.
  void loadMembers()
    .then((members) => actors.append(...members.map((m) => h('option', { value: m.userId }, displayName(m)))))
    .catch(() => {});
  await load();
  replace(
    root,
    pageHeader('Audit log', 'Every change to roles, memberships, teams, projects, domains and licenses: who, what, when, before and after.'),
    h(
      'div',
      { class: 'filters', role: 'search' },
      field('Actor', actor, 'A user id, exactly, or operator.'),
      field('Target', target, 'Starts with: member:…, team:design, grant:bridge/ (grants on bridge), role:…'),
      actors,
    ),
    status,
    tableBox(
      'Audit entries',
      h('table', { class: 'audit' }, h('caption', { class: 'visually-hidden' }, 'Audit entries, newest first'), h('thead', null, h('tr', null, ['When', 'Actor', 'Action', 'Target', 'Change', 'Version'].map((t) => h('th', { scope: 'col' }, t)))), tbody),
    ),
    more,
  );
  draw();
}
