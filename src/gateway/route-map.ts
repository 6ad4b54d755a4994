/**
 * The route map compiler and matcher behind forward-auth. Imports nothing of Castellan's,
 * so the policy loader, the policy test runner and the forward-auth handler can all use it.
 *
 * The path is the security boundary: a gateway proxies the request it received, and the
 * upstream routes it with its own rules, so Castellan must never read a path as a route
 * more permissive than the one the upstream will serve. Hence strict rules: anything two
 * servers could read differently (dot segments, empty segments, encoded slashes, `;`
 * parameters, needless percent-encoding, case variants of a route's words) matches nothing,
 * and a path that several routes match is allowed only when all of them allow it (see
 * `match`), since Castellan cannot know which one the upstream's router picks.
 */

/** What the compiler needs of a route; the rest of the route is carried along untouched. */
export interface RouteShape {
  readonly method: string;
  /** `/api/companies/:company/settings`: literal segments and `:name` parameters. */
  readonly path: string;
}

export interface RouteMatch<R> {
  readonly route: R;
  /** Percent-decoded parameter values by name. */
  readonly params: Readonly<Record<string, string>>;
}

export type MatchResult<R> = { readonly matched: true; readonly matches: readonly RouteMatch<R>[] } | { readonly matched: false; readonly reason: string };

export interface RouteMatcher<R> {
  /** Every route the method and request target match, most specific first; or why none does. */
  match(method: string, target: string): MatchResult<R>;
  readonly size: number;
}

