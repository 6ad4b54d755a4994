import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export interface HostPort {
  host: string;
  port: number;
}

/** Where Redis is: one server, a Cluster (its seed nodes), or the master that Sentinels watch. */
export type RedisTarget =
  | { mode: 'server'; url: string }
  | { mode: 'cluster'; nodes: HostPort[]; username?: string | undefined; password?: string | undefined }
  | { mode: 'sentinel'; sentinels: HostPort[]; name: string; username?: string | undefined; password?: string | undefined; sentinelPassword?: string | undefined };

export type RedisMode = RedisTarget['mode'];

/** What the rules cache and the readiness probe ask of Redis; a single server and a Cluster both answer it. */
export type RedisCommands = Pick<Redis, 'get' | 'set' | 'ping'>;

/**
 * Invalidation notices: one channel, published to and subscribed to. A single server and
 * Sentinel use classic pub/sub; a Cluster uses sharded pub/sub (SPUBLISH/SSUBSCRIBE), so a
 * notice travels within the one shard that owns the channel instead of over the whole
 * cluster bus, and ioredis tells when it has subscribed again after a failover.
 */
export interface NoticeChannel {
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  onMessage(listener: (channel: string, message: string) => void): void;
  /** Each time the subscription is made again after it was lost: notices published in between were missed. */
  onResubscribed(listener: () => void): void;
  onError(listener: () => void): void;
  close(): void;
}

export interface RedisConnections {
  readonly mode: RedisMode;
  readonly commands: RedisCommands;
  readonly notices: NoticeChannel;
  /** Ends both connections at once (pending commands fail). */
  disconnect(): void;
}

type Role = 'commands' | 'subscriber';

/**
 * Commands fail at once while Redis is away (no offline queue, short timeout), so the hot path
 * falls back to PostgreSQL instead of waiting on a queue that may never drain; the subscriber
 * queues its SUBSCRIBE until it is connected.
 */
function commonOptions(role: Role): RedisOptions {
  return {
    enableOfflineQueue: role === 'subscriber',
    maxRetriesPerRequest: 1,
    commandTimeout: role === 'commands' ? 500 : undefined,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    connectionName: `castellan-${role}`,
  };
}

function connectServer(url: string, role: Role): Redis {
  return new Redis(url, { lazyConnect: false, ...commonOptions(role) });
}

/** How long a Sentinel has to say where the master is before the next one is asked. */
const SENTINEL_COMMAND_TIMEOUT_MS = 2000;

export interface RedisTuning {
  /** Tests stretch it to hold a question to a stalled Sentinel across a failover. */
  sentinelCommandTimeoutMs?: number;
}

function connectSentinel(target: Extract<RedisTarget, { mode: 'sentinel' }>, role: Role, tuning: RedisTuning): Redis {
  return new Redis({
    ...commonOptions(role),
    sentinels: target.sentinels,
    name: target.name,
    role: 'master',
    username: target.username,
    password: target.password,
    sentinelPassword: target.sentinelPassword,
    // A Sentinel that accepts the connection and never answers (a stalled host) would otherwise
    // hold the reconnect for good: ioredis asks the next one only after an answer or an error.
    sentinelCommandTimeout: tuning.sentinelCommandTimeoutMs ?? SENTINEL_COMMAND_TIMEOUT_MS,
    // Listens to the Sentinels' +switch-master, so a failover is followed at once rather than
    // when the old master's connection finally errors.
    failoverDetector: true,
  });
}

function connectCluster(target: Extract<RedisTarget, { mode: 'cluster' }>, role: Role): Cluster {
  const { enableOfflineQueue, retryStrategy: _perServer, ...nodeOptions } = commonOptions(role);
  const options: ClusterOptions = {
    enableOfflineQueue,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    // A command to a master that just died is retried on the new topology a few times, not 16:
    // the check path answers from PostgreSQL rather than wait for a failover.
    maxRedirections: 4,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    shardedSubscribers: role === 'subscriber',
    redisOptions: { ...nodeOptions, username: target.username, password: target.password },
  };
  return new Cluster(target.nodes, options);
}

/** How long a connection that ioredis gave up on waits before it is connected again. */
const ENDED_RECONNECT_DELAY_MS = 500;

const closedOnPurpose = new WeakSet<Redis>();

function closeOnPurpose(client: Redis): void {
  closedOnPurpose.add(client);
  client.disconnect();
}

