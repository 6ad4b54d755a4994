import { api, ApiError, can, companyPath, enc } from '../api.js';
import { pageHeader, type PageContext } from '../app.js';
import { busy, clearRefusal, field, h, openDialog, replace, select, showRefusal } from '../dom.js';
import { displayName, loadMembers } from '../members.js';
import type { Team, TeamList } from '../types.js';

const message = (error: unknown): string => (error instanceof ApiError ? error.message : String(error));

export async function teamsPage({ root }: PageContext): Promise<void> {
  const [loaded, members, may] = await Promise.all([
    api.get<TeamList>(companyPath('/teams')),
    loadMembers(),
    can({
      create: { action: 'create', resource: { type: 'Team' } },
      edit: { action: 'edit', resource: { type: 'Team' } },
      remove: { action: 'delete', resource: { type: 'Team' } },
    }),
  ]);
  let teams = loaded.body.teams;
  const byId = new Map(members.map((m) => [m.userId, m]));
  const nameOf = (id: string) => (byId.get(id) ? displayName(byId.get(id)!) : id);
  const list = h('div');

  async function refresh(focusTeam?: string): Promise<void> {
    teams = (await api.get<TeamList>(companyPath('/teams'))).body.teams;
    draw();
    if (focusTeam) document.getElementById(`team-${focusTeam}`)?.focus();
  }

  async function act(control: HTMLElement, work: () => Promise<unknown>, focusTeam?: string): Promise<void> {
    clearRefusal(control);
    try {
      await work();
      await refresh(focusTeam);
    } catch (error) {
      showRefusal(control, message(error));
    }
  }

  function teamPanel(team: Team): HTMLElement {
    const chips = h(
      'ul',
      { class: 'chips', 'aria-label': `Members of ${team.name}` },
      team.members.map((userId) => {
        const remove = may.edit ? h('button', { type: 'button', class: 'icon small', 'aria-label': `Remove ${nameOf(userId)} from ${team.name}` }, '×') : null;
        remove?.addEventListener('click', () => void act(remove, () => api.delete(companyPath(`/teams/${enc(team.id)}/members/${enc(userId)}`)), team.id));
        return h('li', null, nameOf(userId), remove);
      }),
    );
    let add: HTMLElement | null = null;
    const candidates = members.filter((m) => !team.members.includes(m.userId));
    if (may.edit && candidates.length) {
      const who = select('userId', candidates.map((m): [string, string] => [m.userId, displayName(m)]));
      const button = h('button', { type: 'submit' }, 'Add to team');
      const form = h('form', { class: 'inline' }, field(`Add a member to ${team.name}`, who), button);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        void busy(form, () => act(button, () => api.put(companyPath(`/teams/${enc(team.id)}/members/${enc(who.value)}`)), team.id));
      });
      add = form;
    }
    const rename = may.edit ? h('button', { type: 'button', class: 'small' }, 'Rename') : null;
    rename?.addEventListener('click', () =>
      openDialog(`Rename ${team.name}`, (close) => {
        const input = h('input', { name: 'name', value: team.name, required: true });
        const save = h('button', { type: 'submit', class: 'primary' }, 'Rename');
        const f = h('form', null, field('Team name', input), h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: close }, 'Cancel'), save));
        f.addEventListener('submit', async (e) => {
          e.preventDefault();
          await busy(f, async () => {
            try {
              await api.patch(companyPath(`/teams/${enc(team.id)}`), { name: input.value.trim() });
              close();
              await refresh(team.id);
            } catch (error) {
              showRefusal(save, message(error));
            }
          });
        });
        return f;
      }),
    );
    const del = may.remove ? h('button', { type: 'button', class: 'danger small' }, 'Delete team') : null;
    del?.addEventListener('click', () => void act(del, () => api.delete(companyPath(`/teams/${enc(team.id)}`))));
    return h(
      'section',
      { class: 'panel', 'aria-labelledby': `team-${team.id}` },
      h('h2', null, h('span', { id: `team-${team.id}`, tabindex: '-1' }, team.name, ' ', h('small', null, `(${team.id})`)), h('span', { class: 'actions' }, rename, ' ', del)),
      team.members.length ? chips : h('p', { class: 'hint' }, 'No members yet.'),
      add,
    );
  }

  function draw(): void {
    replace(list, teams.length ? teams.map(teamPanel) : h('p', { class: 'notice info' }, 'No teams yet.'));
  }

  let create: HTMLElement | null = null;
  if (may.create) {
    const name = h('input', { name: 'name', required: true });
    const id = h('input', { name: 'id', pattern: '[A-Za-z0-9._:@\\-]{1,128}' });
    const button = h('button', { type: 'submit', class: 'primary' }, 'Create team');
    const form = h('form', { class: 'inline panel', 'aria-label': 'New team' }, field('Team name', name), field('Team id (optional)', id), button);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void busy(form, () =>
        act(button, async () => {
          await api.post(companyPath('/teams'), id.value.trim() ? { id: id.value.trim(), name: name.value.trim() } : { name: name.value.trim() });
          name.value = '';
          id.value = '';
        }),
      );
    });
    create = form;
  }
  replace(root, pageHeader('Teams', 'A team groups members: granting a team a project role grants it to everyone in the team.'), create, list);
  draw();
}
