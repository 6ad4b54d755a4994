import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseRamp, type RampSpec } from './ramp.js';
import { parseSyntheticSpec, type SyntheticSpec } from './synthetic.js';
import { ENDPOINTS } from './targets.js';
import { parseThreshold, type Threshold } from './thresholds.js';

export const USAGE = `castellan-loadtest: load a Castellan deployment and measure its check latency

usage: castellan-loadtest [--url URL] WORKLOAD [LOAD] [OUTPUT] [--threshold EXPR ...]

target
  --url URL               Castellan's base URL (default $CASTELLAN_URL, else http://127.0.0.1:8080)
  --check-token TOKEN     the deployment's CHECK_TOKEN (default $CHECK_TOKEN)
  --endpoint NAME         check (default), batch, forward-auth or authzen
  --batch-size N          checks per /v1/check/batch request (default 100)
  --policies DIR          the deployment's policy files: catalog and routes.json (default $POLICIES_DIR, else the ones shipped)

workload (one of)
  --workload FILE         JSON lines, each a /v1/check body, optionally with "expect": "allow"|"deny" and "token"
  --company ID            questions drawn from a real company through the admin API (needs --admin-token)
  --synthetic SPEC        a company created for the run and removed after it: users=N,projects=M[,teams=T]
    --sample N            questions to draw (default 2000)
    --allowed RATIO       share of allowed questions, 0.5 or 50% (default 0.5)
    --admin-token TOKEN   an admin's token for --company, the owner's for --synthetic (default $CASTELLAN_ADMIN_TOKEN)
    --jwt-secret SECRET   the deployment's AUTH_JWT_SECRET (development): signs users' tokens (default $AUTH_JWT_SECRET);
                          --jwt-issuer, --jwt-audience when the deployment checks them
    --keep                keep the synthetic company (its id is printed) instead of removing it
    --seed N              the same seed draws the same questions (default 1)

load
  --connections N         closed model: N connections, each sending as soon as it is answered (default 16);
                          open model: at most N connections (default 64)
  --rate R                open model: R requests/s, evenly spread, latency from each request's due time
  --ramp FROM..TO         open model at rising rates, to find the knee; --ramp-steps N (default 10)
  --knee EXPR             the bound a ramp step must stay within (repeatable; default p99<5ms and errors<1%)
  --duration D            how long to load (default 30s; a ramp step 10s): 500ms, 30s, 2m
  --no-warmup             measure cold: by default every distinct request is sent once, unrecorded, first
  --timeout D             a request unanswered after this is an error (default 10s)
  --max-in-flight N       open model: requests waiting or in flight at most; beyond, a request is dropped and counted an error (default 10000)

output
  --json                  the result as JSON on stdout (progress stays on stderr)
  --report FILE           a self-contained HTML report: latency over time, distribution, p99 against rate
  --quiet                 no progress line
  --threshold EXPR        fail (exit 1) when broken, e.g. 'p99<5ms' 'errors<0.1%' 'wrong==0' 'rate>=4000' 'knee>=5000'

exit codes: 0 passed, 1 a threshold was broken (or an answer contradicted the workload's expected decision), 2 bad usage or setup`;

export class UsageError extends Error {}

/** "30s", "500ms", "2m", "1h"; a bare number is seconds. Milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!match) throw new UsageError(`${flag} ${text}: expected a duration such as 500ms, 30s or 2m`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Number(match[1]) * factor;
  if (ms <= 0) throw new UsageError(`${flag} ${text}: must be more than 0`);
  return ms;
}

function parseRatio(text: string): number {
  const percent = text.trim().endsWith('%');
  const value = Number(percent ? text.trim().slice(0, -1) : text);
  const ratio = percent ? value / 100 : value;
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new UsageError(`--allowed ${text}: a share from 0 to 1, or a percentage`);
  return ratio;
}

const positiveInt = (flag: string, max = 10_000_000) =>
  z.coerce
    .number({ message: `${flag}: must be a whole number` })
    .int(`${flag}: must be a whole number`)
    .min(1, `${flag}: must be at least 1`)
    .max(max, `${flag}: must be at most ${max}`);

/** Flags whose values are plain numbers, validated here; the rest are parsed above. */
const numbersSchema = z.object({
  batchSize: positiveInt('--batch-size', 1000).default(100),
  sample: positiveInt('--sample', 1_000_000).default(2000),
  seed: z.coerce.number().int().default(1),
  connections: positiveInt('--connections', 100_000).optional(),
  rate: z.coerce.number({ message: '--rate: must be a number' }).positive('--rate: must be more than 0').optional(),
  rampSteps: positiveInt('--ramp-steps', 1000).default(10),
  maxInFlight: positiveInt('--max-in-flight').default(10_000),
});

