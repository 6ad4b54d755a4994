import { api, ApiError, can, companyPath, enc, session } from '../api.js';
import { hasDraft, pageHeader, replaceParams, routeHash, takeDraft, type PageContext } from '../app.js';
import { busy, checkbox, clearRefusal, field, fillForm, h, openDialog, replace, select, showRefusal, tableBox } from '../dom.js';
import { COMPANY_ROLES, displayName, loadMembers } from '../members.js';
import type { Member, MemberPatch, MemberWritten } from '../types.js';

const PAGE_SIZE = 50;

interface Filters {
  q: string;
  type: string;
  kind: string;
  status: string;
  role: string;
  page: number;
}

export function matches(member: Member, f: Filters): boolean {
  if (f.type && member.type !== f.type) return false;
  if (f.kind && member.kind !== f.kind) return false;
  if (f.status && member.status !== f.status) return false;
  if (f.role && member.role !== f.role) return false;
  if (!f.q) return true;
  const q = f.q.toLowerCase();
  return [member.email, member.userId, member.login, member.firstName, member.lastName].some((v) => v?.toLowerCase().includes(q));
}

const message = (error: unknown): string => (error instanceof ApiError ? error.message : String(error));

export async function usersPage({ root, params }: PageContext): Promise<void> {
  const [members, may] = await Promise.all([
    loadMembers(),
    can({
      invite: { action: 'invite', resource: { type: 'Member' } },
      create: { action: 'create', resource: { type: 'Member' } },
      edit: { action: 'edit', resource: { type: 'Member' } },
      remove: { action: 'remove', resource: { type: 'Member' } },
    }),
  ]);
  const me = session().userId;
  const filters: Filters = {
    q: params.get('q') ?? '',
    type: params.get('type') ?? '',
    kind: params.get('kind') ?? '',
    status: params.get('status') ?? '',
    role: params.get('role') ?? '',
    page: Math.max(1, Number(params.get('page')) || 1),
  };

  const search = h('input', { type: 'search', name: 'q', value: filters.q, placeholder: 'email, name, login or id' });
  const typeFilter = select('type', [['', 'Any type'], ['member', 'Member'], ['guest', 'Guest']], filters.type);
  const kindFilter = select('kind', [['', 'Any kind'], ['platform', 'Platform'], ['local', 'Local']], filters.kind);
  const statusFilter = select('status', [['', 'Any status'], ['active', 'Active'], ['invited', 'Invited'], ['inactive', 'Inactive']], filters.status);
  const roleFilter = select('role', [['', 'Any role'], ...COMPANY_ROLES.map((r): [string, string] => [r, r])], filters.role);
  const tbody = h('tbody');
  const summary = h('p', { class: 'summary', role: 'status' });
  const pager = h('div', { class: 'pager' });

  const inviteButton = may.invite ? h('button', { type: 'button', class: 'primary', onclick: () => inviteDialog() }, 'Invite user') : null;
  const localButton = may.create ? h('button', { type: 'button', onclick: () => localUserDialog() }, 'Add local user') : null;

  const readFilters = () => {
    filters.q = search.value.trim();
    filters.type = typeFilter.value;
    filters.kind = kindFilter.value;
    filters.status = statusFilter.value;
    filters.role = roleFilter.value;
  };
  const syncRoute = () =>
    replaceParams('users', { q: filters.q, type: filters.type, kind: filters.kind, status: filters.status, role: filters.role, page: filters.page > 1 ? String(filters.page) : undefined });
  const onFilter = () => {
    readFilters();
    filters.page = 1;
    syncRoute();
    draw();
  };
  search.addEventListener('input', onFilter);
  for (const s of [typeFilter, kindFilter, statusFilter, roleFilter]) s.addEventListener('change', onFilter);

  /** Only the visible page is built: 10,000 members cost a filter pass, not 10,000 rows. */
  function draw(): void {
    const shown = members.filter((m) => matches(m, filters));
    const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
    filters.page = Math.min(filters.page, pages);
    const start = (filters.page - 1) * PAGE_SIZE;
    replace(tbody, shown.slice(start, start + PAGE_SIZE).map(row));
    if (!shown.length) replace(tbody, h('tr', null, h('td', { colspan: 9, class: 'empty' }, members.length ? 'No user matches these filters.' : 'No users yet.')));
    summary.textContent = shown.length
      ? `Showing ${start + 1}-${Math.min(start + PAGE_SIZE, shown.length)} of ${shown.length} user${shown.length === 1 ? '' : 's'}${shown.length !== members.length ? ` (${members.length} in all)` : ''}`
      : '';
    const go = (page: number) => () => {
      filters.page = page;
      syncRoute();
      draw();
    };
    replace(
      pager,
      pages > 1
        ? [
            h('button', { type: 'button', disabled: filters.page <= 1, onclick: go(filters.page - 1) }, 'Previous'),
            h('span', null, ` Page ${filters.page} of ${pages} `),
            h('button', { type: 'button', disabled: filters.page >= pages, onclick: go(filters.page + 1) }, 'Next'),
          ]
        : null,
    );
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
            members.splice(members.findIndex((m) => m.userId === member.userId), 1);
            close();
            draw();
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
            const { body } = await api.post<MemberWritten>(companyPath('/invitations'), {
              email: String(values.get('email')),
              role: String(values.get('role')),
              applicationAccess: app.input.checked,
              developerAccess: dev.input.checked,
            });
            const { version: _v, ...view } = body;
            members.push(view);
            close();
            draw();
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
            const { body } = await api.post<MemberWritten>(companyPath('/local-users'), {
              login: String(v.get('login')),
              password: String(v.get('password')),
              firstName: String(v.get('firstName')),
              lastName: String(v.get('lastName')),
              role: String(v.get('role')),
              applicationAccess: app.input.checked,
            });
            const { version: _v, ...view } = body;
            members.push(view);
            close();
            draw();
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
    tableBox(
      'Users',
      h(
        'table',
        { class: 'users' },
        h('caption', { class: 'visually-hidden' }, 'Users of the company'),
        h(
          'thead',
          null,
          h('tr', null, ['User', 'Type', 'Kind', 'Status', 'Role', 'Application', 'Developer', 'Actions'].map((t) => h('th', { scope: 'col' }, t))),
        ),
        tbody,
      ),
    ),
    pager,
  );
  summary.tabIndex = -1;
  draw();
  // A form the session ended in the middle of comes back open, with what was typed.
  if (inviteButton && hasDraft('invite')) inviteDialog();
  if (localButton && hasDraft('local-user')) localUserDialog();
}
