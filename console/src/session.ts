/**
 * The signed-in caller. The token is kept in sessionStorage (this tab only, gone when it
 * closes), never in a cookie: no request carries it unless the console puts it there.
 */
export interface Session {
  token: string;
  company: string;
  userId: string;
  kind: 'local' | 'platform';
  /** Seconds since the epoch, from the token's exp. */
  exp: number | null;
}

const KEY = 'castellan.console.session';
const RESUME_KEY = 'castellan.console.resume';

/** Where the caller was when the session ended, and their unsent forms, to carry on after signing in again. */
export interface Resume {
  route: string;
  drafts: Record<string, Record<string, string | boolean>>;
  reason: string;
}

export function claims(token: string): { sub?: string; exp?: number; email?: string } | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const value = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as unknown;
    return value && typeof value === 'object' ? (value as { sub?: string; exp?: number; email?: string }) : null;
  } catch {
    return null;
  }
}

/** A session from a token; null when it is not a JWT with a subject. Castellan, not the console, verifies it. */
export function sessionFor(token: string, company: string): Session | null {
  const c = claims(token);
  if (!c || typeof c.sub !== 'string') return null;
  return { token, company, userId: c.sub, kind: c.sub.startsWith('local:') ? 'local' : 'platform', exp: typeof c.exp === 'number' ? c.exp : null };
}

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

export function saveResume(resume: Resume): void {
  sessionStorage.setItem(RESUME_KEY, JSON.stringify(resume));
}

export function takeResume(): Resume | null {
  const raw = sessionStorage.getItem(RESUME_KEY);
  sessionStorage.removeItem(RESUME_KEY);
  try {
    return raw ? (JSON.parse(raw) as Resume) : null;
  } catch {
    return null;
  }
}

export function peekResume(): Resume | null {
  try {
    const raw = sessionStorage.getItem(RESUME_KEY);
    return raw ? (JSON.parse(raw) as Resume) : null;
  } catch {
    return null;
  }
}
