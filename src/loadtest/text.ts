import type { Progress } from './engine.js';
import { summarise } from './histogram.js';
import type { PhaseSummary, Report } from './report.js';
import { formatMs, formatShare } from './thresholds.js';

export const int = (n: number) => Math.round(n).toLocaleString('en-US');
/** "1 check", "2,000 checks". */
export const plural = (n: number, word: string) => `${int(n)} ${word}${n === 1 ? '' : 's'}`;
export const msOf = (v: number | null) => (v === null ? '-' : formatMs(v));

/** The live line: elapsed, rate achieved in the last second, p50/p99 so far, errors. */
export function progressLine(p: Progress, context: { targetRate: number | null; durationS: number; step: string }): string {
  const s = summarise(p.recorder.latency);
  const done = p.recorder.responses + p.recorder.unanswered;
  const target = context.targetRate === null ? '' : ` (target ${int(context.targetRate)})`;
  return `${context.step}${p.elapsedS.toFixed(0).padStart(3)}s/${context.durationS.toFixed(0)}s  ${int(p.lastSecond)}/s${target}  p50 ${formatMs(s.p50)}  p99 ${formatMs(s.p99)}  errors ${int(p.recorder.errors)}${done ? ` (${formatShare(p.recorder.errors / done)})` : ''}  in flight ${int(p.inFlight)}`;
}

/** Columns right-aligned except the first. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ').trimEnd());
}

const counted = (map: Record<string, number>) =>
  Object.entries(map)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} × ${int(v)}`)
    .join(', ') || 'none';

/** Versions the answers carried: one when the policy held still, several when it changed during the run. */
export const versionsText = (versions: Record<string, number>) =>
  Object.entries(versions)
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([v, n]) => `${v} (${int(n)} answers)`)
    .join(', ') || 'none';

function errorsCell(p: PhaseSummary): string {
  const requests = p.responses + p.unanswered;
  return `${int(p.errors)} (${formatShare(requests ? p.errors / requests : 0)})`;
}

const latencyCells = (p: PhaseSummary) => [msOf(p.latencyMs.p50), msOf(p.latencyMs.p90), msOf(p.latencyMs.p99), msOf(p.latencyMs['p99.9']), msOf(p.latencyMs.max)];

export function describeModel(report: Report): string {
  const m = report.model;
  if (m.kind === 'closed') return `closed: ${m.connections} connections, each sending as soon as it is answered, for ${report.durationS} s`;
  if (m.kind === 'open') return `open: ${int(m.rate)} requests/s evenly spread for ${report.durationS} s (at most ${m.maxConnections} connections; latency from each request's due time)`;
  return `ramp: ${int(m.from)} to ${int(m.to)} requests/s in ${m.steps} steps of ${report.durationS} s, open model (at most ${m.maxConnections} connections); knee bound ${m.knee.join(', ')}`;
}

/** The final table people read; `--json` prints the Report instead. */
export function finalText(report: Report): string {
  const out: string[] = [];
  const r = report.result;
  out.push(`castellan-loadtest  ${report.target}  ${report.url}`);
  out.push(`workload   ${report.workload.description}`);
  if (report.workload.skipped) out.push(`           left out: ${report.workload.skippedWhy}`);
  out.push(`model      ${describeModel(report)}`);
  if (report.warmup) out.push(`warm-up    ${plural(report.warmup.requests, 'request')} in ${report.warmup.seconds.toFixed(1)} s, unrecorded (${int(report.warmup.errors)} errors)`);
  out.push('');
  const head = ['', 'requests/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'errors'];
  if (report.steps.length) {
    const rows = [['target/s', ...head.slice(1), 'within'], ...report.steps.map((s) => [int(s.targetRate ?? 0), int(s.rate), ...latencyCells(s), errorsCell(s), s.within ? 'yes' : s.keptUp ? 'no' : 'no (fell behind)'])];
    out.push(...table(rows));
    out.push('');
    out.push(report.knee === null ? `knee       none: the first step (${int(report.steps[0]?.targetRate ?? 0)}/s) was already beyond the bound` : `knee       ${int(report.knee)} requests/s: the highest rate within ${report.model.kind === 'ramp' ? report.model.knee.join(', ') : ''} that the server kept up with`);
    out.push(`           (the lines below are the knee's step${report.knee === null ? ', here the first' : ''})`);
  } else {
    out.push(...table([head, ['run', int(r.rate), ...latencyCells(r), errorsCell(r)]]));
  }
  out.push('');
  out.push(`answers    ${int(r.responses)}: ${counted(r.statuses)}`);
  if (r.errors) out.push(`errors     ${counted(r.errorKinds)}`);
  const d = r.decisions;
  out.push(`decisions  allowed ${int(d.allowed)}, denied ${int(d.denied)}${d.checked ? `; ${int(d.checked)} checked against the expected decision, ${int(d.wrong)} wrong` : ''}`);
  out.push(`versions   ${versionsText(r.versions)}`);
  if (r.sendLagMs) out.push(`send lag   p50 ${msOf(r.sendLagMs.p50)}, p99 ${msOf(r.sendLagMs.p99)}, max ${msOf(r.sendLagMs.max)} (the generator's own delay after each slot)`);
  for (const warning of report.warnings) out.push(`warning    ${warning}`);
  if (report.interrupted) out.push('interrupted: the numbers cover the run until the interruption');
  if (report.thresholds.length) {
    out.push('');
    out.push('thresholds');
    const width = Math.max(...report.thresholds.map((t) => t.expression.length + (t.implicit ? 10 : 0)));
    for (const t of report.thresholds) out.push(`  ${t.ok ? 'ok  ' : 'FAIL'}  ${(t.expression + (t.implicit ? ' (default)' : '')).padEnd(width)}   ${t.shown}`);
  }
  out.push('');
  out.push(report.passed ? 'passed' : `failed: ${[...report.thresholds.filter((t) => !t.ok).map((t) => t.expression), ...(report.interrupted ? ['interrupted'] : [])].join(', ')}`);
  return out.join('\n');
}