/**
 * ioredis gives a connection up for good ('end') when its connector is closed while it is
 * connecting. In Sentinel mode the failover detector does just that when the new master is
 * announced while the connection is still asking a Sentinel where the master is, and the
 * instance then ran without its cache, or without notices, until it was restarted. Such a
 * connection is connected again here (a subscriber subscribes again, as on any reconnect);
 * only `closeOnPurpose` ends one.
 */
function reconnectWhenEnded(client: Redis): Redis {
  client.on('end', () => {
    if (closedOnPurpose.has(client)) return;
    setTimeout(() => {
      if (!closedOnPurpose.has(client) && client.status === 'end') client.connect().catch(() => {});
    }, ENDED_RECONNECT_DELAY_MS).unref();
  });
  return client;
}

/** A connection's 'error' event without a listener would end the process; the fallbacks, readiness and metrics report it instead. */
function quiet<T extends Redis | Cluster>(client: T): T {
  client.on('error', () => {});
  return client;
}

/**
 * ioredis subscribes again after a reconnect only to the channels whose SUBSCRIBE it saw go
 * through. One that failed (Redis away at start-up: the queued command is dropped after its
 * retries; or the link lost before Redis answered) was never made again, and the instance ran
 * without notices for good, its readiness green. So each 'ready' asks again: SUBSCRIBE to a
 * channel already subscribed changes nothing.
 */
function classicNotices(subscriber: Redis, publisher: Redis): NoticeChannel {
  const channels = new Set<string>();
  let subscribeFailed = false;
  const subscribe = (channel: string) =>
    subscriber.subscribe(channel).catch((error: unknown) => {
      subscribeFailed = true;
      throw error;
    });
  subscriber.on('ready', () => {
    for (const channel of channels) subscribe(channel).catch(() => {});
  });
  return {
    publish: (channel, message) => publisher.publish(channel, message),
    subscribe(channel) {
      channels.add(channel);
      return subscribe(channel);
    },
    onMessage: (listener) => void subscriber.on('message', listener),
    onResubscribed(listener) {
      // Every 'ready' after the first is a reconnect, and so is the first when a subscription
      // failed before it: notices published meanwhile were missed either way.
      let connectedOnce = false;
      subscriber.on('ready', () => {
        if (connectedOnce || subscribeFailed) listener();
        connectedOnce = true;
      });
    },
    onError: (listener) => void subscriber.on('error', listener),
    close: () => closeOnPurpose(subscriber),
  };
}

function shardedNotices(subscriber: Cluster, publisher: Cluster): NoticeChannel {
  return {
    publish: (channel, message) => publisher.spublish(channel, message),
    subscribe: (channel) => subscriber.ssubscribe(channel),
    onMessage: (listener) => void subscriber.on('smessage', listener),
    onResubscribed(listener) {
      // The subscriber group is rebuilt (and subscribes again) when the topology changes or a
      // shard's subscriber connection is lost; 'subscribersReady' follows each rebuild. Any
      // rebuild after the first may have been preceded by a gap, so it counts as a reconnect.
      let readyOnce = false;
      subscriber.on('subscribersReady', () => {
        if (readyOnce) listener();
        readyOnce = true;
      });
    },
    onError: (listener) => {
      subscriber.on('error', listener);
      subscriber.on('nodeError', listener);
    },
    close: () => subscriber.disconnect(),
  };
}

/** Opens the command connection and the subscriber connection of one instance. */
export function connectRedis(target: RedisTarget, tuning: RedisTuning = {}): RedisConnections {
  if (target.mode === 'cluster') {
    const commands = quiet(connectCluster(target, 'commands'));
    const subscriber = quiet(connectCluster(target, 'subscriber'));
    return {
      mode: 'cluster',
      commands,
      notices: shardedNotices(subscriber, commands),
      disconnect() {
        commands.disconnect();
        subscriber.disconnect();
      },
    };
  }
  const connect = (role: Role) => reconnectWhenEnded(quiet(target.mode === 'server' ? connectServer(target.url, role) : connectSentinel(target, role, tuning)));
  const commands = connect('commands');
  const subscriber = connect('subscriber');
  return {
    mode: target.mode,
    commands,
    notices: classicNotices(subscriber, commands),
    disconnect() {
      closeOnPurpose(commands);
      closeOnPurpose(subscriber);
    },
  };
}
