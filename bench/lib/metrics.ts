import type { HttpClient } from './http.js';

/** Sample values of a Prometheus text exposition, keyed by `name{labels}` as written. */
export type MetricSamples = Map<string, number>;

/** The instance's /metrics, or null when it does not serve them (the endpoint is optional to the bench). */
export async function scrape(http: HttpClient, baseUrl: string): Promise<MetricSamples | null> {
  const answer = await http.request('GET', `${baseUrl}/metrics`);
  if (answer.status !== 200) return null;
  const samples: MetricSamples = new Map();
  for (const line of answer.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const split = line.lastIndexOf(' ');
    samples.set(line.slice(0, split), Number(line.slice(split + 1)));
  }
  return samples;
}

export const metric = (samples: MetricSamples | null, key: string): number => samples?.get(key) ?? Number.NaN;
