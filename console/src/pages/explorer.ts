import { api, ApiError, checkApi, companyPath, enc, isCheckTokenRefusal, session } from '../api.js';
import { pageHeader, replaceParams, type PageContext } from '../app.js';
import { busy, field, h, replace, select, tableBox } from '../dom.js';
import { displayName, loadMembers } from '../members.js';
import { projectLabel, visibleProjects, type ProjectRef } from '../projects.js';
import type { CheckAnswer, ExplainBody, RulesAnswer } from '../types.js';

/**
 * "Why can(not) they?": the admin API's access explain (the /v1/check decision and reason,
 * asked with the signed-in user's token and gated on their rights to see members, roles and
 * the project's members), beside the user's compiled rules from the check API's rules
 * endpoint where it answers the console: always about oneself, about others only where no
 * CHECK_TOKEN is configured.
 */
export async function explorerPage({ root, params, config }: PageContext): Promise<void> {
  const { catalog } = config;
  const [members, projects] = await Promise.all([loadMembers(), visibleProjects().catch(() => [] as ProjectRef[])]);
  const subjects = Object.keys(catalog.subjects);

  const user = select('user', members.map((m): [string, string] => [m.userId, `${displayName(m)} (${m.role}, ${m.status})`]), params.get('user') ?? members[0]?.userId);
  const type = select('type', subjects, params.get('type') ?? 'Project');
  const action = h('select', { name: 'action' });
  const fieldSelect = h('select', { name: 'field' });
  const project = h('input', { name: 'projectId', list: 'explorer-projects', value: params.get('project') ?? projects[0]?.id ?? '', pattern: '[A-Za-z0-9._:@\\-]{1,128}' });
  const projectList = h('datalist', { id: 'explorer-projects' }, projects.map((p) => h('option', { value: p.id }, projectLabel(p))));
  const resourceId = h('input', { name: 'id', value: params.get('id') ?? '', pattern: '[A-Za-z0-9._:@\\-]{1,128}' });
  const fieldWrap = h('div');
  const projectWrap = h('div');
  const answer = h('div', { 'aria-live': 'polite' });
  const rules = h('div');

  const syncType = () => {
    const spec = catalog.subjects[type.value]!;
    const keep = params.get('action');
    replace(action, spec.actions.map((a) => h('option', { value: a, selected: a === keep }, a)));
    replace(fieldSelect, h('option', { value: '' }, '(the subject as a whole)'), (spec.fields ?? []).map((f) => h('option', { value: f, selected: f === params.get('field') }, f)));
    replace(fieldWrap, spec.fields?.length ? field('Section', fieldSelect) : null);
    replace(projectWrap, spec.projectAttribute ? field('Project', project, 'A registered project id.') : null);
  };
  type.addEventListener('change', syncType);
  syncType();

  const ask = h('button', { type: 'submit', class: 'primary' }, 'Check');
  const form = h(
    'form',
    { class: 'panel', 'aria-label': 'Question' },
    h('div', { class: 'filters' }, field('User', user), field('Action', action), field('Resource type', type), projectWrap, field('Resource id (optional)', resourceId), fieldWrap),
    projectList,
    h('div', { class: 'buttons' }, ask),
  );

  async function run(): Promise<void> {
    const spec = catalog.subjects[type.value]!;
    const attributes: Record<string, string> = {};
    if (spec.projectAttribute && project.value.trim()) attributes[spec.projectAttribute] = project.value.trim();
    const resource: ExplainBody['resource'] = { type: type.value as ExplainBody['resource']['type'] };
    if (resourceId.value.trim()) resource.id = resourceId.value.trim();
    if (Object.keys(attributes).length) resource.attributes = attributes;
    const body: ExplainBody = { principal: { id: user.value }, action: action.value as ExplainBody['action'], resource };
    if (fieldSelect.value && spec.fields?.length) body.field = fieldSelect.value as NonNullable<ExplainBody['field']>;
    replaceParams('explorer', { user: user.value, type: type.value, action: action.value, project: attributes[spec.projectAttribute ?? ''] ?? undefined, id: resource.id, field: body.field });
    try {
      const decision = (await api.post<CheckAnswer>(companyPath('/access/explain'), body)).body;
      replace(
        answer,
        h('p', { class: `decision ${decision.allowed ? 'allowed' : 'denied'}`, role: 'status' }, decision.allowed ? 'Allowed' : 'Denied'),
        h('dl', { class: 'facts' }, h('dt', null, 'Reason'), h('dd', { class: 'reason' }, decision.reason), h('dt', null, 'Policy version'), h('dd', null, decision.version)),
      );
    } catch (error) {
      replace(answer, h('p', { class: 'notice error', role: 'alert' }, error instanceof ApiError ? error.message : String(error)));
      // Whoever may not ask about this user does not see their rules either.
      replace(rules);
      return;
    }
    const aboutSelf = user.value === session().userId;
    try {
      const compiled = await checkApi<RulesAnswer>(`/v1/companies/${enc(session().company)}/principals/${enc(user.value)}/rules`, undefined, { aboutSelf });
      replace(
        rules,
        h('h2', null, 'Their rules'),
        h('p', { class: 'hint' }, 'The user’s compiled CASL rules, as services fetch them to decide locally (GET /v1/companies/{company}/principals/{user}/rules).'),
        tableBox('Their rules', h('table', { class: 'rules' }, h('caption', { class: 'visually-hidden' }, 'Compiled rules'), h('thead', null, h('tr', null, ['Effect', 'Action', 'Subject', 'Sections', 'Conditions', 'Why'].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', null, (compiled.rules as RawRule[]).map(ruleRow)))),
      );
    } catch (error) {
      if (!aboutSelf && isCheckTokenRefusal(error)) {
        replace(
          rules,
          h('h2', null, 'Their rules'),
          h('p', { class: 'hint' }, 'This instance requires CHECK_TOKEN on its check API: a user’s compiled rules go to services holding it, and to the user themself. The decision above is the one services get.'),
        );
        return;
      }
      replace(rules, h('p', { class: 'notice error' }, `The rules could not be read: ${error instanceof ApiError ? error.message : String(error)}`));
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void busy(form, run);
  });

  replace(root, pageHeader('Access explorer', 'Ask what Castellan decides for a user, and why.'), form, h('section', { class: 'panel', 'aria-label': 'Decision' }, h('h2', null, 'Decision'), answer), rules);
  if (params.get('user')) await busy(form, run);
}

interface RawRule {
  action: string | string[];
  subject: string | string[];
  fields?: string | string[];
  conditions?: unknown;
  inverted?: boolean;
  reason?: string;
}

const list = (v: string | string[] | undefined) => (v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v);

function ruleRow(rule: RawRule): HTMLTableRowElement {
  return h(
    'tr',
    null,
    h('td', null, rule.inverted ? h('span', { class: 'status inactive' }, 'forbid') : h('span', { class: 'status active' }, 'allow')),
    h('td', null, list(rule.action)),
    h('th', { scope: 'row' }, list(rule.subject)),
    h('td', null, list(rule.fields) || '—'),
    h('td', null, rule.conditions ? h('code', null, JSON.stringify(rule.conditions)) : '—'),
    h('td', null, rule.reason ?? ''),
  );
}
