/**
 * The rules endpoint's entity tag. The version alone would not do: the admin role and the
 * catalog come from the policy files, so an instance started with other files compiles other
 * rules at the same version, and a service holding the old ones must not be told 304. The
 * policy files' fingerprint goes into the tag with the version, and the format too (raw and
 * packed are two representations).
 */
export function rulesEtag(versionText: string, policiesTag: string, format: 'raw' | 'packed'): string {
  return `"${versionText}.${policiesTag}${format === 'packed' ? '.packed' : ''}"`;
}

/**
 * If-None-Match as RFC 9110 (13.1.2) reads it for GET: `*`, or a list of tags compared
 * weakly (a `W/` prefix is ignored on either side).
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const list = header.trim();
  if (list === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return list.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === opaque);
}
