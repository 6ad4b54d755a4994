import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import pg from 'pg';
import { buildBaseline } from './lib/baseline.js';
import { ROOT } from './lib/castellan.js';
import { DATA_DIR } from './lib/processes.js';

/**
 * Where the heap of cached principals goes, by constructor (issue 16): the check path's
 * ability provider of a build, in this process, on the bench database as the last bench run
 * left it (`npm run bench -- --only cold` writes one), with no L2 and a local bus. Loads N
 * principals of the regular companies, collects, and diffs two heap snapshots (before and
 * after the loads) by node type and constructor: the table says what each principal costs
 * and in what. With --baseline REF, the same for the hot-path files of REF (built like the
 * bench's baseline), in a child process of its own.
 *
 *   node --expose-gc dist/bench/heap-profile.js [--principals 10000] [--database castellan_bench] [--baseline main]
 */

const USAGE = 'usage: node --expose-gc dist/bench/heap-profile.js [--principals N] [--database NAME] [--baseline GIT-REF] [--dist DIR] [--json]';

interface Row {
  kind: string;
  count: number;
  bytes: number;
}

export interface HeapProfile {
  build: string;
  principals: number;
  heapUsedPerPrincipal: number;
  snapshotPerPrincipal: number;
  rows: Row[];
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size by node type and, for objects, closures and internal arrays, by name. */
function byConstructor(file: string): Map<string, { count: number; bytes: number }> {
  const data = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const totals = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt!]!]!;
    const name = data.strings[data.nodes[i + nameAt!]!]!;
    const kind = type === 'object' || type === 'closure' || type === 'array' || type === 'hidden' || type === 'native' ? `${type} ${name.slice(0, 60)}` : type;
    const total = totals.get(kind) ?? { count: 0, bytes: 0 };
    total.count++;
    total.bytes += data.nodes[i + sizeAt!]!;
    totals.set(kind, total);
  }
  return totals;
}

function snapshot(label: string): Map<string, { count: number; bytes: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const file = path.join(DATA_DIR, `heap-${label}-${process.pid}.heapsnapshot`);
  v8.writeHeapSnapshot(file);
  try {
    return byConstructor(file);
  } finally {
    rmSync(file, { force: true });
  }
}

async function principalsOf(databaseUrl: string, count: number): Promise<Array<{ company_id: string; user_id: string }>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // Every member of the regular companies, in a fixed order that mixes companies as the bench's loads do.
    const { rows } = await client.query<{ company_id: string; user_id: string }>(
      `select company_id, user_id from memberships where company_id like 'co%' order by md5(user_id) limit $1`,
      [count],
    );
    return rows;
  } finally {
    await client.end();
  }
}

