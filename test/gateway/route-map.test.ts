import { describe, expect, it } from 'vitest';
import { bindValue, compileRouteMap, parsePath, RouteMapError } from '../../src/gateway/route-map.js';

const routes = [
  { method: 'GET', path: '/api/companies/:company/projects/:projectId/scenarios/:id', name: 'view scenario' },
  { method: 'PATCH', path: '/api/companies/:company/settings/branding', name: 'edit branding' },
  { method: 'GET', path: '/api/companies/:company/projects/:projectId', name: 'view project' },
  { method: 'GET', path: '/api/companies/:company/projects/new', name: 'new project form' },
  { method: 'GET', path: '/api/companies/:company/things/:thing/a', name: 'thing a' },
  { method: 'GET', path: '/api/companies/:company/things/:other/b', name: 'thing b' },
];
const matcher = compileRouteMap(routes);

const names = (method: string, target: string) => {
  const result = matcher.match(method, target);
  return result.matched ? result.matches.map((m) => m.route.name) : result.reason;
};

describe('route map: matching under the strict rules', () => {
  it('matches method and path, with each parameter percent-decoded on its own', () => {
    const result = matcher.match('GET', '/api/companies/acme/projects/caf%C3%A9/scenarios/s%7C1?x=1&y=/..');
    expect(result).toEqual({ matched: true, matches: [{ route: routes[0], params: { company: 'acme', projectId: 'café', id: 's|1' } }] });
    expect(names('PATCH', '/api/companies/acme/settings/branding')).toEqual(['edit branding']);
    expect(names('GET', '/api/companies/acme/settings/branding')).toMatch(/^no route matches GET/);
  });

  it('names parameters per route, also where routes share a parameter position', () => {
    const a = matcher.match('GET', '/api/companies/acme/things/t1/a');
    const b = matcher.match('GET', '/api/companies/acme/things/t1/b');
    expect(a.matched && a.matches[0]!.params).toEqual({ company: 'acme', thing: 't1' });
    expect(b.matched && b.matches[0]!.params).toEqual({ company: 'acme', other: 't1' });
  });

  it('answers every route a path matches, the most specific first (a literal beats a parameter)', () => {
    expect(names('GET', '/api/companies/acme/projects/new')).toEqual(['new project form', 'view project']);
    expect(names('GET', '/api/companies/acme/projects/p1')).toEqual(['view project']);
  });

  it('HEAD is answered with the GET route when no HEAD route exists', () => {
    expect(names('HEAD', '/api/companies/acme/projects/p1')).toEqual(['view project']);
    expect(names('HEAD', '/api/companies/acme/settings/branding')).toMatch(/^no route/);
  });

  const refused: Array<[string, string, RegExp]> = [
    ['a trailing slash', '/api/companies/acme/projects/p1/', /empty segment/],
    ['a repeated slash', '/api/companies//acme/projects/p1', /empty segment/],
    ['a leading double slash', '//api/companies/acme/projects/p1', /empty segment/],
    ['a dot segment', '/api/companies/acme/./projects/p1', /"\." segment/],
    ['a dot-dot segment', '/api/companies/acme/settings/branding/../../projects/p1', /"\.\." segment/],
    ['an encoded dot-dot', '/api/companies/acme/projects/%2e%2e', /needs no encoding/],
    ['a mixed encoded dot-dot', '/api/companies/acme/projects/.%2E', /needs no encoding/],
    ['an encoded slash', '/api/companies/acme/projects/p1%2Fscenarios%2Fs1', /encodes "\/"/],
    ['an encoded backslash', '/api/companies/acme/projects/p1%5C..', /encodes "\/"/],
    ['a raw backslash', '/api/companies/acme/projects/p1\\..', /must be percent-encoded/],
    ['double encoding', '/api/companies/acme/projects/%252e%252e', /encodes .*"%"/],
    ['a ; parameter', '/api/companies/acme/projects/p1;jsessionid=x', /";" parameter/],
    ['an encoded ;', '/api/companies/acme/projects/p1%3Bx', /encodes/],
    ['needless encoding of a letter', '/api/companies/acme/%70rojects/p1', /needs no encoding/],
    ['invalid UTF-8', '/api/companies/acme/projects/%C3%28', /not valid percent-encoded UTF-8/],
    ['a NUL', '/api/companies/acme/projects/p1%00', /control character/],
    ['a raw space', '/api/companies/acme/projects/p 1', /must be percent-encoded/],
    ['a raw non-ASCII character', '/api/companies/acme/projects/caf\u00e9', /must be percent-encoded/],
    ['an absolute URI', 'http://evil.example/api/companies/acme/projects/p1', /does not start with "\/"/],
    ['an empty target', '', /does not start with "\/"/],
    ['the root', '/', /empty segment/],
    ['a case variant of a route word', '/api/companies/acme/PROJECTS/p1', /differs only in case/],
    ['a case variant beside a parameter', '/api/companies/acme/projects/NEW', /differs only in case from the route's "new"/],
  ];
  for (const [what, target, reason] of refused) {
    it(`matches nothing for ${what}`, () => {
      const result = matcher.match('GET', target);
      expect(result.matched).toBe(false);
      expect(result.matched ? '' : result.reason).toMatch(reason);
    });
  }

  it('matches methods exactly, in upper case', () => {
    expect(names('get', '/api/companies/acme/projects/p1')).toMatch(/upper-case/);
    expect(names('POST', '/api/companies/acme/projects/p1')).toMatch(/^no route/);
  });

  it('parsePath keeps the raw and decoded form of each segment', () => {
    expect(parsePath('/a/b%20c/%F0%9F%98%80?q')).toEqual({
      ok: true,
      segments: [
        { raw: 'a', decoded: 'a' },
        { raw: 'b%20c', decoded: 'b c' },
        { raw: '%F0%9F%98%80', decoded: '\u{1F600}' },
      ],
    });
  });

  it('binds `:name` values to parameters and leaves literals as they are', () => {
    expect(bindValue(':company', { company: 'acme' })).toBe('acme');
    expect(bindValue('acme', { company: 'other' })).toBe('acme');
    expect(bindValue(':missing', {})).toBeUndefined();
  });
});

describe('route map: compiling refuses ambiguous maps', () => {
  const compileError = (list: Array<{ method: string; path: string }>) => {
    try {
      compileRouteMap(list);
    } catch (error) {
      expect(error).toBeInstanceOf(RouteMapError);
      return [(error as RouteMapError).index, (error as Error).message];
    }
    return null;
  };

  it('two routes of one method and shape', () => {
    expect(compileError([{ method: 'GET', path: '/a/:x' }, { method: 'GET', path: '/a/:y' }])).toEqual([1, 'GET /a/:y has the same shape as route 0 (/a/:x)']);
    expect(compileError([{ method: 'GET', path: '/a/:x' }, { method: 'POST', path: '/a/:y' }])).toBeNull();
  });

  it('literals that differ only in case', () => {
    expect(compileError([{ method: 'GET', path: '/a/Settings' }, { method: 'GET', path: '/a/settings/x' }])?.[1]).toMatch(/differs only in case/);
  });

  it('paths that are not route paths', () => {
    for (const path of ['a/b', '/a/', '/a//b', '/a/../b', '/a/%20', '/a/:x/:x', '/a/b;c']) {
      expect(compileError([{ method: 'GET', path }]), path).not.toBeNull();
    }
    expect(compileError([{ method: 'get', path: '/a' }])?.[1]).toMatch(/upper-case/);
  });
});
