import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cellsOf, matrixSpec, permissionsOf } from '../../console/src/matrix.js';
import { diff } from '../../console/src/diff.js';
import { loadPolicies } from '../../src/policy/catalog.js';

const { catalog } = loadPolicies();

describe('role matrix', () => {
  it('reads sections, manage and restrictions as the compiler decides them, in any order (D9)', () => {
    const spec = matrixSpec(catalog, 'company');
    const cells = cellsOf(spec, [
      { action: 'edit', subject: 'CompanySettings', fields: ['branding'] },
      { action: 'view', subject: 'CompanySettings', inverted: true, fields: ['subscription'] },
      { action: 'view', subject: 'CompanySettings' },
    ]);
    expect(cells.get('CompanySettings|branding|edit')).toBe(true);
    expect(cells.get('CompanySettings|general|edit')).toBe(false);
    expect(cells.get('CompanySettings|general|view')).toBe(true);
    expect(cells.get('CompanySettings|subscription|view')).toBe(false);
    const project = matrixSpec(catalog, 'project');
    expect(cellsOf(project, [{ action: 'manage', subject: 'Project' }]).get('Project||delete')).toBe(true);
  });

  it('writes the fewest allow-only permissions that decide what the cells say', () => {
    const spec = matrixSpec(catalog, 'company');
    const cells = cellsOf(spec, []);
    for (const field of catalog.subjects.CompanySettings!.fields!) cells.set(`CompanySettings|${field}|view`, true);
    cells.set('CompanySettings|branding|edit', true);
    cells.set('Team||view', true);
    expect(permissionsOf(spec, cells)).toEqual([
      { action: 'view', subject: 'CompanySettings' },
      { action: 'edit', subject: 'CompanySettings', fields: ['branding'] },
      { action: 'view', subject: 'Team' },
    ]);
  });

  it('what it writes reads back as the same cells, for any ticks in either scope', () => {
    for (const scope of ['company', 'project'] as const) {
      const spec = matrixSpec(catalog, scope);
      const keys = [...cellsOf(spec, []).keys()];
      fc.assert(
        fc.property(fc.array(fc.boolean(), { minLength: keys.length, maxLength: keys.length }), (ticks) => {
          const cells = new Map(keys.map((k, i) => [k, ticks[i]!]));
          const expected = new Map(cells);
          // A ticked manage stands for the subject's other actions, as the compiler reads it.
          for (const [key, on] of cells) {
            const [subject, field, action] = key.split('|');
            if (on && action === 'manage') for (const k of keys) if (k.startsWith(`${subject}|${field}|`)) expected.set(k, true);
          }
          expect(cellsOf(spec, permissionsOf(spec, cells))).toEqual(expected);
        }),
        { numRuns: 200 },
      );
    }
  });
});

describe('audit diff', () => {
  it('lists what changed key by key: removed, added, changed', () => {
    expect(diff({ role: 'viewer', status: 'active', team: { id: 't' } }, { role: 'editor', status: 'active', team: { id: 't', name: 'T' } })).toEqual([
      { key: 'role', from: '"viewer"', to: '"editor"' },
      { key: 'team.name', to: '"T"' },
    ]);
    expect(diff(null, { role: 'reviewer' })).toEqual([{ key: 'role', to: '"reviewer"' }]);
    expect(diff({ role: 'reviewer' }, null)).toEqual([{ key: 'role', from: '"reviewer"' }]);
  });
});
