import { loadConfig } from '../config.js';
import { signDevToken } from './dev-token.js';

// npm run -s dev-token -- <userId> [email] [minutes]: an HS256 token signed with AUTH_JWT_SECRET, as
// a development identity provider would issue it. For trying the admin API; production
// tokens come from the real identity provider (AUTH_JWKS_URL).
const [sub, email, minutes = '60'] = process.argv.slice(2);
const config = loadConfig();
if (!sub || !config.AUTH_JWT_SECRET) {
  console.error('usage: AUTH_JWT_SECRET=<32+ chars> npm run -s dev-token -- <userId> [email] [minutes]');
  process.exit(2);
}
console.log(await signDevToken(config, config.AUTH_JWT_SECRET, sub, email, Number(minutes)));
