import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../../src/console/routes.js';
import { signToken, type TestApp, type TestEnvironment, createTestEnvironment } from '../support/app.js';
import { adminClient, createCompany, type AdminClient } from '../support/admin.js';
import { servicesUp } from '../support/services.js';
import { consoleLink } from '../../src/console/link-cli.js';
import { accessibilityProblems, chromiumPresent, launch, screenshot } from './browser.js';

const run = servicesUp && chromiumPresent;
if (!run && process.env.REQUIRE_SERVICES === '1') throw new Error(`the console tests need PostgreSQL, Redis and ${chromiumPresent ? '' : 'chromium (apt-get install chromium)'}`);

// Pages in a real browser on a shared 2-core machine: generous per-test time, few tests.
describe.runIf(run)('console in a real browser', { timeout: 120_000 }, () => {
  let env: TestEnvironment;
  let castellan: TestApp;
  let browser: Browser;
  let alice: AdminClient;
  const PASSWORD = 'correct horse battery staple';
  const LICENSE_REFUSAL = 'all 3 user licenses (application access) are in use';

  beforeAll(async () => {
    env = await createTestEnvironment();
    castellan = await env.start();
    browser = await launch();
    alice = adminClient(castellan.url, 'alice', 'alice@acme.test');
    await createCompany(alice, 'acme', { name: 'Acme Corp', domains: ['acme.test'], plan: { name: 'business', userLicenses: 3, developerLicenses: 1 } });
    // The manager may also edit members, so the last admin's refusal is the API's D11, not D12.
    const roles = await alice.get('/v1/companies/acme/roles');
    const manager = roles.body.company.find((r: { key: string }) => r.key === 'manager');
    await alice.put('/v1/companies/acme/roles/company/manager', { permissions: [...manager.permissions, { action: 'edit', subject: 'Member' }] });
    const max = await alice.post('/v1/companies/acme/local-users', { login: 'max', password: PASSWORD, firstName: 'Max', lastName: 'Meyer', role: 'manager', applicationAccess: true });
    expect(max.status).toBe(201);
  });

  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  async function open(path = '/console/'): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => {
      throw error;
    });
    await page.goto(`${castellan.url}${path}`);
    return page;
  }

  async function signInWithToken(userId: string, email: string, company = 'acme'): Promise<Page> {
    const token = await signToken(userId, { email, email_verified: true });
    const page = await open();
    await page.getByRole('heading', { name: 'Sign in to the Castellan console' }).waitFor();
    const form = page.getByRole('form', { name: 'Platform user' });
    await form.getByLabel('Company', { exact: true }).fill(company);
    await form.getByLabel('Token').fill(token);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    return page;
  }

  it('serves the console same-origin under a strict CSP, and no cookie carries a token', async () => {
    const response = await fetch(`${castellan.url}/console/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(response.headers.get('set-cookie')).toBeNull();
    const html = await response.text();
    expect(html).toContain('<script type="module" src="main.js"></script>');
    expect(html).not.toMatch(/https?:\/\//);
    expect((await fetch(`${castellan.url}/console/config.json`)).status).toBe(200);
  });

  it('a local manager signs in, is offered only what they may do, and sees the last admin refusal next to the button', async () => {
    const page = await open();
    await screenshot(page, 'sign-in');
    const form = page.getByRole('form', { name: 'Local user' });
    await form.getByLabel('Company', { exact: true }).fill('acme');
    await form.getByLabel('Login').fill('max');
    await form.getByLabel('Password').fill('wrong password 123');
    await form.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toBe('invalid login or password');
    await form.getByLabel('Password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    // Managers invite but neither create local users nor remove anyone.
    await page.getByRole('button', { name: 'Invite user' }).waitFor();
    // The keyboard reaches the dialog; Escape closes it and focus returns to what opened it.
    await page.getByRole('button', { name: 'Invite user' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Invite a user' });
    await dialog.waitFor();
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.name)).toBe('email');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.textContent)).toBe('Invite user');
    expect(await page.getByRole('button', { name: 'Add local user' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Remove / }).count()).toBe(0);
    const deactivate = page.getByRole('button', { name: 'Deactivate alice@acme.test' });
    await deactivate.click();
    const refusal = page.getByRole('row', { name: /alice@acme\.test/ }).getByRole('alert');
    await expect.poll(() => refusal.textContent()).toBe('the company must keep at least one active admin');
    expect(await page.evaluate(() => (globalThis as any).document.cookie)).toBe('');
    expect(await page.context().cookies()).toEqual([]);
  });

  it('an admin signs in with a pasted token, invites a user and sees them listed as invited', async () => {
    const page = await signInWithToken('alice', 'alice@acme.test');
    await page.getByRole('button', { name: 'Invite user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Invite a user' });
    await dialog.getByLabel('Email').fill('bob@acme.test');
    await dialog.getByLabel('Role').selectOption('editor');
    await dialog.getByLabel('Application access').check();
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const row = page.getByRole('row', { name: /bob@acme\.test/ });
    await expect.poll(() => row.getByRole('cell').nth(0).textContent()).toBe('Member');
    await expect.poll(() => row.getByRole('cell').nth(2).textContent()).toBe('invited');
    await screenshot(page, 'users');
    const apiMembers = await alice.get('/v1/companies/acme/members');
    expect(apiMembers.body.members.find((m: { email: string }) => m.email === 'bob@acme.test').status).toBe('invited');
    // Three user licenses: max and bob hold two; alice (an admin may grant herself access, D12) takes the last.
    const aliceApp = page.getByRole('checkbox', { name: 'Application access for alice@acme.test' });
    await aliceApp.check();
    await expect.poll(async () => (await alice.get('/v1/companies/acme/members/alice')).body.applicationAccess).toBe(true);
    // A fourth is refused as the API words it, next to the control that asked for it.
    await page.getByRole('button', { name: 'Invite user' }).click();
    const again = page.getByRole('dialog', { name: 'Invite a user' });
    await again.getByLabel('Email').fill('eve@acme.test');
    await again.getByLabel('Application access').check();
    await again.getByRole('button', { name: 'Send invitation' }).click();
    await expect.poll(() => again.getByRole('alert').textContent()).toBe(LICENSE_REFUSAL);
    await again.getByRole('button', { name: 'Cancel' }).click();
    // Alice gives her seat back (the next tests need it).
    await page.getByRole('checkbox', { name: 'Application access for alice@acme.test' }).uncheck();
    await expect.poll(async () => (await alice.get('/v1/companies/acme/members/alice')).body.applicationAccess).toBe(false);
  });

  it('company page: settings, domains, license bars; ownership and deletion only for the owner, deletion after typing the id', async () => {
    const owner = adminClient(castellan.url, 'olga', 'olga@olga.test');
    await createCompany(owner, 'doomed', { name: 'Doomed Ltd', domains: ['olga.test'], plan: { name: 'business', userLicenses: 4, developerLicenses: 2 } });
    await owner.patch('/v1/companies/doomed/members/olga', { applicationAccess: true, developerAccess: true });
    const page = await signInWithToken('olga', 'olga@olga.test', 'doomed');
    await page.getByRole('link', { name: 'Company' }).click();
    await page.getByRole('heading', { name: 'Company', level: 1 }).waitFor();
    await expect.poll(() => page.getByRole('meter', { name: 'User licenses' }).getAttribute('aria-valuetext')).toBe('1 of 4');
    expect(await page.getByRole('meter', { name: 'Developer licenses' }).getAttribute('aria-valuetext')).toBe('1 of 2');
    // A second domain outside Enterprise: refused as the API words it, next to the button.
    await page.getByLabel('New domain').fill('olga-two.test');
    await page.getByRole('button', { name: 'Add domain' }).click();
    await expect.poll(() => page.getByRole('region', { name: 'Domains' }).getByRole('alert').textContent()).toMatch(/domain/);
    await screenshot(page, 'company');
    await page.getByRole('button', { name: 'Delete company…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete Doomed Ltd?' });
    const confirm = dialog.getByRole('button', { name: 'Delete company' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel(/Type the company id/).fill('doome');
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel(/Type the company id/).fill('doomed');
    await confirm.click();
    await page.getByRole('heading', { name: 'Company deleted' }).waitFor();
    expect((await owner.get('/v1/companies/doomed')).status).toBe(404);
  });

  it('roles: a custom project role with two permissions is created from the matrix; a second tab editing the same role gets the conflict and reloads', async () => {
    const page = await signInWithToken('alice', 'alice@acme.test');
    await page.getByRole('link', { name: 'Roles & Permissions' }).click();
    await page.getByRole('tab', { name: 'admin (locked)' }).waitFor();
    expect(await page.getByRole('checkbox', { name: 'manage Project' }).isDisabled()).toBe(true);
    await page.getByRole('tab', { name: '+ New project role' }).click();
    await page.getByLabel('Name').fill('Reviewer');
    await page.getByLabel('Key').fill('reviewer');
    await page.getByRole('checkbox', { name: 'view Scenario' }).check();
    await page.getByRole('checkbox', { name: 'edit ProjectInformation' }).check();
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.getByRole('heading', { name: 'Project role: Reviewer' }).waitFor();
    const roles = await alice.get('/v1/companies/acme/roles');
    expect(roles.body.project.find((r: { key: string }) => r.key === 'reviewer').permissions).toEqual([
      { action: 'edit', subject: 'ProjectInformation' },
      { action: 'view', subject: 'Scenario' },
    ]);
    await screenshot(page, 'roles');

    // Two tabs open the editor role; the first saves, the second is told and reloads.
    const second = await signInWithToken('alice', 'alice@acme.test');
    await second.getByRole('link', { name: 'Roles & Permissions' }).click();
    for (const tab of [page, second]) await tab.getByRole('tab', { name: 'editor' }).click();
    await page.getByRole('checkbox', { name: 'view Team' }).check();
    await page.getByRole('button', { name: 'Save permissions' }).click();
    await expect.poll(async () => (await alice.get('/v1/companies/acme/roles')).body.company.find((r: { key: string }) => r.key === 'editor').permissions.some((p: { action: string; subject: string }) => p.action === 'view' && p.subject === 'Team')).toBe(true);
    await second.getByRole('checkbox', { name: 'create Team' }).check();
    await second.getByRole('button', { name: 'Save permissions' }).click();
    const refusal = second.getByRole('alert');
    await expect.poll(() => refusal.textContent()).toMatch(/^This role changed since you opened it/);
    await refusal.getByRole('button', { name: 'Reload' }).click();
    await expect.poll(() => second.getByRole('checkbox', { name: 'view Team' }).isChecked()).toBe(true);
    expect(await second.getByRole('checkbox', { name: 'create Team' }).isChecked()).toBe(false);
    expect(await second.getByRole('alert').count()).toBe(0);
  });

  it("projects and the access explorer: granting the role to a team on a project changes a team member's decision", async () => {
    // The roles test makes "reviewer" in the matrix; made here too when that test did not run.
    const existing = await alice.get('/v1/companies/acme/roles');
    if (!existing.body.project.some((r: { key: string }) => r.key === 'reviewer')) {
      const made = await alice.post('/v1/companies/acme/roles/project', { key: 'reviewer', name: 'Reviewer', permissions: [{ action: 'view', subject: 'Scenario' }, { action: 'edit', subject: 'ProjectInformation' }] });
      expect(made.status).toBe(201);
    }
    const invited = await alice.post('/v1/companies/acme/invitations', { email: 'carl@acme.test', role: 'collaborator', applicationAccess: true });
    expect(invited.status).toBe(201);
    const carl = adminClient(castellan.url, 'carl', 'carl@acme.test');
    expect((await carl.post('/v1/companies/acme/invitations/accept')).status).toBe(200);
    expect((await alice.post('/v1/companies/acme/teams', { id: 'design', name: 'Design' })).status).toBe(201);
    expect((await alice.put('/v1/companies/acme/teams/design/members/carl')).status).toBe(200);

    const page = await signInWithToken('alice', 'alice@acme.test');
    await page.getByRole('link', { name: 'Projects' }).click();
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    await page.getByLabel('Project id').fill('bridge');
    await page.getByLabel('Project name').fill('Bridge');
    await page.getByRole('button', { name: 'Register project' }).click();
    await page.getByRole('heading', { name: 'Project Bridge (bridge)' }).waitFor();
    // Shown by its registered name, the id beside it.
    expect(await page.getByLabel('Project', { exact: true }).locator('option:checked').textContent()).toBe('Bridge (bridge)');
    expect(await page.getByRole('row', { name: /alice@acme\.test/ }).getByRole('combobox').inputValue()).toBe('project-admin');
    const explain = async () => {
      await page.goto(`${castellan.url}/console/#/explorer?user=carl&type=ProjectInformation&action=edit&project=bridge`);
      await page.getByRole('heading', { name: 'Access explorer', level: 1 }).waitFor();
      const decision = page.locator('.decision');
      await decision.waitFor();
      return { decision: await decision.textContent(), reason: await page.locator('.reason').textContent() };
    };
    expect(await explain()).toEqual({ decision: 'Denied', reason: 'no rule allows edit ProjectInformation' });

    await page.getByRole('link', { name: 'Projects' }).click();
    await page.getByRole('heading', { name: 'Project Bridge (bridge)' }).waitFor();
    await page.getByLabel('User or team').selectOption('teams:design');
    await page.getByLabel('Project role', { exact: true }).selectOption('reviewer');
    await page.getByRole('button', { name: 'Grant' }).click();
    await page.getByRole('row', { name: /Design/ }).waitFor();
    await screenshot(page, 'projects');
    expect(await explain()).toEqual({ decision: 'Allowed', reason: 'role reviewer via team design on project bridge allows edit ProjectInformation' });
    await screenshot(page, 'explorer');

    // The granted role cannot be deleted: the refusal says where it is granted.
    await page.getByRole('link', { name: 'Roles & Permissions' }).click();
    await page.getByRole('tab', { name: 'Reviewer' }).click();
    await page.getByRole('button', { name: 'Delete role…' }).click();
    await page.getByRole('dialog', { name: 'Delete the Reviewer role?' }).getByRole('button', { name: 'Delete role' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('project role reviewer is still granted (1 grants on 1 projects): remove those grants first. Granted on: Bridge (bridge): team design');

    // One click from the Users page opens the explorer on that user.
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('link', { name: "Why can't they? Explore the access of carl@acme.test" }).click();
    await page.getByRole('heading', { name: 'Access explorer', level: 1 }).waitFor();
    expect(await page.getByLabel('User').inputValue()).toBe('carl');
  });

  it('the audit log shows the changes newest first with a readable diff, filtered by target', async () => {
    const page = await signInWithToken('alice', 'alice@acme.test');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    // The server filters: the console asks for the entries that match, not only among those it loaded.
    const asked = page.waitForRequest((request) => new URL(request.url()).searchParams.get('target') === 'grant:bridge/team');
    await page.getByLabel('Target').fill('grant:bridge/team');
    await asked;
    const rows = page.locator('table.audit tbody tr');
    await expect.poll(() => page.getByRole('status').textContent()).toBe('1 matching entry');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator('th').textContent()).toBe('project.grant.team.put');
    expect(await rows.first().locator('.diff').textContent()).toBe('role: "reviewer"');
    await page.getByLabel('Target').fill('');
    await page.getByLabel('Actor').fill('carl');
    await expect.poll(() => rows.locator('th').allTextContents()).toEqual(['member.accept']);
    await page.getByLabel('Actor').fill('');
    await page.getByLabel('Target').fill('team:');
    await expect.poll(() => rows.locator('th').allTextContents()).toEqual(['team.member.add', 'team.create']);
    await screenshot(page, 'audit');
  });

  it('every page passes axe-core with no serious or critical violation', async () => {
    const page = await open();
    await page.getByRole('heading', { name: 'Sign in to the Castellan console' }).waitFor();
    const found: Record<string, string[]> = { 'sign-in': await accessibilityProblems(page) };
    const signedIn = await signInWithToken('alice', 'alice@acme.test');
    for (const [name, heading] of [['users', 'Users'], ['company', 'Company'], ['roles', 'Roles & Permissions'], ['teams', 'Teams'], ['projects', 'Projects'], ['explorer', 'Access explorer'], ['audit', 'Audit log']] as const) {
      await signedIn.goto(`${castellan.url}/console/#/${name}`);
      await signedIn.getByRole('heading', { name: heading, level: 1 }).waitFor();
      found[name] = await accessibilityProblems(signedIn);
    }
    if (process.env.CONSOLE_SCREENSHOTS) {
      await signedIn.goto(`${castellan.url}/console/#/teams`);
      await signedIn.getByRole('heading', { name: 'Design (design)' }).waitFor();
      await screenshot(signedIn, 'teams');
    }
    expect(found).toEqual({ 'sign-in': [], users: [], company: [], roles: [], teams: [], projects: [], explorer: [], audit: [] });
  });

  it('the Users page of a company with 10,000 members draws one page of 50 rows (time from navigation reported)', async () => {
    const owner = adminClient(castellan.url, 'bigboss', 'bigboss@big.test');
    await createCompany(owner, 'big', { name: 'Big Co', plan: { name: 'business', userLicenses: 20_000, developerLicenses: 10 } });
    const db = castellan.app.store.db;
    for (let start = 0; start < 10_000; start += 1000) {
      const ids = Array.from({ length: 1000 }, (_, i) => `member-${String(start + i).padStart(5, '0')}`);
      await db.insertInto('users').values(ids.map((id) => ({ id, kind: 'platform' as const, email: `${id}@big.test` }))).execute();
      await db.insertInto('memberships').values(ids.map((id, i) => ({ company_id: 'big', user_id: id, role: i % 10 ? ('collaborator' as const) : ('editor' as const), status: 'active' as const, application_access: false, developer_access: false }))).execute();
    }
    const page = await signInWithToken('bigboss', 'bigboss@big.test', 'big');
    // Opened afresh three times: from navigation to the first page of rows drawn, data included.
    // The times are reported (bench/RESULTS.md), not asserted: this machine is shared. What
    // keeps the page fast is asserted: one page of 50 rows is built, whatever the company's size.
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      await page.reload();
      await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
      await expect.poll(() => page.getByRole('status').first().textContent()).toBe('Showing 1-50 of 10001 users');
      times.push(Math.round(await page.evaluate(() => (globalThis as any).performance.getEntriesByName('castellan:users:ready')[0]?.startTime as number)));
    }
    console.log(`console users page, 10,001 members: ready ${times.join(' / ')} ms after navigation`);
    expect(times.every((t) => t > 0)).toBe(true);
    expect(await page.locator('table.users tbody tr').count()).toBe(50);
    // The server pages: the browser never asked for the whole list.
    const asked = () => page.evaluate(() => ((globalThis as any).performance.getEntriesByType('resource') as Array<{ name: string }>).map((e) => e.name).filter((n) => new URL(n).pathname.endsWith('/members')));
    expect((await asked()).map((n) => new URL(n).search)).toEqual(['?limit=50']);
    const status = () => page.getByRole('status').first().textContent();
    const firstRow = () => page.locator('table.users tbody tr th .who').first().textContent();
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(status).toBe('Showing 51-100 of 10001 users');
    expect(await firstRow()).toBe('member-00049@big.test');
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(status).toBe('Showing 101-150 of 10001 users');
    await page.getByRole('button', { name: 'Previous' }).click();
    await expect.poll(status).toBe('Showing 51-100 of 10001 users');
    expect(await firstRow()).toBe('member-00049@big.test');
    await screenshot(page, 'users-10k');
    // Search and filters go to the server, from the first page.
    await page.getByLabel('Role', { exact: true }).selectOption('editor');
    await expect.poll(status).toBe('Showing 1-50 of 1000 matching users');
    expect(await firstRow()).toBe('member-00000@big.test');
    await page.getByLabel('Search').fill('MEMBER-0999');
    await expect.poll(status).toBe('Showing 1-1 of 1 matching user');
    await page.getByLabel('Role', { exact: true }).selectOption('');
    await expect.poll(status).toBe('Showing 1-10 of 10 matching users');
    await page.getByLabel('Search').fill('');
    await expect.poll(status).toBe('Showing 1-50 of 10001 users');
    // Typing is debounced: one search when the typing pauses, not one per key.
    await page.getByLabel('Search').pressSequentially('member-09999', { delay: 20 });
    await expect.poll(status).toBe('Showing 1-1 of 1 matching user');
    expect(page.url()).toMatch(/#\/users\?q=member-09999$/);
    expect((await asked()).slice(-2).map((n) => new URL(n).searchParams.get('q'))).toEqual([null, 'member-09999']);
  });

  it('an expired session sends the user back to sign in, then to the page and the unsent form they were on', async () => {
    const page = await open();
    const form = page.getByRole('form', { name: 'Platform user' });
    await form.getByLabel('Company', { exact: true }).fill('acme');
    await form.getByLabel('Token').fill(await signToken('alice', { email: 'alice@acme.test', email_verified: true }, undefined, '4s'));
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Invite user' }).click();
    await page.getByRole('dialog', { name: 'Invite a user' }).getByLabel('Email').fill('dora@acme.test');
    await page.getByRole('heading', { name: 'Sign in to the Castellan console' }).waitFor({ timeout: 15_000 });
    expect(await page.getByRole('status').textContent()).toBe('Your session expired. Sign in again to carry on where you were.');
    expect(await form.getByLabel('Company', { exact: true }).inputValue()).toBe('acme');
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('castellan.console.session'))).toBeNull();
    await form.getByLabel('Token').fill(await signToken('alice', { email: 'alice@acme.test', email_verified: true }));
    await form.getByRole('button', { name: 'Sign in' }).click();
    const dialog = page.getByRole('dialog', { name: 'Invite a user' });
    await dialog.waitFor();
    expect(await dialog.getByLabel('Email').inputValue()).toBe('dora@acme.test');
    expect(page.url()).toMatch(/\/console\/#\/users$/);
  });

  it("CONSOLE_TOKEN_URL is offered; with CHECK_TOKEN set the console asks about its user with the user's own token: controls follow their rights, the explorer answers", async () => {
    const guarded = await env.start({ CHECK_TOKEN: 'check-token-of-sixteen-or-more', CONSOLE_TOKEN_URL: 'https://login.example.test/castellan-token' });
    // CONSOLE_TOKEN_URL: the identity provider's page is told where to send the token back.
    const idp = await browser.newPage();
    await idp.goto(`${guarded.url}/console/`);
    await idp.getByRole('form', { name: 'Platform user' }).getByLabel('Company', { exact: true }).fill('acme');
    expect(await idp.getByRole('link', { name: 'Sign in with your identity provider' }).getAttribute('href')).toBe(
      `https://login.example.test/castellan-token?return_to=${encodeURIComponent(`${guarded.url}/console/`)}&company=acme`,
    );
    const page = await browser.newPage();
    await page.goto(`${guarded.url}/console/#token=${await signToken('max-guest', {})}&company=acme`);
    // Not a member: the sign-in is refused as the API words it.
    await expect.poll(() => page.getByRole('form', { name: 'Platform user' }).getByRole('alert').textContent()).toMatch(/^company acme not found/);
    // A local manager: the check API answers their own token about them, so they are offered what they may do only.
    const local = page.getByRole('form', { name: 'Local user' });
    await local.getByLabel('Company').fill('acme');
    await local.getByLabel('Login').fill('max');
    await local.getByLabel('Password').fill(PASSWORD);
    await local.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Invite user' }).waitFor();
    expect(await page.getByRole('button', { name: 'Add local user' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Remove / }).count()).toBe(0);
    expect(await page.getByText('CHECK_TOKEN').count()).toBe(0);
    await screenshot(page, 'users-check-token');
    // The explorer asks the admin API about another member (a manager views members and roles): the decision, and why their rules are not shown.
    await page.goto(`${guarded.url}/console/#/explorer?user=alice&type=CompanySettings&action=edit&field=branding`);
    await page.getByRole('heading', { name: 'Access explorer', level: 1 }).waitFor();
    await expect.poll(() => page.locator('.decision').textContent()).toBe('Allowed');
    expect(await page.locator('.reason').textContent()).toMatch(/^company role admin allows edit CompanySettings/);
    await expect.poll(() => page.getByText(/^This instance requires CHECK_TOKEN on its check API: a user’s compiled rules go to services/).count()).toBe(1);
    await screenshot(page, 'explorer-check-token');
    // A sign-in link in a new tab (the same page would only see a hash change): the admin is offered what admins may do, and sees their own rules.
    const tab = await browser.newPage();
    await tab.goto(`${guarded.url}/console/#token=${await signToken('alice', { email: 'alice@acme.test', email_verified: true })}&company=acme`);
    await tab.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    expect(new URL(tab.url()).hash).toBe('#/users');
    await tab.getByRole('button', { name: 'Add local user' }).waitFor();
    await tab.goto(`${guarded.url}/console/#/explorer?user=alice&type=Member&action=remove`);
    await expect.poll(() => tab.locator('.decision').textContent()).toBe('Allowed');
    await expect.poll(() => tab.locator('table.rules tbody tr').count()).toBeGreaterThan(5);
  });

  it('a development sign-in link opens a new company and lands its owner in the console as an admin', async () => {
    const token = await signToken('newcomer', { email: 'newcomer@fresh.test', email_verified: true });
    const page = await browser.newPage();
    await page.goto(consoleLink(castellan.url, token, 'fresh', 'Fresh Start'));
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await expect.poll(() => page.locator('header.top .company').textContent()).toBe('Fresh Start (fresh)');
    expect(new URL(page.url()).hash).toBe('#/users');
    const me = await adminClient(castellan.url, 'newcomer', 'newcomer@fresh.test').get('/v1/companies/fresh/members/newcomer');
    expect(me.body).toMatchObject({ role: 'admin', owner: true, status: 'active' });
  });
});
