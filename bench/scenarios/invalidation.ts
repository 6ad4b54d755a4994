import { SignJWT } from 'jose';
import { TOGGLE_OFF, TOGGLE_ON } from '../lib/dataset.js';
import type { HttpAnswer } from '../lib/http.js';
import { latencyPercentiles, type LatencyPercentiles } from '../lib/load.js';
import { startCastellan, type Proc } from '../lib/processes.js';
import { checkBody } from '../lib/workload.js';
import type { BenchContext, Skipped } from './context.js';

export interface InvalidationResult extends LatencyPercentiles {
  status: 'ok';
  /** Which admin write was timed. */
  write: string;
  writes: number;
  mean: number;
  /** Writes after which B did not answer the new decision within the timeout. */
  timeouts: number;
  /** Writes that did not answer 200. */
  writeErrors: number;
  /** How long the write itself took on A. */
  writeP50: number;
  /** Answers on B with the new decision but a version older than the write's (should be 0). */
  staleVersions: number;
}
export type InvalidationOutcome = InvalidationResult | Skipped;

const POLL_TIMEOUT_MS = 10_000;

interface Toggle {
  description: string;
  /** Performs the write that makes the probe answer `allowed`; returns the HTTP answer. */
  write(allowed: boolean): Promise<HttpAnswer>;
  probeBody: string;
}

async function adminToken(secret: string, sub: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime('2h').sign(new TextEncoder().encode(secret));
}

function toggles(ctx: BenchContext, a: Proc, token: string): Toggle[] {
  const f = ctx.dataset.invalidation;
  const auth = { authorization: `Bearer ${token}` };
  const rolePath = `/v1/companies/${f.companyId}/roles/project/${f.roleKey}`;
  const grantPath = `/v1/companies/${f.companyId}/projects/${f.grantProjectId}/members/users/${f.grantUserId}`;
  return [
    {
      description: `PUT ${rolePath} (project role gains or loses view Scenario)`,
      write: (allowed) => ctx.http.request('PUT', `${a.url}${rolePath}`, JSON.stringify({ name: 'Bench toggle', permissions: allowed ? TOGGLE_ON : TOGGLE_OFF }), auth),
      probeBody: checkBody({ companyId: f.companyId, userId: f.userId }, { action: 'view', resource: { type: 'Scenario', attributes: { projectId: f.projectId } } }),
    },
    {
      description: `DELETE / PUT ${grantPath} (project grant removed or restored)`,
      write: (allowed) =>
        allowed ? ctx.http.request('PUT', `${a.url}${grantPath}`, JSON.stringify({ role: 'viewer' }), auth) : ctx.http.request('DELETE', `${a.url}${grantPath}`, undefined, auth),
      probeBody: checkBody({ companyId: f.companyId, userId: f.grantUserId }, { action: 'view', resource: { type: 'Scenario', attributes: { projectId: f.grantProjectId } } }),
    },
  ];
}

/** Asks B until it answers `allowed`; the time is taken when the answer that shows it arrives. */
async function pollUntil(ctx: BenchContext, b: Proc, body: string, allowed: boolean): Promise<{ at: number; version: bigint } | null> {
  const deadline = performance.now() + POLL_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const answer = await ctx.http.post(`${b.url}/v1/check`, body);
    if (answer.status === 200) {
      const parsed = JSON.parse(answer.text) as { allowed: boolean; version: string };
      if (parsed.allowed === allowed) return { at: performance.now(), version: BigInt(parsed.version) };
    }
  }
  return null;
}

const describeFailure = (status: number, text: string) => {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return `${status} ${parsed.error?.code ?? ''}: ${parsed.error?.message ?? text}`.trim();
  } catch {
    return `${status}`;
  }
};

/** Finds the first admin write the instance serves; the first write also flips the state to "denied". */
async function firstWorkingToggle(candidates: Toggle[]): Promise<{ toggle: Toggle; answer: HttpAnswer } | Skipped> {
  const failures: string[] = [];
  for (const toggle of candidates) {
    const first = await toggle.write(false);
    if (first.status === 200) return { toggle, answer: first };
    failures.push(`${toggle.description} answered ${describeFailure(first.status, first.text)}`);
    if (first.status !== 404) break;
  }
  const allMissing = failures.every((f) => f.includes('answered 404'));
  return { status: 'skipped', reason: `${allMissing ? 'admin endpoint not available' : 'admin endpoint not usable'}: ${failures.join('; ')}` };
}

/**
 * Two instances on the same PostgreSQL and Redis. Each write goes to A; the time measured
 * runs from A's response to the first answer from B with the new decision, asked without
 * minVersion (B learns of the write only through the pub/sub notice or its staleness bound).
 */
export async function invalidationScenario(ctx: BenchContext): Promise<InvalidationOutcome> {
  const a = await startCastellan('castellan-a', ctx.env);
  const b = await startCastellan('castellan-b', ctx.env);
  try {
    const token = await adminToken(ctx.env.jwtSecret, ctx.dataset.invalidation.adminId);
    const candidates = toggles(ctx, a, token);
    for (const t of candidates) await pollUntil(ctx, b, t.probeBody, true);
    const found = await firstWorkingToggle(candidates);
    if ('status' in found) return found;
    const { toggle } = found;
    const propagation: number[] = [];
    const writeTimes: number[] = [];
    let timeouts = 0;
    let writeErrors = 0;
    let staleVersions = 0;
    let answer = found.answer;
    for (let i = 0; i < ctx.options.writes; i++) {
      const allowed = i % 2 === 1;
      if (i > 0) {
        // B must hold the current decision before the write, or there is nothing to invalidate.
        await pollUntil(ctx, b, toggle.probeBody, !allowed);
        answer = await toggle.write(allowed);
      }
      const written = performance.now();
      if (answer.status !== 200) {
        writeErrors++;
        continue;
      }
      writeTimes.push(answer.ms);
      const version = BigInt((JSON.parse(answer.text) as { version: string }).version);
      const seen = await pollUntil(ctx, b, toggle.probeBody, allowed);
      if (!seen) timeouts++;
      else {
        propagation.push(seen.at - written);
        if (seen.version < version) staleVersions++;
      }
    }
    const result: InvalidationResult = {
      status: 'ok',
      write: toggle.description,
      writes: ctx.options.writes,
      ...latencyPercentiles(propagation),
      mean: propagation.reduce((s, v) => s + v, 0) / Math.max(1, propagation.length),
      timeouts,
      writeErrors,
      writeP50: latencyPercentiles(writeTimes).p50,
      staleVersions,
    };
    ctx.log(`  p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms over ${propagation.length} writes`);
    return result;
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}
