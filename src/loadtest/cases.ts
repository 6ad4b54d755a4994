import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { createCheckSchemas } from '../check/schemas.js';
import type { Catalog } from '../policy/catalog.js';

export type CheckSchemas = ReturnType<typeof createCheckSchemas>;
/** A /v1/check body, as the server's own schema (built from the catalog) accepts it. */
export type CheckBody = z.infer<CheckSchemas['checkBody']>;
export type CheckQuestion = Pick<CheckBody, 'action' | 'resource' | 'field'>;

/**
 * One question of a workload, whatever endpoint carries it: the check, the decision it should
 * get when known (a workload line's `expect`, or the decision a classification pass saw), and
 * an end user's token for forward-auth, which identifies the user by token only.
 */
export interface Case {
  body: CheckBody;
  expect: boolean | null;
  token: string | null;
}

/** What a line of a workload file may add to a /v1/check body. */
const lineExtras = z.object({
  expect: z.enum(['allow', 'deny']).optional().describe('the decision this check should get: answers that differ are counted as wrong'),
  token: z.string().min(1).max(8192).optional().describe("the end user's JWT, for --endpoint forward-auth (a gateway passes the user's token, not an id)"),
});

export class WorkloadError extends Error {}

function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(line)'}: ${i.message}`).join('; ');
}

/**
 * A workload file: JSON lines, each a /v1/check body with optional `expect` ("allow" or
 * "deny") and `token`. Every line is checked with the server's own schema before any load
 * is sent, so a typo is an error naming its line rather than a run of 400s.
 */
export function parseWorkloadText(text: string, catalog: Catalog, source = 'workload'): Case[] {
  const { checkBody } = createCheckSchemas(catalog);
  const cases: Case[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `${source}:${i + 1}`;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (error) {
      throw new WorkloadError(`${where}: not JSON (${(error as Error).message})`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new WorkloadError(`${where}: each line must be a JSON object (a /v1/check body)`);
    const { expect, token, ...body } = raw as Record<string, unknown>;
    const extras = lineExtras.safeParse({ expect, token });
    if (!extras.success) throw new WorkloadError(`${where}: ${issuesText(extras.error)}`);
    const parsed = checkBody.safeParse(body);
    if (!parsed.success) throw new WorkloadError(`${where}: ${issuesText(parsed.error)}`);
    const principalToken = 'token' in parsed.data.principal ? parsed.data.principal.token : null;
    cases.push({ body: parsed.data, expect: extras.data.expect === undefined ? null : extras.data.expect === 'allow', token: extras.data.token ?? principalToken });
  }
  if (cases.length === 0) throw new WorkloadError(`${source}: no checks (one JSON object per line)`);
  return cases;
}

export function readWorkloadFile(file: string, catalog: Catalog): Case[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new WorkloadError(`--workload ${file}: ${(error as Error).message}`);
  }
  return parseWorkloadText(text, catalog, file);
}

/** Groups cases by who asks (company, principal and consistency), in first-seen order: a batch is one principal's. */
export function groupByPrincipal(cases: readonly Case[]): Case[][] {
  const groups = new Map<string, Case[]>();
  for (const c of cases) {
    const key = JSON.stringify([c.body.company, c.body.principal, c.body.consistency ?? null]);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push(c);
  }
  return [...groups.values()];
}
