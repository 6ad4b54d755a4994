import http from 'node:http';
import { SignJWT } from 'jose';
import { createRng, type Rng } from '../lib/rng.js';
import { JWT_SECRET, PROJECT, ROLE, startCluster, type Cluster, type ClusterOptions, type CompanyCast, type Instance } from './cluster.js';
import { applyFault, type ActiveFault, type FaultName } from './faults.js';
import { judge, truthFromAudit, type Ack, type Answer, type Bounds, type CompanyTruth } from './oracle.js';

export interface ChaosOptions extends Omit<ClusterOptions, 'env' | 'log'> {
  /** How long each step's faults last before they are healed. */
  faultMs: number;
  /** Load after recovery before the next step. */
  settleMs: number;
  /** Longest wait for every instance to answer current decisions and be ready after a heal. */
  recoveryTimeoutMs: number;
  /** Checks per second per instance. */
  rate: number;
  /** Share of checks sent with consistency.minVersion (the newest version the writer has seen acknowledged). */
  minVersionShare: number;
  /** Pause between one company's writes. */
  writeIntervalMs: number;
  /** The steps: each a set of faults applied together. */
  plan: FaultName[][];
  /** Every fault of one instance in a step hits the same instance (else two times in three). */
  sameInstance?: boolean;
  seed: number;
  log: (line: string) => void;
}

export interface StepResult {
  label: string;
  faults: FaultName[];
  faultMs: number;
  requests: number;
  answers: number;
  allows: number;
  wrongAllows: number;
  wrongDenies: number;
  unknownVersions: number;
  belowMinVersion: number;
  /** Older than the newest acknowledged write when sent, within the promised bound. */
  stale: number;
  /** The oldest answer: how long before its check was sent a newer version had been acknowledged. */
  maxStaleMs: number;
  unavailable: number;
  /** No HTTP answer: timeouts, refused and reset connections. */
  noAnswer: number;
  /** Any other status: 4xx or 5xx other than 503, which the harness never provokes. */
  otherStatus: number;
  /** 200s among the checks sent while the faults were on. */
  availabilityDuringFault: number;
  /** Heal to every instance ready and answering at the version acknowledged before the heal; null: not within the timeout. */
  recoveryMs: number | null;
  writes: { acknowledged: number; failed: number };
  /** The first few wrong answers, explained. */
  findings: string[];
}

export interface ChaosResult {
  options: Omit<ChaosOptions, 'log' | 'pgAdminUrl'>;
  startedAt: string;
  seconds: number;
  steps: StepResult[];
}

const CHECK_TIMEOUT_MS = 5000;
const WRITE_TIMEOUT_MS = 5000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Reply {
  status: number;
  body: unknown;
}

function request(agent: http.Agent, url: string, method: string, body: string | undefined, headers: Record<string, string>, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve) => {
    const req = http.request(url, { method, agent, headers: body === undefined ? headers : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } });
    let settled = false;
    const done = (reply: Reply) => {
      if (settled) return;
      settled = true;
      resolve(reply);
    };
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          // not JSON
        }
        done({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', () => done({ status: 0, body: null }));
    });
    req.on('error', () => done({ status: 0, body: null }));
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      done({ status: 0, body: null });
    });
    req.end(body);
  });
}

/** What the harness knows of one company while it runs: the writer's view of its grants, and the acknowledged versions. */
interface CompanyState {
  cast: CompanyCast;
  granted: Set<string>;
  acks: Ack[];
  token: string;
  acknowledged: number;
  failed: number;
}

const latestAck = (state: CompanyState): bigint | undefined => state.acks.at(-1)?.version;

function noteAck(state: CompanyState, version: bigint, at: number): void {
  const last = state.acks.at(-1);
  if (last === undefined || version > last.version) state.acks.push({ version, at });
}

async function resyncGrants(cluster: Cluster, state: CompanyState): Promise<void> {
  const { rows } = await cluster.db.query<{ user_id: string }>('select user_id from project_grants where company_id = $1 and project_id = $2 and user_id is not null', [state.cast.id, PROJECT]);
  state.granted = new Set(rows.map((r) => r.user_id));
}

