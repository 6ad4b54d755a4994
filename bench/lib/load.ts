import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/** One request of a load other than a JSON POST of a body to `url` (forward-auth's GETs with headers, AuthZEN's per-company paths). */
export interface LoadRequest {
  method: string;
  /** Path on the server of `url`. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadSpec {
  url: string;
  bodies: readonly string[];
  /** When set, sent instead of `bodies`. */
  requests?: readonly LoadRequest[];
  /** The statuses that count as answers (forward-auth answers a deny with 403); default any 2xx. */
  okStatuses?: readonly number[];
  connections: number;
  durationS: number;
  /** Requests per second over all connections (autocannon's overallRate); unset: as fast as the server answers. */
  overallRate?: number;
  /** The server's PID, to count the CPU time it spent on the run. */
  serverPid?: number;
}

/** One autocannon run: counts, and every 2xx latency in milliseconds (microsecond precision). */
export interface LoadRun {
  durationS: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  latenciesMs: Float64Array;
  /** CPU time (user and system, all threads) the server process used during the run; null when unknown. */
  serverCpuS: number | null;
}

export interface LoadSummary extends LatencyPercentiles {
  requestsPerSecond: number;
  ok: number;
  durationS: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  runs: number;
  /** Requests/s of each run: the spread shows how much the machine moved under the mean. */
  runRequestsPerSecond: number[];
  connections: number;
  overallRate?: number;
  /**
   * Server CPU time per 2xx answer, in microseconds. It depends less than requests/s on what
   * else runs on the machine (contention still raises it): the steadier measure of the server's own cost.
   */
  serverCpuMicrosPerRequest: number | null;
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User plus system CPU seconds of a process so far, from /proc (Linux); null elsewhere or once it has exited. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** A growable list of doubles: a run records hundreds of thousands of latencies. */
class Samples {
  #values = new Float64Array(1 << 16);
  #size = 0;
  push(value: number): void {
    if (this.#size === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#size++] = value;
  }
  toArray(): Float64Array {
    return this.#values.slice(0, this.#size);
  }
}

/**
 * Runs autocannon and records latencies itself from the `response` event: autocannon's own
 * histogram keeps whole milliseconds, too coarse for a check answered in a fraction of one.
 * Latencies are raw (no coordinated-omission correction); the rate runs report achieved rates.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadRun> {
  const samples = new Samples();
  const statusCodes: Record<string, number> = {};
  let finish: (error: Error | null, result: autocannon.Result) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (error, result) => (error ? reject(error) : resolve(result));
  });
  const cpuBefore = spec.serverPid ? processCpuSeconds(spec.serverPid) : null;
  const requests = spec.requests
    ? spec.requests.map((r) => ({ method: r.method as autocannon.Request['method'], path: r.path, headers: r.headers ?? {}, ...(r.body === undefined ? {} : { body: r.body }) }))
    : spec.bodies.map((body) => ({ body }));
  const isOk = spec.okStatuses ? (status: number) => spec.okStatuses!.includes(status) : (status: number) => status >= 200 && status < 300;
  let notOk = 0;
  const instance = autocannon(
    {
      url: spec.url,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      connections: spec.connections,
      duration: spec.durationS,
      requests,
      ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
    },
    (error, result) => finish(error as Error | null, result),
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
    if (isOk(statusCode)) samples.push(responseTime);
    else notOk++;
  });
  const result = await done;
  const cpuAfter = spec.serverPid ? processCpuSeconds(spec.serverPid) : null;
  const latenciesMs = samples.toArray();
  return {
    durationS: result.duration,
    ok: latenciesMs.length,
    non2xx: spec.okStatuses ? notOk : result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    latenciesMs,
    serverCpuS: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
  };
}

/**
 * The same total rate and connections as one overallRate run, as one autocannon instance
 * per connection, each with its share of the rate, started 1/connections of a second apart.
 * autocannon paces a rate per connection per second (a burst at full speed, then a pause
 * until the next second), and one instance's connections burst together; staggering them
 * spreads the bursts over the second, closer to requests arriving steadily.
 */
export async function runLoadStaggered(spec: LoadSpec & { overallRate: number }): Promise<LoadRun> {
  const count = spec.connections;
  const cpuBefore = spec.serverPid ? processCpuSeconds(spec.serverPid) : null;
  const runs = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      await new Promise((r) => setTimeout(r, (i * 1000) / count));
      const share = Math.floor(spec.overallRate / count) + (i < spec.overallRate % count ? 1 : 0);
      const { serverPid: _pid, ...rest } = spec;
      return runLoad({ ...rest, connections: 1, overallRate: Math.max(1, share) });
    }),
  );
  const cpuAfter = spec.serverPid ? processCpuSeconds(spec.serverPid) : null;
  const latencies = new Samples();
  for (const run of runs) for (const value of run.latenciesMs) latencies.push(value);
  const statusCodes: Record<string, number> = {};
  for (const run of runs) for (const [code, n] of Object.entries(run.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
  const latenciesMs = latencies.toArray();
  // An instance may run a second longer than asked (autocannon counts whole-second ticks, and
  // a late first tick adds one): the achieved rate is the sum of each instance's own rate, so
  // the duration reported is the one that gives that rate, not the longest instance's.
  const rate = runs.reduce((sum, r) => sum + (r.durationS > 0 ? r.latenciesMs.length / r.durationS : 0), 0);
  return {
    durationS: rate > 0 ? latenciesMs.length / rate : Math.max(...runs.map((r) => r.durationS)),
    ok: latenciesMs.length,
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    timeouts: runs.reduce((n, r) => n + r.timeouts, 0),
    statusCodes,
    latenciesMs,
    serverCpuS: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export interface LatencyPercentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export function latencyPercentiles(values: Float64Array | number[]): LatencyPercentiles {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

/** Merges the interleaved runs of one target: rates over the summed duration, percentiles over every latency. */
export function summarise(runs: LoadRun[], spec: Pick<LoadSpec, 'connections' | 'overallRate'>): LoadSummary {
  const total = runs.reduce((n, r) => n + r.latenciesMs.length, 0);
  const all = new Float64Array(total);
  let offset = 0;
  for (const run of runs) {
    all.set(run.latenciesMs, offset);
    offset += run.latenciesMs.length;
  }
  const durationS = runs.reduce((s, r) => s + r.durationS, 0);
  const statusCodes: Record<string, number> = {};
  for (const run of runs) for (const [code, count] of Object.entries(run.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
  const summary: LoadSummary = {
    requestsPerSecond: durationS > 0 ? total / durationS : 0,
    ok: total,
    durationS,
    ...latencyPercentiles(all),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    timeouts: runs.reduce((n, r) => n + r.timeouts, 0),
    statusCodes,
    runs: runs.length,
    runRequestsPerSecond: runs.map((r) => (r.durationS > 0 ? Math.round(r.latenciesMs.length / r.durationS) : 0)),
    connections: spec.connections,
    serverCpuMicrosPerRequest: runs.every((r) => r.serverCpuS !== null) && total > 0 ? (runs.reduce((t, r) => t + r.serverCpuS!, 0) / total) * 1e6 : null,
  };
  if (spec.overallRate) summary.overallRate = spec.overallRate;
  return summary;
}
