import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicies } from '../../src/policy/catalog.js';
import { createTestEnvironment, signToken, type TestApp, type TestEnvironment } from '../support/app.js';
import { servicesUp } from '../support/services.js';
import { seedCompany } from '../check/seed.js';

/**
 * The security property of forward-auth's path matching: a request path that no route of
 * policies/routes.json matches under the strict rules of API.md never yields 200. The rules
 * are written again here, differently (one regular expression per route over the raw path,
 * then per-segment checks), and the server is asked as a gateway would ask, by a user whom
 * every route allows: so the answer is 200 exactly when the path names a route with values
 * the user may use, and the test sees both the refusals and the allows.
 */

const policies = loadPolicies();
const FIELDS = policies.catalog.subjects.CompanySettings!.fields!;
const GOOD_VALUES: Record<string, readonly string[]> = { company: ['acme'], projectId: ['p1', 'p2'], id: ['s1', 'scenario-2'], section: FIELDS };
/** What root may use: its company, its two registered projects, any scenario id, any settings section. */
const ALLOWED: Record<string, (value: string) => boolean> = {
  company: (v) => v === 'acme',
  projectId: (v) => v === 'p1' || v === 'p2',
  id: (v) => /^[A-Za-z0-9._:@-]{1,128}$/.test(v),
  section: (v) => FIELDS.includes(v),
};

