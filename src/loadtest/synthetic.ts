import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { z } from 'zod';
import type { ProjectRoleDefinition } from '../policy/catalog.js';
import { mapConcurrent, type ApiClient } from './api.js';
import type { TokenSource } from './company.js';

/** `--synthetic users=10000,projects=1000[,teams=400]`. */
export const syntheticSpecSchema = z.strictObject({
  users: z.coerce.number().int().min(1).max(1_000_000),
  projects: z.coerce.number().int().min(0).max(100_000).default(10),
  teams: z.coerce.number().int().min(0).max(100_000).optional(),
});
export type SyntheticSpec = z.infer<typeof syntheticSpecSchema>;

export function parseSyntheticSpec(text: string): SyntheticSpec {
  const entries = text.split(',').map((part) => {
    const [key = '', value = ''] = part.split('=').map((s) => s.trim());
    return [key, value] as const;
  });
  const parsed = syntheticSpecSchema.safeParse(Object.fromEntries(entries));
  if (!parsed.success) throw new Error(`--synthetic ${text}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')} (e.g. users=10000,projects=1000)`);
  return parsed.data;
}

/** How the tool acts as the identity provider's users: a development HS256 secret, or local users. */
export interface Signer {
  secret: string;
  issuer: string | null;
  audience: string | null;
}

