import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

const booleanFlag = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

const optionalUrl = (protocols: readonly string[]) =>
  z
    .string()
    .trim()
    .min(1)
    .refine((value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`)
    .optional();

const wholeNumber = (min: number, max: number, unit = '') => {
  const message = `must be a whole number${unit} from ${min} to ${max}`;
  return z.coerce.number({ message }).int(message).min(min, message).max(max, message);
};

const milliseconds = (min: number, max: number) => wholeNumber(min, max, ' of milliseconds');

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };
/** A duration such as `14d`, `36h`, `90m` or `3600s`, in whole seconds. */
const durationSeconds = (minSeconds: number, maxSeconds: number, range: string) =>
  z
    .string()
    .trim()
    .regex(/^\d{1,9}[smhd]$/, 'must be a duration such as 14d, 36h, 90m or 3600s')
    .transform((value) => Number(value.slice(0, -1)) * DURATION_UNITS[value.slice(-1)]!)
    .refine((seconds) => seconds >= minSeconds && seconds <= maxSeconds, `must be from ${range}`);

/** The placeholders INVITE_URL_TEMPLATE may use (src/webhooks/events.ts fills them, percent-encoded). */
export const INVITE_URL_PLACEHOLDERS = ['company', 'invitation', 'email'] as const;

const inviteUrlTemplate = z
  .string()
  .trim()
  .min(1)
  .refine((template) => [...template.matchAll(/\{([^{}]*)\}/g)].every(([, name]) => (INVITE_URL_PLACEHOLDERS as readonly string[]).includes(name!)), {
    message: `may only use the placeholders ${INVITE_URL_PLACEHOLDERS.map((name) => `{${name}}`).join(', ')}`,
  })
  .refine((template) => {
    try {
      return ['http:', 'https:'].includes(new URL(template.replace(/\{[a-z]+\}/g, 'x')).protocol);
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL once its placeholders are filled')
  .optional();

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** `host:port,host:port,...` (an IPv6 address in brackets): Redis Cluster seed nodes or Sentinels. */
const hostPortList = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const nodes: Array<{ host: string; port: number }> = [];
    for (const item of value.split(',').map((part) => part.trim())) {
      const match = HOST_PORT.exec(item);
      const port = match ? Number(match[3]) : 0;
      if (!match || port < 1 || port > 65535) {
        ctx.addIssue({ code: 'custom', message: 'must be host:port items separated by commas (an IPv6 address in brackets)' });
        return z.NEVER;
      }
      nodes.push({ host: match[1] ?? match[2]!, port });
    }
    return nodes;
  })
  .optional();

const configSchema = z.object({
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PORT: z.coerce
    .number({ message: 'must be a whole number from 0 to 65535' })
    .int('must be a whole number from 0 to 65535')
    .min(0, 'must be a whole number from 0 to 65535')
    .max(65535, 'must be a whole number from 0 to 65535')
    .default(8080),
  // Node's defaults let a client hold a connection for 300 s by sending a request slowly
  // (or nothing at all). A check is a few hundred bytes: seconds are plenty to send one.
  HTTP_HEADERS_TIMEOUT_MS: milliseconds(1000, 600_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: milliseconds(1000, 3_600_000).default(30_000),
  // About 12 KiB of memory and a file descriptor each: a cap keeps room for PostgreSQL's and Redis's.
  HTTP_MAX_CONNECTIONS: wholeNumber(1, 1_000_000).default(4096),
  DATABASE_URL: optionalUrl(['postgres:', 'postgresql:']),
  // A read-only PostgreSQL (a streaming replica) for the check path's loads; the version each load
  // must reach is read from DATABASE_URL, which answers whenever the replica is behind or away.
  DATABASE_READ_URL: optionalUrl(['postgres:', 'postgresql:']),
  // Connections per pool (DATABASE_URL's, and DATABASE_READ_URL's when set) and instance.
  DATABASE_POOL_SIZE: wholeNumber(1, 1000).default(10),
  // Server-side bound of every statement (0: none); migrations run without it. A check whose load
  // runs out of it is 503, never an answer. Waiting for a lock counts: admin writes of one company
  // queue on its lock, so the default leaves a burst of them room.
  DATABASE_STATEMENT_TIMEOUT_MS: milliseconds(0, 3_600_000).default(30_000),
  DATA_DIR: z.string().trim().min(1).default('./.castellan'),
  REDIS_URL: optionalUrl(['redis:', 'rediss:']),
  REDIS_CLUSTER_NODES: hostPortList,
  REDIS_SENTINELS: hostPortList,
  REDIS_SENTINEL_NAME: z.string().trim().min(1).optional(),
  // Credentials of the Redis servers in Cluster and Sentinel modes (REDIS_URL carries its own).
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  // The Sentinels' own password, when they have one.
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  REDIS_KEY_PREFIX: z.string().default('castellan:'),
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 needs a 256-bit secret)').optional(),
  AUTH_JWKS_URL: optionalUrl(['http:', 'https:']),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  // Off unless chosen: an unverified email would claim invitations made to someone else.
  AUTH_TRUST_EMAILS: booleanFlag.default(false),
  CHECK_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // The base URL clients reach Castellan at, behind whatever terminates TLS: AuthZEN's metadata
  // names its endpoints with it (else with the request's own Host header, over http).
  PUBLIC_URL: optionalUrl(['http:', 'https:'])
    .refine((value) => value === undefined || (!value.includes('?') && !value.includes('#')), 'must have no query or fragment')
    .transform((value) => value?.replace(/\/+$/, '')),
  // The platform's own credential (plans, licenses, any domain, deleted companies' audit):
  // worth more than a check token, so longer.
  OPERATOR_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  // Invitations lapse after this long (a re-invite renews them); an expired one holds no seat.
  INVITATION_TTL: durationSeconds(60, 365 * 86_400, '1 minute to 365 days').default(14 * 86_400),
  // The accept page of the platform's console, named in invitation events for its mailer.
  INVITE_URL_TEMPLATE: inviteUrlTemplate,
  // Where invitation and membership events are sent (src/webhooks/), signed with the secret.
  WEBHOOK_URL: optionalUrl(['http:', 'https:']),
  WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  // One delivery attempt, connection to the end of the answer's headers.
  WEBHOOK_TIMEOUT_MS: milliseconds(100, 60_000).default(10_000),
  // Retries of a failed delivery wait base * 2^(attempt - 1), at most max (with up to 20% jitter).
  WEBHOOK_RETRY_BASE_MS: milliseconds(10, 3_600_000).default(1000),
  WEBHOOK_RETRY_MAX_MS: milliseconds(10, 86_400_000).default(3_600_000),
  // How often an idle instance looks for events other instances wrote and retries that fell due.
  WEBHOOK_POLL_MS: milliseconds(10, 60_000).default(1000),
  // Where the console's sign-in page sends platform users for a token from their identity
  // provider; it comes back to /console/#token=<JWT> (see README "Console").
  CONSOLE_TOKEN_URL: optionalUrl(['http:', 'https:']),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MIGRATE_ON_START: booleanFlag.default(true),
  // About 13 KiB of heap per principal (bench/RESULTS.md): 20,000 is some 260 MiB.
  CACHE_MAX_ENTRIES: z.coerce.number().int().min(1).default(20_000),
  CACHE_MAX_STALENESS_MS: z.coerce.number().int().min(0).default(5000),
  // With PostgreSQL away an instance cannot tell a revoke made through another instance from no
  // write at all: cached answers are kept this long after they were last confirmed current, then 503.
  CACHE_MAX_DEGRADED_MS: milliseconds(0, 86_400_000).default(30_000),
  // A Redis GET on the same network answers in well under a millisecond; one later than this
  // is waiting on a slow or stalled Redis, and PostgreSQL is read instead (README "CACHE_L2_WAIT_MS").
  CACHE_L2_WAIT_MS: milliseconds(1, 60_000).default(5),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  POLICIES_DIR: z.string().min(1).optional(),
  // Each hash keeps a core busy for tens of milliseconds on one of libuv's pool threads (4
  // unless UV_THREADPOOL_SIZE says otherwise, shared with DNS and file work). An instance is
  // sized at one CPU: one hash at a time leaves the event loop half of it under a login flood.
  SCRYPT_CONCURRENCY: wholeNumber(1, 16).default(1),
  // About a second's wait at most before a hash starts; beyond it, 429 at once.
  SCRYPT_QUEUE: wholeNumber(0, 1000).default(16),
});

/** Rules between variables, checked once each is valid on its own. */
const consistentConfig = configSchema.superRefine((config, ctx) => {
  // The request timeout covers the headers too; Node refuses to start otherwise.
  if (config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS) {
    ctx.addIssue({ code: 'custom', path: ['HTTP_HEADERS_TIMEOUT_MS'], message: `must not exceed HTTP_REQUEST_TIMEOUT_MS (${config.HTTP_REQUEST_TIMEOUT_MS})` });
  }
  if (config.WEBHOOK_RETRY_BASE_MS > config.WEBHOOK_RETRY_MAX_MS) {
    ctx.addIssue({ code: 'custom', path: ['WEBHOOK_RETRY_BASE_MS'], message: `must not exceed WEBHOOK_RETRY_MAX_MS (${config.WEBHOOK_RETRY_MAX_MS})` });
  }
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const REDIS_MODES = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const;

function redisProblems(config: Config): string[] {
  const modes = REDIS_MODES.filter((key) => config[key] !== undefined);
  if (modes.length > 1) return [`${modes.join(', ')}: set one of them only (one Redis: a single server, a Cluster or a Sentinel-watched master)`];
  const problems: string[] = [];
  if (config.REDIS_SENTINELS && !config.REDIS_SENTINEL_NAME) problems.push('REDIS_SENTINEL_NAME: required when REDIS_SENTINELS is set (the master name the Sentinels monitor)');
  if (config.REDIS_SENTINEL_NAME && !config.REDIS_SENTINELS) problems.push('REDIS_SENTINEL_NAME: only used with REDIS_SENTINELS, which is not set');
  if (config.REDIS_SENTINEL_PASSWORD && !config.REDIS_SENTINELS) problems.push('REDIS_SENTINEL_PASSWORD: only used with REDIS_SENTINELS, which is not set');
  const credentials = (['REDIS_USERNAME', 'REDIS_PASSWORD'] as const).filter((key) => config[key] !== undefined);
  if (credentials.length && !config.REDIS_CLUSTER_NODES && !config.REDIS_SENTINELS) {
    problems.push(`${credentials.join(', ')}: only used with REDIS_CLUSTER_NODES or REDIS_SENTINELS${config.REDIS_URL ? ' (REDIS_URL carries its own: redis://user:password@host:port)' : ''}`);
  }
  return problems;
}

/** Settings valid one by one but not together, each a line like a single setting's problem. */
function combinationProblems(config: Config): string[] {
  const problems = redisProblems(config);
  if (config.DATABASE_READ_URL && !config.DATABASE_URL) problems.push('DATABASE_READ_URL: needs DATABASE_URL (the primary that says which version each read must reach)');
  if (config.AUTH_JWKS_URL) {
    // A provider's keys sign the tokens of all its applications (for some, of all its tenants):
    // only the audience and the issuer say that a token was meant for Castellan.
    const missing = (['AUTH_ISSUER', 'AUTH_AUDIENCE'] as const).filter((key) => !config[key]);
    if (missing.length) problems.push(`${missing.join(', ')}: required when AUTH_JWKS_URL is set, else tokens the identity provider issued to other applications are accepted`);
  }
  // An unsigned webhook would let anyone who can reach the receiver send it invitations.
  if (config.WEBHOOK_URL && !config.WEBHOOK_SECRET) problems.push('WEBHOOK_SECRET: required when WEBHOOK_URL is set, to sign every delivery');
  if (config.WEBHOOK_SECRET && !config.WEBHOOK_URL) problems.push('WEBHOOK_URL: required when WEBHOOK_SECRET is set (there is nowhere to send events)');
  return problems;
}

/**
 * Reads the configuration once. Empty variables count as unset, so `PORT=` in a
 * compose file falls back to the default instead of failing on "".
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') present[key] = value;
  }
  const parsed = consistentConfig.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '(config)');
      const shown = key in present && !/SECRET|TOKEN|PASSWORD|URL/.test(key) ? ` (got ${JSON.stringify(present[key])})` : '';
      return `  ${key}: ${issue.message}${shown}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const problems = combinationProblems(parsed.data);
  if (problems.length) throw new ConfigError(`Invalid configuration:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
  return parsed.data;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Whether HOST keeps the server off the network, so the check token may be left unset.
 * Only `localhost` and literal loopback addresses qualify: a name such as
 * `127.x.example.com` resolves wherever its DNS says, so it is parsed, never prefix-matched.
 */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  // BlockList also matches IPv4-mapped forms (::ffff:127.0.0.1) against the IPv4 subnet.
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Where a server started with this configuration is reached from this machine: PUBLIC_URL, else
 * its HOST and PORT, a wildcard address on loopback. For the command-line tools that talk to it.
 */
export function serverUrl(config: Pick<Config, 'PUBLIC_URL' | 'HOST' | 'PORT'>): string {
  if (config.PUBLIC_URL) return config.PUBLIC_URL;
  const host = ['0.0.0.0', '::', '127.0.0.1'].includes(config.HOST) ? '127.0.0.1' : config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  return `http://${host}:${config.PORT}`;
}
