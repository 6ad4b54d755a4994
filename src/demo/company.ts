import type { InviteInput, LocalUserInput } from '../admin/members/schemas.js';
import type { ProjectRoleInput } from '../admin/roles/schemas.js';

/**
 * The demo company, shaped like the seed documents: the four company roles and the owner tag,
 * Members and Guests by email domain, a pending invitation, an inactive member, a local user
 * with a password, custom project roles, teams, and projects granted to users and teams.
 * The README's examples ask about these ids, and the README test runs them against it.
 *
 * It fits the default plan (`policies/plans.json`: 5 user licenses, 1 developer license),
 * since a fresh server has no operator credential to choose another: 5 memberships hold
 * application access (hedy's invitation holds its seat), linus the one developer seat.
 */
export interface PlatformPerson extends Omit<InviteInput, 'email'> {
  /** The identity provider's `sub`: dev-token signs it. */
  id: string;
  email: string;
  /** Accepted, then set inactive: shows that only active memberships grant (D6). */
  inactive?: boolean;
}

export interface DemoGrant {
  project: string;
  role: string;
  /** A platform user's id or a local user's login. */
  user?: string;
  team?: string;
}

export interface DemoCompany {
  id: string;
  name: string;
  domain: string;
  /** Creates the company: owner and active admin (D10). No application access: admins administer (D12). */
  owner: { id: string; email: string };
  people: PlatformPerson[];
  /** Invited, never accepted (D6): listed under an `invite:<uuid>` placeholder. */
  invitations: InviteInput[];
  localUsers: LocalUserInput[];
  projectRoles: ProjectRoleInput[];
  /** Members are platform user ids or local users' logins. */
  teams: { id: string; name: string; members: string[] }[];
  /** `creator` gets project-admin on it (D15); the owner when absent. */
  projects: { id: string; name: string; creator?: string }[];
  grants: DemoGrant[];
}

export const DEMO_COMPANY: DemoCompany = {
  id: 'acme',
  name: 'Acme',
  domain: 'acme.test',
  owner: { id: 'ada', email: 'ada@acme.test' },
  people: [
    { id: 'grace', email: 'grace@acme.test', role: 'manager', applicationAccess: true },
    { id: 'linus', email: 'linus@acme.test', role: 'editor', applicationAccess: true, developerAccess: true },
    { id: 'ken', email: 'ken@partner.test', role: 'collaborator', applicationAccess: true },
    { id: 'alan', email: 'alan@acme.test', role: 'editor', inactive: true },
  ],
  invitations: [{ email: 'hedy@acme.test', role: 'editor', applicationAccess: true }],
  localUsers: [{ login: 'joan', password: 'correct horse battery staple', firstName: 'Joan', lastName: 'Clarke', role: 'collaborator', applicationAccess: true }],
  projectRoles: [
    {
      key: 'reviewer',
      name: 'Reviewer',
      permissions: [
        { action: 'view', subject: 'Scenario' },
        { action: 'view', subject: 'ProjectInformation' },
        { action: 'edit', subject: 'ProjectInformation' },
      ],
    },
    {
      key: 'planner',
      name: 'Planner',
      permissions: [
        { action: 'create', subject: 'Scenario' },
        { action: 'view', subject: 'Scenario' },
        { action: 'edit', subject: 'Scenario' },
        { action: 'delete', subject: 'Scenario' },
        { action: 'view', subject: 'ProjectInformation' },
        { action: 'view', subject: 'ProjectMember' },
      ],
    },
  ],
  teams: [
    { id: 'design', name: 'Design', members: ['linus', 'ken'] },
    { id: 'field', name: 'Field crew', members: ['joan'] },
  ],
  projects: [
    { id: 'bridge', name: 'Bridge' },
    { id: 'tunnel', name: 'Tunnel', creator: 'grace' },
    { id: 'harbour', name: 'Harbour' },
  ],
  grants: [
    { project: 'bridge', team: 'design', role: 'reviewer' },
    { project: 'bridge', user: 'linus', role: 'contributor' },
    { project: 'tunnel', user: 'ken', role: 'viewer' },
    { project: 'harbour', team: 'field', role: 'planner' },
  ],
};

const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1);

/** What the demo company holds, in a few lines for the person who loaded it. */
export function describeDemo(demo: DemoCompany, plan: string | undefined): string[] {
  const person = (p: PlatformPerson, ...more: string[]) =>
    `${p.id} (${[p.role, ...(p.developerAccess ? ['developer'] : []), ...(p.inactive ? ['inactive'] : []), ...more].join(', ')})`;
  const members = demo.people.filter((p) => domainOf(p.email) === demo.domain).map((p) => person(p));
  const guests = demo.people.filter((p) => domainOf(p.email) !== demo.domain).map((p) => person(p, p.email));
  const invited = demo.invitations.map((i) => `${i.email} (${i.role}, invited)`);
  const width = Math.max(...demo.projects.map((p) => p.id.length)) + 2;
  const projects = demo.projects.map((project, i) => {
    const grants = demo.grants.filter((g) => g.project === project.id).map((g) => `${g.team ? `team ${g.team}` : g.user} ${g.role}`);
    return `${i === 0 ? '  projects  ' : ' '.repeat(12)}${project.id.padEnd(width)}${[`${project.creator ?? demo.owner.id} project-admin`, ...grants].join(', ')}`;
  });
  return [
    `  company   ${demo.id} (${demo.name}), domain ${demo.domain}: its addresses are Members, others Guests${plan ? `; plan ${plan}` : ''}`,
    `  owner     ${demo.owner.id} (admin; no application access: admins administer, D12)`,
    `  members   ${[...members, ...invited].join(', ')}`,
    `  guests    ${guests.join(', ')}`,
    ...demo.localUsers.map((u) => `  local     ${u.login} (${u.role}), login ${u.login}, password "${u.password}"`),
    `  roles     custom project roles ${demo.projectRoles.map((r) => r.key).join(', ')} (beside project-admin, contributor, viewer)`,
    `  teams     ${demo.teams.map((t) => `${t.id}: ${t.members.join(', ')}`).join('; ')}`,
    ...projects,
    `Tokens: npm run -s dev-token -- <${[demo.owner.id, ...demo.people.map((p) => p.id)].join('|')}>; ${demo.localUsers.map((u) => u.login).join(', ')} logs in with POST /v1/auth/token.`,
  ];
}
