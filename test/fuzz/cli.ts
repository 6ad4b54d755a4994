import { fuzz, summarise } from './run.js';

/**
 * `npm run fuzz -- --minutes N [--seed S]`: fuzzes a real server (dist/main.js on PostgreSQL
 * and Redis) for N minutes, then prints cases/s, the error codes seen and every failure
 * with a curl line to replay it. Exits 1 on any failure.
 */
function option(name: string, fallback: number): number {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} needs a positive number (got ${JSON.stringify(args[at + 1])})`);
    process.exit(2);
  }
  return value;
}

const minutes = option('minutes', 1);
const seed = option('seed', Date.now() % 1_000_000_000);
const started = Date.now();
const report = await fuzz({
  seed,
  casesPerRound: option('cases-per-round', 5000),
  timeLimitMs: minutes * 60_000,
  log: (line) => console.log(`[${Math.round((Date.now() - started) / 1000)} s] ${line}`),
});
console.log(summarise(report));
process.exit(report.failures.length || report.serverDown || report.serverErrors.length ? 1 : 0);
