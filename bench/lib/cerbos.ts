import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './castellan.js';
import { freePort, startProcess, type Proc } from './processes.js';

const run = promisify(execFile);
export const CERBOS_PACKAGE = '@cerbos/cerbos-linux-x64@0.55.0';
const PEERS_DIR = path.join(ROOT, 'bench/.peers');
const BINARY = path.join(PEERS_DIR, 'node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64');
const CONFIG = path.join(ROOT, 'bench/cerbos/config.yaml');
const POLICIES = path.join(ROOT, 'bench/cerbos/policies');

export type CerbosInstall = { ok: true; binary: string; version: string } | { ok: false; reason: string };

/**
 * Installs the Cerbos binary package into the ignored bench/.peers on first use: it is
 * not a project dependency, so `npm ci` stays lean. Never throws: a machine that cannot
 * install it still runs every other scenario.
 */
export async function ensureCerbos(): Promise<CerbosInstall> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { ok: false, reason: `${CERBOS_PACKAGE} is a linux-x64 binary; this machine is ${process.platform}-${process.arch}` };
  }
  if (!existsSync(BINARY)) {
    try {
      await run('npm', ['install', '--prefix', PEERS_DIR, '--no-save', '--no-audit', '--no-fund', CERBOS_PACKAGE], { cwd: ROOT, timeout: 300_000 });
    } catch (error) {
      const detail = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-3).join(' ') || (error as Error).message;
      return { ok: false, reason: `npm install ${CERBOS_PACKAGE} failed: ${detail}` };
    }
    if (!existsSync(BINARY)) return { ok: false, reason: `npm install ${CERBOS_PACKAGE} finished but ${path.relative(ROOT, BINARY)} is missing` };
  }
  try {
    const { stdout, stderr } = await run(BINARY, ['--version'], { timeout: 30_000 });
    return { ok: true, binary: BINARY, version: (stdout || stderr).trim().split('\n')[0] ?? 'unknown' };
  } catch (error) {
    return { ok: false, reason: `the Cerbos binary does not run here: ${(error as Error).message}` };
  }
}

/** Starts the Cerbos PDP on loopback ports with the policies of bench/cerbos/policies; stopped by PID like the others. */
export async function startCerbos(binary: string): Promise<Proc> {
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  return startProcess({
    name: 'cerbos',
    command: binary,
    args: [
      'server',
      `--config=${CONFIG}`,
      '--log-level=warn',
      `--set=server.httpListenAddr=127.0.0.1:${httpPort}`,
      `--set=server.grpcListenAddr=127.0.0.1:${grpcPort}`,
      `--set=storage.disk.directory=${POLICIES}`,
    ],
    env: { CERBOS_NO_TELEMETRY: '1' },
    port: httpPort,
    healthPath: '/_cerbos/health',
  });
}
