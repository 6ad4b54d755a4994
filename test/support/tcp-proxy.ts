import net from 'node:net';

/**
 * A loopback TCP proxy in front of PostgreSQL or Redis, so a test can make a
 * dependency unreachable for one instance without stopping the shared server.
 */
export interface TcpProxy {
  port: number;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again on the same port. */
  restore(): Promise<void>;
  /** Holds every chunk from the target this long before passing it on (0: none): a slow dependency, not a dead one. */
  setLatency(ms: number): void;
  /**
   * A server that stalls now and then: every `everyMs` it passes nothing on from the target
   * for `forMs`, then everything it held, in order (null: stop stalling).
   */
  stallEvery(stall: { everyMs: number; forMs: number } | null): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let port = 0;
  let latencyMs = 0;
  let stalled = false;
  let held: Array<{ client: net.Socket; chunk: Buffer }> = [];
  let stallTimer: NodeJS.Timeout | null = null;
  const release = () => {
    stalled = false;
    const chunks = held;
    held = [];
    for (const { client, chunk } of chunks) if (!client.destroyed) client.write(chunk);
  };
  const createServer = () =>
    net.createServer((client) => {
      const upstream = net.connect({ host: targetHost, port: targetPort });
      sockets.add(client);
      sockets.add(upstream);
      client.pipe(upstream);
      // Timers of one delay fire in the order they were set, so chunks keep their order.
      upstream.on('data', (chunk: Buffer) => {
        if (stalled) held.push({ client, chunk });
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
  const listen = () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  await listen();
  port = (server.address() as net.AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (stallTimer) clearInterval(stallTimer);
      stallTimer = null;
      release();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return {
    port,
    cut: stop,
    async restore() {
      server = createServer();
      await listen();
    },
    close: stop,
    setLatency(ms) {
      latencyMs = ms;
    },
    stallEvery(stall) {
      if (stallTimer) clearInterval(stallTimer);
      stallTimer = null;
      release();
      if (!stall) return;
      stallTimer = setInterval(() => {
        stalled = true;
        setTimeout(release, stall.forMs);
      }, stall.everyMs);
    },
  };
}
