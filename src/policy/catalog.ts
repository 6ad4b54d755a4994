import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ID_PATTERN } from './ids.js';
import { routeMapSchema, type RouteDefinition } from './routes.js';
import { actionsInScope, scopeOfCompanyRole, type PermissionScope } from './scopes.js';
import { CREATOR_PROJECT_ROLE, type CompanyRole, type StoredPermission } from './types.js';

/** The compiler's vocabulary, loaded from `policies/catalog.json`. */
export interface Catalog {
  subjects: Record<string, SubjectSpec>;
  /** Which subjects and actions a project role may name. */
  projectRolePermissions: Record<string, string[]>;
  /**
   * Which subjects and actions a company role may name: company-level ones only (D9); what a
   * user does inside a project comes from project roles (D18). Company, Application and
   * Builder come from the owner tag and the access grants.
   */
  companyRolePermissions: Record<string, string[]>;
  /** What the admin role names beyond a company role's vocabulary: admins manage every project (D18). */
  adminRolePermissions: Record<string, string[]>;
}

export interface SubjectSpec {
  actions: string[];
  fields?: string[];
  attributes?: string[];
  /** The attribute that names the project a resource belongs to, for project-scoped subjects. */
  projectAttribute?: string;
}

export interface Policies {
  catalog: Catalog;
  companyRoles: Record<CompanyRole, StoredPermission[]>;
  projectRoles: ProjectRoleDefinition[];
  plans: Plans;
  /** `routes.json`: forward-auth's route map (empty when the file is absent: every gateway request is then denied). */
  routes: RouteDefinition[];
  /** Where the route map was read from, for messages about it. */
  routesFile: string;
  testSuites: PolicyTestSuite[];
}

export interface ProjectRoleDefinition {
  key: string;
  name: string;
  permissions: StoredPermission[];
}

export class PolicyFileError extends Error {
  override readonly name = 'PolicyFileError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`Invalid policy file ${file}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

export { ID_PATTERN, idSchema } from './ids.js';
const name = z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, 'must be an identifier');

const subjectSpecSchema = z.strictObject({
  actions: z.array(name).min(1),
  fields: z.array(name).min(1).optional(),
  attributes: z.array(name).min(1).optional(),
  projectAttribute: name.optional(),
});

/**
 * Requests name subjects (`resource.type`, a permission's `subject`) that are looked up in
 * these records: a plain object would answer `constructor` or `toString` from its
 * prototype, so they hold their entries without one.
 */
const ownEntries = <T>(record: Record<string, T>): Record<string, T> => Object.assign(Object.create(null) as Record<string, T>, record);
const vocabularyRecord = <T extends z.ZodType>(value: T) => z.record(name, value).transform(ownEntries);

const catalogSchema = z
  .strictObject({
    subjects: vocabularyRecord(subjectSpecSchema),
    projectRolePermissions: vocabularyRecord(z.array(name)),
    companyRolePermissions: vocabularyRecord(z.array(name)),
    adminRolePermissions: vocabularyRecord(z.array(name)),
  })
  .superRefine((catalog, ctx) => {
    for (const [subject, spec] of Object.entries(catalog.subjects)) {
      if (spec.projectAttribute && !spec.attributes?.includes(spec.projectAttribute)) {
        ctx.addIssue({ code: 'custom', path: ['subjects', subject, 'projectAttribute'], message: 'must be one of the subject attributes' });
      }
    }
    for (const subject of Object.keys(catalog.projectRolePermissions)) {
      if (catalog.subjects[subject] && !catalog.subjects[subject].projectAttribute) {
        ctx.addIssue({ code: 'custom', path: ['projectRolePermissions', subject], message: 'must be a project-scoped subject of the catalog' });
      }
    }
    for (const key of ['projectRolePermissions', 'companyRolePermissions', 'adminRolePermissions'] as const) {
      for (const [subject, actions] of Object.entries(catalog[key])) {
        const spec = catalog.subjects[subject];
        if (!spec) {
          ctx.addIssue({ code: 'custom', path: [key, subject], message: `unknown subject "${subject}"` });
          continue;
        }
        actions.forEach((action, i) => {
          if (!spec.actions.includes(action)) ctx.addIssue({ code: 'custom', path: [key, subject, i], message: `"${action}" is not an action of ${subject}` });
        });
      }
    }
  });

export const permissionSchema = z.strictObject({
  action: z.string().min(1).max(64),
  subject: z.string().min(1).max(64),
  fields: z.array(z.string().min(1).max(64)).min(1).max(64).optional(),
  inverted: z.boolean().optional(),
});

