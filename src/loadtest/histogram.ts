import hdr from 'hdr-histogram-js';
import type { LatencyMetric } from './thresholds.js';

/**
 * Latencies in an HDR histogram of microseconds with three significant digits: a 0.31 ms
 * answer is kept as 310 µs, a 2.5 s stall as 2,500 ms ± 1 ms, in a few tens of KiB
 * whatever the count (whole-millisecond buckets would put every warm check in one bucket).
 */
export type LatencyHistogram = ReturnType<typeof hdr.build>;

export function createHistogram(): LatencyHistogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true, bitBucketSize: 32 });
}

/** Records a latency given in milliseconds (fractional). */
export function recordMs(histogram: LatencyHistogram, ms: number): void {
  histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
}

export type LatencySummary = Record<LatencyMetric, number>;

const EMPTY: LatencySummary = { p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, 'p99.9': Number.NaN, max: Number.NaN, mean: Number.NaN };

/** The percentiles every output shows, in milliseconds (NaN when nothing was recorded). */
export function summarise(histogram: LatencyHistogram): LatencySummary {
  if (histogram.totalCount === 0) return { ...EMPTY };
  // A percentile is reported as the top of its bucket, which may lie above the largest value recorded.
  const max = histogram.maxValue / 1000;
  const at = (p: number) => Math.min(max, histogram.getValueAtPercentile(p) / 1000);
  return { p50: at(50), p90: at(90), p99: at(99), 'p99.9': at(99.9), max, mean: histogram.mean / 1000 };
}

/** Percentile spectrum for the report's distribution chart: [percentile, ms] from 0 up to the maximum. */
export function spectrum(histogram: LatencyHistogram): Array<[number, number]> {
  if (histogram.totalCount === 0) return [];
  const points: Array<[number, number]> = [];
  // Evenly spaced on the chart's axis, 1/(1-p): as many points between 99% and 99.9% as between 0 and 90%.
  for (let nines = 0; nines <= 5; nines += 0.05) {
    const p = 100 * (1 - 10 ** -nines);
    points.push([p, Math.min(histogram.maxValue, histogram.getValueAtPercentile(p)) / 1000]);
    if (histogram.totalCount * 10 ** -nines < 1) break;
  }
  points.push([100, histogram.maxValue / 1000]);
  return points;
}
