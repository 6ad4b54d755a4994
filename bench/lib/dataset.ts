import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
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
  /**
   * `warmup`: principals of the same shape asked, unmeasured, before a group's measured ones,
   * a separate third for each instance that measures the group (main, and the --baseline pair).
   */
  cold: Array<{ grants: number; principals: Principal[]; warmup: Principal[] }>;
  invalidation: InvalidationFixture;
  search: SearchFixture;
  rows: Record<string, number>;
  seconds: number;
}

/** How the regular companies are drawn: projects per member, and how many direct grants each active member holds. */
export interface DatasetShape {
  name: string;
  projectsPerUser: number;
  directGrants: readonly [number, number];
}

/**
 * The default dataset (100,000 users, 25,000 projects, about 400,000 grants) and issue 16's
 * large one: 1,000,000 users, 100,000 projects and about 5,000,000 grants (each active
 * member holds 1 to 10 direct grants, 5.5 on average, plus their teams').
 */
export const DATASET_SHAPES = {
  '100k': { name: '100k', projectsPerUser: 1 / 4, directGrants: [0, 6] },
  '1m': { name: '1m', projectsPerUser: 1 / 10, directGrants: [1, 10] },
} as const satisfies Record<string, DatasetShape>;

export interface DatasetOptions {
  shape: DatasetShape;
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

/** A value in COPY's text format: NULL as \N, the format's special characters escaped. */
function copyValue(value: unknown, type: ColumnType): string {
  if (value === null || value === undefined) return '\\N';
  if (type === 'bool') return value ? 't' : 'f';
  if (type === 'int4') return String(value);
  const text = String(value);
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : text;
}

/** A slice of one table's rows in COPY's text format, ready to send. */
interface CopyChunk {
  table: string;
  columns: string;
  text: string;
  rows: number;
}

/** Rows are turned into COPY lines as they are pushed, and handed to the loader in chunks of this many. */
const CHUNK_ROWS = 50_000;

/**
 * One table's rows as COPY text lines, handed on in chunks as they fill: the dataset never
 * sits whole in the bench's memory (5,000,000 grants at the 1m scale), and the database
 * loads while the next company is generated.
 */
class TableBuffer {
  readonly columns: Array<{ name: string; type: ColumnType }>;
  #lines: string[] = [];
  written = 0;
  onChunk: (chunk: CopyChunk) => void = () => {};
  constructor(
    readonly table: string,
    columns: Array<[string, ColumnType]>,
  ) {
    this.columns = columns.map(([name, type]) => ({ name, type }));
  }
  push(...row: unknown[]): void {
    let line = '';
    for (let i = 0; i < row.length; i++) line += (i ? '\t' : '') + copyValue(row[i], this.columns[i]!.type);
    this.#lines.push(`${line}\n`);
    this.written++;
    if (this.#lines.length >= CHUNK_ROWS) this.flush();
  }
  flush(): void {
    if (this.#lines.length === 0) return;
    this.onChunk({ table: this.table, columns: this.columns.map((c) => c.name).join(', '), text: this.#lines.join(''), rows: this.#lines.length });
    this.#lines = [];
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
function addRegularCompany(t: Tables, defaults: Defaults, rng: Rng, id: string, users: number, shape: DatasetShape): Principal[] {
  const projects = Math.max(20, Math.round(users * shape.projectsPerUser));
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
    for (const p of rng.distinct(projects, rng.int(shape.directGrants[0], shape.directGrants[1]))) {
      t.project_grants.push(id, `p${p}`, rng.pick(roleKeys), userId, null);
      visible.add(`p${p}`);
    }
    principals.push({ companyId: id, userId, role, status, projects: [...visible].sort(), companyProjects: projects });
  }
  return principals;
}

/** Unmeasured cold principals per group and per instance (a third each for main, before and after). */
export const COLD_WARMUP = (grants: number) => (grants >= 1000 ? 2 : 5);

/** Principals with exactly 1, 100 and 5,000 direct grants, for the cold-compile scenario. */
function addColdCompany(t: Tables, defaults: Defaults, rng: Rng, sizes: Array<{ grants: number; count: number }>) {
  const id = 'bench-cold';
  const projects = Math.max(...sizes.map((s) => s.grants));
  const roleKeys = addCompany(t, defaults, id, `${id}-owner`, projects, CUSTOM_ROLES);
  const principal = (userId: string, grants: number): Principal => {
    addMember(t, id, userId, 'collaborator', 'active', false, true, false);
    const granted = rng.distinct(projects, grants).map((p) => `p${p}`);
    for (const project of granted) t.project_grants.push(id, project, rng.pick(roleKeys), userId, null);
    return { companyId: id, userId, role: 'collaborator', status: 'active', projects: granted.sort(), companyProjects: projects };
  };
  return sizes.map(({ grants, count }) => {
    const principals: Principal[] = [];
    for (let i = 0; i < count; i++) principals.push(principal(`${id}-g${grants}-${i}`, grants));
    const warmup: Principal[] = [];
    for (let i = 0; i < 3 * COLD_WARMUP(grants); i++) warmup.push(principal(`${id}-g${grants}-w${i}`, grants));
    return { grants, principals, warmup };
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
/** Chunks waiting for a connection before generation pauses for the loader to catch up. */
const MAX_QUEUED_CHUNKS = 8;

/**
 * COPY over a few connections at once, each chunk its own COPY statement. Foreign-key checks
 * are triggers: skipping them on these connections (as pg_restore --disable-triggers does)
 * is what lets tables load in any order and several-fold faster; the rows are consistent by
 * construction.
 */
async function createCopyLoader(databaseUrl: string, connections: number) {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      // Bulk load: nothing here needs to survive a crash, so skip waiting for the WAL flush.
      await client.query('set synchronous_commit = off');
      await client.query('set session_replication_role = replica');
      await client.query(`set maintenance_work_mem = '256MB'`);
      return client;
    }),
  );
  const deferred = await dropDeferrableIndexes(clients[0]!);
  const queue: CopyChunk[] = [];
  const idle: Array<() => void> = [];
  const waitingForRoom: Array<() => void> = [];
  let closed = false;
  let failure: unknown = null;
  const copy = (client: pg.Client, chunk: CopyChunk) =>
    new Promise<void>((resolve, reject) => {
      const stream = client.query(copyFrom(`copy ${chunk.table} (${chunk.columns}) from stdin`));
      stream.on('finish', resolve);
      stream.on('error', reject);
      stream.end(chunk.text);
    });
  const worker = async (client: pg.Client) => {
    for (;;) {
      const chunk = queue.shift();
      if (chunk === undefined) {
        if (closed) return;
        await new Promise<void>((resolve) => idle.push(resolve));
        continue;
      }
      for (const resume of waitingForRoom.splice(0)) resume();
      await copy(client, chunk).catch((error: unknown) => {
        failure ??= error;
      });
    }
  };
  const workers = clients.map(worker);
  return {
    add(chunk: CopyChunk): void {
      queue.push(chunk);
      idle.shift()?.();
    },
    /** Resolves once the queue is short enough to go on generating. */
    async backpressure(): Promise<void> {
      while (queue.length > MAX_QUEUED_CHUNKS && !failure) await new Promise<void>((resolve) => waitingForRoom.push(resolve));
      if (failure) throw failure;
    },
    async finish(): Promise<void> {
      closed = true;
      for (const resume of idle.splice(0)) resume();
      try {
        await Promise.all(workers);
        if (failure) throw failure;
        await inParallel(clients, deferred.map((definition) => definition));
        // vacuum, not only analyze: it marks the freshly written pages all-visible, as autovacuum
        // does on a live database, so index-only scans answer from the index.
        const { rows } = await clients[0]!.query<{ name: string }>(`select tablename as name from pg_tables where schemaname = 'public'`);
        await inParallel(clients, rows.map((r) => `vacuum analyze ${r.name}`));
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
    },
  };
}

/** Runs the statements over the clients, each client one statement at a time. */
async function inParallel(clients: pg.Client[], statements: string[]): Promise<void> {
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (next < statements.length) await client.query(statements[next++]!);
    }),
  );
}

/** The tables the dataset fills by the million at the 1m scale. */
const BULK_TABLES = ['users', 'memberships', 'team_members', 'projects', 'project_grants'];

/**
 * Drops the bulk tables' indexes that back no constraint (as pg_restore builds indexes after
 * the data): one sort per index after the load is several times faster than keeping each up
 * to date row by row. Returns their definitions, as the migrations wrote them, to build again.
 */
async function dropDeferrableIndexes(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string; definition: string }>(
    `select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as definition
       from pg_index i join pg_class t on t.oid = i.indrelid
      where t.relname = any($1) and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)`,
    [BULK_TABLES],
  );
  for (const row of rows) await client.query(`drop index ${row.name}`);
  return rows.map((r) => r.definition);
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
  const loader = await createCopyLoader(databaseUrl, LOAD_CONNECTIONS);
  for (const buffer of Object.values(t)) buffer.onChunk = (chunk) => loader.add(chunk);
  const regular: Principal[] = [];
  const perCompany = Math.floor(options.users / options.companies);
  for (let c = 0; c < options.companies; c++) {
    const users = perCompany + (c < options.users % options.companies ? 1 : 0);
    for (const principal of addRegularCompany(t, defaults, rng, `co${String(c).padStart(3, '0')}`, users, options.shape)) regular.push(principal);
    await loader.backpressure();
  }
  const cold = addColdCompany(t, defaults, rng, [
    { grants: 1, count: options.coldPrincipals },
    { grants: 100, count: options.coldPrincipals },
    { grants: 5000, count: options.coldLarge },
  ]);
  const invalidation = addInvalidationCompany(t, defaults);
  const search = addSearchCompany(t, defaults);

  for (const buffer of Object.values(t)) buffer.flush();
  await loader.finish();
  const rows = Object.fromEntries(Object.values(t).map((b) => [b.table, b.written]));
  return { dataset: { regular, cold, invalidation, search, rows, seconds: (performance.now() - started) / 1000 }, databaseUrl };
}
