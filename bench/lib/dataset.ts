import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createRng, type Rng } from './rng.js';

type CompanyRole = 'admin' | 'manager' | 'editor' | 'collaborator';
type Status = 'active' | 'inactive' | 'invited';
interface Permission {
  action: string;
  subject: string;
  fields?: string[];
  inverted?: boolean;
}
interface ProjectRole {
  key: string;
  name: string;
  permissions: Permission[];
}

/** One active member as the bench needs it: who, and which projects they can see (direct and team grants). */
export interface Principal {
  companyId: string;
  userId: string;
  role: CompanyRole;
  status: Status;
  /** Ids of the projects granted to the principal, directly or through a team; sorted. */
  projects: string[];
  /** How many projects the company has (ids are p0 .. p{n-1}). */
  companyProjects: number;
}

export interface InvalidationFixture {
  companyId: string;
  adminId: string;
  /** Holds `roleKey` on `projectId`: the role write flips its Scenario view. */
  userId: string;
  projectId: string;
  roleKey: string;
  /** Holds `viewer` on `grantProjectId`: the fallback write removes and restores this grant. */
  grantUserId: string;
  grantProjectId: string;
}

/** A company whose one project has SEARCH_MEMBERS members, for AuthZEN's subject search. */
export interface SearchFixture {
  companyId: string;
  projectId: string;
  /** Members granted the project (half directly, half through a team). */
  members: number;
  /** Subjects a search for `view` on the project must find: the members and the company's owner (admins manage every project). */
  expected: number;
}

export const SEARCH_MEMBERS = 10_000;

export interface Dataset {
  /** Every member of the generated companies, active or not. */
  regular: Principal[];
  cold: Array<{ grants: number; principals: Principal[] }>;
  invalidation: InvalidationFixture;
  search: SearchFixture;
  rows: Record<string, number>;
  seconds: number;
}

export interface DatasetOptions {
  adminUrl: string;
  database: string;
  users: number;
  companies: number;
  coldPrincipals: number;
  coldLarge: number;
  seed: number;
  root: string;
  migrate: (databaseUrl: string) => Promise<void>;
}

const CUSTOM_ROLES: ProjectRole[] = [
  {
    key: 'reviewer',
    name: 'Reviewer',
    permissions: [
      { action: 'view', subject: 'Scenario' },
      { action: 'view', subject: 'ProjectInformation' },
      { action: 'view', subject: 'ProjectMember' },
    ],
  },
  {
    key: 'scenario-author',
    name: 'Scenario author',
    permissions: [
      { action: 'create', subject: 'Scenario' },
      { action: 'view', subject: 'Scenario' },
      { action: 'edit', subject: 'Scenario' },
      { action: 'view', subject: 'ProjectInformation' },
    ],
  },
];
export const TOGGLE_ROLE = 'bench-toggle';
export const TOGGLE_ON: Permission[] = [{ action: 'view', subject: 'Scenario' }];
export const TOGGLE_OFF: Permission[] = [{ action: 'view', subject: 'ProjectInformation' }];

type ColumnType = 'text' | 'bool' | 'int4' | 'jsonb';

/**
 * Column-wise buffers flushed as `insert ... select * from unnest($1::text[], ...)`: one
 * statement per batch of rows, which is what makes 100,000 users a matter of seconds.
 */
class TableBuffer {
  readonly columns: Array<{ name: string; type: ColumnType; values: unknown[] }>;
  written = 0;
  constructor(
    readonly table: string,
    columns: Array<[string, ColumnType]>,
  ) {
    this.columns = columns.map(([name, type]) => ({ name, type, values: [] }));
  }
  push(...row: unknown[]): void {
    row.forEach((value, i) => this.columns[i]!.values.push(value));
  }
  get pending(): number {
    return this.columns[0]!.values.length;
  }
  /** The buffered rows as insert statements of at most `batchRows` rows each; empties the buffer. */
  drain(batchRows: number): Array<{ text: string; values: unknown[][] }> {
    const names = this.columns.map((c) => c.name).join(', ');
    const casts = this.columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ');
    const text = `insert into ${this.table} (${names}) select * from unnest(${casts})`;
    const statements = [];
    for (let start = 0; start < this.pending; start += batchRows) {
      statements.push({ text, values: this.columns.map((c) => c.values.slice(start, start + batchRows)) });
    }
    this.written += this.pending;
    for (const column of this.columns) column.values = [];
    return statements;
  }
}