/** One build's profile, in this process. */
async function profile(dist: string, label: string, databaseUrl: string, count: number): Promise<HeapProfile> {
  const load = <T>(file: string) => import(pathToFileURL(path.join(dist, file)).href) as Promise<T>;
  const [{ createAbilityProvider }, { createLocalPolicyBus }, { storeSource }, { createMetrics }, { createLogger }, { loadPolicies }, { openStore }] = await Promise.all([
    load<{ createAbilityProvider(o: unknown): { get(c: string, u: string, m: undefined): unknown; size: number } }>('check/abilities.js'),
    load<{ createLocalPolicyBus(): unknown }>('check/policy-bus.js'),
    load<{ storeSource(db: unknown): unknown }>('check/source.js'),
    load<{ createMetrics(): unknown }>('metrics.js'),
    load<{ createLogger(level: string): unknown }>('log.js'),
    load<{ loadPolicies(dir: string): unknown }>('policy/catalog.js'),
    load<{ openStore(o: unknown): Promise<{ db: unknown; close(): Promise<void> }> }>('store/database.js'),
  ]);
  const principals = await principalsOf(databaseUrl, count);
  const store = await openStore({ databaseUrl, dataDir: 'unused' });
  try {
    const provider = createAbilityProvider({
      policies: loadPolicies(path.join(ROOT, 'policies')),
      source: storeSource(store.db),
      rulesCache: null,
      bus: createLocalPolicyBus(),
      maxEntries: count + 1000,
      maxStalenessMs: 3_600_000,
      metrics: createMetrics(),
      logger: createLogger('silent'),
    });
    // Warm everything that is not per principal (code, the policies, pg's statement), then measure.
    await provider.get(principals[0]!.company_id, principals[0]!.user_id, undefined);
    const gc = (globalThis as { gc?: () => void }).gc!;
    gc();
    const before = snapshot(`${label}-before`);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < principals.length; i += 32) {
      await Promise.all(principals.slice(i, i + 32).map((p) => provider.get(p.company_id, p.user_id, undefined)));
    }
    if (provider.size !== principals.length) throw new Error(`${provider.size} entries cached of ${principals.length}`);
    gc();
    gc();
    const heapAfter = process.memoryUsage().heapUsed;
    const after = snapshot(`${label}-after`);
    const rows: Row[] = [];
    for (const [kind, total] of after) {
      const was = before.get(kind) ?? { count: 0, bytes: 0 };
      if (total.bytes - was.bytes !== 0) rows.push({ kind, count: total.count - was.count, bytes: total.bytes - was.bytes });
    }
    rows.sort((a, b) => b.bytes - a.bytes);
    const snapshotBytes = rows.reduce((n, r) => n + r.bytes, 0);
    return { build: label, principals: principals.length, heapUsedPerPrincipal: (heapAfter - heapBefore) / principals.length, snapshotPerPrincipal: snapshotBytes / principals.length, rows };
  } finally {
    await store.close();
  }
}

function render(p: HeapProfile, top = 18): string {
  const lines = [
    `${p.build}: ${p.principals.toLocaleString('en-US')} principals, heap used ${p.heapUsedPerPrincipal.toFixed(0)} bytes per principal after a full GC (snapshot: ${p.snapshotPerPrincipal.toFixed(0)})`,
    '',
    '| node type and constructor | count per principal | bytes per principal |',
    '|---|---:|---:|',
    ...p.rows.slice(0, top).map((r) => `| ${r.kind.replace(/\|/g, '\\|')} | ${(r.count / p.principals).toFixed(2)} | ${(r.bytes / p.principals).toFixed(0)} |`),
    `| everything else | | ${(p.rows.slice(top).reduce((n, r) => n + r.bytes, 0) / p.principals).toFixed(0)} |`,
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      principals: { type: 'string', default: '10000' },
      database: { type: 'string', default: 'castellan_bench' },
      baseline: { type: 'string' },
      dist: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  if (!(globalThis as { gc?: () => void }).gc) throw new Error(`run with --expose-gc\n${USAGE}`);
  const url = new URL(process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  url.pathname = `/${values.database}`;
  const count = Number(values.principals);
  if (values.dist) {
    const result = await profile(path.resolve(values.dist), path.basename(path.dirname(path.resolve(values.dist))), url.toString(), count);
    console.log(values.json ? JSON.stringify(result) : render(result));
    return;
  }
  const results = [await profile(path.join(ROOT, 'dist'), 'this build', url.toString(), count)];
  if (values.baseline) {
    const build = await buildBaseline(values.baseline);
    if (!build.ok) throw new Error(build.reason);
    // A process of its own: two builds' modules in one heap would blur both.
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(process.execPath, ['--expose-gc', process.argv[1]!, '--dist', path.dirname(build.entry), '--principals', String(count), '--database', values.database, '--json'], { maxBuffer: 64 * 2 ** 20 });
    results.unshift({ ...(JSON.parse(out.toString()) as HeapProfile), build: `baseline ${values.baseline} (${build.commit.slice(0, 7)})` });
  }
  for (const result of results) console.log(render(result));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
