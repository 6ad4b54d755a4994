import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { ROOT } from './lib/castellan.js';
import { latencyPercentiles, runLoad } from './lib/load.js';
import { describeMachine } from './lib/machine.js';
import { freePort, startProcess, stopAll } from './lib/processes.js';
import { createChaosDatabase, JWT_SECRET, PROJECT, ROLE, startPrivateRedis, type CompanyCast } from './chaos/cluster.js';
import { replaceMarked } from './chaos/report.js';
import { renderSoakSvg, soakTitle, type SoakSample } from './soak-chart.js';

/**
 * npm run soak -- --minutes 10: one instance at 70% of its measured peak with admin writes
 * going on; RSS, heap, event-loop lag and check p99 sampled every 10 s, drawn in
 * bench/soak.svg, and RSS growth over the last 8 minutes held to at most 10%.
 */
const USAGE = `usage: npm run soak -- [--minutes 10] [--share 0.7] [--writes-per-second 4] [--out FILE.md] [--write-docs]
  PostgreSQL from SOAK_PG_URL (default postgres://postgres@127.0.0.1:5432/test); Redis is a redis-server of its own.`;

const WINDOW_S = 10;
const GROWTH_LIMIT = 0.1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function metricValue(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : null;
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

function request(agent: http.Agent, url: string, method: string, body: string | undefined, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(url, {
      method,
      agent,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }) },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(10_000, () => req.destroy());
    req.end(body);
  });
}

/** Flips grants of the companies' changing principals through the admin API, round robin, at `perSecond`. */
async function writeLoop(url: string, companies: CompanyCast[], granted: Map<string, Set<string>>, perSecond: number, running: () => boolean, counts: { ok: number; failed: number }) {
  const secret = new TextEncoder().encode(JWT_SECRET);
  const tokens = await Promise.all(companies.map((c) => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(c.admin).setIssuedAt().setExpirationTime('6h').sign(secret)));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  for (let i = 0; running(); i++) {
    const c = i % companies.length;
    const company = companies[c]!;
    const user = company.changing[Math.floor(i / companies.length) % company.changing.length]!;
    const set = granted.get(company.id)!;
    const grant = !set.has(user);
    const status = await request(agent, `${url}/v1/companies/${company.id}/projects/${PROJECT}/members/users/${user}`, grant ? 'PUT' : 'DELETE', grant ? JSON.stringify({ role: ROLE }) : undefined, tokens[c]!);
    if (status === 200 || status === 201) {
      counts.ok++;
      if (grant) set.add(user);
      else set.delete(user);
    } else counts.failed++;
    await sleep(1000 / perSecond);
  }
  agent.destroy();
}

