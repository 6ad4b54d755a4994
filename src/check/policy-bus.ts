import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { NoticeChannel } from './redis.js';

/**
 * Carries "company C is now at policy version V" between instances. Each instance
 * keeps the newest version it has heard of per company; an L1 entry older than that
 * is stale. Pub/sub is best effort: the staleness bound on L1 entries covers a
 * dropped message, and a reconnect clears L1 because messages were surely missed.
 */
export interface PolicyBus {
  /** Called by writers after their transaction committed. Never throws. */
  announce(companyId: string, version: string): Promise<void>;
  knownVersion(companyId: string): bigint | undefined;
  onReconnect(listener: () => void): void;
  /**
   * Called when the book, full, lets go of a company's version: from then on nothing here
   * says an entry of that company is stale, so whoever caches for it must drop it.
   */
  onForget(listener: (companyId: string) => void): void;
  close(): Promise<void>;
}

const channelName = (prefix: string) => `${prefix}policy-versions`;

/** When an unpublished notice is tried again, after the first failure: about 30 s in all, the time a Sentinel failover takes on a loaded machine (the publishing connection follows the new master after the subscriber may have). */
const PUBLISH_RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000, 15000];

/** How long a start waits for the notice subscription before it goes on without it. */
const START_SUBSCRIBE_WAIT_MS = 2000;

/** How many companies' versions an instance keeps when not told: a few MiB at most. */
export const DEFAULT_MAX_COMPANIES = 100_000;

/**
 * The newest version heard of per company, bounded: any company id may be announced (by
 * any writer, or anything publishing on the channel), and one map entry per id ever heard
 * of would grow without end. The company heard of least recently goes first; its
 * listeners are told, so no cached entry outlives the knowledge that it is stale.
 */
function createVersionBook(maxCompanies: number) {
  const versions = new Map<string, bigint>();
  const forgetListeners: Array<(companyId: string) => void> = [];
  return {
    note(companyId: string, version: bigint) {
      const known = versions.get(companyId);
      if (known !== undefined && version <= known) return;
      // Re-inserted, so the order of the map is the order companies were last heard of.
      versions.delete(companyId);
      versions.set(companyId, version);
      if (versions.size <= maxCompanies) return;
      const oldest = versions.keys().next().value!;
      versions.delete(oldest);
      for (const listener of forgetListeners) listener(oldest);
    },
    get: (companyId: string) => versions.get(companyId),
    onForget: (listener: (companyId: string) => void) => void forgetListeners.push(listener),
  };
}

export function createLocalPolicyBus(options: { maxCompanies?: number } = {}): PolicyBus {
  const book = createVersionBook(options.maxCompanies ?? DEFAULT_MAX_COMPANIES);
  return {
    announce: async (companyId, version) => book.note(companyId, BigInt(version)),
    knownVersion: book.get,
    onReconnect: () => {},
    onForget: book.onForget,
    close: async () => {},
  };
}

export async function createRedisPolicyBus(options: {
  notices: NoticeChannel;
  keyPrefix: string;
  logger: Logger;
  metrics: Metrics;
  maxCompanies?: number;
}): Promise<PolicyBus> {
  const { notices, logger, metrics } = options;
  const channel = channelName(options.keyPrefix);
  const book = createVersionBook(options.maxCompanies ?? DEFAULT_MAX_COMPANIES);
  const reconnectListeners: Array<() => void> = [];

  notices.onMessage((from, message) => {
    if (from !== channel) return;
    const split = message.indexOf(' ');
    if (split <= 0) return;
    try {
      book.note(message.slice(0, split), BigInt(message.slice(split + 1)));
      metrics.invalidationsReceived.inc();
    } catch {
      logger.warn({ message }, 'ignored a malformed policy version notice');
    }
  });
  notices.onResubscribed(() => {
    logger.warn('redis subscriber reconnected: clearing the in-process ability cache');
    for (const listener of reconnectListeners) listener();
  });
  notices.onError(() => metrics.dependencyErrors.inc({ dependency: 'redis' }));
  // Redis may be away at start-up. The instance starts anyway (checks answer from PostgreSQL,
  // other instances' writes reach it through the staleness bound): a Redis outage must not
  // keep new instances from starting. A single server or Sentinel fails the SUBSCRIBE after its
  // retries and subscribes on the next connection (redis.ts); a Cluster holds it until the
  // cluster is there. Either way the subscription made late clears the in-process cache, as a
  // reconnect does, for the notices missed before it.
  let late = false;
  const subscribed = notices.subscribe(channel).then(
    () => {
      if (!late) return true;
      logger.warn('subscribed to policy version notices after start-up: clearing the in-process ability cache');
      for (const listener of reconnectListeners) listener();
      return true;
    },
    (error: unknown) => {
      logger.warn({ err: error }, 'could not subscribe to policy version notices yet');
      return false;
    },
  );
  let waited: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([subscribed, new Promise<false>((resolve) => (waited = setTimeout(() => resolve(false), START_SUBSCRIBE_WAIT_MS)))]);
  clearTimeout(waited);
  if (!inTime) late = true;

  // A notice that could not be published is tried again for a few seconds in the background:
  // in a failover the subscribers may be back (and have cleared their caches) before this
  // instance's command connection is, and the notice would otherwise be lost to them.
  const retries = new Set<NodeJS.Timeout>();
  const publishLater = (companyId: string, version: string, attempt: number) => {
    if (attempt >= PUBLISH_RETRY_DELAYS_MS.length) return;
    const timer = setTimeout(() => {
      retries.delete(timer);
      notices.publish(channel, `${companyId} ${version}`).catch(() => publishLater(companyId, version, attempt + 1));
    }, PUBLISH_RETRY_DELAYS_MS[attempt]);
    timer.unref();
    retries.add(timer);
  };

  return {
    async announce(companyId, version) {
      book.note(companyId, BigInt(version));
      try {
        await notices.publish(channel, `${companyId} ${version}`);
      } catch (error) {
        metrics.dependencyErrors.inc({ dependency: 'redis' });
        logger.warn({ err: error, companyId, version }, 'could not publish a policy version notice; trying again for a few seconds, and other instances catch up within the staleness bound');
        publishLater(companyId, version, 0);
      }
    },
    knownVersion: book.get,
    onReconnect: (listener) => reconnectListeners.push(listener),
    onForget: book.onForget,
    close: async () => {
      for (const timer of retries) clearTimeout(timer);
      notices.close();
    },
  };
}
