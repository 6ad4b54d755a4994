import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedDelivery {
  headers: http.IncomingHttpHeaders;
  /** The raw body, as the signature covers it. */
  raw: string;
  body: any;
  /** What the receiver answered. */
  status: number;
}

/** How the receiver answers a delivery: a status, after an optional delay. */
export type Answer = (delivery: Omit<ReceivedDelivery, 'status'>) => { status: number; delayMs?: number };

/**
 * A real HTTP webhook receiver on loopback, for the delivery tests: it records every request and
 * answers as told (200 by default). It can stop (connections refused, as a receiver that is down)
 * and start again on the same port.
 */
export interface WebhookReceiver {
  url: string;
  /** Every request, in arrival order, whatever was answered. */
  requests: ReceivedDelivery[];
  /** The bodies answered with a 2xx: what the receiver took. */
  accepted(): any[];
  answer: Answer;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startReceiver(path = '/hooks/castellan'): Promise<WebhookReceiver> {
  const requests: ReceivedDelivery[] = [];
  let port = 0;
  let server: http.Server | null = null;
  const receiver: WebhookReceiver = {
    url: '',
    requests,
    accepted: () => requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.body),
    answer: () => ({ status: 200 }),
    async start() {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          let body: unknown = null;
          try {
            body = JSON.parse(raw);
          } catch {
            // recorded as null
          }
          const delivery = { headers: req.headers, raw, body };
          const { status, delayMs } = req.url === path ? receiver.answer(delivery) : { status: 404 };
          const reply = () => {
            requests.push({ ...delivery, status });
            res.writeHead(status, { 'content-type': 'text/plain' });
            res.end('ok');
          };
          if (delayMs) setTimeout(reply, delayMs);
          else reply();
        });
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => resolve());
      });
      port = (server.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${port}${path}`;
    },
    async stop() {
      const closing = server;
      server = null;
      if (!closing) return;
      closing.closeAllConnections();
      await new Promise((resolve) => closing.close(resolve));
    },
  };
  await receiver.start();
  return receiver;
}
