import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

/** `node dist/main.js` as a child process, as the Docker image and .ci/run start it. */
export interface MainProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const root = path.resolve(import.meta.dirname, '../..');

/** Starts dist/main.js (built by `npm test` before vitest runs) with only the variables given. */
export function startMain(env: Record<string, string>): Promise<MainProcess> {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => void (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => void (output += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const onData = () => {
      const match = /"msg":"castellan listening on (http:\/\/[^"]+)"/.exec(output);
      if (!match) return;
      child.stdout!.off('data', onData);
      const url = match[1]!;
      resolve({ child, url, port: Number(new URL(url).port), output: () => output, exited });
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code }) => reject(new Error(`dist/main.js exited with ${code} before listening:\n${output}`)));
  });
}

export interface Outcome {
  /** accepted: a response started; refused: none did (connection refused or closed before answering). */
  kind: 'complete' | 'broken' | 'refused';
  status?: number;
  body?: string;
  connection?: string;
  error?: string;
}

/** One request on a keep-alive agent, telling a response cut short from one never started. */
export function request(agent: http.Agent, port: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (!settled) resolve(outcome);
      settled = true;
    };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: payload ? { ...headers, 'content-type': 'application/json' } : headers });
    let accepted = false;
    req.on('response', (res) => {
      accepted = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => settle({ kind: 'broken', status: res.statusCode, error: error.message }));
      res.on('close', () => {
        if (!res.complete) settle({ kind: 'broken', status: res.statusCode, error: 'closed mid-response' });
      });
      res.on('end', () =>
        settle({ kind: 'complete', status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), connection: String(res.headers.connection) }),
      );
    });
    req.on('error', (error: NodeJS.ErrnoException) => settle(accepted ? { kind: 'broken', error: error.message } : { kind: 'refused', error: error.code ?? error.message }));
    req.end(payload);
  });
}

/** Resolves once a new connection to the port is refused: the server has stopped listening. */
export async function waitUntilRefused(port: number): Promise<void> {
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * A request sent in two halves on its own connection: the head and half the body, then
 * (when the test says) the rest. `Expect: 100-continue` tells the test the server has
 * taken the request in before the first half returns.
 */
export async function startSlowRequest(port: number, method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const payload = Buffer.from(JSON.stringify(body));
  const socket = net.connect({ host: '127.0.0.1', port });
  let received = '';
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('data', (chunk: Buffer) => void (received += chunk.toString('utf8')));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const head = [`${method} ${path} HTTP/1.1`, 'host: 127.0.0.1', 'content-type: application/json', `content-length: ${payload.length}`, 'expect: 100-continue', 'connection: keep-alive'];
  for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
  socket.write(`${head.join('\r\n')}\r\n\r\n`);
  while (!received.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) await new Promise((r) => setTimeout(r, 5));
  received = '';
  const half = Math.floor(payload.length / 2);
  socket.write(payload.subarray(0, half));
  return {
    /** Resolves when the server closes the connection; what it sent before, if anything, is `received`. */
    closed,
    received: () => received,
    /** Sends the rest of the body and reads the response up to the server closing the connection. */
    async finish(): Promise<RawResponse> {
      socket.write(payload.subarray(half));
      await closed;
      return parseResponse(received);
    },
  };
}

export function parseResponse(text: string): RawResponse {
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`not an HTTP response: ${JSON.stringify(text)}`);
  const [statusLine = '', ...headerLines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = text.slice(split + 4);
  if (Buffer.byteLength(body) !== Number(headers['content-length'])) throw new Error(`response body cut short: ${JSON.stringify(text)}`);
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

/** A keep-alive connection that has had one answered request and now sits idle. */
export async function openIdleConnection(port: number): Promise<{ closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let received = '';
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => void (received += chunk.toString('utf8')));
  socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n\r\n');
  while (!received.endsWith('{"status":"ok"}\n')) await new Promise((r) => setTimeout(r, 5));
  return { closed };
}
