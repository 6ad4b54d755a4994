import type http from 'node:http';
import { SignJWT } from 'jose';
import { call } from './http.js';
import { FUZZ_CHECK_TOKEN, FUZZ_JWT_SECRET, FUZZ_OPERATOR_TOKEN } from './server.js';

/**
 * What exists on the server, so that generated requests get past authentication and name
 * things that are there: a company with members of every role, a local user, a pending
 * invitation, teams, projects, grants, a custom project role, and a second company.
 */
export interface World {
  /** The fixture company first, then another company, then one that does not exist. */
  companies: string[];
  /** Companies of the same owner that requests to delete a company name, so that the fixture company lives through its round. */
  doomed: string[];
  users: string[];
  teams: string[];
  projects: string[];
  projectRoles: string[];
  emails: string[];
  logins: string[];
  passwords: string[];
  /** Bearer tokens of members of every role, of a stranger, and broken ones; the owner's first. */
  userTokens: string[];
  /** The tokens of userTokens that verify. */
  validTokens: string[];
  /** `Authorization` values for the check API and /metrics. */
  serviceAuthorizations: string[];
  etags: string[];
  versions: string[];
  operatorTokens: string[];
}

const sign = (sub: string, claims: Record<string, unknown> = {}, options: { secret?: string; expiresIn?: string | number } = {}) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '2h')
    .sign(new TextEncoder().encode(options.secret ?? FUZZ_JWT_SECRET));

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export const LOCAL_PASSWORD = 'fuzzing correct horse battery staple';

/** Builds a world with ids suffixed by `round`, so a later round starts afresh whatever an earlier one deleted. */
export async function createWorld(agent: http.Agent, port: number, round: number): Promise<World> {
  const at = (name: string) => `${name}-${round}`;
  const company = at('fz-co');
  const other = at('fz-other');
  const names = { owner: at('fz-owner'), admin: at('fz-admin'), manager: at('fz-manager'), editor: at('fz-editor'), collaborator: at('fz-collab'), stranger: at('fz-stranger') };
  const emailOf = (user: string) => `${user}@fuzz.test`;
  const tokenOf = (user: string) => sign(user, { email: emailOf(user), email_verified: true });
  const tokens = Object.fromEntries(await Promise.all(Object.entries(names).map(async ([role, user]) => [role, await tokenOf(user)]))) as Record<keyof typeof names, string>;

  const ok = async (what: string, response: Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }>) => {
    const answered = await response;
    if (answered.status >= 300) throw new Error(`fuzz world: ${what} answered ${answered.status} ${JSON.stringify(answered.body)}`);
    return answered;
  };
  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'x-castellan-operator-token': FUZZ_OPERATOR_TOKEN });
  const plan = { name: 'enterprise', userLicenses: 1000, developerLicenses: 100 };

  await ok('create company', call(agent, port, 'POST', '/v1/companies', { id: company, name: `Fuzz ${round}`, plan }, as(tokens.owner)));
  await ok('create other company', call(agent, port, 'POST', '/v1/companies', { id: other, name: `Other ${round}`, plan }, as(tokens.stranger)));
  const doomed = [at('fz-doomed-a'), at('fz-doomed-b')];
  for (const id of doomed) await ok('create a company to delete', call(agent, port, 'POST', '/v1/companies', { id, name: `Doomed ${round}`, plan }, as(tokens.owner)));
  for (const role of ['admin', 'manager', 'editor', 'collaborator'] as const) {
    const user = names[role];
    await ok(`invite ${role}`, call(agent, port, 'POST', `/v1/companies/${company}/invitations`, { email: emailOf(user), role, applicationAccess: true }, as(tokens.owner)));
    await ok(`accept ${role}`, call(agent, port, 'POST', `/v1/companies/${company}/invitations/accept`, undefined, as(tokens[role])));
  }
  const pending = await ok('pending invitation', call(agent, port, 'POST', `/v1/companies/${company}/invitations`, { email: `pending-${round}@fuzz.test`, role: 'editor' }, as(tokens.owner)));
  // The invitee, whose token may accept it.
  const invitee = await sign(at('fz-invitee'), { email: `pending-${round}@fuzz.test`, email_verified: true });
  const login = at('fz-local');
  const local = await ok('local user', call(agent, port, 'POST', `/v1/companies/${company}/local-users`, { login, password: LOCAL_PASSWORD, firstName: 'Fuzz', lastName: 'Local', role: 'editor', applicationAccess: true }, as(tokens.owner)));
  const localToken = await ok('local login', call(agent, port, 'POST', '/v1/auth/token', { company, login, password: LOCAL_PASSWORD }));

  const team = at('fz-team');
  await ok('team', call(agent, port, 'POST', `/v1/companies/${company}/teams`, { id: team, name: 'Fuzz team' }, as(tokens.owner)));
  await ok('team member', call(agent, port, 'PUT', `/v1/companies/${company}/teams/${team}/members/${names.collaborator}`, undefined, as(tokens.owner)));
  const role = 'fz-role';
  await ok('project role', call(agent, port, 'POST', `/v1/companies/${company}/roles/project`, { key: role, name: 'Fuzz role', permissions: [{ action: 'view', subject: 'Scenario' }] }, as(tokens.owner)));
  const projects = [at('fz-p1'), at('fz-p2')];
  for (const project of projects) await ok('project', call(agent, port, 'PUT', `/v1/companies/${company}/projects/${project}`, { name: `Project ${project}` }, as(tokens.owner)));
  await ok('user grant', call(agent, port, 'PUT', `/v1/companies/${company}/projects/${projects[0]}/members/users/${names.collaborator}`, { role: 'contributor' }, as(tokens.owner)));
  const granted = await ok('team grant', call(agent, port, 'PUT', `/v1/companies/${company}/projects/${projects[1]}/members/teams/${team}`, { role }, as(tokens.owner)));
  const roles = await ok('roles', call(agent, port, 'GET', `/v1/companies/${company}/roles`, undefined, as(tokens.owner)));

  const now = Math.floor(Date.now() / 1000);
  const broken = [
    await sign(names.owner, {}, { expiresIn: now - 3600 }),
    await sign(names.owner, {}, { secret: `another-secret-${'x'.repeat(32)}` }),
    `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: names.owner, exp: now + 3600 })}.`,
    await sign(`local:${names.owner}`),
    await sign(`invite:${names.owner}`),
    'not.a.jwt',
    'x'.repeat(10_000),
  ];
  return {
    companies: [company, other, 'no-such-company'],
    doomed,
    users: [...Object.values(names), local.body.userId as string, pending.body.userId as string, 'nobody'],
    teams: [team, 'no-such-team'],
    projects: [...projects, 'no-such-project'],
    projectRoles: [role, 'project-admin', 'contributor', 'viewer', 'no-such-role'],
    emails: [...Object.values(names).map(emailOf), `new-${round}@fuzz.test`, `kim@${company}.test`],
    logins: [login, 'nobody'],
    passwords: [LOCAL_PASSWORD, 'wrong password, long enough'],
    userTokens: [...Object.values(tokens), localToken.body.accessToken as string, invitee, ...broken],
    validTokens: [...Object.values(tokens), localToken.body.accessToken as string, invitee],
    serviceAuthorizations: [`Bearer ${FUZZ_CHECK_TOKEN}`],
    etags: [String(roles.headers.etag), '"stale"', '*', 'W/"weak"'],
    versions: ['0', '1', String(granted.body.version), '99999999999999999999'],
    operatorTokens: [FUZZ_OPERATOR_TOKEN],
  };
}
