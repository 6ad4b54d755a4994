import type { PhaseSummary, Report } from './report.js';
import { escapeXml as esc, lineChart, type Series } from './svg.js';
import { describeModel, int, msOf, plural, versionsText } from './text.js';
import { formatShare, parseThreshold } from './thresholds.js';

/**
 * `--report report.html`: one self-contained file (inline CSS and SVG, no script, nothing
 * fetched) with the run's table, latency over time, the latency distribution and, for a
 * ramp, p99 against rate.
 */

const msTick = (v: number) => (v >= 1000 ? `${v / 1000} s` : v >= 1 ? `${v} ms` : `${Number((v * 1000).toPrecision(3))} µs`);

const COLORS = { p50: '#2563eb', p99: '#ea580c', max: '#6b7280', rate: '#059669' };
const STEP_COLORS = ['#1d4ed8', '#0891b2', '#059669', '#65a30d', '#ca8a04', '#ea580c', '#dc2626', '#be185d', '#7c3aed', '#4b5563'];

function latencyOverTime(report: Report): string {
  const points = (pick: (p: Report['timeline'][number]) => number | null): Array<[number, number | null]> => report.timeline.map((p) => [p.t, pick(p)]);
  // A step's first point closes its first second: the step began a second before it.
  const boundaries = report.steps.length > 1 ? report.steps.slice(1).map((s, i) => ({ at: (report.timeline.find((p) => p.step === i + 1)?.t ?? 1) - 1, label: `${int(s.targetRate ?? 0)}/s` })) : [];
  const latency = lineChart({
    title: 'Latency over time (each second, by completion)',
    x: { label: 'seconds since the start', min: 0 },
    y: { label: 'latency', log: true, format: msTick },
    series: [
      { name: 'p50', color: COLORS.p50, points: points((p) => p.p50) },
      { name: 'p99', color: COLORS.p99, points: points((p) => p.p99) },
      { name: 'max', color: COLORS.max, points: points((p) => p.max), dashed: true },
    ],
    vertical: boundaries,
  });
  const rate = lineChart({
    title: 'Answers per second',
    height: 200,
    x: { label: 'seconds since the start', min: 0 },
    y: { label: 'answers/s', min: 0, format: (v) => int(v) },
    series: [
      { name: 'answers/s', color: COLORS.rate, points: report.timeline.map((p) => [p.t, p.responses]) },
      { name: 'errors/s', color: '#dc2626', points: report.timeline.map((p) => [p.t, p.errors]) },
    ],
    vertical: boundaries,
  });
  return latency + rate;
}

/** Percentile on an axis of 1/(1-p): 90%, 99%, 99.9% an equal step apart, as HdrHistogram plots it. */
const nines = (percentile: number) => (percentile >= 100 ? 6 : -Math.log10(1 - percentile / 100));

function distribution(report: Report): string {
  const phases: Array<{ name: string; phase: PhaseSummary }> = report.steps.length ? report.steps.map((s) => ({ name: `${int(s.targetRate ?? 0)}/s`, phase: s })) : [{ name: 'latency', phase: report.result }];
  const maxNines = Math.min(6, Math.max(2, ...phases.flatMap((p) => p.phase.spectrum.filter(([pc]) => pc < 100).map(([pc]) => Math.ceil(nines(pc))))));
  const ticks: Array<[number, string]> = [
    [0, '0%'],
    [1, '90%'],
    [2, '99%'],
    [3, '99.9%'],
    [4, '99.99%'],
    [5, '99.999%'],
  ].filter(([n]) => (n as number) <= maxNines) as Array<[number, string]>;
  const series: Series[] = phases.map(({ name, phase }, i) => ({
    name,
    color: phases.length === 1 ? COLORS.p99 : STEP_COLORS[i % STEP_COLORS.length]!,
    points: phase.spectrum.map(([pc, ms]) => [Math.min(nines(pc), maxNines), ms] as const),
  }));
  return lineChart({ title: 'Latency distribution (percentile spectrum)', x: { label: 'percentile', min: 0, max: maxNines, ticks }, y: { label: 'latency', log: true, format: msTick }, series });
}

function rampChart(report: Report): string {
  if (!report.steps.length || report.model.kind !== 'ramp') return '';
  const p99Bound = report.model.knee.map((k) => parseThreshold(k)).find((t) => t.metric === 'p99');
  const steps = report.steps;
  return lineChart({
    title: 'p99 against rate (ramp)',
    x: { label: 'target requests/s', format: (v) => int(v), min: 0, max: report.model.to },
    y: { label: 'latency', log: true, format: msTick },
    series: [
      { name: 'p99', color: COLORS.p99, points: steps.map((s) => [s.targetRate ?? 0, s.latencyMs.p99]), dots: true },
      { name: 'p50', color: COLORS.p50, points: steps.map((s) => [s.targetRate ?? 0, s.latencyMs.p50]), dots: true },
    ],
    horizontal: p99Bound ? [{ at: p99Bound.value, label: `bound ${p99Bound.expression}` }] : [],
    vertical: report.knee === null ? [] : [{ at: report.knee, label: `knee ${int(report.knee)}/s`, color: '#059669' }],
  });
}

