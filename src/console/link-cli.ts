import { realpathSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { devSigningKey, signDevToken } from '../auth/dev-token.js';
import { loadConfig, serverUrl, type Config } from '../config.js';

/**
 * npm run -s console:link -- <userId> [email] [--company <id> [--create <name>]] [--minutes 60]
 * prints a console sign-in link with a development token: signed with AUTH_JWT_SECRET, or
 * with the secret an embedded instance keeps in DATA_DIR. The token rides in the fragment,
 * which no server sees. With --create the console opens the company when it does not exist.
 */
export function consoleLink(base: string, token: string, company?: string, create?: string): string {
  const fragment = new URLSearchParams({ token });
  if (company) fragment.set('company', company);
  if (company && create) fragment.set('create', create);
  return `${base.replace(/\/+$/, '')}/console/#${fragment}`;
}

export const baseUrl = serverUrl;

/** As dev-token signs: AUTH_JWT_SECRET, else the development secret an embedded instance keeps in DATA_DIR. */
function secretOf(config: Config): string | undefined {
  const key = devSigningKey(config);
  return 'secret' in key ? key.secret : undefined;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { company: { type: 'string' }, create: { type: 'string' }, minutes: { type: 'string', default: '60' } } });
  const [sub, email] = positionals;
  const config = loadConfig();
  const secret = secretOf(config);
  if (!sub || !secret) {
    console.error(
      'usage: npm run -s console:link -- <userId> [email] [--company <id> [--create <name>]] [--minutes 60]\n' +
        (sub ? 'No secret to sign with: set AUTH_JWT_SECRET, or start Castellan once in embedded mode (npm start), which keeps one in DATA_DIR.' : ''),
    );
    process.exit(2);
  }
  const token = await signDevToken(config, secret, sub, email, Number(values.minutes));
  console.log(consoleLink(baseUrl(config), token, values.company, values.create));
}

// Run as a command, not imported (tests import it): compared as real paths, since node gives
// import.meta.url through symlinks resolved and argv[1] as typed (a linked install printed nothing).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(path.resolve(process.argv[1]))).href) await main();
