import { ConfigError, loadConfig } from '../config.js';
import { devSigningKey, signDevToken } from './dev-token.js';

// npm run -s dev-token -- <userId> [email] [minutes]: an HS256 token, as a development identity
// provider would issue it, signed with AUTH_JWT_SECRET or, in embedded mode with nothing
// configured, with the secret the server generated in DATA_DIR. For trying the admin API;
// production tokens come from the real identity provider (AUTH_JWKS_URL).
const USAGE = 'usage: npm run -s dev-token -- <userId> [email] [minutes]   (minutes: 1 to 10080, default 60)';

function fail(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const [sub, email, minutesText = '60'] = args;
if (!sub || sub.startsWith('-')) fail(`${sub ? `unknown option ${sub}` : 'a user id is needed'}\n${USAGE}`);
if (!/^\d{1,5}$/.test(minutesText) || Number(minutesText) < 1 || Number(minutesText) > 10_080) fail(`minutes must be a whole number from 1 to 10080 (got "${minutesText}")\n${USAGE}`);

let config;
try {
  config = loadConfig();
} catch (error) {
  fail(error instanceof ConfigError ? error.message : String(error), 1);
}
const key = devSigningKey(config);
if ('problem' in key) fail(key.problem, 1);
console.log(await signDevToken(config, key.secret, sub, email, Number(minutesText)));
