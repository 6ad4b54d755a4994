/**
 * How long a policy version notice takes from one instance to the others, and what it costs the
 * Redis Cluster bus: a single server (baseline), a Cluster with classic pub/sub (PUBLISH is
 * relayed to every node) and a Cluster with sharded pub/sub (SPUBLISH stays in the shard that
 * owns the channel), the last two on the same 3-master, 3-replica cluster on loopback.
 *
 *   npm run build && tsc -p bench/tsconfig.json && node dist/bench/redis-propagation.js [--messages 2000] [--instances 4]
 *
 * One instance publishes, the others subscribe, each with its own connections as Castellan
 * instances have; notices go one at a time (the next once every subscriber has the last), so
 * the numbers are latency, not queueing. The server and sharded modes use Castellan's own
 * connections (dist/check/redis.js); classic is ioredis's Cluster publish/subscribe.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Cluster } from 'ioredis';
import { redisCli, startRedisCluster, startRedisServer, type RedisCluster } from './lib/redis-servers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Notices {
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  onMessage(listener: (channel: string, message: string) => void): void;
  close(): void;
}
type Target = { mode: 'server'; url: string } | { mode: 'cluster'; nodes: Array<{ host: string; port: number }> };
interface RedisModule {
  connectRedis(target: Target): { notices: Notices; disconnect(): void };
}

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

function classicNotices(nodes: Array<{ host: string; port: number }>): Notices {
  const cluster = new Cluster(nodes, { enableOfflineQueue: true });
  cluster.on('error', () => {});
  return {
    publish: (channel, message) => cluster.publish(channel, message),
    subscribe: (channel) => cluster.subscribe(channel),
    onMessage: (listener) => void cluster.on('message', listener),
    close: () => cluster.disconnect(),
  };
}

interface Row {
  mode: string;
  messages: number;
  receipts: number;
  p50: number;
  p99: number;
  max: number;
  busMessagesPerNotice: number | null;
}

/** Sum over the cluster's nodes of the pub/sub messages their bus sent (classic and sharded). */
function busPublishes(cluster: RedisCluster | null): number {
  if (!cluster) return 0;
  let total = 0;
  for (const node of cluster.nodes) {
    const info = redisCli(node.port, ['cluster', 'info']);
    for (const field of ['cluster_stats_messages_publish_sent', 'cluster_stats_messages_publishshard_sent']) {
      const match = new RegExp(`${field}:(\\d+)`).exec(info);
      if (match) total += Number(match[1]);
    }
  }
  return total;
}

async function measure(mode: string, instances: Notices[], messages: number, cluster: RedisCluster | null): Promise<Row> {
  const channel = `bench:${mode}:${process.pid}:policy-versions`;
  const [publisher, ...subscribers] = instances as [Notices, ...Notices[]];
  let waiting: { id: number; left: number; sentAt: number; done: () => void } | null = null;
  const latencies: number[] = [];
  for (const subscriber of subscribers) {
    subscriber.onMessage((from, message) => {
      if (from !== channel || waiting === null) return;
      const id = Number(message.split(' ')[1]);
      if (id !== waiting.id) return;
      latencies.push(performance.now() - waiting.sentAt);
      if (--waiting.left === 0) waiting.done();
    });
  }
  await Promise.all(subscribers.map((subscriber) => subscriber.subscribe(channel)));
  const send = (id: number, timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      waiting = { id, left: subscribers.length, sentAt: performance.now(), done: () => (clearTimeout(timer), resolve(true)) };
      publisher.publish(channel, `acme ${id}`).catch(() => resolve(false));
    });
  // Until every subscriber hears a probe: subscriptions are made as the topology is learnt.
  for (let probe = -1; !(await send(probe, 500)); probe--) if (probe < -60) throw new Error(`${mode}: subscribers never heard a notice`);
  latencies.length = 0;
  const busBefore = busPublishes(cluster);
  let lost = 0;
  for (let id = 0; id < messages; id++) if (!(await send(id, 2000))) lost++;
  const busAfter = busPublishes(cluster);
  const sorted = [...latencies].sort((x, y) => x - y);
  if (lost) console.warn(`${mode}: ${lost} notices not heard by every subscriber within 2 s`);
  return {
    mode,
    messages,
    receipts: latencies.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1)!,
    busMessagesPerNotice: cluster ? (busAfter - busBefore) / messages : null,
  };
}

const messages = argument('messages', 2000);
const instanceCount = argument('instances', 4);
const redis = (await import(pathToFileURL(path.join(ROOT, 'dist/check/redis.js')).href)) as RedisModule;
const rows: Row[] = [];

const server = await startRedisServer();
try {
  const connections = Array.from({ length: instanceCount }, () => redis.connectRedis({ mode: 'server', url: `redis://127.0.0.1:${server.port}` }));
  rows.push(await measure('server (PUBLISH)', connections.map((c) => c.notices), messages, null));
  for (const c of connections) c.disconnect();
} finally {
  await server.close();
}

const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
try {
  const nodes = cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  const classic = Array.from({ length: instanceCount }, () => classicNotices(nodes));
  rows.push(await measure('cluster, classic (PUBLISH)', classic, messages, cluster));
  for (const c of classic) c.close();
  const sharded = Array.from({ length: instanceCount }, () => redis.connectRedis({ mode: 'cluster', nodes }));
  rows.push(await measure('cluster, sharded (SPUBLISH)', sharded.map((c) => c.notices), messages, cluster));
  for (const c of sharded) c.disconnect();
} finally {
  await cluster.close();
}

const version = redisCli(0, ['--version']).replace('redis-cli ', '');
console.log(`\nRedis ${version}, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`${messages} notices, one publishing instance and ${instanceCount - 1} subscribing (${messages * (instanceCount - 1)} receipts expected per mode), milliseconds from publish to receipt:\n`);
console.log('| mode | receipts | p50 | p99 | max | cluster bus messages per notice |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const row of rows) {
  console.log(`| ${row.mode} | ${row.receipts} | ${row.p50.toFixed(3)} | ${row.p99.toFixed(3)} | ${row.max.toFixed(2)} | ${row.busMessagesPerNotice === null ? '–' : row.busMessagesPerNotice.toFixed(1)} |`);
}
process.exit(0);