/** One company's writer: flips a random changing principal's grant through a random instance, one write at a time. */
async function writeLoop(cluster: Cluster, state: CompanyState, rng: Rng, intervalMs: number, agents: http.Agent[], running: () => boolean): Promise<void> {
  while (running()) {
    await sleep(intervalMs * (0.5 + rng.next()));
    if (!running()) return;
    const user = rng.pick(state.cast.changing);
    const instance = rng.pick(cluster.instances);
    const grant = !state.granted.has(user);
    const url = `${instance.url}/v1/companies/${state.cast.id}/projects/${PROJECT}/members/users/${user}`;
    const reply = await request(
      agents[instance.index]!,
      url,
      grant ? 'PUT' : 'DELETE',
      grant ? JSON.stringify({ role: ROLE }) : undefined,
      { authorization: `Bearer ${state.token}` },
      WRITE_TIMEOUT_MS,
    );
    const version = (reply.body as { version?: unknown } | null)?.version;
    if ((reply.status === 200 || reply.status === 201) && typeof version === 'string') {
      noteAck(state, BigInt(version), Date.now());
      state.acknowledged++;
      if (grant) state.granted.add(user);
      else state.granted.delete(user);
    } else {
      state.failed++;
      // The write may or may not have committed (or may still, once a stalled connection passes it on):
      // the truth comes from the audit log; the writer only needs its view of the grants back.
      await sleep(500);
      await resyncGrants(cluster, state).catch(() => {});
    }
  }
}

function checkBody(company: string, user: string, minVersion: bigint | undefined): string {
  return JSON.stringify({
    company,
    principal: { id: user },
    action: 'view',
    resource: { type: 'Scenario', attributes: { projectId: PROJECT } },
    ...(minVersion === undefined ? {} : { consistency: { minVersion: String(minVersion) } }),
  });
}

/**
 * Steady checks on one instance, open loop: sent on schedule whether or not earlier ones
 * were answered, so a hung instance is seen hanging (each check then waits out its
 * timeout) instead of slowing the load down. At most MAX_OUTSTANDING in flight; a check
 * that finds no room is counted as unanswered.
 */
const MAX_OUTSTANDING = 400;

async function loadLoop(instance: Instance, agent: http.Agent, states: CompanyState[], rng: Rng, options: ChaosOptions, record: (answer: Answer) => void, running: () => boolean): Promise<void> {
  let outstanding = 0;
  const pending = new Set<Promise<void>>();
  const send = (): void => {
    const state = rng.pick(states);
    const { cast } = state;
    // Most checks on principals whose rights change, the rest on ones whose never do.
    const pool = rng.chance(0.6) ? cast.changing : rng.chance(0.5) ? cast.alwaysAllowed : cast.neverAllowed;
    const user = rng.pick(pool);
    const minVersion = rng.chance(options.minVersionShare) ? latestAck(state) : undefined;
    const sentAt = Date.now();
    const base = { instance: instance.index, company: cast.id, user, sentAt, ...(minVersion === undefined ? {} : { minVersion }) };
    if (outstanding >= MAX_OUTSTANDING) {
      record({ ...base, receivedAt: sentAt, status: 0 });
      return;
    }
    outstanding++;
    const done = request(agent, `${instance.url}/v1/check`, 'POST', checkBody(cast.id, user, minVersion), {}, CHECK_TIMEOUT_MS).then((reply) => {
      outstanding--;
      const body = reply.body as { allowed?: unknown; version?: unknown } | null;
      const ok = reply.status === 200 && typeof body?.allowed === 'boolean' && typeof body.version === 'string';
      record({ ...base, receivedAt: Date.now(), status: reply.status, ...(ok ? { allowed: body!.allowed as boolean, version: BigInt(body!.version as string) } : {}) });
    });
    pending.add(done);
    void done.finally(() => pending.delete(done));
  };
  const began = Date.now();
  let sent = 0;
  while (running()) {
    const due = Math.floor(((Date.now() - began) * options.rate) / 1000);
    // After a stall of the harness itself, catch up by at most a second's worth rather than in one burst.
    if (due - sent > options.rate) sent = due - options.rate;
    while (sent < due) {
      send();
      sent++;
    }
    await sleep(10);
  }
  await Promise.all(pending);
}

