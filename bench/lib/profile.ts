import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A time window on CLOCK_MONOTONIC in microseconds: V8 stamps samples on it, and so does process.hrtime in any process. */
export interface Window {
  startUs: number;
  endUs: number;
}

export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

export interface ProfileEntry {
  name: string;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  /** Samples taken during the load, idle ones included. */
  samples: number;
  /** Share of those samples in which the instance was idle (waiting for requests). */
  idlePercent: number;
  /** Self time by function, highest first, as a share of the busy (non-idle) samples. */
  functions: ProfileEntry[];
  /** Self time by where the code lives (a package, a node: internal area, our own files). */
  areas: ProfileEntry[];
}

/** Groups a script URL into something a reader can act on: the package, node's internal area, or the file of ours. */
function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : `(native) ${functionName}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const internal = /^node:internal\/([^/]+(?:\/[^/.]+)?)/.exec(url);
  if (internal) return `node:${internal[1]}`;
  const ours = /\/dist\/(.+)$/.exec(url);
  return ours ? `dist/${ours[1]}` : path.basename(url);
}

function top(map: Map<string, number>, total: number, count: number): ProfileEntry[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, samples]) => ({ name, percent: Math.round((samples / total) * 1000) / 10 }));
}

/** Self time per function and per area of a V8 .cpuprofile, from its samples within the window (all when none). */
export function summariseProfile(file: string, window: Window | null, count = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let at = profile.startTime;
  let samples = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window.startUs || at > window.endUs)) return;
    const node = byId.get(id);
    if (!node) return;
    samples++;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle++;
      return;
    }
    const name = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + 1);
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + 1);
  });
  const busy = Math.max(1, samples - idle);
  // Every area is kept (there are few), so a note can quote even a small one.
  return { file, samples, idlePercent: Math.round((idle / Math.max(1, samples)) * 1000) / 10, functions: top(functions, busy, count), areas: top(areas, busy, areas.size) };
}
