import type { MemberView } from '../admin/members/schemas.js';
import type { ProjectMembers } from '../admin/projects/schemas.js';
import type { TeamView } from '../admin/teams/schemas.js';
import { DemoError, expectStatus, type Api, type Method } from './client.js';
import type { DemoCompany, PlatformPerson } from './company.js';

/** Signs a development token for a platform user of the demo (email marked verified). */
export type Signer = (sub: string, email: string) => Promise<string>;

export interface LoadOutcome {
  /** Admin writes made: 0 when the company was already as the demo makes it. */
  writes: number;
  /** The company's policy version after the last write, when there was one. */
  version?: string;
  plan?: string;
}

/**
 * Makes the demo company exist, through the admin API, as its owner. Every part is read
 * first and written only when missing, so a second run writes nothing, and a run after an
 * interrupted one (or after the line the server prints on its first start, which makes an
 * empty acme owned by ada) finishes the job. A company of that id the owner is not in is
 * refused: the demo never writes into somebody else's company.
 */
export async function loadDemo(api: Api, demo: DemoCompany, sign: Signer): Promise<LoadOutcome> {
  const c = `/v1/companies/${encodeURIComponent(demo.id)}`;
  const owner = await sign(demo.owner.id, demo.owner.email);
  const outcome: LoadOutcome = { writes: 0 };
  const write = async (method: Method, path: string, body: unknown, expected: readonly number[], what: string, token = owner) => {
    const reply = expectStatus(await api.call(method, path, token, body), expected, what);
    if (typeof reply.body.version === 'string') outcome.version = reply.body.version;
    outcome.writes++;
    return reply;
  };
  const read = async <T>(path: string, what: string): Promise<T> => expectStatus(await api.call('GET', path, owner), [200], what).body as T;

  // The company, with the owner's verified address proving its domain (D4).
  let company = await api.call('GET', c, owner);
  if (company.status === 404) {
    const created = await api.call('POST', '/v1/companies', owner, { id: demo.id, name: demo.name, domains: [demo.domain] });
    if (created.status === 409) {
      throw new DemoError(
        `a company ${demo.id} exists (or existed), and ${demo.owner.id} is not an active member of it: the demo loads its own ${demo.id}. ` +
          'Point it at a server with fresh data (another DATA_DIR, or the embedded data moved away)',
      );
    }
    company = expectStatus(created, [201], `creating company ${demo.id}`);
    outcome.writes++;
    outcome.version = company.body.version as string;
  } else {
    expectStatus(company, [200], `reading company ${demo.id}`);
    const domains = (company.body.domains as string[] | undefined) ?? [];
    if (!domains.includes(demo.domain)) await write('PUT', `${c}/domains`, { domains: [...domains, demo.domain] }, [200], `registering ${demo.domain}`);
  }
  const plan = (company.body.plan as { name?: string } | undefined)?.name;
  if (plan) outcome.plan = plan;

  const roles = await read<{ project: { key: string }[] }>(`${c}/roles`, 'reading the roles');
  for (const role of demo.projectRoles) {
    if (!roles.project.some((r) => r.key === role.key)) await write('POST', `${c}/roles/project`, role, [201], `creating project role ${role.key}`);
  }

  let members = (await read<{ members: MemberView[] }>(`${c}/members`, 'reading the members')).members;
  const byEmail = (email: string) => members.find((m) => m.email?.toLowerCase() === email.toLowerCase());
  for (const person of demo.people) await ensurePerson(person);
  for (const invitation of demo.invitations) {
    if (!byEmail(invitation.email)) await write('POST', `${c}/invitations`, invitation, [201], `inviting ${invitation.email}`);
  }
  for (const local of demo.localUsers) {
    if (!members.some((m) => m.login === local.login)) await write('POST', `${c}/local-users`, local, [201], `creating local user ${local.login}`);
  }
  members = (await read<{ members: MemberView[] }>(`${c}/members`, 'reading the members')).members;
  // Platform users by id, local users by login.
  const userId = (name: string) => members.find((m) => m.kind === 'local' && m.login === name)?.userId ?? name;

  const teams = (await read<{ teams: TeamView[] }>(`${c}/teams`, 'reading the teams')).teams;
  for (const team of demo.teams) {
    const existing = teams.find((t) => t.id === team.id);
    if (!existing) await write('POST', `${c}/teams`, { id: team.id, name: team.name }, [201], `creating team ${team.id}`);
    for (const name of team.members) {
      const id = userId(name);
      if (!existing?.members.includes(id)) await write('PUT', `${c}/teams/${team.id}/members/${encodeURIComponent(id)}`, undefined, [200], `adding ${name} to team ${team.id}`);
    }
  }

  for (const project of demo.projects) {
    const path = `${c}/projects/${project.id}`;
    const current = await api.call('GET', `${path}/members`, owner);
    let grants: ProjectMembers = { users: [], teams: [] };
    if (current.status === 404) {
      await write('PUT', path, { name: project.name, ...(project.creator ? { creatorId: project.creator } : {}) }, [201], `registering project ${project.id}`);
    } else {
      grants = expectStatus(current, [200], `reading the grants on ${project.id}`).body as unknown as ProjectMembers;
    }
    for (const grant of demo.grants.filter((g) => g.project === project.id)) {
      const [kind, id] = grant.team ? (['teams', grant.team] as const) : (['users', userId(grant.user!)] as const);
      const held = kind === 'teams' ? grants.teams.find((t) => t.teamId === id) : grants.users.find((u) => u.userId === id);
      if (held?.role !== grant.role) {
        await write('PUT', `${path}/members/${kind}/${encodeURIComponent(id)}`, { role: grant.role }, [200, 201], `granting ${grant.role} on ${project.id} to ${grant.team ?? grant.user}`);
      }
    }
  }
  return outcome;

  /** A platform user joins as one does: invited by email, accepting with their own token (D6). */
  async function ensurePerson(person: PlatformPerson): Promise<void> {
    const { id, email, inactive, ...invitation } = person;
    let member = members.find((m) => m.userId === id);
    if (!member) {
      if (!byEmail(email)) await write('POST', `${c}/invitations`, { email, ...invitation }, [201], `inviting ${email}`);
      const token = await sign(id, email);
      member = (await write('POST', `${c}/invitations/accept`, undefined, [200], `${id} accepting the invitation`, token)).body as unknown as MemberView;
    }
    if (inactive && member.status === 'active') await write('PATCH', `${c}/members/${encodeURIComponent(id)}`, { status: 'inactive' }, [200], `setting ${id} inactive`);
  }
}