export type Workload = { source: 'file'; file: string } | { source: 'company'; company: string } | { source: 'synthetic'; spec: SyntheticSpec; keep: boolean };
export type LoadModel = { kind: 'closed'; connections: number } | { kind: 'open'; rate: number; connections: number; maxInFlight: number } | { kind: 'ramp'; ramp: RampSpec; connections: number; maxInFlight: number; knee: Threshold[] };

export interface Options {
  url: string;
  checkToken: string | null;
  adminToken: string | null;
  signer: { secret: string; issuer: string | null; audience: string | null } | null;
  endpoint: (typeof ENDPOINTS)[number];
  batchSize: number;
  policiesDir: string | null;
  workload: Workload;
  sample: number;
  allowedRatio: number;
  seed: number;
  model: LoadModel;
  durationMs: number;
  warmup: boolean;
  timeoutMs: number;
  json: boolean;
  report: string | null;
  quiet: boolean;
  thresholds: Threshold[];
  commandLine: string;
}

const SECRET_FLAGS = ['--check-token', '--admin-token', '--jwt-secret'];

/** The command line as the report shows it, credentials left out. */
function redacted(argv: readonly string[]): string[] {
  return argv.map((arg, i) => {
    if (SECRET_FLAGS.includes(argv[i - 1] ?? '')) return '***';
    const flag = SECRET_FLAGS.find((f) => arg.startsWith(`${f}=`));
    return flag ? `${flag}=***` : arg;
  });
}

export const DEFAULT_KNEE = ['p99<5ms', 'errors<1%'];

