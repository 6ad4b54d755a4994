/**
 * Line charts as inline SVG, drawn by the tool itself so the report is one file that opens
 * anywhere, offline (no CDN, no script). Pure: data in, markup out.
 */

export const escapeXml = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export interface Axis {
  label: string;
  log?: boolean;
  /** Fixed range; else from the data. */
  min?: number;
  max?: number;
  /** Fixed ticks as [value, label]; else computed. */
  ticks?: Array<[number, string]>;
  format?: (value: number) => string;
}

export interface Series {
  name: string;
  color: string;
  points: ReadonlyArray<readonly [number, number | null]>;
  dashed?: boolean;
  /** Draw a dot at each point (few points, such as ramp steps). */
  dots?: boolean;
}

export interface Marker {
  at: number;
  label: string;
  color?: string;
}

export interface ChartSpec {
  title: string;
  width?: number;
  height?: number;
  x: Axis;
  y: Axis;
  series: Series[];
  vertical?: Marker[];
  horizontal?: Marker[];
}

const MARGIN = { top: 34, right: 20, bottom: 46, left: 70 };

function niceStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

interface Scale {
  min: number;
  max: number;
  map(value: number): number;
  ticks: Array<[number, string]>;
}

function scale(axis: Axis, values: number[], from: number, to: number): Scale {
  const format = axis.format ?? ((v: number) => String(Number(v.toPrecision(3))));
  if (axis.log) {
    const positive = values.filter((v) => v > 0);
    const min = axis.min ?? 10 ** Math.floor(Math.log10(Math.min(...positive, 1)));
    const max = axis.max ?? 10 ** Math.ceil(Math.log10(Math.max(...positive, min * 10)));
    const lo = Math.log10(min);
    const hi = Math.log10(max);
    const map = (v: number) => from + ((Math.log10(Math.max(v, min)) - lo) / (hi - lo || 1)) * (to - from);
    const ticks: Array<[number, string]> = axis.ticks ?? [];
    if (!axis.ticks) for (let e = Math.round(lo); e <= Math.round(hi); e++) ticks.push([10 ** e, format(10 ** e)]);
    return { min, max, map, ticks };
  }
  const dataMin = Math.min(...values, axis.min ?? Infinity);
  const dataMax = Math.max(...values, axis.max ?? -Infinity);
  const min = axis.min ?? Math.min(0, dataMin);
  const max = axis.max ?? (dataMax > min ? dataMax : min + 1);
  const map = (v: number) => from + ((v - min) / (max - min || 1)) * (to - from);
  const ticks: Array<[number, string]> = axis.ticks ?? [];
  if (!axis.ticks) {
    const step = niceStep(max - min, 6);
    for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push([v, format(v)]);
  }
  return { min, max, map, ticks };
}

export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 860;
  const height = spec.height ?? 320;
  const plotRight = width - MARGIN.right;
  const plotBottom = height - MARGIN.bottom;
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = spec.series.flatMap((s) => s.points.flatMap((p) => (p[1] === null ? [] : [p[1]]))).concat((spec.horizontal ?? []).map((m) => m.at));
  const x = scale(spec.x, xs.length ? xs : [0, 1], MARGIN.left, plotRight);
  const y = scale(spec.y, ys.length ? ys : [0, 1], plotBottom, MARGIN.top);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(spec.title)}">`);
  parts.push(`<title>${escapeXml(spec.title)}</title>`);
  parts.push(`<text x="${MARGIN.left}" y="20" class="chart-title">${escapeXml(spec.title)}</text>`);
  for (const [value, label] of y.ticks) {
    if (value < y.min - 1e-12 || value > y.max * (1 + 1e-9)) continue;
    const py = y.map(value).toFixed(1);
    parts.push(`<line x1="${MARGIN.left}" x2="${plotRight}" y1="${py}" y2="${py}" class="grid"/><text x="${MARGIN.left - 6}" y="${py}" class="tick" text-anchor="end" dominant-baseline="middle">${escapeXml(label)}</text>`);
  }
  for (const [value, label] of x.ticks) {
    if (value < x.min - 1e-12 || value > x.max * (1 + 1e-9)) continue;
    const px = x.map(value).toFixed(1);
    parts.push(`<line x1="${px}" x2="${px}" y1="${MARGIN.top}" y2="${plotBottom}" class="grid"/><text x="${px}" y="${plotBottom + 16}" class="tick" text-anchor="middle">${escapeXml(label)}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotRight - MARGIN.left}" height="${plotBottom - MARGIN.top}" class="frame"/>`);
  parts.push(`<text x="${(MARGIN.left + plotRight) / 2}" y="${height - 8}" class="axis-label" text-anchor="middle">${escapeXml(spec.x.label)}</text>`);
  parts.push(`<text transform="translate(16 ${(MARGIN.top + plotBottom) / 2}) rotate(-90)" class="axis-label" text-anchor="middle">${escapeXml(spec.y.label)}</text>`);
  for (const m of spec.vertical ?? []) {
    const px = x.map(m.at).toFixed(1);
    // Inside the plot, beside its line; near the right edge it runs leftward so it is not cut off.
    const end = Number(px) > plotRight - 60;
    parts.push(`<line x1="${px}" x2="${px}" y1="${MARGIN.top}" y2="${plotBottom}" stroke="${m.color ?? '#9ca3af'}" stroke-dasharray="4 3"/><text x="${Number(px) + (end ? -4 : 4)}" y="${MARGIN.top + 12}" class="marker" text-anchor="${end ? 'end' : 'start'}">${escapeXml(m.label)}</text>`);
  }
  for (const m of spec.horizontal ?? []) {
    const py = y.map(m.at).toFixed(1);
    parts.push(`<line x1="${MARGIN.left}" x2="${plotRight}" y1="${py}" y2="${py}" stroke="${m.color ?? '#dc2626'}" stroke-dasharray="6 4"/><text x="${plotRight - 4}" y="${Number(py) - 4}" class="marker" text-anchor="end">${escapeXml(m.label)}</text>`);
  }
  for (const s of spec.series) {
    // A null value breaks the line: a second without answers is a gap, not a zero.
    const runs: string[][] = [[]];
    for (const [px, py] of s.points) {
      if (py === null) {
        if (runs.at(-1)!.length) runs.push([]);
        continue;
      }
      runs.at(-1)!.push(`${x.map(px).toFixed(1)},${y.map(py).toFixed(1)}`);
    }
    for (const run of runs.filter((r) => r.length)) {
      parts.push(`<polyline class="series" data-series="${escapeXml(s.name)}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''} points="${run.join(' ')}"/>`);
      if (s.dots || run.length === 1) for (const point of run) parts.push(`<circle cx="${point.split(',')[0]}" cy="${point.split(',')[1]}" r="3" fill="${s.color}"/>`);
    }
  }
  const legendY = MARGIN.top - 16;
  let legendX = plotRight;
  for (const s of [...spec.series].reverse()) {
    const w = 28 + s.name.length * 7;
    legendX -= w;
    parts.push(`<line x1="${legendX}" x2="${legendX + 18}" y1="${legendY}" y2="${legendY}" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/><text x="${legendX + 22}" y="${legendY}" class="legend" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