/** Heal to every instance ready and answering each company at (or past) the version acknowledged before the heal. */
async function measureRecovery(cluster: Cluster, states: CompanyState[], healedAt: number, timeoutMs: number, agents: http.Agent[], log: (line: string) => void): Promise<number | null> {
  const targets = states.map((s) => latestAck(s) ?? cluster.seedVersion);
  const recovered = await Promise.all(
    cluster.instances.map(async (instance) => {
      let problem = '';
      for (;;) {
        if (Date.now() - healedAt > timeoutMs) {
          log(`  instance #${instance.index} not recovered: ${problem}`);
          return null;
        }
        const agent = agents[instance.index]!;
        // One round of probes, together; recovered as of when a round that all passed was sent
        // (a loaded machine answers late, which is not the instance still recovering).
        const sentAt = Date.now();
        const [ready, ...checks] = await Promise.all([
          request(agent, `${instance.url}/readyz`, 'GET', undefined, {}, CHECK_TIMEOUT_MS),
          ...states.map((state) => request(agent, `${instance.url}/v1/check`, 'POST', checkBody(state.cast.id, state.cast.alwaysAllowed[0]!, undefined), {}, CHECK_TIMEOUT_MS)),
        ]);
        let current = ready!.status === 200;
        if (!current) problem = `/readyz answered ${ready!.status || 'nothing'}: ${JSON.stringify(ready!.body)}`;
        checks.forEach((reply, c) => {
          const body = reply.body as { allowed?: unknown; version?: unknown } | null;
          const ok = reply.status === 200 && body?.allowed === true && typeof body.version === 'string' && BigInt(body.version) >= targets[c]!;
          if (!ok) problem = `${states[c]!.cast.id} answered ${reply.status || 'nothing'} ${JSON.stringify(reply.body)}, version ${targets[c]} acknowledged before the heal`;
          current &&= ok;
        });
        if (current) {
          const ms = sentAt - healedAt;
          if (ms > 5000 && problem) log(`  instance #${instance.index} took ${ms} ms; the last problem: ${problem}`);
          return ms;
        }
        await sleep(100);
      }
    }),
  );
  return recovered.some((ms) => ms === null) ? null : Math.max(...(recovered as number[]));
}

/**
 * Before the first step: every principal answered once by every instance, and a write
 * acknowledged in every company, so the baseline measures a running cluster, not its start.
 */
async function warmUp(cluster: Cluster, states: CompanyState[], agents: http.Agent[], log: (line: string) => void): Promise<void> {
  const started = Date.now();
  for (const instance of cluster.instances) {
    for (const { cast } of states) {
      for (const user of [...cast.changing, ...cast.alwaysAllowed, ...cast.neverAllowed]) {
        for (let attempt = 0; attempt < 50; attempt++) {
          const reply = await request(agents[instance.index]!, `${instance.url}/v1/check`, 'POST', checkBody(cast.id, user, undefined), {}, CHECK_TIMEOUT_MS);
          if (reply.status === 200) break;
          await sleep(200);
        }
      }
    }
  }
  while (states.some((s) => s.acks.length === 0) && Date.now() - started < 60_000) await sleep(200);
  await sleep(2000);
  log(`warm in ${Date.now() - started} ms`);
}

async function readTruth(cluster: Cluster): Promise<Map<string, CompanyTruth>> {
  const ids = cluster.companies.map((c) => c.id);
  // The latest version first: every audit row at or below it is then in the second read.
  const latest = await cluster.db.query<{ company_id: string; version: string }>('select company_id, version::text from policy_versions where company_id = any($1)', [ids]);
  const audit = await cluster.db.query<{ company_id: string; version: string; action: string; target: string }>(
    'select company_id, version::text, action, target from audit_log where company_id = any($1) order by company_id, version',
    [ids],
  );
  const truths = new Map<string, CompanyTruth>();
  for (const id of ids) {
    const rows = audit.rows.filter((r) => r.company_id === id).map((r) => ({ version: BigInt(r.version), action: r.action, target: r.target }));
    const newest = BigInt(latest.rows.find((r) => r.company_id === id)!.version);
    truths.set(id, truthFromAudit(cluster.seedVersion, cluster.seedGranted.get(id)!, newest, rows, PROJECT));
  }
  return truths;
}

