/** Flattens a JSON value into path -> JSON text, so two states compare key by key. */
export function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (!entries.length && prefix) out.set(prefix, '{}');
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== undefined && (prefix || value !== null)) {
    out.set(prefix || '(value)', JSON.stringify(value));
  }
  return out;
}

/** What changed between before and after, key by key: removed, added, changed. */
export function diff(before: unknown, after: unknown): Array<{ key: string; from?: string; to?: string }> {
  const a = flatten(before);
  const b = flatten(after);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.filter((k) => a.get(k) !== b.get(k)).map((key) => ({ key, ...(a.has(key) ? { from: a.get(key)! } : {}), ...(b.has(key) ? { to: b.get(key)! } : {}) }));
}
