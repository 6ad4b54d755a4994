/** Prometheus text exposition, read back into samples a test can look up by name and labels. */
export interface Scrape {
  /** The sample's value; undefined when the series is absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The metric's `# TYPE`, or undefined when it is not exposed. */
  type(name: string): string | undefined;
  names(): string[];
}

const seriesKey = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')}}`;

export function parsePrometheus(text: string): Scrape {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name = '', type = ''] = line.split(' ');
      types.set(name, type);
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = JSON.parse(`"${raw}"`);
    samples.set(seriesKey(match[1]!, labels), Number(match[3]));
  }
  return {
    value: (name, labels = {}) => samples.get(seriesKey(name, labels)),
    type: (name) => types.get(name),
    names: () => [...types.keys()],
  };
}

export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(`${url}/metrics`, { headers });
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parsePrometheus(await response.text());
}

/** Scrapes until `done` holds: for counters fed by another process (pub/sub, background writes). */
export async function scrapeUntil(url: string, done: (s: Scrape) => boolean, what: string, attempts = 200): Promise<Scrape> {
  for (let i = 0; i < attempts; i++) {
    const s = await scrape(url);
    if (done(s)) return s;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}