function wrapped<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw error instanceof UsageError ? error : new UsageError((error as Error).message);
  }
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Options | 'help' {
  const { values, positionals } = wrapped(() =>
    parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        'check-token': { type: 'string' },
        endpoint: { type: 'string' },
        'batch-size': { type: 'string' },
        policies: { type: 'string' },
        workload: { type: 'string' },
        company: { type: 'string' },
        synthetic: { type: 'string' },
        sample: { type: 'string' },
        allowed: { type: 'string' },
        'admin-token': { type: 'string' },
        'jwt-secret': { type: 'string' },
        'jwt-issuer': { type: 'string' },
        'jwt-audience': { type: 'string' },
        keep: { type: 'boolean', default: false },
        seed: { type: 'string' },
        connections: { type: 'string' },
        rate: { type: 'string' },
        ramp: { type: 'string' },
        'ramp-steps': { type: 'string' },
        knee: { type: 'string', multiple: true },
        duration: { type: 'string' },
        'no-warmup': { type: 'boolean', default: false },
        timeout: { type: 'string' },
        'max-in-flight': { type: 'string' },
        json: { type: 'boolean', default: false },
        report: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        threshold: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }),
  );
  if (values.help) return 'help';
  if (positionals.length > 1 || (positionals.length === 1 && values.url)) throw new UsageError(`unexpected argument "${positionals.at(-1)}"`);

  const numbers = numbersSchema.safeParse({
    batchSize: values['batch-size'],
    sample: values.sample,
    seed: values.seed,
    connections: values.connections,
    rate: values.rate,
    rampSteps: values['ramp-steps'],
    maxInFlight: values['max-in-flight'],
  });
  if (!numbers.success) throw new UsageError(numbers.error.issues.map((i) => i.message).join('; '));
  const n = numbers.data;

  const url = (values.url ?? positionals[0] ?? env.CASTELLAN_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  try {
    if (!['http:', 'https:'].includes(new URL(url).protocol)) throw new Error();
  } catch {
    throw new UsageError(`--url ${url}: expected an http:// or https:// URL`);
  }
  const endpoint = values.endpoint ?? 'check';
  if (!(ENDPOINTS as readonly string[]).includes(endpoint)) throw new UsageError(`--endpoint ${endpoint}: one of ${ENDPOINTS.join(', ')}`);

  const sources = [values.workload && 'workload', values.company && 'company', values.synthetic && 'synthetic'].filter(Boolean);
  if (sources.length !== 1) throw new UsageError(sources.length ? `--${sources.join(' and --')}: give one workload source` : 'a workload is needed: --workload FILE, --company ID or --synthetic users=N,projects=M');
  const workload: Workload = values.workload
    ? { source: 'file', file: values.workload }
    : values.company
      ? { source: 'company', company: values.company }
      : { source: 'synthetic', spec: wrapped(() => parseSyntheticSpec(values.synthetic!)), keep: values.keep === true };

  const adminToken = values['admin-token'] ?? env.CASTELLAN_ADMIN_TOKEN ?? null;
  const secret = values['jwt-secret'] ?? env.AUTH_JWT_SECRET ?? null;
  const signer = secret ? { secret, issuer: values['jwt-issuer'] ?? env.AUTH_ISSUER ?? null, audience: values['jwt-audience'] ?? env.AUTH_AUDIENCE ?? null } : null;
  if (workload.source === 'company' && !adminToken) throw new UsageError('--company needs an admin token of that company: --admin-token or $CASTELLAN_ADMIN_TOKEN');

  if (values.rate && values.ramp) throw new UsageError('--rate and --ramp: give one (a ramp sets its own rates)');
  if (values.knee && !values.ramp) throw new UsageError('--knee bounds a --ramp');
  const thresholds = wrapped(() => (values.threshold ?? []).map(parseThreshold));
  let model: LoadModel;
  if (values.ramp) {
    const knee = wrapped(() => (values.knee ?? DEFAULT_KNEE).map(parseThreshold));
    if (knee.some((t) => t.metric === 'knee' || t.metric === 'rate')) throw new UsageError('--knee takes latency, errors and wrong bounds (the step rate is what the ramp varies)');
    model = { kind: 'ramp', ramp: wrapped(() => parseRamp(values.ramp!, n.rampSteps)), connections: n.connections ?? 64, maxInFlight: n.maxInFlight, knee };
  } else if (n.rate !== undefined) {
    model = { kind: 'open', rate: n.rate, connections: n.connections ?? 64, maxInFlight: n.maxInFlight };
  } else {
    model = { kind: 'closed', connections: n.connections ?? 16 };
  }
  if (model.kind !== 'ramp' && thresholds.some((t) => t.metric === 'knee')) throw new UsageError('a knee threshold needs --ramp');

  return {
    url,
    checkToken: values['check-token'] ?? env.CHECK_TOKEN ?? null,
    adminToken,
    signer,
    endpoint: endpoint as Options['endpoint'],
    batchSize: n.batchSize,
    policiesDir: values.policies ?? env.POLICIES_DIR ?? null,
    workload,
    sample: n.sample,
    allowedRatio: values.allowed === undefined ? 0.5 : parseRatio(values.allowed),
    seed: n.seed,
    model,
    durationMs: values.duration ? parseDuration(values.duration, '--duration') : model.kind === 'ramp' ? 10_000 : 30_000,
    warmup: values['no-warmup'] !== true,
    timeoutMs: values.timeout ? parseDuration(values.timeout, '--timeout') : 10_000,
    json: values.json === true,
    report: values.report ?? null,
    quiet: values.quiet === true,
    thresholds,
    commandLine: ['castellan-loadtest', ...redacted(argv)].join(' '),
  };
}
