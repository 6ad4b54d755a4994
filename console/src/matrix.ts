import type { Catalog, Permission } from './types.js';

/** One row of a role matrix: a subject, or one field (section) of a sectioned subject. */
export interface MatrixRow {
  subject: string;
  field?: string;
}

export interface MatrixSpec {
  rows: MatrixRow[];
  /** Columns: the actions of the scope, in catalog order. */
  actions: string[];
  /** Which actions each subject takes in this scope. */
  actionsOf: Record<string, string[]>;
}

/** The rows and columns a role of this scope may name, from the instance's catalog. */
export function matrixSpec(catalog: Catalog, scope: 'company' | 'project' | 'admin'): MatrixSpec {
  const base = scope === 'project' ? catalog.projectRolePermissions : catalog.companyRolePermissions;
  const actionsOf: Record<string, string[]> = {};
  for (const [subject, actions] of Object.entries(base)) actionsOf[subject] = [...actions];
  if (scope === 'admin') {
    for (const [subject, actions] of Object.entries(catalog.adminRolePermissions)) actionsOf[subject] = [...new Set([...(actionsOf[subject] ?? []), ...actions])];
  }
  const rows: MatrixRow[] = [];
  for (const subject of Object.keys(actionsOf)) {
    const fields = catalog.subjects[subject]?.fields;
    if (fields?.length) for (const field of fields) rows.push({ subject, field });
    else rows.push({ subject });
  }
  const order = [...new Set(Object.values(catalog.subjects).flatMap((s) => s.actions))];
  const used = new Set(Object.values(actionsOf).flat());
  return { rows, actions: order.filter((a) => used.has(a)), actionsOf };
}

const covers = (p: Permission, action: string, subject: string, field: string | undefined): boolean =>
  (p.subject === subject || p.subject === 'all') && (p.action === action || p.action === 'manage') && (!p.fields?.length || (field !== undefined && p.fields.includes(field)));

/**
 * Whether a role's permissions allow an action on a row, as the compiler decides it: some
 * allow covers it and no restriction does, whatever the order (D9).
 */
export function allows(permissions: readonly Permission[], action: string, row: MatrixRow): boolean {
  const allowed = permissions.some((p) => !p.inverted && covers(p, action, row.subject, row.field));
  const restricted = permissions.some((p) => p.inverted && covers(p, action, row.subject, row.field));
  return allowed && !restricted;
}

export const cellKey = (action: string, row: MatrixRow): string => `${row.subject}|${row.field ?? ''}|${action}`;

/** The matrix's cells from a role's permissions: key to allowed. */
export function cellsOf(spec: MatrixSpec, permissions: readonly Permission[]): Map<string, boolean> {
  const cells = new Map<string, boolean>();
  for (const row of spec.rows) for (const action of spec.actionsOf[row.subject] ?? []) cells.set(cellKey(action, row), allows(permissions, action, row));
  return cells;
}

/**
 * The shortest allow-only permissions that decide what the cells say: a sectioned subject
 * whose sections are all ticked gets one permission without fields; `manage` stands for
 * the subject's other actions.
 */
export function permissionsOf(spec: MatrixSpec, cells: ReadonlyMap<string, boolean>): Permission[] {
  const out: Permission[] = [];
  for (const [subject, actions] of Object.entries(spec.actionsOf)) {
    const rows = spec.rows.filter((r) => r.subject === subject);
    const manage = actions.includes('manage') && rows.every((r) => cells.get(cellKey('manage', r)));
    for (const action of manage ? ['manage'] : actions) {
      const ticked = rows.filter((r) => cells.get(cellKey(action, r)));
      if (!ticked.length) continue;
      if (ticked.length === rows.length) out.push({ action, subject });
      else out.push({ action, subject, fields: ticked.map((r) => r.field!).filter(Boolean) });
    }
  }
  return out;
}