interface SoakResult {
  machine: Awaited<ReturnType<typeof describeMachine>>;
  command: string;
  startedAt: string;
  principals: number;
  peakPerSecond: number;
  targetPerSecond: number;
  writes: { ok: number; failed: number };
  samples: SoakSample[];
  growth: { fromMinute: number; fromRssMiB: number; toRssMiB: number; share: number; maxRssMiB: number };
  loadAverage: { start: number[]; end: number[] };
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

function renderTable(result: SoakResult): string {
  const lines = [
    '| minute | checks/s | p99 ms | non-2xx | RSS MiB | heap used MiB | event-loop lag p99 ms |',
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  let shown = -1;
  for (const s of result.samples) {
    // The first window of each minute, and the last; the chart has every window.
    if (Math.floor(s.minute) === shown && s !== result.samples.at(-1)) continue;
    shown = Math.floor(s.minute);
    lines.push(`| ${s.minute.toFixed(1)} | ${Math.round(s.perSecond).toLocaleString('en-US')} | ${s.p99Ms.toFixed(2)} | ${s.non2xx} | ${s.rssMiB} | ${s.heapMiB} | ${s.lagP99Ms.toFixed(1)} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      minutes: { type: 'string' },
      share: { type: 'string' },
      'writes-per-second': { type: 'string' },
      out: { type: 'string' },
      'write-docs': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const minutes = Number(values.minutes ?? 10);
  const share = Number(values.share ?? 0.7);
  const writesPerSecond = Number(values['writes-per-second'] ?? 4);
  if (!(minutes > 0) || !(share > 0 && share <= 1) || !(writesPerSecond > 0)) throw new Error(USAGE);
  const log = (line: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);
  const pgAdminUrl = process.env.SOAK_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const startedAt = new Date().toISOString();
  const loadStart = (await import('node:os')).loadavg();

  const database = await createChaosDatabase({ pgAdminUrl, companies: 20, changingPerCompany: 10, stablePerCompany: 50 });
  const redis = await startPrivateRedis();
  let running = true;
  try {
    const machine = await describeMachine(pgAdminUrl, `redis://127.0.0.1:${redis.port}`);
    const port = await freePort();
    const instance = await startProcess({
      name: 'soak',
      command: process.execPath,
      args: [path.join(ROOT, 'dist/main.js')],
      env: {
        PORT: String(port),
        DATABASE_URL: database.url,
        REDIS_URL: `redis://127.0.0.1:${redis.port}`,
        REDIS_KEY_PREFIX: 'soak:',
        AUTH_JWT_SECRET: JWT_SECRET,
        MIGRATE_ON_START: 'false',
        LOG_LEVEL: 'warn',
        POLICIES_DIR: path.join(ROOT, 'policies'),
      },
      port,
      healthPath: '/healthz',
    });
    const url = instance.url;
    const principals = database.companies.flatMap((c) => [...c.changing, ...c.alwaysAllowed, ...c.neverAllowed].map((user) => ({ company: c.id, user })));
    const bodies = principals.map(({ company, user }) =>
      JSON.stringify({ company, principal: { id: user }, action: 'view', resource: { type: 'Scenario', attributes: { projectId: PROJECT } } }),
    );
    log(`instance up at ${url}; ${principals.length} principals in ${database.companies.length} companies; warming`);
    // Every principal once, so the cache is full before anything is measured: its filling is not growth.
    for (let i = 0; i < bodies.length; i += 16) {
      await Promise.all(bodies.slice(i, i + 16).map((body) => fetch(`${url}/v1/check`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.arrayBuffer())));
    }
    await runLoad({ url: `${url}/v1/check`, bodies, connections: 16, durationS: 3 });
    const peakRun = await runLoad({ url: `${url}/v1/check`, bodies, connections: 16, durationS: 10 });
    const peakPerSecond = peakRun.ok / peakRun.durationS;
    const targetPerSecond = Math.round(peakPerSecond * share);
    log(`peak ${Math.round(peakPerSecond)} checks/s; soaking at ${targetPerSecond}/s (${share * 100}%) for ${minutes} min with ${writesPerSecond} writes/s`);

    const writes = { ok: 0, failed: 0 };
    const writer = writeLoop(url, database.companies, database.seedGranted, writesPerSecond, () => running, writes);
    const samples: SoakSample[] = [];
    const began = Date.now();
    const windows = Math.max(1, Math.round((minutes * 60) / WINDOW_S));
    // The lag histogram is reset at each scrape: read it once so the first window starts clean.
    await fetch(`${url}/metrics`).then((r) => r.text());
    for (let w = 0; w < windows; w++) {
      const run = await runLoad({ url: `${url}/v1/check`, bodies, connections: 16, durationS: WINDOW_S, overallRate: targetPerSecond });
      const metrics = await fetch(`${url}/metrics`).then((r) => r.text());
      const sample: SoakSample = {
        minute: (Date.now() - began) / 60_000,
        perSecond: run.ok / run.durationS,
        p99Ms: latencyPercentiles(run.latenciesMs).p99,
        non2xx: run.non2xx + run.errors + run.timeouts,
        rssMiB: mib(rssBytes(instance.pid)),
        heapMiB: mib(metricValue(metrics, 'nodejs_heap_size_used_bytes') ?? 0),
        lagP99Ms: (metricValue(metrics, 'nodejs_eventloop_lag_p99_seconds') ?? 0) * 1000,
      };
      samples.push(sample);
      log(`${sample.minute.toFixed(1)} min: ${Math.round(sample.perSecond)}/s, p99 ${sample.p99Ms.toFixed(2)} ms, RSS ${sample.rssMiB} MiB, heap ${sample.heapMiB} MiB, lag p99 ${sample.lagP99Ms.toFixed(1)} ms, writes ${writes.ok} ok / ${writes.failed} failed`);
    }
    running = false;
    await writer;

    const end = samples.at(-1)!;
    const fromMinute = Math.max(0, end.minute - 8);
    const from = samples.find((s) => s.minute >= fromMinute) ?? samples[0]!;
    const last = samples.filter((s) => s.minute >= fromMinute);
    const growth = { fromMinute: from.minute, fromRssMiB: from.rssMiB, toRssMiB: end.rssMiB, share: (end.rssMiB - from.rssMiB) / from.rssMiB, maxRssMiB: Math.max(...last.map((s) => s.rssMiB)) };
    const command = `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim();
    const result: SoakResult = { machine, command, startedAt, principals: principals.length, peakPerSecond, targetPerSecond, writes, samples, growth, loadAverage: { start: loadStart, end: (await import('node:os')).loadavg() } };

    const svgPath = path.join(ROOT, 'bench/soak.svg');
    writeFileSync(svgPath, renderSoakSvg(samples, { title: soakTitle(samples, targetPerSecond, peakPerSecond, share, writesPerSecond), growthFromMinute: from.minute }));
    const markdown = [
      `Written by \`${command}\` on ${startedAt.slice(0, 10)}: one instance (dist/main.js, defaults) on PostgreSQL ${machine.postgres} and Redis ${machine.redis}, ${principals.length.toLocaleString('en-US')} principals in ${database.companies.length} companies, 16 connections; peak measured first (10 s unthrottled, after one check per principal and a 3 s warm-up), then ${WINDOW_S}-s windows at ${share * 100}% of it while the admin API flips grants (${writes.ok.toLocaleString('en-US')} writes, ${writes.failed} failed). Machine: ${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}; load average ${loadStart.map((l) => l.toFixed(1)).join(', ')} at the start, ${result.loadAverage.end.map((l) => l.toFixed(1)).join(', ')} at the end.`,
      '',
      `RSS over the last 8 minutes (from minute ${from.minute.toFixed(1)}): ${growth.fromRssMiB} → ${growth.toRssMiB} MiB, **${(growth.share * 100).toFixed(1)}%** (limit ${GROWTH_LIMIT * 100}%; highest ${growth.maxRssMiB} MiB). Chart: [soak.svg](soak.svg).`,
      '',
      renderTable(result),
    ].join('\n');
    console.log(`\n${markdown}\n`);
    const dir = path.join(ROOT, 'bench/.data');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `soak-${startedAt.replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2));
    if (values.out) writeFileSync(values.out, `${markdown}\n`);
    if (values['write-docs']) {
      const results = path.join(ROOT, 'bench/RESULTS.md');
      writeFileSync(results, replaceMarked(readFileSync(results, 'utf8'), 'soak', markdown));
      console.log('bench/RESULTS.md updated');
    }
    console.log(`chart: ${path.relative(ROOT, svgPath)}`);
    if (growth.share > GROWTH_LIMIT) {
      console.log(`FAILED: RSS grew ${(growth.share * 100).toFixed(1)}% over the last 8 minutes (limit ${GROWTH_LIMIT * 100}%)`);
      process.exitCode = 1;
    } else console.log(`passed: RSS grew ${(growth.share * 100).toFixed(1)}% over the last 8 minutes (limit ${GROWTH_LIMIT * 100}%)`);
  } finally {
    running = false;
    await stopAll();
    await redis.stop();
    await database.drop();
  }
}

await main();
