import { api, ApiError, useSession } from './api.js';
import { collectDrafts, notice, onRedraw, setDrafts, type Page } from './app.js';
import { h, replace } from './dom.js';
import { renderSignIn } from './pages/signin.js';
import { clearSession, loadSession, peekResume, saveResume, saveSession, takeResume, type Session } from './session.js';
import type { Company, ConsoleConfig } from './types.js';
import { usersPage } from './pages/users.js';
import { companyPage } from './pages/company.js';
import { rolesPage } from './pages/roles.js';
import { teamsPage } from './pages/teams.js';
import { projectsPage } from './pages/projects.js';
import { explorerPage } from './pages/explorer.js';
import { auditPage } from './pages/audit.js';

const PAGES: Array<{ id: string; title: string; page: Page }> = [
  { id: 'users', title: 'Users', page: usersPage },
  { id: 'company', title: 'Company', page: companyPage },
  { id: 'roles', title: 'Roles & Permissions', page: rolesPage },
  { id: 'teams', title: 'Teams', page: teamsPage },
  { id: 'projects', title: 'Projects', page: projectsPage },
  { id: 'explorer', title: 'Access explorer', page: explorerPage },
  { id: 'audit', title: 'Audit log', page: auditPage },
];

const app = document.getElementById('app')!;
let config: ConsoleConfig;
let expiryTimer: ReturnType<typeof setTimeout> | undefined;
let companyName = '';

/** The session ended (expired or refused): keep the route and unsent forms, and ask to sign in again. */
function expire(reason: string): void {
  if (!loadSession()) return;
  saveResume({ route: location.hash, drafts: collectDrafts(), reason });
  const company = loadSession()?.company;
  clearSession();
  useSession(null, () => {});
  if (expiryTimer) clearTimeout(expiryTimer);
  for (const dialog of Array.from(document.querySelectorAll('dialog'))) dialog.remove();
  showSignIn({ company, reason: reason === 'token expired' ? 'Your session expired' : `Castellan refused your token (${reason})` });
}

function start(session: Session): void {
  saveSession(session);
  useSession(session, expire);
  if (expiryTimer) clearTimeout(expiryTimer);
  if (session.exp) {
    const ms = session.exp * 1000 - Date.now();
    expiryTimer = setTimeout(() => expire('token expired'), Math.min(Math.max(ms, 0), 2 ** 31 - 1));
  }
  const resume = takeResume();
  if (resume) {
    setDrafts(resume.drafts);
    if (resume.route && resume.route !== location.hash) {
      location.hash = resume.route;
      return; // hashchange draws the page
    }
  }
  void route();
}

function showSignIn(options: { company?: string | undefined; token?: string; create?: string | undefined; reason?: string | undefined }): void {
  document.title = 'Sign in · Castellan console';
  renderSignIn(app, { config, ...options, company: options.company ?? '', done: start });
}

async function route(): Promise<void> {
  const session = loadSession();
  if (!session) return showSignIn({ reason: peekResume()?.reason });
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const entry = PAGES.find((p) => p.id === path) ?? PAGES[0]!;
  if (entry.id !== path) {
    history.replaceState(null, '', `#/${entry.id}`);
  }
  document.title = `${entry.title} · Castellan console`;
  const main = h('main', { id: 'main' });
  // The company's name comes beside the page's own requests, not before them.
  const companyLabel = h('span', null, companyName || session.company);
  if (!companyName) {
    void api
      .get<Company>(`/v1/companies/${encodeURIComponent(session.company)}`)
      .then((r) => {
        companyName = r.body.name;
        companyLabel.textContent = companyName;
      })
      .catch(() => {});
  }
  const signOut = h('button', { type: 'button', class: 'link' }, 'Sign out');
  signOut.addEventListener('click', () => {
    clearSession();
    useSession(null, () => {});
    location.hash = '';
    showSignIn({ company: session.company });
  });
  replace(
    app,
    h(
      'header',
      { class: 'top' },
      h('a', { class: 'skip', href: '#main', onclick: (e: Event) => (e.preventDefault(), main.focus()) }, 'Skip to content'),
      h('span', { class: 'brand' }, 'Castellan'),
      h('span', { class: 'company' }, companyLabel, ' ', h('small', null, `(${session.company})`)),
      h('span', { class: 'who' }, `Signed in as ${session.userId}`, ' ', signOut),
    ),
    h(
      'div',
      { class: 'layout' },
      h(
        'nav',
        { 'aria-label': 'Console' },
        h('ul', null, PAGES.map((p) => h('li', null, h('a', { href: `#/${p.id}`, 'aria-current': p.id === entry.id ? 'page' : null }, p.title)))),
      ),
      main,
    ),
  );
  main.tabIndex = -1;
  try {
    await entry.page({ root: main, params: new URLSearchParams(query), config });
    // For measuring: how long after navigation the page was drawn with its data.
    performance.mark(`castellan:${entry.id}:ready`);
    main.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
  } catch (error) {
    if (!loadSession()) return;
    notice(main, error instanceof ApiError ? error.message : `The page failed: ${String(error)}`);
  }
}

async function boot(): Promise<void> {
  config = (await (await fetch('/console/config.json', { cache: 'no-store' })).json()) as ConsoleConfig;
  // A token handed over in the fragment (CONSOLE_TOKEN_URL, or a development sign-in link):
  // fragments never reach a server or its logs. Taken out of the address bar at once.
  window.addEventListener('hashchange', () => void route());
  onRedraw(() => void route());
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const handed = fragment.get('token');
  if (handed) {
    history.replaceState(null, '', location.pathname);
    const company = fragment.get('company') ?? undefined;
    return showSignIn({ token: handed, company, create: fragment.get('create') ?? undefined });
  }
  const session = loadSession();
  if (session) useSession(session, expire);
  if (session?.exp && session.exp * 1000 <= Date.now()) return expire('token expired');
  if (session) return start(session);
  await route();
}

boot().catch((error: unknown) => notice(app, `The console could not start: ${String(error)}`));
