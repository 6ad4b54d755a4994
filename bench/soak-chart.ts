/** One 10-s window of the soak. */
export interface SoakSample {
  minute: number;
  perSecond: number;
  p99Ms: number;
  non2xx: number;
  rssMiB: number;
  heapMiB: number;
  lagP99Ms: number;
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round step for about `count` ticks up to `max`. */
function tickStep(max: number, count: number): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * power) return m * power;
  return 10 * power;
}

const format = (value: number) => (value >= 100 ? String(Math.round(value)) : String(Math.round(value * 10) / 10));

/**
 * Four panels sharing the time axis (RSS, heap used, event-loop lag p99, check p99), each
 * from zero so growth is seen at its true size; the RSS panel shades the 8 minutes the
 * growth limit is measured over.
 */
export function renderSoakSvg(samples: readonly SoakSample[], options: { title: string; growthFromMinute: number }): string {
  const width = 760;
  const panelHeight = 120;
  const top = 44;
  const gap = 34;
  const left = 64;
  const right = 20;
  const panels: Array<{ label: string; unit: string; color: string; value: (s: SoakSample) => number }> = [
    { label: 'RSS', unit: 'MiB', color: '#1f6feb', value: (s) => s.rssMiB },
    { label: 'heap used', unit: 'MiB', color: '#8250df', value: (s) => s.heapMiB },
    { label: 'event-loop lag p99', unit: 'ms', color: '#bf8700', value: (s) => s.lagP99Ms },
    { label: 'check latency p99', unit: 'ms', color: '#cf222e', value: (s) => s.p99Ms },
  ];
  const height = top + panels.length * (panelHeight + gap) + 10;
  const maxMinute = Math.max(1, ...samples.map((s) => s.minute));
  const x = (minute: number) => left + ((width - left - right) * minute) / maxMinute;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="22" font-size="13" font-weight="bold">${escape(options.title)}</text>`,
  ];
  panels.forEach((panel, index) => {
    const y0 = top + index * (panelHeight + gap);
    const values = samples.map(panel.value);
    const step = tickStep(Math.max(...values, 1e-9) * 1.1, 4);
    const yMax = Math.ceil((Math.max(...values, 1e-9) * 1.1) / step) * step;
    const y = (value: number) => y0 + panelHeight - (panelHeight * value) / yMax;
    parts.push(`<text x="${left}" y="${y0 - 6}" font-weight="bold" fill="${panel.color}">${escape(panel.label)} (${panel.unit})</text>`);
    if (index === 0) {
      const from = x(options.growthFromMinute);
      parts.push(`<rect x="${from}" y="${y0}" width="${x(maxMinute) - from}" height="${panelHeight}" fill="#1f6feb" fill-opacity="0.07"/>`);
      parts.push(`<text x="${x(maxMinute) - 4}" y="${y0 - 6}" text-anchor="end" fill="#57606a">growth measured here</text>`);
    }
    for (let tick = 0; tick <= yMax + step / 2; tick += step) {
      parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#d0d7de" stroke-width="${tick === 0 ? 1 : 0.5}"/>`);
      parts.push(`<text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end" fill="#57606a">${format(tick)}</text>`);
    }
    const minuteStep = maxMinute > 12 ? 2 : 1;
    for (let minute = 0; minute <= maxMinute + 1e-9; minute += minuteStep) {
      parts.push(`<line x1="${x(minute)}" x2="${x(minute)}" y1="${y0 + panelHeight}" y2="${y0 + panelHeight + 4}" stroke="#57606a"/>`);
      parts.push(`<text x="${x(minute)}" y="${y0 + panelHeight + 16}" text-anchor="middle" fill="#57606a">${minute}</text>`);
    }
    const points = samples.map((s) => `${x(s.minute).toFixed(1)},${y(panel.value(s)).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${panel.color}" stroke-width="1.8"/>`);
    for (const s of samples) parts.push(`<circle cx="${x(s.minute).toFixed(1)}" cy="${y(panel.value(s)).toFixed(1)}" r="2" fill="${panel.color}"/>`);
  });
  parts.push(`<text x="${width - right}" y="${height - 4}" text-anchor="end" fill="#57606a">minutes into the soak; one point per 10 s</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

/** The chart's title: the rate aimed at, and the rates the windows reached (on a shared machine, maybe less). */
export function soakTitle(samples: readonly SoakSample[], target: number, peak: number, share: number, writesPerSecond: number): string {
  const rates = samples.map((s) => Math.round(s.perSecond));
  const n = (value: number) => Math.round(value).toLocaleString('en-US');
  return `Castellan soak, one instance: ${n(target)} checks/s aimed (${Math.round(share * 100)}% of the ${n(peak)}/s peak), ${n(Math.min(...rates))}-${n(Math.max(...rates))}/s reached; ${writesPerSecond} writes/s`;
}
