import { api, ApiError, can, companyPath, enc } from '../api.js';
import { pageHeader, redrawPage, replaceParams, type PageContext } from '../app.js';
import { busy, clearRefusal, field, h, replace, select, showRefusal, tableBox } from '../dom.js';
import { displayName, loadMembers } from '../members.js';
import { projectLabel, visibleProjects } from '../projects.js';
import type { ProjectMembers, Roles, TeamList } from '../types.js';

const message = (error: unknown): string => (error instanceof ApiError ? error.message : String(error));

export async function projectsPage({ root, params }: PageContext): Promise<void> {
  const [projects, members, teams, roles, mayCreate] = await Promise.all([
    visibleProjects(),
    loadMembers(),
    api.get<TeamList>(companyPath('/teams')).then((r) => r.body.teams).catch(() => []),
    api.get<Roles>(companyPath('/roles')).then((r) => r.body.project).catch(() => []),
    can({ create: { action: 'create', resource: { type: 'Project' } } }),
  ]);
  const byId = new Map(members.map((m) => [m.userId, m]));
  const nameOf = (id: string) => (byId.get(id) ? displayName(byId.get(id)!) : id);
  const teamName = (id: string) => teams.find((t) => t.id === id)?.name ?? id;
  const roleKeys = roles.map((r): [string, string] => [r.key, r.name]);
  let current = params.get('project') ?? projects[0]?.id ?? '';
  if (current && !projects.some((p) => p.id === current)) current = projects[0]?.id ?? '';

  const picker = select('project', projects.map((p): [string, string] => [p.id, projectLabel(p)]), current);
  const panel = h('section', { class: 'panel', 'aria-live': 'polite' });
  picker.addEventListener('change', () => {
    current = picker.value;
    replaceParams('projects', { project: current });
    void drawProject();
  });

  async function drawProject(): Promise<void> {
    if (!current) return void replace(panel, h('p', null, 'No registered project you may view.'));
    const projectId = current;
    const label = projectLabel(projects.find((p) => p.id === projectId) ?? { id: projectId, name: projectId });
    const scoped = (action: string) => ({ action, resource: { type: 'ProjectMember', attributes: { projectId } } }) as const;
    const [grants, may] = await Promise.all([
      api.get<ProjectMembers>(companyPath(`/projects/${enc(projectId)}/members`)).then((r) => r.body),
      can({ invite: scoped('invite'), edit: scoped('edit'), remove: scoped('remove') }),
    ]);
    if (projectId !== current) return;
    const redraw = () => void drawProject();

    async function act(control: HTMLElement, work: () => Promise<unknown>): Promise<void> {
      clearRefusal(control);
      try {
        await work();
        redraw();
      } catch (error) {
        showRefusal(control, message(error));
      }
    }

    const grantRow = (kind: 'users' | 'teams', id: string, role: string, grantee: string) => {
      const path = companyPath(`/projects/${enc(projectId)}/members/${kind}/${enc(id)}`);
      let roleCell: HTMLElement | string = roles.find((r) => r.key === role)?.name ?? role;
      if (may.edit) {
        const s = select('role', roleKeys, role, { 'aria-label': `Project role of ${grantee}` });
        s.addEventListener('change', () => void act(s, () => api.put(path, { role: s.value })).then(() => (s.value = role)));
        roleCell = s;
      }
      const revoke = may.remove ? h('button', { type: 'button', class: 'danger small', 'aria-label': `Revoke ${grantee}'s access to ${label}` }, 'Revoke') : null;
      revoke?.addEventListener('click', () => void act(revoke, () => api.delete(path)));
      return h('tr', null, h('th', { scope: 'row' }, grantee), h('td', null, kind === 'users' ? 'User' : 'Team'), h('td', null, roleCell), h('td', { class: 'row-actions' }, revoke));
    };

    let grantForm: HTMLElement | null = null;
    if (may.invite && roleKeys.length) {
      const who = select('grantee', [
        ...teams.map((t): [string, string] => [`teams:${t.id}`, `Team: ${t.name}`]),
        ...members.filter((m) => m.status !== 'inactive').map((m): [string, string] => [`users:${m.userId}`, displayName(m)]),
      ]);
      const role = select('role', roleKeys);
      const button = h('button', { type: 'submit', class: 'primary' }, 'Grant');
      const form = h('form', { class: 'inline', 'aria-label': `Grant access to ${label}` }, field('User or team', who), field('Project role', role), button);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const [kind, ...rest] = who.value.split(':');
        void busy(form, () => act(button, () => api.put(companyPath(`/projects/${enc(projectId)}/members/${kind}/${enc(rest.join(':'))}`), { role: role.value })));
      });
      grantForm = form;
    }

    const rows = [...grants.teams.map((g) => grantRow('teams', g.teamId, g.role, teamName(g.teamId))), ...grants.users.map((g) => grantRow('users', g.userId, g.role, nameOf(g.userId)))];
    replace(
      panel,
      h('h2', null, `Project ${label}`),
      tableBox(
        `Grants on ${label}`,
        h(
          'table',
          null,
          h('caption', { class: 'visually-hidden' }, `Who has a role on ${label}`),
          h('thead', null, h('tr', null, ['Grantee', 'Kind', 'Project role', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: 4, class: 'empty' }, 'Nobody has a role on this project yet.'))),
        ),
      ),
      grantForm ? h('div', { class: 'spaced' }, grantForm) : null,
    );
  }

  let register: HTMLElement | null = null;
  if (mayCreate.create) {
    const id = h('input', { name: 'id', required: true, pattern: '[A-Za-z0-9._:@\\-]{1,128}' });
    const name = h('input', { name: 'name', required: true });
    const button = h('button', { type: 'submit' }, 'Register project');
    const form = h('form', { class: 'inline panel', 'aria-label': 'Register a project' }, field('Project id', id), field('Project name', name), button);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      clearRefusal(button);
      void busy(form, async () => {
        try {
          await api.put(companyPath(`/projects/${enc(id.value.trim())}`), { name: name.value.trim() });
          replaceParams('projects', { project: id.value.trim() });
          redrawPage();
        } catch (error) {
          showRefusal(button, message(error));
        }
      });
    });
    register = form;
  }

  replace(
    root,
    pageHeader('Projects', 'Registered projects, who holds a project role on each, directly or through a team.'),
    register,
    projects.length ? h('div', { class: 'filters' }, field('Project', picker)) : null,
    panel,
  );
  await drawProject();
}
