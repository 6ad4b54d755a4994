import { parseArgs } from 'node:util';

export const SCENARIOS = ['limit', 'warm', 'forward-auth', 'authzen', 'batch', 'rate', 'cold', 'search', 'invalidation', 'memory', 'peer', 'client', 'outbox'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  quick: boolean;
  /** The dataset's shape (DATASET_SHAPES in dataset.ts): 100k, or 1m for issue 16's million users. */
  dataset: '100k' | '1m';
  /** Users of the generated companies (the memory scenario needs as many as its largest step). */
  users: number;
  companies: number;
  /** Distinct principals the warm, limit and peer loads cycle through. */
  principals: number;
  /** Seconds of one load run; each target gets `rounds` runs, interleaved with the others. */
  duration: number;
  rounds: number;
  connections: number;
  /** Role writes timed by the invalidation scenario. */
  writes: number;
  /** Cold principals per grant count (the 5,000-grant ones are fewer: see coldLarge). */
  coldPrincipals: number;
  coldLarge: number;
  /** L1 sizes the memory scenario measures at. */
  memorySteps: number[];
  only: ReadonlySet<ScenarioName>;
  peer: boolean;
  /** Servers on one core, the load generator on another (pinning.ts); --no-pin leaves placement to the scheduler. */
  pin: boolean;
  profile: boolean;
  /** A git ref whose hot-path files make the "before" build, run interleaved with this one. */
  baseline: string | null;
  /** Re-render the RESULTS.md next to this results.json (after editing bench/PROFILE.md); measures nothing. */
  render: string | null;
  seed: number;
  pgAdminUrl: string;
  database: string;
  redisUrl: string;
  commandLine: string;
}

const USAGE = `usage: npm run bench -- [--quick] [--dataset 100k|1m] [--users N] [--companies N] [--principals N] [--duration S]
  [--rounds N] [--connections N] [--writes N] [--cold N] [--cold-large N] [--memory 10000,100000]
  [--only limit,warm,forward-auth,authzen,batch,rate,cold,search,invalidation,memory,peer,client,outbox] [--no-peer] [--no-pin] [--profile] [--baseline GIT-REF] [--seed N]
  [--database NAME] [--render path/to/results.json]   (PostgreSQL from BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test;
                       Redis from BENCH_REDIS_URL, default redis://127.0.0.1:6379)`;

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number of at least 1 (got "${raw}")\n${USAGE}`);
  return value;
}

function scenarioList(raw: string | undefined): ReadonlySet<ScenarioName> {
  if (raw === undefined) return new Set(SCENARIOS);
  const names = raw.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`--only: unknown scenario "${name}"\n${USAGE}`);
  }
  return new Set(names as ScenarioName[]);
}

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      dataset: { type: 'string', default: '100k' },
      users: { type: 'string' },
      companies: { type: 'string' },
      principals: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      writes: { type: 'string' },
      cold: { type: 'string' },
      'cold-large': { type: 'string' },
      memory: { type: 'string' },
      only: { type: 'string' },
      'no-peer': { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      render: { type: 'string' },
      seed: { type: 'string' },
      database: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const dataset = values.dataset;
  if (dataset !== '100k' && dataset !== '1m') throw new Error(`--dataset must be 100k or 1m (got "${dataset}")\n${USAGE}`);
  // A quick run cannot fill 100,000 principals in its time (each is a cold load): smaller steps.
  const memorySteps = (values.memory ?? (quick ? '5000,10000' : '10000,100000')).split(',').map((s) => positive('memory', s.trim(), 0));
  const users = positive('users', values.users, Math.max(dataset === '1m' ? 1_000_000 : 100_000, ...memorySteps));

  return {
    quick,
    dataset,
    users,
    companies: positive('companies', values.companies, 50),
    principals: positive('principals', values.principals, quick ? 1000 : 2000),
    // Short runs, many rounds: on a shared machine, interleaving finely is what keeps the comparisons fair.
    duration: positive('duration', values.duration, 3),
    rounds: positive('rounds', values.rounds, quick ? 2 : 5),
    connections: positive('connections', values.connections, 16),
    writes: positive('writes', values.writes, quick ? 50 : 200),
    coldPrincipals: positive('cold', values.cold, quick ? 50 : 1000),
    coldLarge: positive('cold-large', values['cold-large'], quick ? 5 : 40),
    memorySteps: memorySteps.sort((a, b) => a - b),
    only: scenarioList(values.only),
    peer: values['no-peer'] !== true,
    pin: values['no-pin'] !== true,
    profile: values.profile === true,
    baseline: values.baseline ?? null,
    render: values.render ?? null,
    seed: positive('seed', values.seed, 20250101),
    pgAdminUrl: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    database: values.database ?? 'castellan_bench',
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    commandLine: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
  };
}
