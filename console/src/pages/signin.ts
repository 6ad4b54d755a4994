import { api, ApiError, useSession } from '../api.js';
import { busy, clearRefusal, field, h, replace, showRefusal } from '../dom.js';
import { sessionFor, type Session } from '../session.js';
import type { Company, ConsoleConfig } from '../types.js';

export interface SignInOptions {
  config: ConsoleConfig;
  company?: string;
  token?: string;
  /** A company name to open when `company` does not exist yet (development sign-in links). */
  create?: string;
  /** Why the caller is here again (their session ended). */
  reason?: string;
  done: (session: Session) => void;
}

/** Confirms the token works in the company before the console opens on it. */
async function confirm(session: Session): Promise<void> {
  useSession(session, () => {});
  await api.get<Company>(`/v1/companies/${encodeURIComponent(session.company)}`);
}

function describe(error: unknown, company: string): string {
  if (!(error instanceof ApiError)) return String(error);
  if (error.status === 404 && error.code === 'not_found') return `${error.message}. You are not an active member of "${company}", or it does not exist.`;
  return error.message;
}

export function renderSignIn(root: HTMLElement, options: SignInOptions): void {
  const { config } = options;
  const localCompany = h('input', { name: 'company', required: true, autocomplete: 'organization', value: options.company ?? '', pattern: '[A-Za-z0-9._:@\\-]{1,128}' });
  const login = h('input', { name: 'login', required: true, autocomplete: 'username' });
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
  const localSubmit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const localForm = h(
    'form',
    { class: 'card', 'aria-labelledby': 'local-title' },
    h('h2', { id: 'local-title' }, 'Local user'),
    h('p', { class: 'hint' }, 'Users your company created in Castellan, with a login and password.'),
    field('Company', localCompany),
    field('Login', login),
    field('Password', password),
    h('div', { class: 'buttons' }, localSubmit),
  );
  localForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearRefusal(localSubmit);
    const company = localCompany.value.trim();
    await busy(localForm, async () => {
      try {
        const { body } = await api.anonymous<{ accessToken: string }>('POST', '/v1/auth/token', { company, login: login.value, password: password.value });
        const session = sessionFor(body.accessToken, company);
        if (!session) throw new Error('Castellan answered a token the console cannot read');
        await confirm(session);
        options.done(session);
      } catch (error) {
        showRefusal(localSubmit, describe(error, company));
      }
    });
  });

  const platformCompany = h('input', { name: 'company', required: true, autocomplete: 'organization', value: options.company ?? '', pattern: '[A-Za-z0-9._:@\\-]{1,128}' });
  const token = h('textarea', { name: 'token', required: true, rows: 4, spellcheck: 'false', autocomplete: 'off' });
  if (options.token) token.value = options.token;
  const newName = h('input', { name: 'newCompanyName', autocomplete: 'off', value: options.create ?? '' });
  const platformSubmit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const providerLink = config.tokenUrl
    ? h(
        'p',
        null,
        h('a', { class: 'button', href: tokenUrlFor(config.tokenUrl, platformCompany.value) , id: 'provider-link' }, 'Sign in with your identity provider'),
      )
    : null;
  platformCompany.addEventListener('input', () => {
    const link = providerLink?.querySelector('a');
    if (link && config.tokenUrl) link.href = tokenUrlFor(config.tokenUrl, platformCompany.value);
  });
  const platformForm = h(
    'form',
    { class: 'card', 'aria-labelledby': 'platform-title' },
    h('h2', { id: 'platform-title' }, 'Platform user'),
    h('p', { class: 'hint' }, 'Company admins and other platform users sign in with a token from their identity provider.'),
    providerLink,
    field('Company', platformCompany),
    field('Token', token, 'A JWT from your identity provider (development: npm run -s dev-token).'),
    h(
      'details',
      { open: Boolean(options.create) },
      h('summary', null, 'Open a new company with this token'),
      field('New company name', newName, 'You become its owner and an admin. The company id is the one above.'),
    ),
    h('div', { class: 'buttons' }, platformSubmit),
  );
  platformForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearRefusal(platformSubmit);
    const company = platformCompany.value.trim();
    await busy(platformForm, async () => {
      try {
        const session = sessionFor(token.value.trim(), company);
        if (!session) throw new Error('That is not a JWT with a subject (sub): paste the whole token.');
        useSession(session, () => {});
        try {
          await confirm(session);
        } catch (error) {
          // Not there (or not theirs): open it when asked to, else say why.
          if (!(error instanceof ApiError && error.status === 404 && newName.value.trim())) throw error;
          await api.post('/v1/companies', { id: company, name: newName.value.trim() });
          await confirm(session);
        }
        options.done(session);
      } catch (error) {
        showRefusal(platformSubmit, describe(error, company));
      }
    });
  });

  replace(
    root,
    h(
      'section',
      { class: 'signin' },
      h('h1', { tabindex: '-1' }, 'Sign in to the Castellan console'),
      options.reason ? h('p', { class: 'notice info', role: 'status' }, `${options.reason}. Sign in again to carry on where you were.`) : null,
      h('div', { class: 'signin-forms' }, localForm, platformForm),
    ),
  );
  // A sign-in link names both: sign in at once (the token is still checked by Castellan).
  if (options.token && options.company) platformForm.requestSubmit();
  else (options.token ? platformCompany : root.querySelector<HTMLElement>('h1'))?.focus();
}

/** The provider is told where to send the caller back; it answers /console/#token=<JWT>&company=<id>. */
function tokenUrlFor(tokenUrl: string, company: string): string {
  const url = new URL(tokenUrl);
  url.searchParams.set('return_to', new URL('/console/', location.href).href);
  if (company.trim()) url.searchParams.set('company', company.trim());
  return url.href;
}