const scopeNames: Record<PermissionScope, string> = { company: 'a company role', admin: 'the admin role', project: 'a project role' };

/** Problems with one permission against the catalog for a role of `scope`; empty when it is valid. */
export function permissionProblems(catalog: Catalog, permission: StoredPermission, scope: PermissionScope): string[] {
  const spec = catalog.subjects[permission.subject];
  if (!spec) return [`unknown subject "${permission.subject}"`];
  const allowedActions = actionsInScope(catalog, scope, permission.subject);
  if (!allowedActions) {
    const why = scope === 'project' ? '' : spec.projectAttribute ? ': what a user does inside a project comes from project roles (D18)' : '';
    return [`${scopeNames[scope]} cannot name ${permission.subject}${why}`];
  }
  const problems: string[] = [];
  if (!allowedActions.includes(permission.action)) {
    const why = scope !== 'project' && spec.projectAttribute ? ': what a user does inside a project comes from project roles (D18)' : '';
    problems.push(`"${permission.action}" is not allowed on ${permission.subject} in ${scopeNames[scope]}${why}`);
  }
  for (const field of permission.fields ?? []) {
    if (!spec.fields?.includes(field)) problems.push(`"${field}" is not a field of ${permission.subject}`);
  }
  // D16, D17: a project role is a set of allows; a restriction in one would override other grants, even an admin's.
  if (scope === 'project' && permission.inverted) problems.push('a project role only allows: inverted permissions are refused (D16)');
  return problems;
}

const companyRolesSchema = (catalog: Catalog) =>
  z
    .strictObject({
      admin: z.array(permissionSchema),
      manager: z.array(permissionSchema),
      editor: z.array(permissionSchema),
      collaborator: z.array(permissionSchema),
    })
    .superRefine((roles, ctx) => {
      for (const [role, permissions] of Object.entries(roles)) {
        permissions.forEach((permission, i) => {
          for (const message of permissionProblems(catalog, permission, scopeOfCompanyRole(role as CompanyRole))) {
            ctx.addIssue({ code: 'custom', path: [role, i], message });
          }
        });
      }
    });

export const projectRoleKeySchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be 1-64 lowercase letters, digits, ".", "_" or "-"');

const projectRolesSchema = (catalog: Catalog) =>
  z
    .array(
      z.strictObject({
        key: projectRoleKeySchema,
        name: z.string().min(1).max(200),
        permissions: z.array(permissionSchema),
      }),
    )
    .superRefine((roles, ctx) => {
      const seen = new Set<string>();
      roles.forEach((role, i) => {
        if (seen.has(role.key)) ctx.addIssue({ code: 'custom', path: [i, 'key'], message: `duplicate key "${role.key}"` });
        seen.add(role.key);
        role.permissions.forEach((permission, j) => {
          for (const message of permissionProblems(catalog, permission, 'project')) {
            ctx.addIssue({ code: 'custom', path: [i, 'permissions', j], message });
          }
        });
      });
      if (!seen.has(CREATOR_PROJECT_ROLE)) {
        ctx.addIssue({ code: 'custom', path: [], message: `must define "${CREATOR_PROJECT_ROLE}", the role a project's creator receives (D15)` });
      }
    });

/** A plan and its license counts (D14), as the billing side sets them. */
export const planSchema = z.strictObject({
  name: z.string().trim().min(1).max(64),
  userLicenses: z.number().int().min(0).max(1_000_000),
  developerLicenses: z.number().int().min(0).max(1_000_000),
});
export type Plan = z.infer<typeof planSchema>;

/** `plans.json`: what a company gets when the platform chose no plan for it. */
const plansSchema = z.strictObject({ default: planSchema });
export type Plans = z.infer<typeof plansSchema>;

const grantSchema = z.strictObject({ project: z.string().regex(ID_PATTERN), role: projectRoleKeySchema, team: z.string().regex(ID_PATTERN).optional() });

/** A decision case: the check /v1/check would take, and whether it is allowed. */
const checkCaseSchema = z.strictObject({
  action: z.string(),
  resource: z.strictObject({ type: z.string(), id: z.string().optional(), attributes: z.record(z.string(), z.string()).optional() }),
  field: z.string().optional(),
  allowed: z.boolean(),
});

/**
 * A gateway case: a request as forward-auth receives it, through the route map, and its
 * answer. `token` holds the end user's token claims (absent or null: no token); a `sub`
 * other than the suite principal's `id` is a user without a membership in the company.
 */
