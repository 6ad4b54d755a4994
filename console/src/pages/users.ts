import { api, ApiError, can, companyPath, enc, session } from '../api.js';
import { hasDraft, pageHeader, replaceParams, routeHash, takeDraft, type PageContext } from '../app.js';
import { busy, checkbox, clearRefusal, field, fillForm, h, openDialog, replace, select, showRefusal, tableBox } from '../dom.js';
import { COMPANY_ROLES, displayName } from '../members.js';
import type { Member, MemberList, MemberPatch, MemberWritten } from '../types.js';

const PAGE_SIZE = 50;
/** How long typing pauses before the search goes to the server. */
const SEARCH_DEBOUNCE_MS = 250;

interface Filters {
  q: string;
  type: string;
  kind: string;
  status: string;
  role: string;
}

const FILTER_KEYS = ['q', 'type', 'kind', 'status', 'role'] as const;

/** The API's query for one page: only the filters that are set. */
export function pageQuery(f: Filters, after: string | undefined): string {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (after) query.set('after', after);
  for (const key of FILTER_KEYS) if (f[key]) query.set(key, f[key]);
  return query.toString();
}

const message = (error: unknown): string => (error instanceof ApiError ? error.message : String(error));

export async function usersPage({ root, params }: PageContext): Promise<void> {
  const filters: Filters = {
    q: (params.get('q') ?? '').trim(),
    type: params.get('type') ?? '',
    kind: params.get('kind') ?? '',
    status: params.get('status') ?? '',
    role: params.get('role') ?? '',
  };
  // The server pages and filters (10,000 members are not sent to the browser): the page holds
  // the members shown, and the cursor each page starts after, to go back.
  let members: Member[] = [];
  let total = 0;
  let next: string | null = null;
  const starts: Array<string | undefined> = [undefined];
  let pageIndex = 0;
  let asked = 0;

  /** Asks for the current page; an answer to a question asked since is dropped. */
  async function load(): Promise<void> {
    const mine = ++asked;
    const { body } = await api.get<MemberList>(companyPath(`/members?${pageQuery(filters, starts[pageIndex])}`));
    if (mine !== asked) return;
    members = body.members;
    total = body.total ?? body.members.length;
    next = body.next ?? null;
  }

  const [, may] = await Promise.all([
    load(),
    can({
      invite: { action: 'invite', resource: { type: 'Member' } },
      create: { action: 'create', resource: { type: 'Member' } },
      edit: { action: 'edit', resource: { type: 'Member' } },
      remove: { action: 'remove', resource: { type: 'Member' } },
    }),
  ]);
  const me = session().userId;

  const search = h('input', { type: 'search', name: 'q', value: filters.q, placeholder: 'email, name, login or id' });
  const typeFilter = select('type', [['', 'Any type'], ['member', 'Member'], ['guest', 'Guest']], filters.type);
  const kindFilter = select('kind', [['', 'Any kind'], ['platform', 'Platform'], ['local', 'Local']], filters.kind);
  const statusFilter = select('status', [['', 'Any status'], ['active', 'Active'], ['invited', 'Invited'], ['expired', 'Expired invitation'], ['inactive', 'Inactive']], filters.status);
  const roleFilter = select('role', [['', 'Any role'], ...COMPANY_ROLES.map((r): [string, string] => [r, r])], filters.role);
  const tbody = h('tbody');
  const summary = h('p', { class: 'summary', role: 'status' });
  const pager = h('div', { class: 'pager' });
  const table = h(
    'table',
    { class: 'users' },
    h('caption', { class: 'visually-hidden' }, 'Users of the company'),
    h('thead', null, h('tr', null, ['User', 'Type', 'Kind', 'Status', 'Role', 'Application', 'Developer', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
    tbody,
  );

  const inviteButton = may.invite ? h('button', { type: 'button', class: 'primary', onclick: () => inviteDialog() }, 'Invite user') : null;
  const localButton = may.create ? h('button', { type: 'button', onclick: () => localUserDialog() }, 'Add local user') : null;

  const readFilters = () => {
    filters.q = search.value.trim();
    filters.type = typeFilter.value;
    filters.kind = kindFilter.value;
    filters.status = statusFilter.value;
    filters.role = roleFilter.value;
  };
  const syncRoute = () => replaceParams('users', { q: filters.q, type: filters.type, kind: filters.kind, status: filters.status, role: filters.role });

  /** Loads the current page and draws it; a failure is said where the summary goes, and the rows stay. */
  async function refresh(): Promise<void> {
    table.setAttribute('aria-busy', 'true');
    try {
      await load();
      draw();
    } catch (error) {
      summary.textContent = `The users could not be loaded: ${message(error)}`;
    } finally {
      table.removeAttribute('aria-busy');
    }
  }

  const onFilter = () => {
    readFilters();
    starts.length = 1;
    pageIndex = 0;
    syncRoute();
    void refresh();
  };
  let typing: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(onFilter, SEARCH_DEBOUNCE_MS);
  });
  for (const s of [typeFilter, kindFilter, statusFilter, roleFilter]) s.addEventListener('change', onFilter);

  const filtered = () => FILTER_KEYS.some((key) => filters[key] !== '');

  /** The page as the server answered it: 50 rows at most, whatever the company's size. */
  function draw(): void {
    replace(tbody, members.map(row));
    if (!members.length) replace(tbody, h('tr', null, h('td', { colspan: 8, class: 'empty' }, filtered() ? 'No user matches these filters.' : 'No users yet.')));
    const start = pageIndex * PAGE_SIZE;
    summary.textContent = members.length
      ? `Showing ${start + 1}-${start + members.length} of ${total} ${filtered() ? 'matching ' : ''}user${total === 1 ? '' : 's'}`
      : '';
    const go = (index: number) => () => {
      if (index > pageIndex) starts[index] = next ?? undefined;
      pageIndex = index;
      void refresh().then(() => summary.focus());
    };
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    replace(
      pager,
      pageIndex > 0 || next
        ? [
            h('button', { type: 'button', disabled: pageIndex === 0, onclick: go(pageIndex - 1) }, 'Previous'),
            h('span', null, ` Page ${pageIndex + 1} of ${Math.max(pages, pageIndex + 1)} `),
            h('button', { type: 'button', disabled: !next, onclick: go(pageIndex + 1) }, 'Next'),
          ]
        : null,
    );
  }

  /** After a member came or went: the same page again, or the one before when this one emptied. */
  async function reload(): Promise<void> {
    await refresh();
    if (!members.length && pageIndex > 0) {
      pageIndex -= 1;
      await refresh();
    }
  }

  function replaceMember(updated: Member): void {
    const i = members.findIndex((m) => m.userId === updated.userId);
    if (i >= 0) members[i] = updated;
  }

  async function patch(member: Member, change: MemberPatch, control: HTMLElement, undo: () => void): Promise<void> {
    clearRefusal(control);
    try {
      const { body } = await api.patch<MemberWritten>(companyPath(`/members/${enc(member.userId)}`), change);
      const { version: _v, ...view } = body;
      replaceMember(view);
      draw();
      document.querySelector<HTMLElement>(`[data-focus="${CSS.escape(`${member.userId}:${control.dataset.control}`)}"]`)?.focus();
    } catch (error) {
      undo();
      showRefusal(control, message(error));
    }
  }

  function row(member: Member): HTMLTableRowElement {
    const self = member.userId === me;
    const who = displayName(member);
    const label = (what: string) => `${what} for ${who}`;
    const focusKey = (control: string) => `${member.userId}:${control}`;

    let roleCell: HTMLElement | string = member.role;
    if (may.edit && !self) {
      const roleSelect = select('role', [...COMPANY_ROLES], member.role, { 'aria-label': label('Role'), 'data-control': 'role', 'data-focus': focusKey('role') });
      roleSelect.addEventListener('change', () => void patch(member, { role: roleSelect.value as Member['role'] }, roleSelect, () => (roleSelect.value = member.role)));
      roleCell = roleSelect;
    }
    const access = (key: 'applicationAccess' | 'developerAccess', name: string) => {
      if (!may.edit) return member[key] ? 'Yes' : '—';
      const box = h('input', { type: 'checkbox', checked: member[key], 'aria-label': label(name), 'data-control': key, 'data-focus': focusKey(key) });
      box.addEventListener('change', () => void patch(member, { [key]: box.checked }, box, () => (box.checked = member[key])));
      return box;
    };
    const actions: HTMLElement[] = [];
    if (may.edit && !self && member.status !== 'invited') {
      const next = member.status === 'active' ? 'inactive' : 'active';
      const button = h('button', { type: 'button', 'data-control': 'status', 'data-focus': focusKey('status'), 'aria-label': `${next === 'inactive' ? 'Deactivate' : 'Reactivate'} ${who}` }, next === 'inactive' ? 'Deactivate' : 'Reactivate');
      button.addEventListener('click', () => void patch(member, { status: next }, button, () => {}));
      actions.push(button);
    }
    if (may.remove && !self) {
      const button = h('button', { type: 'button', class: 'danger', 'aria-label': `Remove ${who}` }, 'Remove');
      button.addEventListener('click', () => removeDialog(member));
      actions.push(button);
    }
    if (member.status !== 'invited') actions.push(h('a', { href: routeHash('explorer', { user: member.userId }), class: 'why', 'aria-label': `Why can't they? Explore the access of ${who}` }, "Why can't they?"));

    return h(
      'tr',
      null,
      h('th', { scope: 'row' }, h('span', { class: 'who' }, who), member.owner ? h('span', { class: 'tag owner' }, 'Owner') : null, self ? h('span', { class: 'tag' }, 'You') : null, member.kind === 'platform' && member.status !== 'invited' && member.userId !== member.email ? h('small', { class: 'id' }, member.userId) : null),
      h('td', null, member.type === 'member' ? 'Member' : 'Guest'),
      h('td', null, member.kind === 'local' ? 'Local' : 'Platform'),
      h('td', null, h('span', { class: `status ${member.status}` }, member.status)),
      h('td', null, roleCell),
      h('td', { class: 'center' }, access('applicationAccess', 'Application access')),
      h('td', { class: 'center' }, access('developerAccess', 'Developer access')),
      h('td', { class: 'row-actions' }, actions),
    );
  }

  function removeDialog(member: Member): void {
    openDialog(`Remove ${displayName(member)}?`, (close) => {
      const confirm = h('button', { type: 'submit', class: 'danger' }, 'Remove');
      const form = h(
        'form',
        null,
        h('p', null, 'They lose their role, team places and project grants at once.', member.kind === 'local' ? ' A local user is deleted with the membership.' : ''),
        h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: close }, 'Cancel'), confirm),
      );
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        await busy(form, async () => {
          try {
            await api.delete(companyPath(`/members/${enc(member.userId)}`));
            close();
            await reload();
            summary.focus();
          } catch (error) {
            showRefusal(confirm, message(error));
          }
        });
      });
      return form;
    });
  }

  function inviteDialog(): void {
    openDialog('Invite a user', (close) => {
      const submit = h('button', { type: 'submit', class: 'primary' }, 'Send invitation');
      const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off' });
      const app = checkbox('Application access', { name: 'applicationAccess' });
      const dev = checkbox('Developer access', { name: 'developerAccess' });
      const form = h(
        'form',
        { 'data-draft': 'invite' },
        field('Email', email, 'Their type (Member or Guest) follows from the email domain.'),
        field('Role', select('role', [...COMPANY_ROLES], 'collaborator')),
        h('fieldset', null, h('legend', null, 'Access'), app.root, dev.root),
        h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: close }, 'Cancel'), submit),
      );
      const draft = takeDraft('invite');
      if (draft) fillForm(form, draft);
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearRefusal(submit);
        const values = new FormData(form);
        await busy(form, async () => {
          try {
            await api.post<MemberWritten>(companyPath('/invitations'), {
              email: String(values.get('email')),
              role: String(values.get('role')),
              applicationAccess: app.input.checked,
              developerAccess: dev.input.checked,
            });
            close();
            await reload();
          } catch (error) {
            showRefusal(submit, message(error));
          }
        });
      });
      return form;
    });
  }

  function localUserDialog(): void {
    openDialog('Add a local user', (close) => {
      const submit = h('button', { type: 'submit', class: 'primary' }, 'Add user');
      const app = checkbox('Application access', { name: 'applicationAccess', checked: true });
      const form = h(
        'form',
        { 'data-draft': 'local-user' },
        h('div', { class: 'row2' }, field('First name', h('input', { name: 'firstName', required: true })), field('Last name', h('input', { name: 'lastName', required: true }))),
        field('Login', h('input', { name: 'login', required: true, autocomplete: 'off' }), '3-64 letters, digits or . _ @ -; unique in the company.'),
        field('Password', h('input', { name: 'password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' }), 'At least 12 characters.'),
        field('Role', select('role', COMPANY_ROLES.filter((r) => r !== 'admin'), 'collaborator'), 'Local users use the application only: they are never admins (D3).'),
        h('fieldset', null, h('legend', null, 'Access'), app.root),
        h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: close }, 'Cancel'), submit),
      );
      const draft = takeDraft('local-user');
      if (draft) fillForm(form, draft);
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearRefusal(submit);
        const v = new FormData(form);
        await busy(form, async () => {
          try {
            await api.post<MemberWritten>(companyPath('/local-users'), {
              login: String(v.get('login')),
              password: String(v.get('password')),
              firstName: String(v.get('firstName')),
              lastName: String(v.get('lastName')),
              role: String(v.get('role')),
              applicationAccess: app.input.checked,
            });
            close();
            await reload();
          } catch (error) {
            showRefusal(submit, message(error));
          }
        });
      });
      return form;
    });
  }

  replace(
    root,
    pageHeader('Users', 'Everyone in the company: members and guests, platform and local users.', [inviteButton, localButton]),
    h(
      'div',
      { class: 'filters', role: 'search' },
      field('Search', search),
      field('Type', typeFilter),
      field('Kind', kindFilter),
      field('Status', statusFilter),
      field('Role', roleFilter),
    ),
    summary,
    tableBox('Users', table),
    pager,
  );
  summary.tabIndex = -1;
  draw();
  // A form the session ended in the middle of comes back open, with what was typed.
  if (inviteButton && hasDraft('invite')) inviteDialog();
  if (localButton && hasDraft('local-user')) localUserDialog();
}
