import { api, ApiError, can, companyPath } from '../api.js';
import { pageHeader, type PageContext } from '../app.js';
import { busy, clearRefusal, field, h, openDialog, replace, select, showRefusal } from '../dom.js';
import { displayName, loadMembers } from '../members.js';
import { clearSession } from '../session.js';
import type { Company, CompanyWritten, Member } from '../types.js';

const message = (error: unknown): string => (error instanceof ApiError ? error.message : String(error));

/** A used/limit bar with its numbers in words: the bar is decoration, the text is the fact. */
export function usageBar(label: string, used: number, limit: number): HTMLElement {
  const share = limit > 0 ? Math.min(1, used / limit) : used > 0 ? 1 : 0;
  const fill = h('span');
  fill.style.width = `${Math.round(share * 100)}%`; // CSSOM, which the CSP allows (no style attribute)
  const id = `usage-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return h(
    'div',
    { class: 'usage' },
    h('div', { class: 'label' }, h('span', { id }, label), h('span', null, `${used} of ${limit} used`)),
    h(
      'div',
      { class: `bar${used >= limit ? ' full' : share >= 0.8 ? ' high' : ''}`, role: 'meter', 'aria-labelledby': id, 'aria-valuemin': 0, 'aria-valuemax': limit, 'aria-valuenow': used, 'aria-valuetext': `${used} of ${limit}` },
      fill,
    ),
  );
}

export async function companyPage({ root }: PageContext): Promise<void> {
  const [{ body: loaded }, members, may] = await Promise.all([
    api.get<Company>(companyPath()),
    loadMembers().catch(() => [] as Member[]),
    can({
      rename: { action: 'edit', resource: { type: 'CompanySettings' }, field: 'general' },
      domains: { action: 'edit', resource: { type: 'CompanySettings' }, field: 'domains' },
      owner: { action: 'delete', resource: { type: 'Company' } },
    }),
  ]);
  let company: Company = loaded;
  const byId = new Map(members.map((m) => [m.userId, m]));
  const nameOf = (id: string | null) => (id ? (byId.get(id) ? displayName(byId.get(id)!) : id) : 'nobody');

  const general = h('section', { class: 'panel', 'aria-labelledby': 'general-title' });
  const domains = h('section', { class: 'panel', 'aria-labelledby': 'domains-title' });
  const subscription = h('section', { class: 'panel', 'aria-labelledby': 'subscription-title' });
  const ownership = h('section', { class: 'panel', 'aria-labelledby': 'ownership-title' });
  const danger = h('section', { class: 'panel danger', 'aria-labelledby': 'delete-title' });

  function drawGeneral(): void {
    let rename: HTMLElement | null = null;
    if (may.rename) {
      const input = h('input', { name: 'name', value: company.name, required: true });
      const save = h('button', { type: 'submit' }, 'Rename');
      const form = h('form', { class: 'inline' }, field('Company name', input), save);
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearRefusal(save);
        await busy(form, async () => {
          try {
            const { body } = await api.patch<CompanyWritten>(companyPath(), { name: input.value.trim() });
            company = { ...company, name: body.name };
            drawGeneral();
            const label = document.querySelector('header.top .company > span');
            if (label) label.textContent = body.name;
          } catch (error) {
            showRefusal(save, message(error));
          }
        });
      });
      rename = form;
    }
    replace(
      general,
      h('h2', { id: 'general-title' }, 'General'),
      h('dl', { class: 'facts' }, h('dt', null, 'Name'), h('dd', null, company.name), h('dt', null, 'Company id'), h('dd', null, h('code', null, company.id)), h('dt', null, 'Owner'), h('dd', null, nameOf(company.owner)), h('dt', null, 'Created'), h('dd', null, new Date(company.createdAt).toLocaleString())),
      rename ? h('div', { class: 'spaced' }, rename) : null,
    );
  }

  function drawDomains(): void {
    const list = company.domains;
    if (!list) return void domains.remove();
    const save = async (next: string[], control: HTMLElement) => {
      clearRefusal(control);
      try {
        const { body } = await api.put<CompanyWritten>(companyPath('/domains'), { domains: next });
        company = { ...company, domains: body.domains };
        drawDomains();
      } catch (error) {
        showRefusal(control, message(error));
      }
    };
    const chips = h(
      'ul',
      { class: 'chips', 'aria-label': 'Registered domains' },
      list.map((d) => {
        const remove = may.domains ? h('button', { type: 'button', class: 'icon small', 'aria-label': `Remove domain ${d}` }, '×') : null;
        remove?.addEventListener('click', () => void save(list.filter((x) => x !== d), remove));
        return h('li', null, d, remove);
      }),
    );
    let add: HTMLElement | null = null;
    if (may.domains) {
      const input = h('input', { name: 'domain', placeholder: 'example.com', required: true });
      const button = h('button', { type: 'submit' }, 'Add domain');
      const form = h('form', { class: 'inline' }, field('New domain', input), button);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        void busy(form, () => save([...list, input.value.trim()], button));
      });
      add = form;
    }
    replace(
      domains,
      h('h2', { id: 'domains-title' }, 'Domains'),
      h('p', { class: 'hint' }, 'People whose email is at a registered domain are Members of the company; everyone else is a Guest. Only the Enterprise plan registers more than one domain, and a domain belongs to one company.'),
      list.length ? chips : h('p', null, 'No domain registered: everyone is a Guest, except local users.'),
      add,
    );
  }

  function drawSubscription(): void {
    if (!company.plan || !company.usage) return void subscription.remove();
    replace(
      subscription,
      h('h2', { id: 'subscription-title' }, 'Subscription'),
      h('dl', { class: 'facts' }, h('dt', null, 'Plan'), h('dd', null, company.plan.name)),
      usageBar('User licenses', company.usage.userLicenses, company.plan.userLicenses),
      usageBar('Developer licenses', company.usage.developerLicenses, company.plan.developerLicenses),
      h('p', { class: 'hint' }, 'Memberships with application access use user licenses; developer access uses developer licenses. Invitations hold their seat; inactive members give it back. Plans and licenses are set by the platform’s billing side.'),
    );
  }

  function drawOwnership(): void {
    if (!may.owner) return void ownership.remove();
    const candidates = members.filter((m) => m.role === 'admin' && m.status === 'active' && m.kind === 'platform' && m.userId !== company.owner);
    const choice = select('userId', candidates.map((m): [string, string] => [m.userId, displayName(m)]));
    const button = h('button', { type: 'submit' }, 'Transfer ownership');
    const form = h('form', { class: 'inline' }, field('New owner', choice), button);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const target = byId.get(choice.value);
      if (!target) return;
      openDialog('Transfer ownership?', (close) => {
        const confirm = h('button', { type: 'submit', class: 'danger' }, 'Transfer');
        const dialogForm = h('form', null, h('p', null, `${displayName(target)} becomes the owner: only they can then delete the company or hand the tag on. You stay an admin.`), h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: close }, 'Cancel'), confirm));
        dialogForm.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          await busy(dialogForm, async () => {
            try {
              const { body } = await api.post<CompanyWritten>(companyPath('/ownership'), { userId: target.userId });
              company = { ...company, owner: body.owner };
              may.owner = false;
              close();
              drawGeneral();
              drawOwnership();
              danger.remove();
            } catch (error) {
              showRefusal(confirm, message(error));
            }
          });
        });
        return dialogForm;
      });
    });
    replace(
      ownership,
      h('h2', { id: 'ownership-title' }, 'Ownership'),
      h('p', { class: 'hint' }, 'The owner has an admin’s rights plus deleting the company. Ownership passes to an active admin who is a platform user.'),
      candidates.length ? form : h('p', null, 'There is no other active admin to hand ownership to. Make someone an admin first.'),
    );
  }

  function drawDanger(): void {
    if (!may.owner) return void danger.remove();
    const open = h('button', { type: 'button', class: 'danger' }, 'Delete company…');
    open.addEventListener('click', () =>
      openDialog(`Delete ${company.name}?`, (close) => {
        const typed = h('input', { name: 'confirm', autocomplete: 'off', required: true });
        const confirm = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Delete company');
        typed.addEventListener('input', () => (confirm.disabled = typed.value !== company.id));
        const form = h(
          'form',
          null,
          h('p', null, 'Everything in the company is deleted: members, roles, teams, projects and grants. Its audit log is kept, and its id is never used again.'),
          field(`Type the company id, ${company.id}, to confirm`, typed),
          h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: close }, 'Cancel'), confirm),
        );
        form.addEventListener('submit', async (e) => {
          e.preventDefault();
          if (typed.value !== company.id) return;
          await busy(form, async () => {
            try {
              await api.delete(companyPath());
              close();
              clearSession();
              replace(root, pageHeader('Company deleted', `${company.name} (${company.id}) was deleted. Its audit log is kept by the platform operator.`), h('p', null, h('a', { href: '/console/' }, 'Sign in to another company')));
            } catch (error) {
              showRefusal(confirm, message(error));
            }
          });
        });
        return form;
      }),
    );
    replace(danger, h('h2', { id: 'delete-title' }, 'Delete company'), h('p', { class: 'hint' }, 'Only the owner deletes the company.'), open);
  }

  replace(root, pageHeader('Company', 'Settings, domains and subscription, as your role may see them.'), general, domains, subscription, ownership, danger);
  drawGeneral();
  drawDomains();
  drawSubscription();
  drawOwnership();
  drawDanger();
}
