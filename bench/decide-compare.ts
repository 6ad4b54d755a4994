import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ROOT } from './lib/castellan.js';

/**
 * decide() on the same principals and questions with a per-principal CASL ability (what L1
 * held before issue 16) and with the compact entry (what it holds now), in one process,
 * alternating rounds: nanoseconds per decision, and whether any answer differs (it must not).
 * The questions are the warm load's four kinds. On the bench database a run left behind.
 *
 *   node dist/bench/decide-compare.js [--principals 500] [--database castellan_bench]
 */

type Question = { action: string; resource: { type: string; id?: string; attributes?: Record<string, unknown> }; field?: string };
type Decide = (catalog: unknown, ability: unknown, projects: ReadonlySet<string>, question: Question) => { allowed: boolean; reason: string };

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { principals: { type: 'string', default: '500' }, database: { type: 'string', default: 'castellan_bench' }, rounds: { type: 'string', default: '7' } } });
  const url = new URL(process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  url.pathname = `/${values.database}`;
  const load = <T>(file: string) => import(pathToFileURL(path.join(ROOT, 'dist', file)).href) as Promise<T>;
  const { loadPrincipalFacts } = await load<{ loadPrincipalFacts(db: unknown, c: string, u: string): Promise<{ projectGrants: Array<{ projectId: string }> }> }>('store/principal-facts.js');
  const { compileStoredPrincipal } = await load<{ compileStoredPrincipal(p: unknown, l: unknown): unknown[] }>('policy/compiler.js');
  const { loadPolicies } = await load<{ loadPolicies(dir: string): { catalog: unknown } }>('policy/catalog.js');
  const { createCompactAbilities, CompactAbility } = await load<{
    createCompactAbilities(o: unknown): { build(c: string, r: unknown[], p: ReadonlySet<string>): [unknown, unknown[]] };
    CompactAbility: new (prefix: unknown, groups: unknown[]) => unknown;
  }>('check/compact-ability.js');
  const { createCheckAbility } = await load<{ createCheckAbility(r: unknown[]): unknown }>('check/abilities.js');
  const { decide } = await load<{ decide: Decide }>('check/decide.js');
  const { openStore } = await load<{ openStore(o: unknown): Promise<{ db: unknown; close(): Promise<void> }> }>('store/database.js');

  const policies = loadPolicies(path.join(ROOT, 'policies'));
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  const { rows } = await client.query<{ company_id: string; user_id: string }>(
    `select company_id, user_id from memberships where company_id like 'co%' and status = 'active' order by md5(user_id) limit $1`,
    [Number(values.principals)],
  );
  const projects = new Map<string, ReadonlySet<string>>();
  for (const row of rows) {
    if (!projects.has(row.company_id)) projects.set(row.company_id, new Set((await client.query<{ id: string }>('select id from projects where company_id = $1', [row.company_id])).rows.map((r) => r.id)));
  }
  await client.end();
  const store = await openStore({ databaseUrl: url.toString(), dataDir: 'unused' });
  const shared = createCompactAbilities({ maxShared: 100_000, createAbility: createCheckAbility });
  const entries: Array<{ casl: unknown; compact: unknown; projects: ReadonlySet<string>; granted: string[] }> = [];
  for (const row of rows) {
    const loaded = await loadPrincipalFacts(store.db, row.company_id, row.user_id);
    const rules = compileStoredPrincipal(policies, loaded);
    const [prefix, groups] = shared.build(row.company_id, rules, projects.get(row.company_id)!);
    entries.push({ casl: createCheckAbility(rules), compact: new CompactAbility(prefix, groups), projects: projects.get(row.company_id)!, granted: loaded.projectGrants.map((g) => g.projectId) });
  }
  await store.close();
  const asked = entries.flatMap((entry, i) => {
    const project = entry.granted[i % Math.max(1, entry.granted.length)] ?? 'p1';
    const questions: Question[] = [
      { action: 'view', resource: { type: 'Scenario', attributes: { projectId: project } } },
      { action: 'view', resource: { type: 'Project', id: `p${i % 400}` } },
      { action: 'edit', resource: { type: 'CompanySettings' }, field: 'branding' },
      { action: 'edit', resource: { type: 'Scenario', attributes: { projectId: project } } },
    ];
    return questions.map((question) => ({ entry, question }));
  });
  const differing = asked.filter(({ entry, question }) => JSON.stringify(decide(policies.catalog, entry.casl, entry.projects, question)) !== JSON.stringify(decide(policies.catalog, entry.compact, entry.projects, question)));
  console.log(`${entries.length} principals, ${asked.length} questions; answers differing between CASL and compact entries: ${differing.length}`);
  const nsPerDecision = (kind: 'casl' | 'compact') => {
    const started = performance.now();
    let allowed = 0;
    for (let r = 0; r < 50; r++) for (const { entry, question } of asked) if (decide(policies.catalog, entry[kind], entry.projects, question).allowed) allowed++;
    return ((performance.now() - started) * 1e6) / (50 * asked.length) + allowed * 0;
  };
  const results = { casl: [] as number[], compact: [] as number[] };
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const kind of round % 2 === 0 ? (['casl', 'compact'] as const) : (['compact', 'casl'] as const)) results[kind].push(nsPerDecision(kind));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`ns per decision, median of ${values.rounds} alternating rounds: CASL per principal ${median(results.casl).toFixed(0)} (rounds ${results.casl.map((x) => x.toFixed(0)).join(', ')}), compact ${median(results.compact).toFixed(0)} (rounds ${results.compact.map((x) => x.toFixed(0)).join(', ')})`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
