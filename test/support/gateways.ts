import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Real gateways for the forward-auth tests: Debian's nginx-light (auth_request) and caddy,
 * started on loopback with the configuration templates of docs/gateways/. Skipped when a
 * binary is absent, failed instead under REQUIRE_SERVICES=1 (as services.ts does for
 * PostgreSQL and Redis); `.ci/run` installs both.
 */
const REQUIRED = process.env.REQUIRE_SERVICES === '1';
export const TEMPLATES = path.resolve(import.meta.dirname, '../../docs/gateways');

function findBinary(name: string, candidates: string[]): string | null {
  for (const candidate of candidates) if (existsSync(candidate)) return candidate;
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : null;
}

export const NGINX = findBinary('nginx', ['/usr/sbin/nginx']);
export const CADDY = findBinary('caddy', ['/usr/bin/caddy']);
if (REQUIRED && !(NGINX && CADDY)) {
  throw new Error(`REQUIRE_SERVICES=1 but ${[!NGINX && 'nginx (Debian package nginx-light)', !CADDY && 'caddy (Debian package caddy)'].filter(Boolean).join(' and ')} is not installed`);
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Fills the {{NAME}} placeholders of a template; a placeholder left over is a test bug. */
export function fillTemplate(file: string, values: Record<string, string>): string {
  const text = readFileSync(path.join(TEMPLATES, file), 'utf8').replace(/\{\{([A-Z_]+)\}\}/g, (whole, name: string) => values[name] ?? whole);
  const left = /\{\{[A-Z_]+\}\}/.exec(text);
  if (left) throw new Error(`${file}: no value for ${left[0]}`);
  return text;
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** The service behind the gateway: answers 200 "upstream" and remembers what reached it. */
export async function startUpstream(): Promise<{ address: string; seen: SeenRequest[]; close(): Promise<void> }> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('upstream');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Gateway {
  url: string;
  /** What the gateway wrote, for a failing test's message. */
  log(): string;
  stop(): Promise<void>;
}

async function waitForPort(port: number, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}:\n${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`the gateway did not listen on ${port} within ${timeoutMs} ms:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function startProcess(binary: string, args: string[], env: NodeJS.ProcessEnv, port: number, dir: string): Promise<Gateway> {
  let output = '';
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  // Generous: other test files share the two cores.
  await waitForPort(port, child, () => output, 30_000);
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface GatewayValues {
  castellan: string;
  upstream: string;
  checkToken: string;
}

/** nginx with docs/gateways/nginx.conf inside a minimal main configuration of its own temp directory. */
export async function startNginx(values: GatewayValues): Promise<Gateway> {
  const dir = mkdtempSync(path.join(tmpdir(), 'castellan-nginx-'));
  // Workers may run as another user (nobody, when started as root): they need to reach the temp paths.
  chmodSync(dir, 0o755);
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(path.join(dir, sub));
    chmodSync(path.join(dir, sub), 0o777);
  }
  const port = await freePort();
  const site = fillTemplate('nginx.conf', { LISTEN: `127.0.0.1:${port}`, CASTELLAN: values.castellan, UPSTREAM: values.upstream, CHECK_TOKEN: values.checkToken });
  const main = `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
${site}
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), main);
  return startProcess(NGINX!, ['-e', 'stderr', '-p', dir, '-c', path.join(dir, 'nginx.conf')], process.env, port, dir);
}

/** Caddy with docs/gateways/Caddyfile, its admin API off and its state in its own temp directory. */
export async function startCaddy(values: GatewayValues): Promise<Gateway> {
  const dir = mkdtempSync(path.join(tmpdir(), 'castellan-caddy-'));
  const port = await freePort();
  const site = fillTemplate('Caddyfile', { LISTEN: `http://127.0.0.1:${port}`, CASTELLAN: values.castellan, UPSTREAM: values.upstream, CHECK_TOKEN: values.checkToken });
  writeFileSync(path.join(dir, 'Caddyfile'), `{\n\tadmin off\n\tauto_https off\n}\n\n${site}`);
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: path.join(dir, 'data'), XDG_CONFIG_HOME: path.join(dir, 'config') };
  return startProcess(CADDY!, ['run', '--config', path.join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], env, port, dir);
}
