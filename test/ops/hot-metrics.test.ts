import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter, HotHistogram } from '../../src/hot-metrics.js';
import { parsePrometheus } from './prometheus.js';

const buckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** The hot-path metrics render exactly what prom-client's own would for the same updates. */
describe('hot-path metrics', () => {
  it('a histogram agrees with prom-client on every bucket, sum and count', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('check', 'batch'), fc.oneof(fc.constantFrom(...buckets), fc.double({ min: 0, max: 3, noNaN: true }))), { maxLength: 200 }),
        async (observations) => {
          const ours = new Registry();
          const theirs = new Registry();
          const hot = new HotHistogram('h_seconds', 'h', ['endpoint'], buckets, ours);
          const reference = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['endpoint'], buckets, registers: [theirs] });
          for (const endpoint of ['check', 'batch']) {
            hot.zero({ endpoint });
            reference.zero({ endpoint });
          }
          const bound = { check: hot.labels({ endpoint: 'check' }), batch: hot.labels({ endpoint: 'batch' }) };
          for (const [endpoint, value] of observations) {
            bound[endpoint as 'check' | 'batch'].observe(value);
            reference.observe({ endpoint }, value);
          }
          const a = parsePrometheus(await ours.metrics());
          const b = parsePrometheus(await theirs.metrics());
          expect(a.type('h_seconds')).toBe('histogram');
          for (const endpoint of ['check', 'batch']) {
            for (const le of [...buckets.map(String), '+Inf']) {
              expect(a.value('h_seconds_bucket', { endpoint, le }), `${endpoint} ${le}`).toBe(b.value('h_seconds_bucket', { endpoint, le }));
            }
            expect(a.value('h_seconds_count', { endpoint })).toBe(b.value('h_seconds_count', { endpoint }));
            expect(a.value('h_seconds_sum', { endpoint })).toBeCloseTo(b.value('h_seconds_sum', { endpoint })!, 9);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a counter agrees with prom-client, bound or not', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const hot = new HotCounter('c_total', 'c', ['tier', 'result'], ours);
    const reference = new Counter({ name: 'c_total', help: 'c', labelNames: ['tier', 'result'], registers: [theirs] });
    const hit = hot.labels({ tier: 'l1', result: 'hit' });
    for (let i = 0; i < 5; i++) hit.inc();
    reference.inc({ tier: 'l1', result: 'hit' }, 5);
    hot.inc({ tier: 'l2', result: 'miss' }, 3);
    reference.inc({ tier: 'l2', result: 'miss' }, 3);
    hot.inc({ tier: 'l1', result: 'miss' }, 0);
    reference.inc({ tier: 'l1', result: 'miss' }, 0);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
