import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
  postgres: string;
  redis: string;
  autocannon: string;
}

async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    return rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}

async function redisVersion(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } finally {
    redis.disconnect();
  }
}

async function autocannonVersion(): Promise<string> {
  const { stdout } = await promisify(execFile)('npm', ['ls', 'autocannon', '--depth=0', '--json'], { timeout: 30_000 }).catch(() => ({ stdout: '{}' }));
  const parsed = JSON.parse(stdout) as { dependencies?: { autocannon?: { version?: string } } };
  return parsed.dependencies?.autocannon?.version ?? 'unknown';
}

export async function describeMachine(pgUrl: string, redisUrl: string): Promise<MachineInfo> {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    postgres: await postgresVersion(pgUrl),
    redis: await redisVersion(redisUrl),
    autocannon: await autocannonVersion(),
  };
}

/** Deletes every Redis key of this run (L2 rules), so repeated runs do not fill Redis. */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