function row(cells: string[], header = false): string {
  const tag = header ? 'th' : 'td';
  return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
}

function phaseCells(p: PhaseSummary): string[] {
  const requests = p.responses + p.unanswered;
  return [int(p.rate), msOf(p.latencyMs.p50), msOf(p.latencyMs.p90), msOf(p.latencyMs.p99), msOf(p.latencyMs['p99.9']), msOf(p.latencyMs.max), `${int(p.errors)} (${formatShare(requests ? p.errors / requests : 0)})`];
}

const counted = (map: Record<string, number>) =>
  Object.entries(map)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${esc(k)} × ${int(v)}`)
    .join(', ') || 'none';

export function renderHtml(report: Report): string {
  const r = report.result;
  const head = ['requests/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'errors'];
  const summary = report.steps.length
    ? `<table>${row(['target/s', ...head, 'within'], true)}${report.steps.map((s) => row([int(s.targetRate ?? 0), ...phaseCells(s), s.within ? 'yes' : s.keptUp ? 'no' : 'no (fell behind)'])).join('')}</table>
       <p><strong>Knee:</strong> ${report.knee === null ? 'none (the first step was already beyond the bound)' : `${int(report.knee)} requests/s`}. The details below are the knee's step.</p>`
    : `<table>${row(head, true)}${row(phaseCells(r))}</table>`;
  const thresholds = report.thresholds.length
    ? `<h2>Thresholds</h2><table class="left">${row(['', 'threshold', 'measured'], true)}${report.thresholds.map((t) => row([t.ok ? '<span class="ok">ok</span>' : '<span class="fail">FAIL</span>', esc(t.expression) + (t.implicit ? ' (default)' : ''), esc(t.shown)])).join('')}</table>`
    : '';
  const d = r.decisions;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>castellan-loadtest: ${esc(report.target)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111827;margin:24px auto;max-width:920px;padding:0 16px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
table{border-collapse:collapse;margin:8px 0}th,td{padding:4px 10px;border-bottom:1px solid #e5e7eb;text-align:right;font-variant-numeric:tabular-nums}
th:first-child,td:first-child{text-align:left}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}dt{color:#6b7280}dd{margin:0}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:600}.passed{background:#dcfce7;color:#166534}.failed{background:#fee2e2;color:#991b1b}
.ok{color:#166534;font-weight:600}.fail{color:#991b1b;font-weight:600}code{font-size:12px;background:#f3f4f6;padding:1px 4px;border-radius:3px}
svg.chart{display:block;margin:12px 0;max-width:100%;height:auto}.chart-title{font-size:13px;font-weight:600;fill:#111827}.tick,.legend,.marker{font-size:11px;fill:#4b5563}.axis-label{font-size:12px;fill:#374151}
.grid{stroke:#f3f4f6}table.left td,table.left th{text-align:left}.frame{fill:none;stroke:#d1d5db}
</style></head><body>
<h1>castellan-loadtest: ${esc(report.target)}</h1>
<p><span class="verdict ${report.passed ? 'passed">passed' : 'failed">failed'}</span>${report.interrupted ? ' (interrupted)' : ''}</p>
<dl>
<dt>target</dt><dd>${esc(report.url)}</dd>
<dt>model</dt><dd>${esc(describeModel(report))}</dd>
<dt>workload</dt><dd>${esc(report.workload.description)}${report.workload.skipped ? `; left out: ${esc(report.workload.skippedWhy ?? '')}` : ''}</dd>
<dt>warm-up</dt><dd>${report.warmup ? `${plural(report.warmup.requests, 'request')} in ${report.warmup.seconds.toFixed(1)} s, unrecorded` : 'none (cold)'}</dd>
<dt>started</dt><dd>${esc(report.startedAt)}</dd>
<dt>load generator</dt><dd>${esc(`${report.machine.hostname}: ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, load average ${report.machine.loadAverage.join(', ')}`)}</dd>
<dt>command</dt><dd><code>${esc(report.commandLine)}</code></dd>
</dl>
<h2>Result</h2>
${summary}
<dl>
<dt>answers</dt><dd>${int(r.responses)}: ${counted(r.statuses)}</dd>
${r.errors ? `<dt>errors</dt><dd>${counted(r.errorKinds)}</dd>` : ''}
<dt>decisions</dt><dd>allowed ${int(d.allowed)}, denied ${int(d.denied)}${d.checked ? `; ${int(d.checked)} checked against the expected decision, ${int(d.wrong)} wrong` : ''}</dd>
<dt>versions</dt><dd>${esc(versionsText(r.versions))}</dd>
${r.sendLagMs ? `<dt>send lag</dt><dd>p50 ${msOf(r.sendLagMs.p50)}, p99 ${msOf(r.sendLagMs.p99)}, max ${msOf(r.sendLagMs.max)}: the generator's own delay after each slot</dd>` : ''}
${report.warnings.map((w) => `<dt>warning</dt><dd>${esc(w)}</dd>`).join('')}
</dl>
${thresholds}
<h2>Latency over time</h2>
${latencyOverTime(report)}
<h2>Latency distribution</h2>
${distribution(report)}
${report.steps.length ? `<h2>p99 against rate</h2>${rampChart(report)}` : ''}
</body></html>
`;
}