function createTables() {
  return {
    users: new TableBuffer('users', [['id', 'text'], ['kind', 'text'], ['email', 'text']]),
    companies: new TableBuffer('companies', [['id', 'text'], ['name', 'text'], ['plan_name', 'text'], ['user_licenses', 'int4'], ['developer_licenses', 'int4']]),
    policy_versions: new TableBuffer('policy_versions', [['company_id', 'text']]),
    company_role_permissions: new TableBuffer('company_role_permissions', [['company_id', 'text'], ['role', 'text'], ['permissions', 'jsonb']]),
    project_roles: new TableBuffer('project_roles', [['company_id', 'text'], ['key', 'text'], ['name', 'text'], ['permissions', 'jsonb']]),
    memberships: new TableBuffer('memberships', [
      ['company_id', 'text'],
      ['user_id', 'text'],
      ['status', 'text'],
      ['role', 'text'],
      ['owner', 'bool'],
      ['application_access', 'bool'],
      ['developer_access', 'bool'],
    ]),
    teams: new TableBuffer('teams', [['company_id', 'text'], ['id', 'text'], ['name', 'text']]),
    team_members: new TableBuffer('team_members', [['company_id', 'text'], ['team_id', 'text'], ['user_id', 'text']]),
    projects: new TableBuffer('projects', [['company_id', 'text'], ['id', 'text'], ['name', 'text']]),
    project_grants: new TableBuffer('project_grants', [['company_id', 'text'], ['project_id', 'text'], ['role_key', 'text'], ['user_id', 'text'], ['team_id', 'text']]),
  };
}
type Tables = ReturnType<typeof createTables>;

interface Defaults {
  companyRoles: Record<'manager' | 'editor' | 'collaborator', Permission[]>;
  projectRoles: ProjectRole[];
}

function loadDefaults(root: string): Defaults {
  const read = <T>(file: string): T => JSON.parse(readFileSync(path.join(root, 'policies', file), 'utf8')) as T;
  return { companyRoles: read('company-roles.json'), projectRoles: read('project-roles.json') };
}

/** What every new company gets, as the admin API leaves it: default roles copied, one owner who is an active admin. */
function addCompany(t: Tables, defaults: Defaults, id: string, ownerId: string, projects: number, extraRoles: ProjectRole[]): string[] {
  t.companies.push(id, `Company ${id}`, 'enterprise', 1_000_000, 1_000_000);
  t.policy_versions.push(id);
  for (const role of ['manager', 'editor', 'collaborator'] as const) t.company_role_permissions.push(id, role, JSON.stringify(defaults.companyRoles[role]));
  const roles = [...defaults.projectRoles, ...extraRoles];
  for (const role of roles) t.project_roles.push(id, role.key, role.name, JSON.stringify(role.permissions));
  addMember(t, id, ownerId, 'admin', 'active', true, true, false);
  for (let p = 0; p < projects; p++) t.projects.push(id, `p${p}`, `Project ${p}`);
  return roles.map((r) => r.key);
}

function addMember(t: Tables, companyId: string, userId: string, role: CompanyRole, status: Status, owner: boolean, app: boolean, dev: boolean): void {
  t.users.push(userId, 'platform', `${userId}@bench.test`);
  t.memberships.push(companyId, userId, status, role, owner, app, dev);
}

function companyRoleFor(rng: Rng): CompanyRole {
  const r = rng.next();
  return r < 0.02 ? 'admin' : r < 0.1 ? 'manager' : r < 0.3 ? 'editor' : 'collaborator';
}

function statusFor(rng: Rng): Status {
  const r = rng.next();
  return r < 0.94 ? 'active' : r < 0.97 ? 'inactive' : 'invited';
}

