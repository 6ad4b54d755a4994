import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { ROOT } from './castellan.js';

interface PrincipalFactsModule {
  PRINCIPAL_LOAD_SQL: string;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Heap Fetches'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

export interface GrantsPlan {
  executionMs: number;
  planningMs: number;
  /** Rows of project_grants the plan read (returned plus filtered out) to find this principal's grants. */
  grantRowsRead: number;
  /** Heap pages visited for project_grants rows an index did not answer alone. */
  grantHeapFetches: number;
  /** Shared buffers the whole statement touched (hit and read). */
  buffers: number;
  /** How project_grants was reached, e.g. "Index Only Scan on project_grants_user_unique". */
  access: string[];
  /** EXPLAIN (ANALYZE, BUFFERS) in PostgreSQL's text form, for RESULTS.md. */
  text: string;
}

function walk(node: PlanNode, visit: (n: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the statement a cold load runs (PRINCIPAL_LOAD_SQL in
 * src/store/principal-facts.ts, with the parameters the check path passes) for one
 * principal: shows whether a cold load reads the principal's grants or all of the
 * company's, and whether the index answers alone. Run twice, the first to warm the
 * catalog caches, as a long-running instance has them.
 */
export async function explainGrants(databaseUrl: string, companyId: string, userId: string): Promise<GrantsPlan> {
  const module = (await import(pathToFileURL(path.join(ROOT, 'dist/store/principal-facts.js')).href)) as PrincipalFactsModule;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // The load of a principal whose company's project list the instance holds: every cold load but the first after a write.
    const parameters = [companyId, userId];
    await client.query(module.PRINCIPAL_LOAD_SQL, parameters);
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode; 'Execution Time': number; 'Planning Time': number }> }>(
      `explain (analyze, buffers, format json) ${module.PRINCIPAL_LOAD_SQL}`,
      parameters,
    );
    const textRows = await client.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers, costs off) ${module.PRINCIPAL_LOAD_SQL}`, parameters);
    const plan = rows[0]!['QUERY PLAN'][0]!;
    let read = 0;
    let heapFetches = 0;
    const access: string[] = [];
    walk(plan.Plan, (n) => {
      const loops = n['Actual Loops'] ?? 1;
      const onGrants = n['Relation Name'] === 'project_grants';
      if (onGrants) read += ((n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0)) * loops;
      if (onGrants) heapFetches += n['Heap Fetches'] ?? (n['Node Type'] === 'Index Scan' ? (n['Actual Rows'] ?? 0) * loops : 0);
      if (n['Index Name']?.startsWith('project_grants') || onGrants) access.push(`${n['Node Type']}${n['Index Name'] ? ` on ${n['Index Name']}` : ''}`);
    });
    return {
      executionMs: plan['Execution Time'],
      planningMs: plan['Planning Time'],
      grantRowsRead: read,
      grantHeapFetches: heapFetches,
      buffers: (plan.Plan['Shared Hit Blocks'] ?? 0) + (plan.Plan['Shared Read Blocks'] ?? 0),
      access: [...new Set(access)],
      text: textRows.rows.map((r) => r['QUERY PLAN']).join('\n'),
    };
  } finally {
    await client.end();
  }
}
