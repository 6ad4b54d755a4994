import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Real Redis topologies for the Cluster and Sentinel tests and the propagation measurement:
 * redis-server processes on free loopback ports, each in a temporary directory, stopped (and
 * the directories removed) by `close()`, or at the latest when the process exits.
 */

function binary(name: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : null;
}

export const REDIS_SERVER = binary('redis-server');
export const REDIS_CLI = binary('redis-cli');
export const redisBinariesPresent = Boolean(REDIS_SERVER && REDIS_CLI);

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port that is free, and whose cluster bus port (port + 10000) is free too, both below the
 * kernel's ephemeral range (32768 and up on Linux): a port picked there could be free when
 * asked and taken a moment later as the local end of any outgoing connection of the tests
 * running beside (seen in CI: the redis-server then failed with "Address already in use").
 */
async function freeRedisPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 12000 + Math.floor(Math.random() * 10000);
    if (taken.has(port) || taken.has(port + 10000)) continue;
    if ((await portFree(port)) && (await portFree(port + 10000))) {
      taken.add(port);
      taken.add(port + 10000);
      return port;
    }
  }
  throw new Error('no free port pair for a Redis node');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs redis-cli against one port; answers its output (trimmed), or throws with what it said. */
export function redisCli(port: number, args: string[], password?: string): string {
  const auth = password ? ['--no-auth-warning', '-a', password] : [];
  const result = spawnSync(REDIS_CLI!, ['-h', '127.0.0.1', '-p', String(port), ...auth, ...args], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) throw new Error(`redis-cli -p ${port} ${args.join(' ')}: ${result.stderr || result.stdout}`);
  return result.stdout.trim();
}

