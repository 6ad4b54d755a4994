import net from 'node:net';

/**
 * A loopback TCP proxy in front of PostgreSQL or Redis, so a test or the chaos harness can
 * break a dependency for one instance without touching the shared server. Faults:
 * - cut: every connection dropped, new ones refused (a dead host, a firewall reset);
 * - stall: connections accepted but nothing forwarded either way until healed (a
 *   partition: what was sent arrives when it heals, as TCP would retransmit it);
 * - latency: every chunk from the target held back (a slow dependency, not a dead one);
 * - dropping pub/sub messages: Redis `message` pushes silently discarded while the
 *   connection stays up (a lost notice, which no reconnect reveals).
 */
export interface TcpProxy {
  port: number;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again on the same port (after cut). */
  restore(): Promise<void>;
  /** Stops forwarding in both directions, holding what was sent; `unstall` (or `heal`) passes it on. */
  stall(): void;
  unstall(): void;
  /** Holds every chunk from the target this long before passing it on (0: none): a slow dependency, not a dead one. */
  setLatency(ms: number): void;
  /**
   * A server that stalls now and then: every `everyMs` it passes nothing on from the target
   * for `forMs`, then everything it held, in order (null: stop stalling).
   */
  stallEvery(stall: { everyMs: number; forMs: number } | null): void;
  /** Redis only (`resp: true`): discards pub/sub `message` pushes from the target while on. */
  dropPubSubMessages(on: boolean): void;
  /** Ends every fault: accepting, forwarding, no latency, nothing dropped. */
  heal(): Promise<void>;
  /** Pub/sub messages discarded so far. */
  readonly dropped: number;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** The target speaks RESP (Redis): frames are tracked so pub/sub messages can be dropped whole. */
  resp?: boolean;
  /** Listen on this port (0: any free one). */
  port?: number;
}

/**
 * The end of the RESP2 frame starting at `start`, or -1 while it is incomplete. Only the
 * framing is read: simple strings, errors and integers end at CRLF, bulk strings carry
 * their length, arrays their count of nested frames.
 */
export function respFrameEnd(buffer: Buffer, start: number): number {
  const lineEnd = buffer.indexOf('\r\n', start);
  if (lineEnd < 0) return -1;
  const type = buffer[start];
  if (type === 0x2b || type === 0x2d || type === 0x3a) return lineEnd + 2; // + - :
  const length = Number(buffer.toString('latin1', start + 1, lineEnd));
  if (type === 0x24) {
    // $
    if (length < 0) return lineEnd + 2;
    const end = lineEnd + 2 + length + 2;
    return end <= buffer.length ? end : -1;
  }
  if (type === 0x2a || type === 0x3e) {
    // * and RESP3's > push
    let at = lineEnd + 2;
    for (let i = 0; i < length; i++) {
      at = respFrameEnd(buffer, at);
      if (at < 0) return -1;
    }
    return at;
  }
  throw new Error(`not RESP: byte ${type} at ${start}`);
}

const MESSAGE_PUSH = Buffer.from('*3\r\n$7\r\nmessage\r\n');

export async function startTcpProxy(targetHost: string, targetPort: number, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let port = options.port ?? 0;
  let latencyMs = 0;
  let stalled = false;
  let dropping = false;
  let dropped = 0;
  let open = true;
  // stallEvery's pauses: what the target sends meanwhile is held, then written in order.
  let holding = false;
  let held: Array<{ client: net.Socket; chunk: Buffer }> = [];
  let stallTimer: NodeJS.Timeout | null = null;
  const release = () => {
    holding = false;
    const chunks = held;
    held = [];
    for (const { client, chunk } of chunks) if (!client.destroyed) client.write(chunk);
  };
  const stopStalling = () => {
    if (stallTimer) clearInterval(stallTimer);
    stallTimer = null;
    release();
  };

  /** What the target sends, in whole RESP frames, less the pushes being dropped. */
  const respFilter = () => {
    let pending: Buffer = Buffer.alloc(0);
    return (chunk: Buffer): Buffer => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const kept: Buffer[] = [];
      let at = 0;
      for (;;) {
        const end = respFrameEnd(pending, at);
        if (end < 0) break;
        const frame = pending.subarray(at, end);
        if (dropping && frame.subarray(0, MESSAGE_PUSH.length).equals(MESSAGE_PUSH)) dropped++;
        else kept.push(frame);
        at = end;
      }
      pending = pending.subarray(at);
      return Buffer.concat(kept);
    };
  };

  const createServer = () =>
    net.createServer((client) => {
      const upstream = net.connect({ host: targetHost, port: targetPort });
      sockets.add(client);
      sockets.add(upstream);
      if (stalled) {
        client.pause();
        upstream.pause();
      }
      client.on('data', (chunk: Buffer) => {
        if (!upstream.destroyed) upstream.write(chunk);
      });
      const filter = options.resp ? respFilter() : null;
      // Timers of one delay fire in the order they were set, so chunks keep their order.
      upstream.on('data', (raw: Buffer) => {
        const chunk = filter ? filter(raw) : raw;
        if (chunk.length === 0) return;
        if (holding) held.push({ client, chunk });
        else if (latencyMs === 0) client.write(chunk);
        else setTimeout(() => client.destroyed || client.write(chunk), latencyMs);
      });
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
    });
  let server = createServer();
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen();
  port = (server.address() as net.AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      open = false;
      stopStalling();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  // Two faults healed at once (one instance's cut and everyone's) restore together: one listen.
  let restoring: Promise<void> | null = null;
  const restore = () => {
    if (open) return Promise.resolve();
    restoring ??= (async () => {
      server = createServer();
      await listen();
      open = true;
    })().finally(() => (restoring = null));
    return restoring;
  };
  const unstall = () => {
    stalled = false;
    for (const socket of sockets) socket.resume();
  };
  return {
    port,
    cut: stop,
    restore,
    stall() {
      stalled = true;
      for (const socket of sockets) socket.pause();
    },
    unstall,
    stallEvery(stall) {
      stopStalling();
      if (!stall) return;
      stallTimer = setInterval(() => {
        holding = true;
        setTimeout(release, stall.forMs);
      }, stall.everyMs);
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    dropPubSubMessages(on) {
      if (on && !options.resp) throw new Error('dropping pub/sub messages needs a proxy started with resp: true');
      dropping = on;
    },
    async heal() {
      latencyMs = 0;
      dropping = false;
      stopStalling();
      unstall();
      await restore();
    },
    get dropped() {
      return dropped;
    },
    close: stop,
  };
}
