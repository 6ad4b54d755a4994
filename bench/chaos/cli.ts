import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../lib/castellan.js';
import { createRng } from '../lib/rng.js';
import { FAULTS, randomCombination, type FaultName } from './faults.js';
import { runChaos, type ChaosOptions } from './harness.js';
import { failures, readmeTable, renderMarkdown, replaceMarked, settingsLine } from './report.js';

const USAGE = `usage: npm run chaos -- [--short] [--minutes M] [--faults ${FAULTS.join(',')}] (a+b: together in one step) [--combos N]
  [--fault-seconds S] [--rate N] [--staleness MS] [--degraded MS] [--seed N] [--out FILE.md] [--write-docs]
  PostgreSQL from CHAOS_PG_URL (default postgres://postgres@127.0.0.1:5432/test); Redis is the harness's own redis-server.
  --short: each single fault once, 8 s each (about two minutes); default: every single fault, then random
  combinations of two or three until --minutes (default 15) is used up. Exit code 1 on any wrong allow.
  --write-docs: the table into bench/RESULTS.md and the single faults into README.md (between their chaos markers).
  --sweep-degraded 0,5000,30000: the plan once per CACHE_MAX_DEGRADED_MS, tabled (with --write-docs: into the degraded markers).`;

function numberOption(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number (got "${raw}")\n${USAGE}`);
  return value;
}

export function parseChaosArgs(argv: string[], log: (line: string) => void): { options: ChaosOptions; out: string | null; writeDocs: boolean; sweep: number[] | null } {
  const { values } = parseArgs({
    args: argv,
    options: {
      short: { type: 'boolean', default: false },
      minutes: { type: 'string' },
      faults: { type: 'string' },
      combos: { type: 'string' },
      'fault-seconds': { type: 'string' },
      rate: { type: 'string' },
      staleness: { type: 'string' },
      degraded: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      'write-docs': { type: 'boolean', default: false },
      'sweep-degraded': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const short = values.short === true;
  const faultMs = numberOption('fault-seconds', values['fault-seconds'], short ? 8 : 20) * 1000;
  const settleMs = short ? 2000 : 4000;
  const seed = numberOption('seed', values.seed, 17);
  // Steps separated by commas, faults of one step joined by '+': --faults none,pg-cut-one+pubsub-drop-one
  let plan: FaultName[][] = FAULTS.map((f) => [f]);
  if (values.faults !== undefined) {
    plan = values.faults.split(',').map((step) => step.split('+').map((f) => f.trim()) as FaultName[]);
    for (const fault of plan.flat()) if (!(FAULTS as readonly string[]).includes(fault)) throw new Error(`--faults: unknown fault "${fault}"\n${USAGE}`);
  }
  // A step takes its fault, a few seconds of recovery and the settle time.
  const stepMs = faultMs + settleMs + 4000;
  const budgetMs = numberOption('minutes', values.minutes, short ? 0 : 15) * 60_000;
  const combos = values.combos !== undefined ? numberOption('combos', values.combos, 0) : short || values.faults !== undefined ? 0 : Math.max(0, Math.floor((budgetMs - plan.length * stepMs) / stepMs));
  const rng = createRng(seed + 1);
  for (let i = 0; i < combos; i++) plan.push(randomCombination(rng, rng.chance(0.5) ? 2 : 3));
  const options: ChaosOptions = {
    instances: 3,
    companies: 4,
    changingPerCompany: 8,
    stablePerCompany: 3,
    stalenessMs: numberOption('staleness', values.staleness, 2000),
    degradedMs: numberOption('degraded', values.degraded, 5000),
    faultMs,
    settleMs,
    recoveryTimeoutMs: 60_000,
    rate: numberOption('rate', values.rate, short ? 60 : 120),
    minVersionShare: 0.2,
    writeIntervalMs: 400,
    plan,
    sameInstance: values.faults !== undefined,
    seed,
    pgAdminUrl: process.env.CHAOS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    log,
  };
  const sweep = values['sweep-degraded']?.split(',').map((v) => numberOption('sweep-degraded', v, 0)) ?? null;
  return { options, out: values.out ?? null, writeDocs: values['write-docs'] === true, sweep };
}

async function main(): Promise<void> {
  const log = (line: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`);
  const { options, out, writeDocs, sweep } = parseChaosArgs(process.argv.slice(2), log);
  if (sweep) return runSweep(options, sweep, writeDocs, log);
  const result = await runChaos(options);
  const command = `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim();
  const markdown = renderMarkdown(result, command);
  console.log(`\n${markdown}\n`);
  const dir = path.join(ROOT, 'bench/.data');
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `chaos-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(json, JSON.stringify(result, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v), 2));
  console.log(`raw results: ${path.relative(ROOT, json)}`);
  if (out) writeFileSync(out, `${markdown}\n`);
  if (writeDocs) {
    // The run's table in bench/RESULTS.md, and its single faults in the README's "What happens when things break".
    const results = path.join(ROOT, 'bench/RESULTS.md');
    writeFileSync(results, replaceMarked(readFileSync(results, 'utf8'), 'chaos', markdown));
    const readme = path.join(ROOT, 'README.md');
    const measured = `Measured by \`${command}\` (${result.startedAt.slice(0, 10)}; ${settingsLine(result)}; full table in [bench/RESULTS.md](bench/RESULTS.md#faults-under-load-npm-run-chaos)):`;
    writeFileSync(readme, replaceMarked(readFileSync(readme, 'utf8'), 'chaos', `${measured}\n\n${readmeTable(result)}`));
    console.log('bench/RESULTS.md and README.md updated');
  }
  const problems = failures(result);
  if (problems.length) {
    console.log(`\nFAILED:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    process.exitCode = 1;
  } else {
    console.log('\npassed: no wrong allow, nothing below minVersion, every step recovered');
  }
}

/**
 * --sweep-degraded 0,5000,30000: the same plan once per CACHE_MAX_DEGRADED_MS, for the
 * trade-off: how much a PostgreSQL outage of all costs in availability, against how old the
 * answers of an instance cut off alone (and deaf to notices) get.
 */
async function runSweep(base: ChaosOptions, values: number[], writeDocs: boolean, log: (line: string) => void): Promise<void> {
  const rows: string[] = [
    '| `CACHE_MAX_DEGRADED_MS` | step | checks answered while faulted | 503 | oldest answer | wrong allows |',
    '|---:|---|---:|---:|---:|---:|',
  ];
  let wrong = 0;
  let started = '';
  for (const degradedMs of values) {
    log(`CACHE_MAX_DEGRADED_MS=${degradedMs}`);
    const result = await runChaos({ ...base, degradedMs });
    started ||= result.startedAt;
    for (const step of result.steps) {
      wrong += step.wrongAllows + step.belowMinVersion + step.unknownVersions;
      rows.push(`| ${degradedMs} | ${step.label} | ${(step.availabilityDuringFault * 100).toFixed(1)}% | ${step.unavailable.toLocaleString('en-US')} of ${step.requests.toLocaleString('en-US')} | ${(step.maxStaleMs / 1000).toFixed(1)} s | ${step.wrongAllows} |`);
    }
  }
  const command = `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim();
  const text = [
    `Measured by \`${command}\` (${started.slice(0, 10)}; CACHE_MAX_STALENESS_MS=${base.stalenessMs}, each fault on for ${Math.round(base.faultMs / 1000)} s, ${base.rate} checks/s per instance, a write per company every ~${base.writeIntervalMs} ms):`,
    '',
    rows.join('\n'),
  ].join('\n');
  console.log(`\n${text}\n`);
  if (writeDocs) {
    for (const file of ['README.md', 'bench/RESULTS.md']) {
      const target = path.join(ROOT, file);
      writeFileSync(target, replaceMarked(readFileSync(target, 'utf8'), 'degraded', text));
    }
    console.log('README.md and bench/RESULTS.md updated');
  }
  if (wrong) process.exitCode = 1;
}

await main();
