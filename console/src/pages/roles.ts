import { api, ApiError, can, companyPath, enc } from '../api.js';
import { pageHeader, type PageContext } from '../app.js';
import { busy, clearRefusal, field, h, openDialog, replace, showRefusal, tableBox } from '../dom.js';
import { projectLabel, visibleProjects, type ProjectRef } from '../projects.js';
import { cellKey, cellsOf, matrixSpec, permissionsOf, type MatrixSpec } from '../matrix.js';
import type { Catalog, Permission, ProjectMembers, Roles } from '../types.js';

const message = (error: unknown): string => (error instanceof ApiError ? error.message : String(error));

type Selected = { kind: 'company'; key: string } | { kind: 'project'; key: string } | { kind: 'new' };

/** A matrix of checkboxes for one role: read-only when the role is locked or the caller may not edit. */
function matrixTable(spec: MatrixSpec, cells: Map<string, boolean>, editable: boolean, caption: string): HTMLTableElement {
  const body = h('tbody');
  const draw = () =>
    replace(
      body,
      spec.rows.map((row) => {
        const subjectActions = spec.actionsOf[row.subject] ?? [];
        const managed = subjectActions.includes('manage') && cells.get(cellKey('manage', row)) === true;
        return h(
          'tr',
          null,
          h('th', { scope: 'row', class: 'subject' }, row.subject, row.field ? h('small', null, ` · ${row.field}`) : null),
          spec.actions.map((action) => {
            if (!subjectActions.includes(action)) return h('td', { class: 'na' });
            const implied = managed && action !== 'manage';
            const name = `${action} ${row.subject}${row.field ? ` ${row.field}` : ''}`;
            const box = h('input', {
              type: 'checkbox',
              checked: implied || cells.get(cellKey(action, row)) === true,
              disabled: !editable || implied,
              'aria-label': implied ? `${name} (implied by manage)` : name,
              title: implied ? 'implied by manage' : null,
            });
            box.addEventListener('change', () => {
              cells.set(cellKey(action, row), box.checked);
              if (action === 'manage') draw();
            });
            return h('td', null, box);
          }),
        );
      }),
    );
  draw();
  return h(
    'table',
    { class: 'matrix' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Subject'), spec.actions.map((a) => h('th', { scope: 'col' }, a)))),
    body,
  );
}

export async function rolesPage({ root, config }: PageContext): Promise<void> {
  const catalog: Catalog = config.catalog;
  const [loaded, may] = await Promise.all([
    api.get<Roles>(companyPath('/roles')),
    can({
      create: { action: 'create', resource: { type: 'Role' } },
      edit: { action: 'edit', resource: { type: 'Role' } },
      remove: { action: 'delete', resource: { type: 'Role' } },
    }),
  ]);
  let roles = loaded.body;
  // The ETag of the roles as this page last read them: a write with it fails if anyone changed them since.
  let etag = loaded.headers.get('etag') ?? '';
  let selected: Selected = { kind: 'company', key: roles.company[0]?.key ?? 'admin' };

  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Roles' });
  const panel = h('section', { class: 'panel', role: 'tabpanel' });

  async function reload(keep: Selected): Promise<void> {
    const fresh = await api.get<Roles>(companyPath('/roles'));
    roles = fresh.body;
    etag = fresh.headers.get('etag') ?? '';
    selected = keep.kind === 'project' && !roles.project.some((r) => r.key === keep.key) ? { kind: 'company', key: 'admin' } : keep;
    draw();
  }

  /** A write refused with 412: someone changed the roles since this page read them. */
  function conflict(control: HTMLElement, error: ApiError): void {
    const note = showRefusal(control, `This role changed since you opened it (${error.message}). Reload to see the current version; your edits are not saved.`);
    const button = h('button', { type: 'button', class: 'small' }, 'Reload');
    button.addEventListener('click', () => void reload(selected));
    note.append(' ', button);
  }

  async function write(control: HTMLElement, work: () => Promise<{ headers: Headers }>, after: Selected): Promise<void> {
    clearRefusal(control);
    try {
      const { headers } = await work();
      etag = headers.get('etag') ?? etag;
      await reload(after);
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) conflict(control, error);
      else showRefusal(control, message(error));
    }
  }

  function drawTabs(): void {
    const tab = (label: string, target: Selected, current: boolean) => {
      const button = h('button', { type: 'button', role: 'tab', 'aria-selected': current ? 'true' : 'false', tabindex: current ? '0' : '-1' }, label);
      button.addEventListener('click', () => {
        selected = target;
        draw();
        tabs.querySelector<HTMLElement>('[aria-selected="true"]')?.focus();
      });
      return button;
    };
    const isSel = (s: Selected) => JSON.stringify(s) === JSON.stringify(selected);
    replace(
      tabs,
      roles.company.map((r) => tab(`${r.key}${r.editable ? '' : ' (locked)'}`, { kind: 'company', key: r.key }, isSel({ kind: 'company', key: r.key }))),
      roles.project.map((r) => tab(r.name, { kind: 'project', key: r.key }, isSel({ kind: 'project', key: r.key }))),
      may.create ? tab('+ New project role', { kind: 'new' }, selected.kind === 'new') : null,
    );
    // Arrow keys move between tabs, as the tabs pattern expects.
    tabs.onkeydown = (e: KeyboardEvent) => {
      const all = Array.from(tabs.querySelectorAll<HTMLButtonElement>('[role="tab"]'));
      const i = all.indexOf(document.activeElement as HTMLButtonElement);
      if (i < 0 || (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft')) return;
      all[(i + (e.key === 'ArrowRight' ? 1 : all.length - 1)) % all.length]?.click();
    };
  }

  function drawPanel(): void {
    const sel = selected;
    if (sel.kind === 'company') {
      const role = roles.company.find((r) => r.key === sel.key)!;
      const spec = matrixSpec(catalog, role.key === 'admin' ? 'admin' : 'company');
      const editable = role.editable && may.edit;
      const cells = cellsOf(spec, role.permissions);
      const save = h('button', { type: 'button', class: 'primary' }, 'Save permissions');
      save.addEventListener('click', () =>
        void write(save, () => api.put(companyPath(`/roles/company/${enc(role.key)}`), { permissions: [...permissionsOf(spec, cells), ...outside(spec, role.permissions)] }, { 'if-match': etag }), sel),
      );
      replace(
        panel,
        h('h2', null, `Company role: ${role.key}`),
        role.editable
          ? h('p', { class: 'hint' }, 'Company-level permissions only: what members do inside a project comes from project roles.')
          : h('p', { class: 'lock' }, 'Locked: the admin role comes from the policy files and cannot be edited.'),
        tableBox(`Permissions of the ${role.key} role`, matrixTable(spec, cells, editable, `Permissions of the ${role.key} role`)),
        editable ? h('div', { class: 'buttons' }, save) : null,
      );
      return;
    }
    const spec = matrixSpec(catalog, 'project');
    const role = sel.kind === 'project' ? roles.project.find((r) => r.key === sel.key)! : { key: '', name: '', permissions: [] as Permission[] };
    const editable = sel.kind === 'new' ? may.create : may.edit;
    const cells = cellsOf(spec, role.permissions);
    const name = h('input', { name: 'name', value: role.name, required: true, disabled: !editable });
    const key = h('input', { name: 'key', required: true, pattern: '[a-z0-9][a-z0-9-]{0,62}', value: role.key, disabled: sel.kind !== 'new' });
    const save = h('button', { type: 'submit', class: 'primary' }, sel.kind === 'new' ? 'Create role' : 'Save role');
    const del = sel.kind === 'project' && may.remove ? h('button', { type: 'button', class: 'danger left' }, 'Delete role…') : null;
    const form = h(
      'form',
      null,
      h('h2', null, sel.kind === 'new' ? 'New project role' : `Project role: ${role.name}`),
      h('p', { class: 'hint' }, 'A project role allows what it names inside each project it is granted on; it never forbids.'),
      h('div', { class: 'row2' }, field('Name', name), field('Key', key, sel.kind === 'new' ? 'Lower-case letters, digits and dashes; it cannot change later.' : undefined)),
      tableBox(`Permissions of the ${role.name || 'new'} project role`, matrixTable(spec, cells, editable, `Permissions of the ${role.name || 'new'} project role`)),
      editable || del ? h('div', { class: 'buttons' }, del, editable ? save : null) : null,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const permissions = permissionsOf(spec, cells);
      void busy(form, () =>
        sel.kind === 'new'
          ? write(save, () => api.post(companyPath('/roles/project'), { key: key.value.trim(), name: name.value.trim(), permissions }), { kind: 'project', key: key.value.trim() })
          : write(save, () => api.put(companyPath(`/roles/project/${enc(role.key)}`), { name: name.value.trim(), permissions }, { 'if-match': etag }), sel),
      );
    });
    del?.addEventListener('click', () =>
      openDialog(`Delete the ${role.name} role?`, (close) => {
        const confirm = h('button', { type: 'submit', class: 'danger' }, 'Delete role');
        const f = h('form', null, h('p', null, 'A role still granted on a project cannot be deleted: remove those grants first.'), h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: close }, 'Cancel'), confirm));
        f.addEventListener('submit', async (e) => {
          e.preventDefault();
          await busy(f, async () => {
            try {
              const { headers } = await api.delete(companyPath(`/roles/project/${enc(role.key)}`), { 'if-match': etag });
              etag = headers.get('etag') ?? etag;
              close();
              await reload({ kind: 'company', key: 'admin' });
            } catch (error) {
              close();
              if (error instanceof ApiError && error.status === 412) conflict(del, error);
              else if (error instanceof ApiError && error.status === 409 && error.details?.grants) {
                showRefusal(del, `${error.message}. Granted on: ${await grantedWhere(role.key)}`);
              } else showRefusal(del, message(error));
            }
          });
        });
        return f;
      }),
    );
    replace(panel, form);
  }

  function draw(): void {
    drawTabs();
    drawPanel();
  }

  replace(root, pageHeader('Roles & Permissions', 'Company roles decide company-level rights; project roles decide what people do inside a project.'), tabs, panel);
  draw();
}

/** Permissions the matrix does not show (outside this scope's catalog), kept as they are. */
function outside(spec: MatrixSpec, permissions: readonly Permission[]): Permission[] {
  return permissions.filter((p) => !spec.actionsOf[p.subject]?.includes(p.action) && p.action !== 'manage');
}

/** Where a project role is granted, from the projects the caller may view: "Bridge (bridge): team design, carl". */
async function grantedWhere(roleKey: string): Promise<string> {
  const projects = await visibleProjects().catch(() => [] as ProjectRef[]);
  const found = await Promise.all(
    projects.map(async (project) => {
      const members = await api.get<ProjectMembers>(companyPath(`/projects/${enc(project.id)}/members`)).then((r) => r.body).catch(() => null);
      if (!members) return null;
      const holders = [...members.teams.filter((g) => g.role === roleKey).map((g) => `team ${g.teamId}`), ...members.users.filter((g) => g.role === roleKey).map((g) => g.userId)];
      return holders.length ? `${projectLabel(project)}: ${holders.join(', ')}` : null;
    }),
  );
  const where = found.filter((w): w is string => w !== null);
  return where.length ? where.join('; ') : 'projects you may not view';
}
