import { ConfigError, loadConfig, serverUrl } from '../config.js';
import { devSigningKey, signDevToken } from '../auth/dev-token.js';
import { createApi, DemoError, waitReady } from './client.js';
import { DEMO_COMPANY, describeDemo } from './company.js';
import { loadDemo } from './load.js';

// npm run -s demo [-- --wait <seconds>]: loads the demo company into the Castellan running at
// CASTELLAN_URL (default: where a server started with the same environment listens, PUBLIC_URL
// or HOST and PORT, so http://127.0.0.1:8080 unless they are set), through its admin API, with development tokens
// signed as `npm run dev-token` signs them (AUTH_JWT_SECRET, else the secret in DATA_DIR).
const USAGE =
  'usage: npm run -s demo [-- --wait <seconds>]   loads the demo company acme into the Castellan at CASTELLAN_URL (default http://127.0.0.1:$PORT, 8080); --wait: how long to wait for it to be ready (default 30)';

function fail(message: string, code = 1): never {
  console.error(message);
  process.exit(code);
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
let waitSeconds = 30;
for (let i = 0; i < args.length; i++) {
  if (args[i] !== '--wait') fail(`unknown argument ${JSON.stringify(args[i])}\n${USAGE}`, 2);
  const value = args[++i] ?? '';
  if (!/^\d{1,4}$/.test(value)) fail(`--wait needs a whole number of seconds (got ${JSON.stringify(value)})\n${USAGE}`, 2);
  waitSeconds = Number(value);
}

function readConfig() {
  try {
    return loadConfig();
  } catch (error) {
    fail(error instanceof ConfigError ? error.message : String(error));
  }
}
const config = readConfig();

const baseUrl = (process.env.CASTELLAN_URL || serverUrl(config)).replace(/\/+$/, '');
if (!/^https?:\/\/[^/]+/.test(baseUrl)) fail(`CASTELLAN_URL must be an http:// or https:// URL (got ${JSON.stringify(baseUrl)})`, 2);

try {
  await waitReady(baseUrl, waitSeconds, () => console.error(`waiting for Castellan at ${baseUrl} to be ready ...`));
  // Read after the server is up: its first start is what creates the development secret.
  const key = devSigningKey(config);
  if ('problem' in key) fail(`npm run demo: ${key.problem} (it signs tokens as npm run dev-token does: run it with the server's DATA_DIR and AUTH_* settings)`);
  const sign = (sub: string, email: string) => signDevToken(config, key.secret, sub, email, 10);
  const outcome = await loadDemo(createApi(baseUrl), DEMO_COMPANY, sign);
  const summary = describeDemo(DEMO_COMPANY, outcome.plan);
  console.log(
    outcome.writes === 0
      ? `The demo company ${DEMO_COMPANY.id} exists already at ${baseUrl}, as the demo makes it: nothing to do.`
      : `Loaded the demo company ${DEMO_COMPANY.id} into ${baseUrl} (${outcome.writes} admin writes, version ${outcome.version}):`,
  );
  console.log(summary.join('\n'));
} catch (error) {
  if (error instanceof DemoError) fail(`npm run demo: ${error.message}`);
  throw error;
}
