import fc from 'fast-check';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicies } from '../../src/policy/catalog.js';
import type { Database } from '../../src/store/schema.js';
import { referenceDecision, type Permission, type RawCompany, type Role } from '../check/reference.js';
import { addMember, adminClient, type AdminClient } from '../support/admin.js';
import { api, createTestEnvironment, operatorHeaders, type JsonResponse, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';

/**
 * D23 as a model-based property on real PostgreSQL: random companies (custom company roles,
 * a custom project role, teams, grants, flags), then random sequences of admin API calls
 * made by random non-admin members. After every call that succeeds:
 * 1. no member holds a decision they did not hold before unless the caller held it (no escalation);
 * 2. the caller's own decisions did not grow (nobody widens their own rights);
 * 3. every decision /v1/check gives equals the reference evaluator's (test/check/reference.ts)
 *    over the rows the call left, read back from the database.
 * A refused call leaves the version (and so every decision) as it was; no call answers 5xx.
 * Decisions are asked of /v1/check over the whole catalog, for every member and registered project.
 *
 * The seed is fixed so CI is repeatable (fast-check draws the same companies and calls for
 * the same seed); ESCALATION_SEED and ESCALATION_RUNS explore further, ESCALATION_DEBUG=1
 * prints every call with its answer. With each fix reverted on its own, this seed's run found:
 * - hole 1 (team membership handing out the team's roles unchecked): sequence 42, oracle 1;
 * - hole 2 (member PATCH checking only role changes): sequence 21, oracle 1 (an admin revived);
 * - hole 6 (inverted permissions accepted in project roles): sequence 7, oracle 3 (its harm is
 *   taking rights away, which only the reference sees).
 */

const SEED = Number(process.env.ESCALATION_SEED ?? 20261130);
const RUNS = Number(process.env.ESCALATION_RUNS ?? 60);
const MAX_COMMANDS = 15;

const policies = loadPolicies();
const { catalog } = policies;

const OWNER = 'own';
const ACTORS = ['a0', 'a1', 'a2'] as const;
const OTHERS = ['adm', 'u0', 'u1'] as const;
const NEWCOMERS = ['n0', 'n1'] as const;
const USERS = [OWNER, ...ACTORS, ...OTHERS, ...NEWCOMERS];
const PROJECTS = ['pa', 'pb'] as const;
const TEAMS = ['t0', 't1'] as const;
const PROJECT_ROLES = ['project-admin', 'contributor', 'viewer', 'r0'] as const;
const EDITABLE = ['manager', 'editor', 'collaborator'] as const;
const emailOf = (user: string) => `${user}@esc.test`;

// ---- what random roles are made of ----

/** Company-level permissions, with a few section-limited and restricting variants. */
const companyPool: Permission[] = [
  ...Object.entries(catalog.companyRolePermissions).flatMap(([subject, actions]) => actions.map((action) => ({ action, subject }))),
  { action: 'edit', subject: 'CompanySettings', fields: ['branding'] },
  { action: 'view', subject: 'CompanySettings', fields: ['subscription'], inverted: true },
  { action: 'edit', subject: 'Member', inverted: true },
];
/** Project permissions, and restrictions a project role must never hold (hole 6). */
const projectPool: Permission[] = [
  ...Object.entries(catalog.projectRolePermissions).flatMap(([subject, actions]) => actions.map((action) => ({ action, subject }))),
  { action: 'manage', subject: 'Project', inverted: true },
  { action: 'view', subject: 'Scenario', inverted: true },
];
/** The verbs that let a non-admin grant anything: weighted in, or few runs would have an actor able to. */
const grantingVerbs: Permission[] = [
  { action: 'edit', subject: 'Member' },
  { action: 'invite', subject: 'Member' },
  { action: 'edit', subject: 'Team' },
  { action: 'edit', subject: 'Role' },
  { action: 'create', subject: 'Role' },
];
const companyRoleArb = fc
  .tuple(fc.subarray(grantingVerbs, { minLength: 3 }), fc.subarray(companyPool, { maxLength: 8 }))
  .chain(([verbs, rest]) => fc.shuffledSubarray([...verbs, ...rest], { minLength: verbs.length + rest.length }));

const worldArb = fc.record({
  actorRoles: fc.tuple(...ACTORS.map(() => fc.constantFrom(...EDITABLE))),
  companyRoles: fc.record({ manager: companyRoleArb, editor: companyRoleArb, collaborator: companyRoleArb }),
  r0: fc.subarray(projectPool.filter((p) => !p.inverted), { maxLength: 6 }),
  flags: fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: ACTORS.length + OTHERS.length, maxLength: ACTORS.length + OTHERS.length }),
  adminActive: fc.boolean(),
  teamMembers: fc.tuple(fc.subarray([...ACTORS, ...OTHERS]), fc.subarray([...ACTORS, ...OTHERS])),
  grants: fc.array(
    fc.record({ project: fc.constantFrom(...PROJECTS), grantee: fc.constantFrom(...ACTORS, ...OTHERS, ...TEAMS.map((t) => `team:${t}`)), role: fc.constantFrom(...PROJECT_ROLES) }),
    { maxLength: 6 },
  ),
  /** A role for each actor on one project, mostly strong enough to grant there. */
  actorGrants: fc.tuple(...ACTORS.map(() => fc.record({ project: fc.constantFrom(...PROJECTS), role: fc.constantFrom('project-admin', 'project-admin', 'contributor', 'r0') }))),
});
type World = typeof worldArb extends fc.Arbitrary<infer T> ? T : never;