// ---- the reference: the strict rules, as a reader of API.md would write them -------------

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const PCHAR_RAW = /^(?:[A-Za-z0-9\-._~!$&'()*+,=:@]|%[0-9A-Fa-f]{2})+$/;

/** Whether one raw segment is acceptable, and its decoded value. */
function referenceSegment(raw: string): string | null {
  if (raw === '' || raw === '.' || raw === '..' || raw.includes(';') || !PCHAR_RAW.test(raw)) return null;
  for (const triplet of raw.match(/%[0-9A-Fa-f]{2}/g) ?? []) if (UNRESERVED.test(String.fromCharCode(parseInt(triplet.slice(1), 16)))) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  return /[/\\%;\u0000-\u001f\u007f-\u009f]/.test(decoded) ? null : decoded;
}

interface ReferenceMatch {
  route: (typeof policies.routes)[number];
  params: Record<string, string>;
}

function routeRegex(path: string, flags = ''): RegExp {
  const body = path
    .split('/')
    .slice(1)
    .map((segment) => (segment.startsWith(':') ? '([^/]+)' : segment.replace(/[.~-]/g, (c) => `\\${c}`)))
    .join('/');
  return new RegExp(`^/${body}$`, flags);
}

/** Every route the reference matches, or null for none (including a case variant of a route's words). */
function referenceMatch(method: string, target: string): ReferenceMatch[] | null {
  const path = target.split(/[?#]/, 1)[0]!;
  if (!path.startsWith('/')) return null;
  const segments = path.slice(1).split('/');
  if (segments.some((s) => referenceSegment(s) === null)) return null;
  const candidates = policies.routes.filter((r) => r.method === method);
  const routes = candidates.length || method !== 'HEAD' ? candidates : policies.routes.filter((r) => r.method === 'GET');
  const matches: ReferenceMatch[] = [];
  for (const route of routes) {
    const exact = routeRegex(route.path).exec(path);
    // A route that a case-insensitive upstream would read the path as, but not exactly: refuse outright.
    if (!exact && routeRegex(route.path, 'i').test(path) && route.path.split('/').length === segments.length + 1) {
      const literalsDiffer = route.path.split('/').slice(1).some((s, i) => !s.startsWith(':') && s !== segments[i] && s.toLowerCase() === segments[i]!.toLowerCase());
      if (literalsDiffer) return null;
    }
    if (!exact) continue;
    const names = route.path.split('/').filter((s) => s.startsWith(':')).map((s) => s.slice(1));
    matches.push({ route, params: Object.fromEntries(names.map((name, i) => [name, referenceSegment(exact[i + 1]!)!])) });
  }
  return matches.length ? matches : null;
}

const allGood = (matches: ReferenceMatch[]) => matches.every((m) => Object.entries(m.params).every(([name, value]) => ALLOWED[name]!(value)));

// ---- generated requests: the routes' paths, filled in, then bent ----------------------------

const segmentValue = (name: string) =>
  fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...(GOOD_VALUES[name] ?? ['x'])) }, { weight: 1, arbitrary: fc.constantFrom('p3', 'ACME', 'Branding', 'a b', 'x@y', 'caf\u00e9') });

/** Bends a filled-in path; `params` are the positions of the route's parameters. */
type Mutation = (segments: string[], params: number[]) => fc.Arbitrary<string[]>;
const at = (segments: string[]) => fc.nat({ max: Math.max(0, segments.length - 1) });
const among = (positions: number[]) => fc.constantFrom(...(positions.length ? positions : [0]));
const literalsOf = (segments: string[], params: number[]) => segments.map((_, i) => i).filter((i) => !params.includes(i));
const replaceAt = (segments: string[], i: number, ...values: string[]) => [...segments.slice(0, i), ...values, ...segments.slice(i + 1)];
const caseVariant = (text: string, how: string) => (how === 'upper' ? text.toUpperCase() : text.charAt(0).toUpperCase() + text.slice(1));

const weighted = (weight: number, mutation: Mutation) => ({ weight, mutation });
const MUTATIONS = [
  // Untouched paths weigh as much as the bent ones together, so the allows are exercised too.
  weighted(16, (s) => fc.constant(s)),
  weighted(1, (s) => fc.constant([...s, ''])), // trailing slash
  weighted(1, (s) => at(s).map((i) => replaceAt(s, i, s[i]!, ''))), // repeated slash
  weighted(1, (s) => fc.tuple(at(s), fc.constantFrom('.', '..', '%2e', '%2E%2e', '.%2e')).map(([i, dot]) => replaceAt(s, i, s[i]!, dot))),
  weighted(1, (s) => fc.tuple(at(s), fc.constantFrom('..', '%2e%2e')).map(([i, dot]) => replaceAt(s, i, 'x', dot, s[i]!))), // traversal back to the same path
  weighted(3, (s, p) => fc.tuple(among(p), fc.constantFrom('.', '..')).map(([i, dot]) => replaceAt(s, i, dot))), // a dot segment where a value goes
  weighted(1, (s) => at(s).map((i) => (i + 1 < s.length ? replaceAt(s, i, `${s[i]}%2F${s[i + 1]}`).filter((_, j) => j !== i + 1) : s))), // encoded slash
  weighted(2, (s) => fc.tuple(at(s), fc.constantFrom('%2f', '%5C', '%5c..', '\\', '%25', '%252e', '%00', '%0A', '%C3%28', '%7F')).map(([i, bad]) => replaceAt(s, i, `${s[i]}${bad}`))),
  weighted(1, (s) => fc.tuple(at(s), fc.constantFrom(';', ';jsessionid=1', '%3B', '%3bx')).map(([i, p]) => replaceAt(s, i, `${s[i]}${p}`))),
  weighted(2, (s) => fc.tuple(at(s), fc.nat()).map(([i, k]) => replaceAt(s, i, encodeNeedlessly(s[i]!, k)))),
  weighted(1, (s) => fc.tuple(at(s), fc.constantFrom('upper', 'first')).map(([i, how]) => replaceAt(s, i, caseVariant(s[i]!, how)))),
  weighted(3, (s, p) => fc.constantFrom('upper', 'first').map((how) => { const last = literalsOf(s, p).at(-1) ?? 0; return replaceAt(s, last, caseVariant(s[last]!, how)); })),
  weighted(1, (s) => fc.tuple(at(s), fc.constantFrom('%20', '%40', '%C3%A9', '%E6%97%A5')).map(([i, e]) => replaceAt(s, i, `${s[i]}${e}`))), // encodings that are needed
  weighted(1, (s) => at(s).map((i) => s.filter((_, j) => j !== i))), // a segment fewer
  weighted(1, (s) => fc.tuple(at(s), fc.constantFrom('extra', 'branding', 'new')).map(([i, extra]) => replaceAt(s, i, s[i]!, extra))),
];

/** Percent-encodes one character of a segment, whether it needs it or not. */
function encodeNeedlessly(segment: string, k: number): string {
  const i = k % segment.length;
  const hex = segment.charCodeAt(i).toString(16).toUpperCase().padStart(2, '0');
  return segment.charCodeAt(i) < 0x80 ? `${segment.slice(0, i)}%${hex}${segment.slice(i + 1)}` : segment;
}

const mutation = fc.oneof(...MUTATIONS.map(({ weight, mutation: m }) => ({ weight, arbitrary: fc.constant(m) })));
const request = fc
  .tuple(fc.constantFrom(...policies.routes), mutation, fc.constantFrom('', '?q=1', '?next=/../x', '#frag'), fc.boolean())
  .chain(([route, mutate, query, head]) =>
    fc
      .tuple(...route.path.split('/').slice(1).map((s) => (s.startsWith(':') ? segmentValue(s.slice(1)).map((v) => encodeURIComponent(v)) : fc.constant(s))))
      .chain((segments) => mutate(segments, route.path.split('/').slice(1).flatMap((s, i) => (s.startsWith(':') ? [i] : []))))
      .map((segments) => ({ method: head && route.method === 'GET' ? 'HEAD' : route.method, target: `/${segments.join('/')}${query}` })),
  );

function ask(base: string, token: string, method: string, target: string): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: 'GET', path: '/v1/forward-auth', headers: { authorization: `Bearer ${token}`, 'x-forwarded-method': method, 'x-forwarded-uri': target } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!servicesUp)('forward-auth path matching (property)', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let token: string;

  beforeAll(async () => {
    env = await createTestEnvironment();
    app = await env.start();
    await seedCompany(app.app.store.db, app.app.policies, {
      id: 'acme',
      members: [{ id: 'root', role: 'admin', owner: true }],
      projects: ['p1', 'p2', 'p3-unregistered-never'],
      grants: [
        { project: 'p1', role: 'project-admin', user: 'root' },
        { project: 'p2', role: 'project-admin', user: 'root' },
      ],
    });
    token = await signToken('root');
  });
  afterAll(() => env?.close());

  it('a path no route matches under the strict rules never yields 200; a route with values the user may use always does', async () => {
    const seen = { refused: 0, allowed: 0 };
    await fc.assert(
      fc.asyncProperty(request, async ({ method, target }) => {
        const status = await ask(app.url, token, method, target);
        const matches = referenceMatch(method, target);
        expect([200, 403], `${method} ${target}`).toContain(status);
        if (matches === null) {
          seen.refused++;
          expect(status, `${method} ${target} matches no route`).toBe(403);
        } else if (allGood(matches)) {
          seen.allowed++;
          expect(status, `${method} ${target} names ${matches.map((m) => m.route.path).join(' and ')}`).toBe(200);
        } else {
          expect(status, `${method} ${target}: a value the user may not use`).toBe(403);
        }
      }),
      { numRuns: 1500 },
    );
    // Both sides of the property were exercised.
    expect(seen.refused).toBeGreaterThan(400);
    expect(seen.allowed).toBeGreaterThan(200);
  });
});