export class RouteMapError extends Error {
  override readonly name = 'RouteMapError';
  constructor(
    /** Index of the offending route in the list given to the compiler. */
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/** A literal route segment: characters that never need percent-encoding (RFC 3986 unreserved). */
export const LITERAL_SEGMENT = /^[A-Za-z0-9._~-]+$/;
export const PARAM_SEGMENT = /^:[A-Za-z_][A-Za-z0-9_]*$/;
export const METHOD = /^[A-Z]+$/;

type Segment = { kind: 'literal'; text: string } | { kind: 'param'; name: string };

/** A route path as segments; throws with a message for a path that is not one. */
export function parseRoutePath(path: string): Segment[] {
  if (!path.startsWith('/')) throw new Error('must start with "/"');
  const seen = new Set<string>();
  return path
    .slice(1)
    .split('/')
    .map((text) => {
      if (PARAM_SEGMENT.test(text)) {
        const name = text.slice(1);
        if (seen.has(name)) throw new Error(`parameter ":${name}" appears twice`);
        seen.add(name);
        return { kind: 'param' as const, name };
      }
      if (text === '') throw new Error('has an empty segment (a trailing or doubled "/")');
      if (text === '.' || text === '..') throw new Error(`has a "${text}" segment`);
      if (!LITERAL_SEGMENT.test(text)) throw new Error(`segment "${text}" must be :name or made of letters, digits, ".", "_", "~" and "-"`);
      return { kind: 'literal' as const, text };
    });
}

interface Node<R> {
  readonly literals: Map<string, Node<R>>;
  /** Literal children by lower-cased text: a request segment equal to one only up to case is refused. */
  readonly folded: Map<string, string>;
  param: Node<R> | null;
  /** Parameters are captured by position: routes sharing a parameter node may name it differently. */
  route: { readonly value: R; readonly index: number; readonly names: readonly string[] } | null;
}

const newNode = <R>(): Node<R> => ({ literals: new Map(), folded: new Map(), param: null, route: null });

/** Raw characters a path segment may hold (RFC 3986 pchar without ";"), or a %XX triplet. */
const RAW_SEGMENT = /^(?:[A-Za-z0-9\-._~!$&'()*+,=:@]|%[0-9A-Fa-f]{2})+$/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
/** Decoded characters no segment may hold: separators, a `%` (double encoding), `;`, control characters. */
const FORBIDDEN_DECODED = /[/\\%;\u0000-\u001F\u007F-\u009F]/;
/** Longest request target looked at; the headers that carry it are bounded by node anyway. */
const MAX_TARGET_LENGTH = 8192;

export interface PathSegment {
  readonly raw: string;
  readonly decoded: string;
}

export type ParsedPath = { readonly ok: true; readonly segments: readonly PathSegment[] } | { readonly ok: false; readonly reason: string };

/**
 * A request target's path under the strict rules: the query is dropped, the path is split on
 * "/" before any decoding, and each segment is percent-decoded on its own. Refused (matches
 * no route): empty segments (so trailing and repeated slashes), "." and "..", ";" parameters,
 * encoded "/", "\" or "%", control characters, invalid UTF-8, and a percent-encoded character
 * that needs no encoding (servers disagree on whether "%73" is "s").
 */
export function parsePath(target: string): ParsedPath {
  if (target.length > MAX_TARGET_LENGTH) return { ok: false, reason: 'the path is too long' };
  const end = target.search(/[?#]/);
  const path = end === -1 ? target : target.slice(0, end);
  if (!path.startsWith('/')) return { ok: false, reason: 'the path does not start with "/"' };
  const segments: PathSegment[] = [];
  for (const raw of path.slice(1).split('/')) {
    const refused = segmentProblem(raw);
    if (refused !== null) return { ok: false, reason: refused };
    const decoded = raw.includes('%') ? decodeSegment(raw) : raw;
    if (decoded === null) return { ok: false, reason: 'a path segment is not valid percent-encoded UTF-8' };
    if (FORBIDDEN_DECODED.test(decoded)) return { ok: false, reason: 'a path segment encodes "/", "\\", "%", ";" or a control character' };
    segments.push({ raw, decoded });
  }
  return { ok: true, segments };
}

function segmentProblem(raw: string): string | null {
  if (raw === '') return 'the path has an empty segment (a trailing or repeated "/")';
  if (raw === '.' || raw === '..') return `the path has a "${raw}" segment`;
  if (raw.includes(';')) return 'the path has a ";" parameter';
  if (!RAW_SEGMENT.test(raw)) return 'the path has a character that must be percent-encoded';
  for (let i = raw.indexOf('%'); i !== -1; i = raw.indexOf('%', i + 3)) {
    if (UNRESERVED.test(String.fromCharCode(Number.parseInt(raw.slice(i + 1, i + 3), 16)))) {
      return 'the path percent-encodes a character that needs no encoding';
    }
  }
  return null;
}

function decodeSegment(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** Orders matches by specificity: at the first segment where they differ, a literal beats a parameter. */
function moreSpecific(a: readonly boolean[], b: readonly boolean[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] ? -1 : 1;
  return 0;
}

/**
 * Compiles routes into one trie per method, once. Refused (RouteMapError naming the route):
 * a path that is not one, two routes of the same method and shape (`/a/:x` and `/a/:y` are
 * one shape), and two literals at the same place that differ only in case, which a
 * case-insensitive upstream would read as one.
 */
export function compileRouteMap<R extends RouteShape>(routes: readonly R[]): RouteMatcher<R> {
  const tries = new Map<string, Node<R>>();
  routes.forEach((route, index) => {
    if (!METHOD.test(route.method)) throw new RouteMapError(index, `method "${route.method}" must be an upper-case HTTP method`);
    let segments: Segment[];
    try {
      segments = parseRoutePath(route.path);
    } catch (error) {
      throw new RouteMapError(index, `path "${route.path}" ${(error as Error).message}`);
    }
    let node = tries.get(route.method);
    if (!node) tries.set(route.method, (node = newNode()));
    for (const segment of segments) node = child(node, segment, index, route.path);
    if (node.route) throw new RouteMapError(index, `${route.method} ${route.path} has the same shape as route ${node.route.index} (${routes[node.route.index]!.path})`);
    node.route = { value: route, index, names: segments.flatMap((s) => (s.kind === 'param' ? [s.name] : [])) };
  });

  function walk(node: Node<R>, segments: readonly PathSegment[], at: number, values: string[], shape: boolean[], found: Array<RouteMatch<R> & { shape: boolean[] }>): string | null {
    if (at === segments.length) {
      if (node.route) {
        const params = Object.fromEntries(node.route.names.map((name, i) => [name, values[i]!]));
        found.push({ route: node.route.value, params, shape: [...shape] });
      }
      return null;
    }
    const segment = segments[at]!;
    const literal = node.literals.get(segment.raw);
    if (literal) {
      shape.push(true);
      const refused = walk(literal, segments, at + 1, values, shape, found);
      shape.pop();
      if (refused) return refused;
    } else {
      const folded = node.folded.get(segment.raw.toLowerCase());
      if (folded !== undefined) return `path segment "${segment.raw}" differs only in case from the route's "${folded}"`;
    }
    if (node.param) {
      values.push(segment.decoded);
      shape.push(false);
      const refused = walk(node.param, segments, at + 1, values, shape, found);
      shape.pop();
      values.pop();
      if (refused) return refused;
    }
    return null;
  }

  function matchIn(trie: Node<R> | undefined, segments: readonly PathSegment[]): MatchResult<R> | null {
    if (!trie) return null;
    const found: Array<RouteMatch<R> & { shape: boolean[] }> = [];
    const refused = walk(trie, segments, 0, [], [], found);
    if (refused) return { matched: false, reason: refused };
    if (found.length === 0) return null;
    found.sort((a, b) => moreSpecific(a.shape, b.shape));
    return { matched: true, matches: found.map(({ route, params }) => ({ route, params })) };
  }

  return {
    size: routes.length,
    match(method, target) {
      if (!METHOD.test(method)) return { matched: false, reason: `"${method}" is not an upper-case HTTP method` };
      const parsed = parsePath(target);
      if (!parsed.ok) return { matched: false, reason: parsed.reason };
      // HEAD is GET without the body (RFC 9110 9.3.2): servers answer it with their GET route.
      const result = matchIn(tries.get(method), parsed.segments) ?? (method === 'HEAD' ? matchIn(tries.get('GET'), parsed.segments) : null);
      return result ?? { matched: false, reason: `no route matches ${method} ${parsed.segments.map((s) => `/${s.raw}`).join('')}` };
    },
  };
}

function child<R>(node: Node<R>, segment: Segment, index: number, path: string): Node<R> {
  if (segment.kind === 'param') return (node.param ??= newNode());
  const existing = node.literals.get(segment.text);
  if (existing) return existing;
  const folded = node.folded.get(segment.text.toLowerCase());
  if (folded !== undefined) throw new RouteMapError(index, `path "${path}": segment "${segment.text}" differs only in case from "${folded}" in another route`);
  const created = newNode<R>();
  node.literals.set(segment.text, created);
  node.folded.set(segment.text.toLowerCase(), segment.text);
  return created;
}

/** A route's value: `:name` is the parameter's decoded value, anything else is literal. */
export function bindValue(template: string, params: Readonly<Record<string, string>>): string | undefined {
  return PARAM_SEGMENT.test(template) ? params[template.slice(1)] : template;
}