// ---- the system under test and what the oracle remembers ----

interface Real {
  url: string;
  db: Kysely<Database>;
  company: string;
  /** Each member's decisions after the last successful call. */
  held: Map<string, Set<string>>;
  stats: Stats;
}
interface Stats {
  sequences: number;
  calls: number;
  succeeded: number;
  decisions: number;
}
type Model = Record<string, never>;

/** Every question of the catalog: company-level ones, and project-scoped ones on each registered project. */
const questions = Object.entries(catalog.subjects).flatMap(([type, spec]) =>
  (spec.projectAttribute ? [...PROJECTS] : [undefined]).flatMap((project) =>
    spec.actions.flatMap((action) =>
      [undefined, ...(spec.fields ?? [])].map((field) => ({
        key: `${action} ${type}${field ? `.${field}` : ''}${project ? ` @${project}` : ''}`,
        raw: { action, type, ...(project ? { project } : {}), ...(field ? { field } : {}) },
        body: {
          action,
          resource: { type, ...(project && spec.projectAttribute ? { attributes: { [spec.projectAttribute]: project } } : {}) },
          ...(field ? { field } : {}),
        },
      })),
    ),
  ),
);

/** The company's rows, read back as the reference evaluator takes them. */
async function readBack(db: Kysely<Database>, company: string): Promise<RawCompany> {
  const [memberships, roles, projectRoles, teams, teamMembers, projects, grants] = await Promise.all([
    db.selectFrom('memberships').selectAll().where('company_id', '=', company).execute(),
    db.selectFrom('company_role_permissions').selectAll().where('company_id', '=', company).execute(),
    db.selectFrom('project_roles').selectAll().where('company_id', '=', company).execute(),
    db.selectFrom('teams').selectAll().where('company_id', '=', company).execute(),
    db.selectFrom('team_members').selectAll().where('company_id', '=', company).execute(),
    db.selectFrom('projects').select('id').where('company_id', '=', company).execute(),
    db.selectFrom('project_grants').selectAll().where('company_id', '=', company).execute(),
  ]);
  const roleOf = (key: (typeof EDITABLE)[number]) => (roles.find((r) => r.role === key)?.permissions ?? policies.companyRoles[key]) as Permission[];
  return {
    id: company,
    memberships: memberships.map((m) => ({ user: m.user_id, role: m.role as Role, status: m.status, owner: m.owner, app: m.application_access, dev: m.developer_access })),
    companyRoles: { manager: roleOf('manager'), editor: roleOf('editor'), collaborator: roleOf('collaborator') },
    projectRoles: projectRoles.map((r) => ({ key: r.key, permissions: r.permissions as Permission[] })),
    teams: teams.map((t) => ({ id: t.id, members: teamMembers.filter((m) => m.team_id === t.id).map((m) => m.user_id) })),
    projects: projects.map((p) => p.id),
    grants: grants.map((g) => ({ project: g.project_id, role: g.role_key, ...(g.user_id ? { user: g.user_id } : {}), ...(g.team_id ? { team: g.team_id } : {}) })),
  };
}