interface StepWindow {
  label: string;
  faults: FaultName[];
  from: number;
  healedAt: number;
  to: number;
  recoveryMs: number | null;
  writesBefore: { acknowledged: number; failed: number };
  writesAfter: { acknowledged: number; failed: number };
}

function summarise(step: StepWindow, answers: readonly Answer[], truths: Map<string, CompanyTruth>, acks: Map<string, Ack[]>, bounds: Bounds, pgAway: Map<number, Array<{ from: number; to: number }>>): StepResult {
  const result: StepResult = {
    label: step.label,
    faults: step.faults,
    faultMs: step.healedAt - step.from,
    requests: answers.length,
    answers: 0,
    allows: 0,
    wrongAllows: 0,
    wrongDenies: 0,
    unknownVersions: 0,
    belowMinVersion: 0,
    stale: 0,
    maxStaleMs: 0,
    unavailable: 0,
    noAnswer: 0,
    otherStatus: 0,
    availabilityDuringFault: 0,
    recoveryMs: step.recoveryMs,
    writes: { acknowledged: step.writesAfter.acknowledged - step.writesBefore.acknowledged, failed: step.writesAfter.failed - step.writesBefore.failed },
    findings: [],
  };
  let duringFault = 0;
  let answeredDuringFault = 0;
  for (const answer of answers) {
    const inFault = answer.sentAt < step.healedAt;
    if (inFault) duringFault++;
    if (answer.status === 0) result.noAnswer++;
    else if (answer.status === 503) result.unavailable++;
    else if (answer.status !== 200) result.otherStatus++;
    const judgement = judge(answer, truths.get(answer.company)!, acks.get(answer.company)!, bounds, pgAway.get(answer.instance) ?? []);
    if (!judgement) continue;
    result.answers++;
    if (inFault) answeredDuringFault++;
    if (answer.allowed) result.allows++;
    if (judgement.stale) result.stale++;
    result.maxStaleMs = Math.max(result.maxStaleMs, judgement.staleForMs);
    if (judgement.belowMinVersion) result.belowMinVersion++;
    if (judgement.verdict === 'correct') continue;
    if (judgement.verdict === 'wrong-allow') result.wrongAllows++;
    else if (judgement.verdict === 'wrong-deny') result.wrongDenies++;
    else result.unknownVersions++;
    if (result.findings.length < 10) {
      result.findings.push(
        `${judgement.verdict}: instance #${answer.instance} ${answer.company} ${answer.user} ${answer.allowed ? 'allowed' : 'denied'} at version ${answer.version}${answer.minVersion === undefined ? '' : ` (minVersion ${answer.minVersion})`}, sent ${answer.sentAt - step.from} ms into the step: ${judgement.why}`,
      );
    }
  }
  result.availabilityDuringFault = duringFault ? answeredDuringFault / duringFault : 1;
  return result;
}