/** A regular company: members of every role and status, teams, projects, custom roles, direct and team grants. */
function addRegularCompany(t: Tables, defaults: Defaults, rng: Rng, id: string, users: number): Principal[] {
  const projects = Math.max(20, Math.round(users / 4));
  const teams = Math.max(2, Math.round(users / 25));
  const roleKeys = addCompany(t, defaults, id, `${id}-u0`, projects, CUSTOM_ROLES);
  const teamProjects: string[][] = [];
  for (let team = 0; team < teams; team++) {
    t.teams.push(id, `t${team}`, `Team ${team}`);
    const granted = rng.distinct(projects, rng.int(2, 6)).map((p) => `p${p}`);
    for (const project of granted) t.project_grants.push(id, project, rng.pick(roleKeys), null, `t${team}`);
    teamProjects.push(granted);
  }
  const principals: Principal[] = [{ companyId: id, userId: `${id}-u0`, role: 'admin', status: 'active', projects: [], companyProjects: projects }];
  for (let i = 1; i < users; i++) {
    const userId = `${id}-u${i}`;
    const role = companyRoleFor(rng);
    const status = statusFor(rng);
    addMember(t, id, userId, role, status, false, rng.chance(0.7), rng.chance(0.1));
    if (status !== 'active') {
      principals.push({ companyId: id, userId, role, status, projects: [], companyProjects: projects });
      continue;
    }
    const visible = new Set<string>();
    const memberOf = rng.chance(0.5) ? rng.distinct(teams, rng.chance(0.3) ? 2 : 1) : [];
    for (const team of memberOf) {
      t.team_members.push(id, `t${team}`, userId);
      for (const project of teamProjects[team]!) visible.add(project);
    }
    for (const p of rng.distinct(projects, rng.int(0, 6))) {
      t.project_grants.push(id, `p${p}`, rng.pick(roleKeys), userId, null);
      visible.add(`p${p}`);
    }
    principals.push({ companyId: id, userId, role, status, projects: [...visible].sort(), companyProjects: projects });
  }
  return principals;
}

/** Principals with exactly 1, 100 and 5,000 direct grants, for the cold-compile scenario. */
function addColdCompany(t: Tables, defaults: Defaults, rng: Rng, sizes: Array<{ grants: number; count: number }>) {
  const id = 'bench-cold';
  const projects = Math.max(...sizes.map((s) => s.grants));
  const roleKeys = addCompany(t, defaults, id, `${id}-owner`, projects, CUSTOM_ROLES);
  return sizes.map(({ grants, count }) => {
    const principals: Principal[] = [];
    for (let i = 0; i < count; i++) {
      const userId = `${id}-g${grants}-${i}`;
      addMember(t, id, userId, 'collaborator', 'active', false, true, false);
      const granted = rng.distinct(projects, grants).map((p) => `p${p}`);
      for (const project of granted) t.project_grants.push(id, project, rng.pick(roleKeys), userId, null);
      principals.push({ companyId: id, userId, role: 'collaborator', status: 'active', projects: granted.sort(), companyProjects: projects });
    }
    return { grants, principals };
  });
}

/** A small company of its own, so role writes bump no version the other scenarios depend on. */
function addInvalidationCompany(t: Tables, defaults: Defaults): InvalidationFixture {
  const fixture: InvalidationFixture = {
    companyId: 'bench-inval',
    adminId: 'bench-inval-admin',
    userId: 'bench-inval-u1',
    projectId: 'p1',
    roleKey: TOGGLE_ROLE,
    grantUserId: 'bench-inval-u2',
    grantProjectId: 'p2',
  };
  const toggle: ProjectRole = { key: TOGGLE_ROLE, name: 'Bench toggle', permissions: TOGGLE_ON };
  addCompany(t, defaults, fixture.companyId, fixture.adminId, 3, [toggle]);
  addMember(t, fixture.companyId, fixture.userId, 'collaborator', 'active', false, true, false);
  addMember(t, fixture.companyId, fixture.grantUserId, 'collaborator', 'active', false, true, false);
  t.project_grants.push(fixture.companyId, fixture.projectId, TOGGLE_ROLE, fixture.userId, null);
  t.project_grants.push(fixture.companyId, fixture.grantProjectId, 'viewer', fixture.grantUserId, null);
  return fixture;
}