/** Every member's decisions at `version` or later, checked against the reference on the rows read back. */
async function observe(real: Real, version: string): Promise<Map<string, Set<string>>> {
  const raw = await readBack(real.db, real.company);
  // One batch per member, all at once: the run's cost is mostly these round trips.
  const answers = await Promise.all(
    raw.memberships.map(({ user }) =>
      api(real.url, 'POST', '/v1/check/batch', { company: real.company, principal: { id: user }, checks: questions.map((q) => q.body), consistency: { minVersion: version } }),
    ),
  );
  const held = new Map<string, Set<string>>();
  raw.memberships.forEach(({ user }, m) => {
    const answer = answers[m]!;
    if (answer.status !== 200) throw new Error(`batch check for ${user} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const allowed = new Set<string>();
    questions.forEach((q, i) => {
      const actual = answer.body.results[i].allowed as boolean;
      const expected = referenceDecision([raw], { company: real.company, user, ...q.raw });
      if (actual !== expected) {
        throw new Error(`/v1/check says ${actual ? 'allow' : 'deny'} for ${user}: ${q.key}, the reference (DOMAIN.md) says ${expected ? 'allow' : 'deny'}\n${JSON.stringify(raw)}`);
      }
      if (actual) allowed.add(q.key);
    });
    real.stats.decisions += questions.length;
    held.set(user, allowed);
  });
  return held;
}

const versionOf = async (real: Real) =>
  String((await real.db.selectFrom('policy_versions').select('version').where('company_id', '=', real.company).executeTakeFirstOrThrow()).version);

// ---- commands ----

class Call implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly actor: string,
    readonly label: string,
    readonly send: (client: AdminClient, base: string) => Promise<JsonResponse>,
    /** Follow-up by someone else once the call succeeded (the invitee accepting). */
    readonly then?: (real: Real) => Promise<JsonResponse>,
  ) {}
  check = () => true;
  toString = () => `${this.actor}: ${this.label}`;

  async run(_model: Model, real: Real): Promise<void> {
    real.stats.calls++;
    const before = await versionOf(real);
    let response = await this.send(adminClient(real.url, this.actor, emailOf(this.actor)), `/v1/companies/${real.company}`);
    if (process.env.ESCALATION_DEBUG) console.log(response.status, response.body?.error?.code ?? "", String(this).slice(0, 90), response.body?.error?.message ?? "");
    if (response.status >= 500) throw new Error(`${this} answered ${response.status}: ${JSON.stringify(response.body)}`);
    if (response.status >= 300) {
      expect(await versionOf(real), `${this} was refused (${response.status}) but moved the version`).toBe(before);
      return;
    }
    if (this.then) {
      response = await this.then(real);
      if (response.status !== 200) throw new Error(`follow-up of ${this} answered ${response.status}: ${JSON.stringify(response.body)}`);
    }
    real.stats.succeeded++;
    const after = await observe(real, response.body.version ?? (await versionOf(real)));
    const actorHeld = real.held.get(this.actor) ?? new Set<string>();
    for (const [user, decisions] of after) {
      const previously = real.held.get(user) ?? new Set<string>();
      for (const decision of decisions) {
        if (previously.has(decision)) continue;
        if (user === this.actor) throw new Error(`${this} widened its caller's own rights: ${user} now holds ${decision}`);
        if (!actorHeld.has(decision)) throw new Error(`${this} gave ${user} "${decision}", which ${this.actor} did not hold`);
      }
    }
    real.held = after;
  }
}

const userArb = fc.constantFrom(...USERS);
const actorArb = fc.constantFrom(...ACTORS);
const patchArb = fc
  .record(
    { role: fc.constantFrom('admin', ...EDITABLE), status: fc.constantFrom('active', 'inactive'), applicationAccess: fc.boolean(), developerAccess: fc.boolean() },
    { requiredKeys: [] },
  )
  .filter((p) => Object.keys(p).length > 0);
