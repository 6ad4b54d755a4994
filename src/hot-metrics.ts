import type { Metric, Registry } from 'prom-client';

/**
 * Counters and a histogram for the check path, read by the same registry as prom-client's.
 * prom-client hashes the label set on every inc() or observe(), even through a bound
 * child; these keep one plain series object per label set, so a bound child's update is
 * an addition (and, for the histogram, a scan of a dozen bounds). They render through
 * prom-client's own text format, as its counters and histograms do.
 */

type Labels<L extends string> = Readonly<Record<L, string>>;

interface Series<L extends string> {
  labels: Labels<L>;
  value: number;
}

/** One series per label set, created on first use by `create`. */
class SeriesTable<L extends string, S extends { labels: Labels<L> }> {
  readonly #series = new Map<string, S>();
  constructor(
    private readonly labelNames: readonly L[],
    private readonly create: (labels: Labels<L>) => S,
  ) {}

  for(labels: Labels<L>): S {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let series = this.#series.get(key);
    if (!series) {
      series = this.create({ ...labels });
      this.#series.set(key, series);
    }
    return series;
  }

  values(): IterableIterator<S> {
    return this.#series.values();
  }
}

export class HotCounter<L extends string> {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly #series: SeriesTable<L, Series<L>>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly L[],
    registry: Registry,
  ) {
    this.#series = new SeriesTable(labelNames, (labels) => ({ labels, value: 0 }));
    registry.registerMetric(this as unknown as Metric);
  }

  /** A series bound once, for the hot path. */
  labels(labels: Labels<L>): { inc(by?: number): void } {
    const series = this.#series.for(labels);
    return {
      inc: (by = 1) => {
        series.value += by;
      },
    };
  }

  inc(labels: Labels<L>, by = 1): void {
    this.#series.for(labels).value += by;
  }

  reset(): void {
    for (const series of this.#series.values()) series.value = 0;
  }

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [...this.#series.values()].map((series) => ({ labels: { ...series.labels }, value: series.value })),
    };
  }
}

interface HistogramSeries<L extends string> {
  labels: Labels<L>;
  /** Observations per bucket, not cumulative; the last slot is above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

export class HotHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series: SeriesTable<L, HistogramSeries<L>>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly L[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    this.#series = new SeriesTable(labelNames, (labels) => ({ labels, counts: new Array<number>(buckets.length + 1).fill(0), sum: 0, count: 0 }));
    registry.registerMetric(this as unknown as Metric);
  }

  /** A series bound once, for the hot path; `observe` takes seconds. */
  labels(labels: Labels<L>): { observe(value: number): void } {
    const series = this.#series.for(labels);
    const buckets = this.buckets;
    return {
      observe(value: number) {
        let i = 0;
        while (i < buckets.length && value > buckets[i]!) i++;
        series.counts[i]! += 1;
        series.sum += value;
        series.count += 1;
      },
    };
  }

  /** Makes the series exist at zero. */
  zero(labels: Labels<L>): void {
    this.#series.for(labels);
  }

  reset(): void {
    for (const series of this.#series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  async get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const series of this.#series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push({ labels: { ...series.labels, le: bound }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...series.labels, le: '+Inf' }, value: series.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