async function waitUntil(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    let ok = false;
    try {
      ok = probe();
    } catch {
      ok = false;
    }
    if (ok) return;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export interface RedisNode {
  readonly port: number;
  readonly dir: string;
  /** SIGKILL: the node dies as a crashed host would, without telling anyone. */
  kill(): Promise<void>;
  /** Starts the node again with its own configuration and directory (a cluster node keeps its identity). */
  start(): Promise<void>;
  /** SIGSTOP: the node hangs as a stalled host would; the kernel still accepts connections for it, and nothing answers. */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  readonly alive: boolean;
  readonly paused: boolean;
}

function redisNode(port: number, dir: string, args: string[], label: string, password?: string): RedisNode {
  let child: ChildProcess | null = null;
  let output = '';
  let paused = false;
  const node: RedisNode = {
    port,
    dir,
    get alive() {
      return child !== null;
    },
    get paused() {
      return paused;
    },
    pause() {
      child?.kill('SIGSTOP');
      paused = child !== null;
    },
    resume() {
      child?.kill('SIGCONT');
      paused = false;
    },
    async start() {
      output = '';
      const started = spawn(REDIS_SERVER!, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      started.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
      started.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
      running.add(started);
      started.once('exit', () => {
        running.delete(started);
        if (child === started) child = null;
      });
      child = started;
      try {
        await waitUntil(`${label} on port ${port}`, () => redisCli(port, ['ping'], password) === 'PONG', 10_000);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${output}`);
      }
    },
    async kill() {
      const victim = child;
      if (!victim) return;
      paused = false;
      const exited = new Promise((resolve) => victim.once('exit', resolve));
      victim.kill('SIGKILL');
      await exited;
    },
  };
  return node;
}

const commonArgs = (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];

/** One plain redis-server: the baseline beside a Cluster. */
export async function startRedisServer(): Promise<RedisNode & { close(): Promise<void> }> {
  const port = await freeRedisPort(new Set());
  const dir = mkdtempSync(path.join(tmpdir(), 'castellan-redis-server-'));
  const node = redisNode(port, dir, [...commonArgs(port), '--dir', dir], 'redis');
  await node.start();
  return Object.assign(node, {
    async close() {
      await node.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

export interface RedisCluster {
  readonly nodes: RedisNode[];
  /** REDIS_CLUSTER_NODES for Castellan: every master and replica. */
  readonly seeds: string;
  /** The node serving `slot` as master now, asked of a live node. */
  masterOfSlot(slot: number): RedisNode;
  masters(): RedisNode[];
  /** Waits until every live node reports cluster_state:ok and each slot has a live master. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A Redis Cluster on loopback: `masters` masters, each with `replicasPerMaster` replicas, created with redis-cli --cluster create. */
export async function startRedisCluster(options: { masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number } = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const taken = new Set<number>();
  const nodes: RedisNode[] = [];
  const root = mkdtempSync(path.join(tmpdir(), 'castellan-redis-cluster-'));
  /** CLUSTER NODES of a live node: `id host:port@bus flags master ping pong epoch link slot...`. */
  const liveMasters = () => {
    const live = nodes.find((node) => node.alive)!;
    return redisCli(live.port, ['cluster', 'nodes'])
      .split('\n')
      .map((line) => line.split(' '))
      .filter((fields) => fields[2]!.split(',').includes('master') && !fields[2]!.includes('fail'))
      .map((fields) => ({
        port: Number(/:(\d+)@/.exec(fields[1]!)![1]),
        slots: fields.slice(8).filter((range) => !range.startsWith('[')).map((range) => {
          const [from, to] = range.split('-').map(Number);
          return [from!, to ?? from!] as const;
        }),
      }));
  };
  const cluster: RedisCluster = {
    nodes,
    seeds: '',
    masterOfSlot(slot) {
      const owner = liveMasters().find((entry) => entry.slots.some(([from, to]) => slot >= from && slot <= to));
      if (!owner) throw new Error(`no live master serves slot ${slot}`);
      return nodes.find((node) => node.port === owner.port)!;
    },
    masters() {
      const ports = liveMasters().map((entry) => entry.port);
      return nodes.filter((node) => ports.includes(node.port));
    },
    async waitHealthy(timeoutMs = 30_000) {
      await waitUntil(
        'the cluster to be healthy',
        () =>
          nodes
            .filter((node) => node.alive)
            .every((node) => redisCli(node.port, ['cluster', 'info']).includes('cluster_state:ok')),
        timeoutMs,
      );
    },
    async close() {
      for (const node of nodes) await node.kill();
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const port = await freeRedisPort(taken);
      const dir = path.join(root, String(port));
      mkdirSync(dir);
      const args = [
        ...commonArgs(port),
        '--dir', dir,
        '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1000),
        // A replica whose master died takes over however long the link was down: a test kills masters.
        '--cluster-replica-validity-factor', '0',
      ];
      const node = redisNode(port, dir, args, 'cluster node');
      nodes.push(node);
      await node.start();
    }
    redisCli(nodes[0]!.port, ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
    await cluster.waitHealthy();
    // Every node must know every other before clients start asking for the topology.
    await waitUntil('every node to see the whole cluster', () => nodes.every((node) => redisCli(node.port, ['cluster', 'nodes']).split('\n').length === nodes.length), 10_000);
    (cluster as { seeds: string }).seeds = nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
    return cluster;
  } catch (error) {
    await cluster.close();
    throw error;
  }
}

export interface RedisSentinelSetup {
  readonly master: RedisNode;
  readonly replica: RedisNode;
  readonly sentinels: RedisNode[];
  /** REDIS_SENTINELS for Castellan. */
  readonly addresses: string;
  readonly name: string;
  /** The port of the master the Sentinels name now. */
  currentMasterPort(): number;
  close(): Promise<void>;
}

/** One master, one replica and three Sentinels (quorum 2) watching them, with a password on the data nodes when given. */
export async function startRedisSentinel(options: { password?: string; downAfterMs?: number } = {}): Promise<RedisSentinelSetup> {
  const taken = new Set<number>();
  const root = mkdtempSync(path.join(tmpdir(), 'castellan-redis-sentinel-'));
  const name = 'castellan';
  const started: RedisNode[] = [];
  const auth = options.password ? ['--requirepass', options.password, '--masterauth', options.password] : [];
  const dataNode = async (replicaOf?: number) => {
    const port = await freeRedisPort(taken);
    const dir = path.join(root, String(port));
    mkdirSync(dir);
    const node = redisNode(port, dir, [...commonArgs(port), '--dir', dir, ...auth, ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : [])], 'redis', options.password);
    started.push(node);
    await node.start();
    return node;
  };
  const close = async () => {
    for (const node of started) await node.kill();
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const master = await dataNode();
    const replica = await dataNode(master.port);
    await waitUntil('the replica to sync', () => redisCli(replica.port, ['info', 'replication'], options.password).includes('master_link_status:up'), 15_000);
    const sentinels: RedisNode[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freeRedisPort(taken);
      const dir = path.join(root, String(port));
      mkdirSync(dir);
      const conf = path.join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          ...(options.password ? [`sentinel auth-pass ${name} ${options.password}`] : []),
          '',
        ].join('\n'),
      );
      const node = redisNode(port, dir, [conf, '--sentinel', '--loglevel', 'warning'], 'sentinel');
      started.push(node);
      await node.start();
      sentinels.push(node);
    }
    const setup: RedisSentinelSetup = {
      master,
      replica,
      sentinels,
      name,
      addresses: sentinels.map((node) => `127.0.0.1:${node.port}`).join(','),
      currentMasterPort() {
        const live = sentinels.find((node) => node.alive && !node.paused)!;
        return Number(redisCli(live.port, ['sentinel', 'get-master-addr-by-name', name]).split('\n')[1]);
      },
      close,
    };
    // Every Sentinel must have found the replica and the other Sentinels before a failover can be agreed on.
    await waitUntil(
      'the Sentinels to know the replica and each other',
      () =>
        sentinels.every((node) => {
          const info = redisCli(node.port, ['sentinel', 'master', name]).split('\n');
          const field = (key: string) => Number(info[info.indexOf(key) + 1]);
          return field('num-slaves') === 1 && field('num-other-sentinels') === 2;
        }),
      20_000,
    );
    return setup;
  } catch (error) {
    await close();
    throw error;
  }
}