export function signToken(signer: Signer, sub: string, email: string | null = null, expiresIn = '2h'): Promise<string> {
  let token = new SignJWT(email ? { email, email_verified: true } : {}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime(expiresIn);
  if (signer.issuer) token = token.setIssuer(signer.issuer);
  if (signer.audience) token = token.setAudience(signer.audience);
  return token.sign(new TextEncoder().encode(signer.secret));
}

/** Tokens signed with the deployment's development secret; local users (Castellan's own ES256 tokens) cannot be signed for. */
export function signedTokens(signer: Signer): TokenSource {
  return { maxPrincipals: null, canSign: (userId) => !userId.startsWith('local:'), tokenFor: (userId) => signToken(signer, userId) };
}

export interface SyntheticCompany {
  id: string;
  ownerToken: string;
  users: number;
  projects: number;
  teams: number;
  writes: number;
  seconds: number;
  /** Tokens for the company's users: signed, or local users logged in. */
  tokens: TokenSource;
  remove(): Promise<void>;
}

const COMPANY_ROLES = ['collaborator', 'editor', 'collaborator', 'manager', 'collaborator', 'editor', 'collaborator', 'collaborator', 'editor', 'collaborator'] as const;
/** Logging a local user in costs the server a scrypt: forward-auth over local users asks as this many of them. */
const LOCAL_TOKEN_PRINCIPALS = 50;

/**
 * Creates a company through the admin API, as its owner: users (platform users invited and
 * accepted with tokens signed by the development secret, or else local users, one scrypt
 * each on the server), projects, teams (one per 50 users), every team granted on two
 * projects; half the users in a team, the other half granted one project directly. About
 * three admin writes per user, one after another: the company's write lock serialises them. `remove` deletes the company (its audit
 * log stays, as for any company; its id is retired).
 */
export async function createSyntheticCompany(
  api: ApiClient,
  spec: SyntheticSpec,
  options: { ownerToken: string | null; signer: Signer | null; projectRoles: readonly ProjectRoleDefinition[]; log: (line: string) => void },
): Promise<SyntheticCompany> {
  const started = performance.now();
  const run = `${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`;
  const id = `loadtest-${run}`;
  const signer = options.signer;
  const ownerToken = options.ownerToken ?? (signer ? await signToken(signer, `castellan-loadtest-${run}`, `owner-${run}@loadtest.invalid`, '12h') : null);
  if (!ownerToken) throw new Error('--synthetic needs a platform user to own the company: --admin-token, or --jwt-secret for a deployment with AUTH_JWT_SECRET');
  let writes = 0;
  const admin = async <T = any>(method: string, path: string, body?: unknown, token = ownerToken): Promise<T> => {
    writes++;
    return api.admin<T>(token, method, `/v1/companies/${id}${path}`, body);
  };
  await api.admin(ownerToken, 'POST', '/v1/companies', { id, name: `castellan-loadtest ${run}` });
  options.log(`synthetic company ${id} created; adding ${spec.users.toLocaleString('en-US')} users${signer ? '' : ' (local users: one scrypt each on the server)'}`);
  const company: Omit<SyntheticCompany, 'tokens'> = {
    id,
    ownerToken,
    users: 0,
    projects: 0,
    teams: 0,
    writes: 0,
    seconds: 0,
    remove: async () => {
      await api.admin(ownerToken, 'DELETE', `/v1/companies/${id}`);
    },
  };
  try {
    let lastLog = performance.now();
    const progress = (what: string, done: number, total: number) => {
      if (performance.now() - lastLog < 2000 && done < total) return;
      lastLog = performance.now();
      options.log(`synthetic: ${what} ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')}`);
    };
    const passwords = new Map<string, { login: string; password: string }>();
    let created = 0;
    const userIds = await mapConcurrent(
      Array.from({ length: spec.users }, (_, i) => i),
      signer ? 8 : 4,
      async (i) => {
        const role = COMPANY_ROLES[i % COMPANY_ROLES.length]!;
        let userId: string;
        if (signer) {
          const email = `u${i}-${run}@loadtest.invalid`;
          await admin('POST', '/invitations', { email, role });
          userId = `lt-${run}-u${i}`;
          await admin('POST', '/invitations/accept', undefined, await signToken(signer, userId, email, '10m'));
        } else {
          const login = `user${i}`;
          const password = randomBytes(18).toString('base64url');
          userId = (await admin<{ userId: string }>('POST', '/local-users', { login, password, firstName: 'Load', lastName: `User ${i}`, role })).userId;
          passwords.set(userId, { login, password });
        }
        progress('users', ++created, spec.users);
        return userId;
      },
    );
    company.users = userIds.length;
    const projectIds = Array.from({ length: spec.projects }, (_, j) => `p${j}`);
    await mapConcurrent(projectIds, 8, (p) => admin('PUT', `/projects/${p}`, { name: `Project ${p}` }));
    company.projects = projectIds.length;
    const teamCount = spec.teams ?? Math.max(1, Math.round(spec.users / 50));
    const teamIds = Array.from({ length: teamCount }, (_, k) => `t${k}`);
    await mapConcurrent(teamIds, 8, (t) => admin('POST', '/teams', { id: t, name: `Team ${t}` }));
    company.teams = teamIds.length;
    const roles = options.projectRoles.map((r) => r.key).filter((key) => key !== 'project-admin');
    const grantRole = (n: number) => roles[n % Math.max(1, roles.length)] ?? 'project-admin';
    if (projectIds.length > 0) {
      await mapConcurrent(teamIds, 8, async (t, k) => {
        for (const offset of [0, 1]) await admin('PUT', `/projects/${projectIds[(k * 2 + offset) % projectIds.length]}/members/teams/${t}`, { role: grantRole(k + offset) });
      });
    }
    // Half the users reach projects through a team, half through a grant of their own: one write each.
    let placed = 0;
    await mapConcurrent(userIds, 8, async (userId, i) => {
      const user = encodeURIComponent(userId);
      if (i % 2 === 0 && teamIds.length > 0) await admin('PUT', `/teams/${teamIds[(i / 2) % teamIds.length]}/members/${user}`);
      else if (projectIds.length > 0) await admin('PUT', `/projects/${projectIds[(i * 7) % projectIds.length]}/members/users/${user}`, { role: grantRole(i) });
      progress('team places and grants', ++placed, userIds.length);
    });
    company.writes = writes;
    company.seconds = (performance.now() - started) / 1000;
    options.log(`synthetic company ${id} ready: users ${company.users}, projects ${company.projects}, teams ${company.teams}; ${writes.toLocaleString('en-US')} admin writes in ${company.seconds.toFixed(1)} s`);
    const tokens: TokenSource = signer
      ? signedTokens(signer)
      : {
          maxPrincipals: LOCAL_TOKEN_PRINCIPALS,
          canSign: (userId) => passwords.has(userId),
          tokenFor: async (userId) => {
            const { login, password } = passwords.get(userId)!;
            const answer = await api.call<{ accessToken: string }>('POST', '/v1/auth/token', { company: id, login, password }, {});
            if (answer.status !== 200) throw new Error(`logging synthetic user ${login} in answered ${answer.status}`);
            return answer.body.accessToken;
          },
        };
    return { ...company, tokens };
  } catch (error) {
    // A half-built company is removed too: nothing of a failed setup is left behind.
    await company.remove().catch(() => {});
    throw error;
  }
}
