import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kysely, PostgresDialect, type CompiledQuery } from 'kysely';
import pg from 'pg';
import { ROOT } from './castellan.js';

interface PrincipalFactsModule {
  explainGrantsQuery(companyId: string, userId: string): { compile(db: Kysely<object>): CompiledQuery };
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

export interface GrantsPlan {
  executionMs: number;
  /** Rows of project_grants the plan read (returned plus filtered out) to find this principal's grants. */
  grantRowsRead: number;
  /** How project_grants was reached, e.g. "Bitmap Index Scan on project_grants_role_idx". */
  access: string[];
}

function walk(node: PlanNode, visit: (n: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

/**
 * EXPLAIN ANALYZE of the project's own grants query (explainGrantsQuery in
 * src/store/principal-facts.ts, the shape the loader runs) for one principal: shows
 * whether a cold load reads the principal's grants or all of the company's.
 */
export async function explainGrants(databaseUrl: string, companyId: string, userId: string): Promise<GrantsPlan> {
  const module = (await import(pathToFileURL(path.join(ROOT, 'dist/store/principal-facts.js')).href)) as PrincipalFactsModule;
  const db = new Kysely<object>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 1 }) }) });
  try {
    const compiled = module.explainGrantsQuery(companyId, userId).compile(db);
    const text = compiled.sql.replace(/^\s*explain\s+/i, 'explain (analyze, format json) ');
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode; 'Execution Time': number }> }>(text, [...compiled.parameters]);
      const plan = rows[0]!['QUERY PLAN'][0]!;
      let read = 0;
      const access: string[] = [];
      walk(plan.Plan, (n) => {
        const loops = n['Actual Loops'] ?? 1;
        if (n['Relation Name'] === 'project_grants') read += ((n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0)) * loops;
        if (n['Index Name']?.startsWith('project_grants') || n['Relation Name'] === 'project_grants') access.push(`${n['Node Type']}${n['Index Name'] ? ` on ${n['Index Name']}` : ''}`);
      });
      return { executionMs: plan['Execution Time'], grantRowsRead: read, access };
    } finally {
      await client.end();
    }
  } finally {
    await db.destroy();
  }
}