/** Runs the plan: starts the cluster, keeps the load and the writer going through every step, and judges each step's answers. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const rng = createRng(options.seed);
  const { log } = options;
  log(`starting ${options.instances} instances on PostgreSQL and a private Redis, each through its own proxies`);
  const cluster = await startCluster({
    instances: options.instances,
    companies: options.companies,
    changingPerCompany: options.changingPerCompany,
    stablePerCompany: options.stablePerCompany,
    stalenessMs: options.stalenessMs,
    degradedMs: options.degradedMs,
    pgAdminUrl: options.pgAdminUrl,
    log,
  });
  // A socket for every check in flight (a queue in the agent would hide a hung instance), and the
  // writer's and the recovery probes' own, so they never wait behind the load.
  const agents = cluster.instances.map(() => new http.Agent({ keepAlive: true, maxSockets: MAX_OUTSTANDING }));
  const writeAgents = cluster.instances.map(() => new http.Agent({ keepAlive: true, maxSockets: 8 }));
  const probeAgents = cluster.instances.map(() => new http.Agent({ keepAlive: true, maxSockets: 4 }));
  let running = true;
  const loops: Promise<void>[] = [];
  const steps: StepResult[] = [];
  try {
    const secret = new TextEncoder().encode(JWT_SECRET);
    const states: CompanyState[] = await Promise.all(
      cluster.companies.map(async (cast) => ({
        cast,
        granted: new Set(cluster.seedGranted.get(cast.id)),
        acks: [],
        acknowledged: 0,
        failed: 0,
        token: await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(cast.admin).setIssuedAt().setExpirationTime('6h').sign(secret),
      })),
    );
    const bounds: Bounds = { stalenessMs: options.stalenessMs, degradedMs: options.degradedMs };
    const pgAway = new Map<number, Array<{ from: number; to: number }>>();
    let current: Answer[] = [];
    const record = (answer: Answer) => current.push(answer);
    const isRunning = () => running;
    for (const state of states) loops.push(writeLoop(cluster, state, createRng(rng.int(1, 2 ** 31)), options.writeIntervalMs, writeAgents, isRunning));
    for (const instance of cluster.instances) loops.push(loadLoop(instance, agents[instance.index]!, states, createRng(rng.int(1, 2 ** 31)), options, record, isRunning));
    const writes = () => ({ acknowledged: states.reduce((n, s) => n + s.acknowledged, 0), failed: states.reduce((n, s) => n + s.failed, 0) });
    await warmUp(cluster, states, probeAgents, log);

    for (const faults of options.plan) {
      current = [];
      const from = Date.now();
      const writesBefore = writes();
      const active: ActiveFault[] = [];
      // Two times in three, every fault of one instance in the step hits the same one: cut off from
      // PostgreSQL and deaf to version notices is where a stale allow would come from.
      const target = options.sameInstance || rng.chance(2 / 3) ? rng.int(0, cluster.instances.length - 1) : undefined;
      for (const fault of faults) active.push(await applyFault(fault, cluster, rng, target));
      const label = active.map((a) => a.label).join(' + ');
      const windows = active.flatMap((a) => a.pgAway).map((index) => {
        const window = { from, to: Infinity };
        pgAway.set(index, [...(pgAway.get(index) ?? []), window]);
        return window;
      });
      log(`step ${steps.length + 1}/${options.plan.length}: ${label} for ${Math.round(options.faultMs / 1000)} s`);
      await sleep(options.faultMs);
      const healedAt = Date.now();
      for (const window of windows) window.to = healedAt;
      const healing = Promise.all(active.map((a) => a.heal()));
      const recoveryMs = await measureRecovery(cluster, states, healedAt, options.recoveryTimeoutMs, probeAgents, log);
      await healing;
      log(`  healed; ${recoveryMs === null ? `NOT recovered within ${options.recoveryTimeoutMs} ms` : `recovered in ${recoveryMs} ms`}`);
      await sleep(options.settleMs);
      const answers = current;
      current = [];
      const to = Date.now();
      // Writes stalled during the step have landed by now: the audit log holds every committed version.
      const truths = await readTruth(cluster);
      const acks = new Map(states.map((s) => [s.cast.id, s.acks]));
      const step = summarise({ label, faults, from, healedAt, to, recoveryMs, writesBefore, writesAfter: writes() }, answers, truths, acks, bounds, pgAway);
      steps.push(step);
      log(
        `  ${step.requests} checks: ${step.answers} answered, ${step.wrongAllows} wrong allows, ${step.wrongDenies} wrong denies, ${step.unavailable} 503, ${step.noAnswer} unanswered, availability during the fault ${(step.availabilityDuringFault * 100).toFixed(1)}%`,
      );
      for (const finding of step.findings) log(`    ${finding}`);
    }
  } finally {
    running = false;
    await Promise.all(loops);
    for (const agent of [...agents, ...writeAgents, ...probeAgents]) agent.destroy();
    await cluster.close();
  }
  const { log: _log, pgAdminUrl: _url, ...rest } = options;
  return { options: rest, startedAt: new Date(started).toISOString(), seconds: Math.round((Date.now() - started) / 1000), steps };
}
