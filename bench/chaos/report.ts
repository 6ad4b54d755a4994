import { FAULT_DESCRIPTIONS, PG_SLOW_MS, type FaultName } from './faults.js';
import type { ChaosResult, StepResult } from './harness.js';

const int = (n: number) => n.toLocaleString('en-US');
const pct = (share: number) => `${(share * 100).toFixed(1)}%`;
const seconds = (ms: number | null) => (ms === null ? '**not recovered**' : `${(ms / 1000).toFixed(1)} s`);

/** What must hold for a run to pass: no wrong allow, nothing older than asked for, no answer from a version never committed, every step recovered. */
export function failures(result: ChaosResult): string[] {
  const problems: string[] = [];
  for (const step of result.steps) {
    if (step.wrongAllows) problems.push(`${step.label}: ${step.wrongAllows} wrong allows`);
    if (step.belowMinVersion) problems.push(`${step.label}: ${step.belowMinVersion} answers older than their minVersion`);
    if (step.unknownVersions) problems.push(`${step.label}: ${step.unknownVersions} answers at a version never committed`);
    if (step.otherStatus) problems.push(`${step.label}: ${step.otherStatus} answers with a status other than 200 or 503`);
    if (step.recoveryMs === null) problems.push(`${step.label}: not recovered within ${result.options.recoveryTimeoutMs} ms`);
  }
  return problems;
}

export function stepsTable(steps: readonly StepResult[]): string {
  const lines = [
    '| fault | checks | answered | wrong allows | wrong denies | below minVersion | 503 | no answer | availability while faulted | oldest answer | recovery |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of steps) {
    lines.push(
      `| ${s.label} | ${int(s.requests)} | ${int(s.answers)} | ${int(s.wrongAllows)} | ${int(s.wrongDenies)} | ${int(s.belowMinVersion)} | ${int(s.unavailable)} | ${int(s.noAnswer)} | ${pct(s.availabilityDuringFault)} | ${seconds(s.maxStaleMs)} | ${seconds(s.recoveryMs)} |`,
    );
  }
  return lines.join('\n');
}

export function settingsLine(result: ChaosResult): string {
  const o = result.options;
  return (
    `${o.instances} instances, ${o.companies} companies (${o.changingPerCompany} principals whose grant the writer flips and ${o.stablePerCompany * 2} whose never changes, each), ` +
    `${o.rate} checks/s per instance (${pct(o.minVersionShare)} with minVersion), a write per company every ~${o.writeIntervalMs} ms through a random instance; ` +
    `CACHE_MAX_STALENESS_MS=${o.stalenessMs}, CACHE_MAX_DEGRADED_MS=${o.degradedMs}; each step's faults on for ${Math.round(o.faultMs / 1000)} s, then healed; seed ${o.seed}`
  );
}

export const LEGEND = [
  '- **wrong allow / wrong deny**: a 200 whose decision differs from the truth at the version it names; or whose version is older than a version acknowledged, and deciding otherwise, more than the promised bound before the check was sent (`CACHE_MAX_STALENESS_MS`, or the larger of it and `CACHE_MAX_DEGRADED_MS` while the instance could not reach PostgreSQL); or, with `minVersion`, that some version from `minVersion` on decides otherwise. The truth is rebuilt from the audit log, written in each write\'s transaction, so writes whose answer was lost count too.',
  '- **below minVersion**: answers from a version older than the check asked for.',
  '- **no answer**: no HTTP answer within 5 s (timeouts, refused or reset connections: a killed instance, a hung dependency).',
  '- **availability while faulted**: 200s among the checks sent while the faults were on.',
  '- **oldest answer**: the longest any 200 of the step trailed the data: how long before its check was sent a newer version of the company had been acknowledged (whether or not it changed that decision).',
  '- **recovery**: from the heal until every instance says ready on `/readyz` and answers each company at (or past) the newest version acknowledged before the heal.',
].join('\n');

export function faultsList(names: readonly FaultName[]): string {
  return names.map((name) => `- \`${name}\`: ${FAULT_DESCRIPTIONS[name].replace('250 ms', `${PG_SLOW_MS} ms`)}`).join('\n');
}

export function renderMarkdown(result: ChaosResult, command: string): string {
  const names = [...new Set(result.steps.flatMap((s) => s.faults))];
  return [
    `Written by \`${command}\` on ${result.startedAt.slice(0, 10)} (${result.seconds} s).`,
    '',
    settingsLine(result),
    '',
    stepsTable(result.steps),
    '',
    LEGEND,
    '',
    'Faults:',
    '',
    faultsList(names),
  ].join('\n');
}

/** What Castellan does under each fault: the words beside the README's measured numbers (true to src/check and src/app.ts). */
export const BEHAVIOUR: Record<FaultName, string> = {
  none: 'baseline',
  'redis-kill':
    'L2 and version notices are gone: answers from L1 and PostgreSQL, correct but slower; other instances\' writes are seen within `CACHE_MAX_STALENESS_MS`; `minVersion` still holds. L1 is cleared when Redis is back',
  'redis-stop':
    'as Redis killed: a cold load waits for L2 at most `CACHE_L2_WAIT_MS` (5 ms) and PostgreSQL answers it; L2 writes time out after 500 ms; the hung subscriber hears nothing until Redis resumes',
  'pg-cut-one':
    'cached principals answered for at most `CACHE_MAX_DEGRADED_MS` after their last confirmation; at once `503` for a company whose newer version it hears of over Redis, and for principals with nothing cached; the other instances are unaffected',
  'pg-stall-one':
    'as cut off, but reads hang instead of failing: a check that needs PostgreSQL waits until the stall ends or the pool gives up on a connection (5 s), then answers degraded or `503`; a load already sent on a stalled connection waits for the stall to end',
  'pg-cut-all': 'every instance as cut off; admin writes `503`, so nothing changes meanwhile, but no instance can know that: after `CACHE_MAX_DEGRADED_MS` every check is `503`',
  'pg-slow': 'correct; loads and re-validations take the extra time, so checks past the staleness bound wait for it',
  'pubsub-drop-one': 'the deaf instance sees other instances\' writes within `CACHE_MAX_STALENESS_MS` (re-validation against PostgreSQL) instead of milliseconds',
  'instance-kill': 'its callers get connection errors (a service must treat them as a deny); the others are unaffected; started again, it answers from PostgreSQL with a cold cache',
};

/** The README's "What happens when things break" table: the single-fault steps of a run, with the words above. */
export function readmeTable(result: ChaosResult): string {
  const lines = [
    '| fault | what Castellan does | wrong allows | checks answered while faulted | 503 | no answer | oldest answer | recovery |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const step of result.steps) {
    if (step.faults.length !== 1) continue;
    const fault = step.faults[0]!;
    lines.push(
      `| ${FAULT_DESCRIPTIONS[fault]} | ${BEHAVIOUR[fault]} | ${int(step.wrongAllows)} | ${pct(step.availabilityDuringFault)} | ${int(step.unavailable)} of ${int(step.requests)} | ${int(step.noAnswer)} | ${seconds(step.maxStaleMs)} | ${seconds(step.recoveryMs)} |`,
    );
  }
  return lines.join('\n');
}

/** Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->` in a document. */
export function replaceMarked(document: string, name: string, content: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const from = document.indexOf(begin);
  const to = document.indexOf(end);
  if (from < 0 || to < from) throw new Error(`no ${begin} ... ${end} section`);
  return `${document.slice(0, from + begin.length)}\n${content}\n${document.slice(to)}`;
}