/** 10,000 members on one project (every other one through a team), and 2,000 members of the company who are not. */
function addSearchCompany(t: Tables, defaults: Defaults): SearchFixture {
  const id = 'bench-search';
  addCompany(t, defaults, id, `${id}-owner`, 2, []);
  t.teams.push(id, 't0', 'Team 0');
  t.project_grants.push(id, 'p0', 'viewer', null, 't0');
  for (let i = 0; i < SEARCH_MEMBERS; i++) {
    const userId = `${id}-u${String(i).padStart(5, '0')}`;
    addMember(t, id, userId, 'collaborator', 'active', false, true, false);
    if (i % 2 === 0) t.project_grants.push(id, 'p0', 'viewer', userId, null);
    else t.team_members.push(id, 't0', userId);
  }
  for (let i = 0; i < SEARCH_MEMBERS / 5; i++) {
    const userId = `${id}-o${String(i).padStart(5, '0')}`;
    addMember(t, id, userId, 'collaborator', 'active', false, true, false);
    t.project_grants.push(id, 'p1', 'viewer', userId, null);
  }
  return { companyId: id, projectId: 'p0', members: SEARCH_MEMBERS, expected: SEARCH_MEMBERS + 1 };
}

const LOAD_CONNECTIONS = 3;

/**
 * Runs the inserts over a few connections at once. Foreign-key checks are triggers:
 * skipping them on these connections (as pg_restore --disable-triggers does) is what lets
 * tables load in any order and several-fold faster; the rows are consistent by construction.
 */
async function runStatements(databaseUrl: string, statements: Array<{ text: string; values: unknown[][] }>, connections: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      // Bulk load: nothing here needs to survive a crash, so skip waiting for the WAL flush.
      await client.query('set synchronous_commit = off');
      await client.query('set session_replication_role = replica');
      while (next < statements.length) {
        const statement = statements[next++]!;
        await client.query(statement.text, statement.values);
      }
    } finally {
      await client.end();
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  // vacuum, not only analyze: it marks the freshly written pages all-visible, as autovacuum
  // does on a live database, so index-only scans answer from the index.
  await client.query('vacuum analyze').finally(() => client.end());
}

async function recreateDatabase(adminUrl: string, database: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error(`--database must be a plain lower-case name (got "${database}")`);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.query(`create database ${database}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Drops and recreates the bench database, applies the project's migrations and writes the dataset. */
export async function generateDataset(options: DatasetOptions): Promise<{ dataset: Dataset; databaseUrl: string }> {
  const started = performance.now();
  const databaseUrl = await recreateDatabase(options.adminUrl, options.database);
  await options.migrate(databaseUrl);

  const defaults = loadDefaults(options.root);
  const rng = createRng(options.seed);
  const t = createTables();
  const regular: Principal[] = [];
  const perCompany = Math.floor(options.users / options.companies);
  for (let c = 0; c < options.companies; c++) {
    const users = perCompany + (c < options.users % options.companies ? 1 : 0);
    regular.push(...addRegularCompany(t, defaults, rng, `co${String(c).padStart(3, '0')}`, users));
  }
  const cold = addColdCompany(t, defaults, rng, [
    { grants: 1, count: options.coldPrincipals },
    { grants: 100, count: options.coldPrincipals },
    { grants: 5000, count: options.coldLarge },
  ]);
  const invalidation = addInvalidationCompany(t, defaults);
  const search = addSearchCompany(t, defaults);

  const statements = Object.values(t).flatMap((buffer) => buffer.drain(10_000));
  await runStatements(databaseUrl, statements, LOAD_CONNECTIONS);
  const rows = Object.fromEntries(Object.values(t).map((b) => [b.table, b.written]));
  return { dataset: { regular, cold, invalidation, search, rows, seconds: (performance.now() - started) / 1000 }, databaseUrl };
}