const granteeArb = fc.oneof(userArb.map((u) => `users/${u}`), fc.constantFrom(...TEAMS).map((t) => `teams/${t}`));

const patchCall = fc.tuple(actorArb, userArb, patchArb).map(([a, target, patch]) => new Call(a, `PATCH member ${target} ${JSON.stringify(patch)}`, (c, base) => c.patch(`${base}/members/${target}`, patch)));
const teamPut = fc.tuple(actorArb, fc.constantFrom(...TEAMS), userArb).map(([a, team, user]) => new Call(a, `PUT team ${team} member ${user}`, (c, base) => c.put(`${base}/teams/${team}/members/${user}`)));
const teamDelete = fc.tuple(actorArb, fc.constantFrom(...TEAMS), userArb).map(([a, team, user]) => new Call(a, `DELETE team ${team} member ${user}`, (c, base) => c.delete(`${base}/teams/${team}/members/${user}`)));
const grantPut = fc
  .tuple(actorArb, fc.constantFrom(...PROJECTS), granteeArb, fc.constantFrom(...PROJECT_ROLES))
  .map(([a, project, grantee, role]) => new Call(a, `PUT ${project} ${grantee} ${role}`, (c, base) => c.put(`${base}/projects/${project}/members/${grantee}`, { role })));
const grantDelete = fc
  .tuple(actorArb, fc.constantFrom(...PROJECTS), granteeArb)
  .map(([a, project, grantee]) => new Call(a, `DELETE ${project} ${grantee}`, (c, base) => c.delete(`${base}/projects/${project}/members/${grantee}`)));
const companyRoleEdit = fc
  .tuple(actorArb, fc.constantFrom(...EDITABLE), fc.subarray(companyPool, { maxLength: 8 }))
  .map(([a, key, permissions]) => new Call(a, `PUT company role ${key} ${JSON.stringify(permissions)}`, (c, base) => c.put(`${base}/roles/company/${key}`, { permissions })));
const projectRoleEdit = fc
  .tuple(actorArb, fc.constantFrom(...PROJECT_ROLES), fc.subarray(projectPool, { maxLength: 6 }))
  .map(([a, key, permissions]) => new Call(a, `PUT project role ${key} ${JSON.stringify(permissions)}`, (c, base) => c.put(`${base}/roles/project/${key}`, { name: key, permissions })));
const inviteAccepted = fc.tuple(actorArb, fc.constantFrom(...NEWCOMERS), fc.constantFrom('admin', ...EDITABLE), fc.boolean(), fc.boolean()).map(
  ([a, user, role, applicationAccess, developerAccess]) =>
    new Call(
      a,
      `invite ${user} as ${role}${applicationAccess ? ' +app' : ''}${developerAccess ? ' +dev' : ''}, accepted`,
      (c, base) => c.post(`${base}/invitations`, { email: emailOf(user), role, applicationAccess, developerAccess }),
      (real) => adminClient(real.url, user, emailOf(user)).post(`/v1/companies/${real.company}/invitations/accept`),
    ),
);
const memberDelete = fc.tuple(actorArb, userArb).map(([a, target]) => new Call(a, `DELETE member ${target}`, (c, base) => c.delete(`${base}/members/${target}`)));
const ownership = fc.tuple(actorArb, userArb).map(([a, target]) => new Call(a, `transfer ownership to ${target}`, (c, base) => c.post(`${base}/ownership`, { userId: target })));

/** One arbitrary, weighted towards the calls that grant: fc.commands picks among its list evenly. */
const commandArbs = [
  fc.oneof(
    { weight: 5, arbitrary: patchCall },
    { weight: 3, arbitrary: teamPut },
    { weight: 2, arbitrary: teamDelete },
    { weight: 3, arbitrary: grantPut },
    { weight: 2, arbitrary: grantDelete },
    { weight: 2, arbitrary: companyRoleEdit },
    { weight: 3, arbitrary: projectRoleEdit },
    { weight: 2, arbitrary: inviteAccepted },
    { weight: 1, arbitrary: memberDelete },
    { weight: 1, arbitrary: ownership },
  ),
];

