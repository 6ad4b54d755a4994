import type { Rng } from '../lib/rng.js';
import type { Cluster } from './cluster.js';

export const FAULTS = ['none', 'redis-kill', 'redis-stop', 'pg-cut-one', 'pg-stall-one', 'pg-cut-all', 'pg-slow', 'pubsub-drop-one', 'instance-kill'] as const;
export type FaultName = (typeof FAULTS)[number];

export const FAULT_DESCRIPTIONS: Record<FaultName, string> = {
  none: 'no fault (baseline)',
  'redis-kill': 'Redis killed (SIGKILL), restarted empty at heal',
  'redis-stop': 'Redis paused (SIGSTOP): connections hang; SIGCONT at heal',
  'pg-cut-one': "one instance's PostgreSQL proxy drops every connection and refuses new ones",
  'pg-stall-one': "one instance's PostgreSQL proxy forwards nothing either way (a partition); held bytes pass at heal",
  'pg-cut-all': "every instance's PostgreSQL proxy cut (PostgreSQL down)",
  'pg-slow': 'every answer from PostgreSQL delayed 250 ms',
  'pubsub-drop-one': "one instance's Redis proxy drops every pub/sub message (the connection stays up)",
  'instance-kill': 'one instance killed (SIGKILL), started again at heal',
};

export const PG_SLOW_MS = 250;

export interface ActiveFault {
  /** The fault and the instance it hit, for the table: `pg-cut-one(#2)`. */
  label: string;
  /** Instances that cannot reach PostgreSQL while it lasts (their answers may be degraded). */
  pgAway: number[];
  heal(): Promise<void>;
}

/** `target`: the instance a fault of one instance hits (a step's faults may all hit the same one, the new-enemy case). */
export async function applyFault(name: FaultName, cluster: Cluster, rng: Rng, target?: number): Promise<ActiveFault> {
  const { instances, redis } = cluster;
  const one = target === undefined ? rng.pick(instances) : instances[target]!;
  const label = (suffix = '') => `${name}${suffix}`;
  switch (name) {
    case 'none':
      return { label: label(), pgAway: [], heal: async () => {} };
    case 'redis-kill':
      redis.kill();
      return { label: label(), pgAway: [], heal: () => redis.restart() };
    case 'redis-stop':
      redis.pause();
      return { label: label(), pgAway: [], heal: async () => redis.resume() };
    case 'pg-cut-one':
      await one.pg.cut();
      return { label: label(`(#${one.index})`), pgAway: [one.index], heal: () => one.pg.restore() };
    case 'pg-stall-one':
      one.pg.stall();
      return { label: label(`(#${one.index})`), pgAway: [one.index], heal: async () => one.pg.unstall() };
    case 'pg-cut-all':
      await Promise.all(instances.map((i) => i.pg.cut()));
      return { label: label(), pgAway: instances.map((i) => i.index), heal: async () => void (await Promise.all(instances.map((i) => i.pg.restore()))) };
    case 'pg-slow':
      for (const instance of instances) instance.pg.setLatency(PG_SLOW_MS);
      return { label: label(), pgAway: [], heal: async () => instances.forEach((i) => i.pg.setLatency(0)) };
    case 'pubsub-drop-one':
      one.redis.dropPubSubMessages(true);
      return { label: label(`(#${one.index})`), pgAway: [], heal: async () => one.redis.dropPubSubMessages(false) };
    case 'instance-kill':
      one.kill();
      return { label: label(`(#${one.index})`), pgAway: [], heal: () => one.start() };
  }
}

/** Faults that make sense together: one Redis fault at most (kill and pause act on the same process). */
export function randomCombination(rng: Rng, size: number): FaultName[] {
  const candidates = FAULTS.filter((f) => f !== 'none');
  const picked: FaultName[] = [];
  while (picked.length < size) {
    const fault = rng.pick(candidates);
    if (picked.includes(fault)) continue;
    if (fault.startsWith('redis-') && picked.some((p) => p.startsWith('redis-'))) continue;
    picked.push(fault);
  }
  return picked;
}
