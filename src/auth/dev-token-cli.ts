import { SignJWT } from 'jose';
import { loadConfig } from '../config.js';

// npm run -s dev-token -- <userId> [email] [minutes]: an HS256 token signed with AUTH_JWT_SECRET, as
// a development identity provider would issue it. For trying the admin API; production
// tokens come from the real identity provider (AUTH_JWKS_URL).
const [sub, email, minutes = '60'] = process.argv.slice(2);
const config = loadConfig();
if (!sub || !config.AUTH_JWT_SECRET) {
  console.error('usage: AUTH_JWT_SECRET=<32+ chars> npm run -s dev-token -- <userId> [email] [minutes]');
  process.exit(2);
}
// The address counts as verified (email_verified), as a real provider says of addresses it checked.
let token = new SignJWT(email ? { email, email_verified: true } : {}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime(`${Number(minutes)}m`);
if (config.AUTH_ISSUER) token = token.setIssuer(config.AUTH_ISSUER);
if (config.AUTH_AUDIENCE) token = token.setAudience(config.AUTH_AUDIENCE);
console.log(await token.sign(new TextEncoder().encode(config.AUTH_JWT_SECRET)));