// ---- one run ----

async function buildWorld(url: string, db: Kysely<Database>, company: string, world: World): Promise<void> {
  const owner = adminClient(url, OWNER, emailOf(OWNER));
  const ok = (response: JsonResponse, what: string) => {
    if (response.status >= 300) throw new Error(`setup: ${what} answered ${response.status}: ${JSON.stringify(response.body)}`);
  };
  ok(await owner.post('/v1/companies', { id: company, name: company, plan: { name: 'enterprise', userLicenses: 100, developerLicenses: 100 } }, operatorHeaders()), 'company');
  for (const key of EDITABLE) ok(await owner.put(`/v1/companies/${company}/roles/company/${key}`, { permissions: world.companyRoles[key] }), `role ${key}`);
  ok(await owner.post(`/v1/companies/${company}/roles/project`, { key: 'r0', name: 'r0', permissions: world.r0 }), 'role r0');
  for (const project of PROJECTS) ok(await owner.put(`/v1/companies/${company}/projects/${project}`, { name: project }), `project ${project}`);
  const people: Array<[string, 'admin' | (typeof EDITABLE)[number], 'active' | 'inactive']> = [
    ...ACTORS.map((a, i) => [a, world.actorRoles[i]!, 'active'] as [string, (typeof EDITABLE)[number], 'active']),
    ['adm', 'admin', world.adminActive ? 'active' : 'inactive'],
    ['u0', 'collaborator', 'active'],
    ['u1', 'editor', 'inactive'],
  ];
  for (const [i, [user, role, status]] of people.entries()) {
    const [applicationAccess, developerAccess] = world.flags[i]!;
    await addMember(db, company, user, role, { status, applicationAccess, developerAccess, email: emailOf(user) });
  }
  for (const [i, team] of TEAMS.entries()) {
    ok(await owner.post(`/v1/companies/${company}/teams`, { id: team, name: team }), `team ${team}`);
    for (const user of world.teamMembers[i]!) ok(await owner.put(`/v1/companies/${company}/teams/${team}/members/${user}`), `team ${team} member ${user}`);
  }
  for (const [i, grant] of world.actorGrants.entries()) {
    ok(await owner.put(`/v1/companies/${company}/projects/${grant.project}/members/users/${ACTORS[i]}`, { role: grant.role }), `actor grant ${JSON.stringify(grant)}`);
  }
  for (const grant of world.grants) {
    const path = grant.grantee.startsWith('team:') ? `teams/${grant.grantee.slice(5)}` : `users/${grant.grantee}`;
    ok(await owner.put(`/v1/companies/${company}/projects/${grant.project}/members/${path}`, { role: grant.role }), `grant ${JSON.stringify(grant)}`);
  }
}

describe.skipIf(!servicesUp)('D23 as a property: random admin calls by random non-admin members never escalate', () => {
  let env: TestEnvironment;
  let app: TestApp;
  const stats: Stats = { sequences: 0, calls: 0, succeeded: 0, decisions: 0 };

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
  });
  afterAll(async () => {
    console.log(
      `escalation property: ${stats.sequences} sequences (seed ${SEED}), ${stats.calls} admin calls (${stats.succeeded} succeeded), ${stats.decisions} decisions compared with the reference`,
    );
    await env?.close();
  });

  it(`holds for ${RUNS} random companies and call sequences`, async () => {
    const db = app.app.store.db;
    await fc.assert(
      fc.asyncProperty(worldArb, fc.commands(commandArbs, { maxCommands: MAX_COMMANDS, size: 'max' }), async (world, commands) => {
        stats.sequences++;
        const company = `esc-${stats.sequences}`;
        await buildWorld(app.url, db, company, world);
        const real: Real = { url: app.url, db, company, held: new Map(), stats };
        real.held = await observe(real, await versionOf(real));
        await fc.asyncModelRun(() => ({ model: {}, real }), commands);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    expect(stats.sequences).toBe(RUNS);
  }, 600_000);
});