const routeCaseSchema = z.strictObject({
  method: z.string().regex(/^[A-Z]+$/, 'must be an upper-case HTTP method'),
  path: z.string().min(1),
  token: z
    .looseObject({ sub: z.string().optional(), exp: z.number().optional() })
    .nullable()
    .optional()
    .describe('the verified token claims; exp (seconds) in the past is an expired token'),
  expect: z.union([z.literal(200), z.literal(401), z.literal(403)]),
});

export type CheckCase = z.infer<typeof checkCaseSchema>;
export type RouteCase = z.infer<typeof routeCaseSchema>;
export const isRouteCase = (testCase: CheckCase | RouteCase): testCase is RouteCase => 'expect' in testCase;

export const policyTestSuiteSchema = z.strictObject({
  description: z.string().optional(),
  /** The company the principal belongs to, as gateway cases name it in their paths. */
  company: z.string().regex(ID_PATTERN).default('acme'),
  principal: z.strictObject({
    /** The principal's user id, as the `sub` of gateway cases' tokens names it. */
    id: z.string().min(1).default('user'),
    role: z.enum(['admin', 'manager', 'editor', 'collaborator']),
    status: z.enum(['invited', 'active', 'inactive']).default('active'),
    owner: z.boolean().default(false),
    applicationAccess: z.boolean().default(false),
    developerAccess: z.boolean().default(false),
    grants: z.array(grantSchema).default([]),
  }),
  /** Per-company overrides of company-role permissions, as an admin would store them. */
  companyRoles: z.record(z.enum(['manager', 'editor', 'collaborator']), z.array(permissionSchema)).optional(),
  projectRoles: z.array(z.strictObject({ key: projectRoleKeySchema, name: z.string(), permissions: z.array(permissionSchema) })).optional(),
  /** The projects registered in the company (D15); by default the projects the grants name. */
  projects: z.array(z.string().regex(ID_PATTERN)).optional(),
  cases: z.array(z.union([checkCaseSchema, routeCaseSchema])).min(1),
}).superRefine((suite, ctx) => {
  // The store cannot hold a grant on a project that is not registered (grants go with their project).
  if (!suite.projects) return;
  suite.principal.grants.forEach((grant, i) => {
    if (!suite.projects!.includes(grant.project)) ctx.addIssue({ code: 'custom', path: ['principal', 'grants', i, 'project'], message: `"${grant.project}" is not in projects` });
  });
});

export type PolicyTestSuite = z.infer<typeof policyTestSuiteSchema> & { file: string; name: string };

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `at ${issue.path.length ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`);
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PolicyFileError(file, [`cannot be read: ${(error as Error).message}`]);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PolicyFileError(file, [`is not valid JSON: ${(error as Error).message}`]);
  }
}

function parseFile<T>(file: string, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(readJson(file));
  if (!parsed.success) throw new PolicyFileError(file, formatIssues(parsed.error));
  return parsed.data;
}

export function defaultPoliciesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // src/policy or dist/policy: the policies folder sits at the repository top.
  return path.resolve(here, '../../policies');
}

/** Loads and validates every policy file; throws a PolicyFileError naming the file and path. */
export function loadPolicies(dir: string = defaultPoliciesDir()): Policies {
  const catalog = parseFile(path.join(dir, 'catalog.json'), catalogSchema) as Catalog;
  const companyRoles = parseFile(path.join(dir, 'company-roles.json'), companyRolesSchema(catalog)) as Record<CompanyRole, StoredPermission[]>;
  const projectRoles = parseFile(path.join(dir, 'project-roles.json'), projectRolesSchema(catalog)) as ProjectRoleDefinition[];
  const plans = parseFile(path.join(dir, 'plans.json'), plansSchema);
  const routesFile = path.join(dir, 'routes.json');
  // Optional: without a route map, forward-auth matches nothing and denies every request.
  const routes = existsSync(routesFile) ? parseFile(routesFile, routeMapSchema(catalog)).routes : [];
  const testsDir = path.join(dir, 'tests');
  let testFiles: string[] = [];
  try {
    testFiles = readdirSync(testsDir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    testFiles = [];
  }
  const testSuites = testFiles.map((f) => {
    const file = path.join(testsDir, f);
    return { ...parseFile(file, policyTestSuiteSchema), file, name: f.replace(/\.json$/, '') };
  });
  return { catalog, companyRoles, projectRoles, plans, routes, routesFile, testSuites };
}
