import express, { type Request } from 'express';
import type { CastellanClient } from '@castellan/client';
import { authorize } from '@castellan/client/express';

/** The service's own data: Castellan knows who may do what, never the scenarios themselves. */
export interface Store {
  scenarios: Map<string, { id: string; projectId: string; name: string }>;
  projects: Array<{ id: string; name: string }>;
  branding: Map<string, { color: string }>;
}

const company = (req: Request) => String(req.params.company);

/**
 * A scenario service: every route asks Castellan first, through the middleware, with the
 * caller's bearer token as the principal. A front end that has just changed a role sends the
 * write's version as X-Castellan-Version, and the check waits for data that new.
 */
export function createApp(castellan: CastellanClient, store: Store, log: (line: object) => void = () => {}) {
  const app = express();
  app.use(express.json());
  const onError = (error: unknown, req: Request) => log({ msg: 'authorization failed', path: req.path, error: String(error) });

  app.get(
    '/companies/:company/projects/:projectId/scenarios/:id',
    authorize(castellan, {
      action: 'view',
      company,
      resource: (req) => ({ type: 'Scenario', id: String(req.params.id), attributes: { projectId: String(req.params.projectId) } }),
      onError,
    }),
    (req, res) => {
      const scenario = store.scenarios.get(String(req.params.id));
      if (!scenario || scenario.projectId !== req.params.projectId) return void res.status(404).json({ error: { code: 'not_found', message: 'no such scenario' } });
      log({ msg: 'scenario read', reason: req.castellan?.reason, version: req.castellan?.version });
      res.json(scenario);
    },
  );

  app.patch(
    '/companies/:company/settings/branding',
    authorize(castellan, { action: 'edit', field: 'branding', company, resource: () => ({ type: 'CompanySettings' }), onError }),
    (req, res) => {
      const color = (req.body as { color?: unknown } | undefined)?.color;
      if (typeof color !== 'string') return void res.status(400).json({ error: { code: 'invalid_request', message: 'color must be a string' } });
      store.branding.set(company(req), { color });
      res.json({ color });
    },
  );

  // A list: one question for the whole list (/v1/accessible), not one check per item.
  app.get('/companies/:company/projects', async (req, res) => {
    const token = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return void res.status(401).set('www-authenticate', 'Bearer').json({ error: { code: 'unauthenticated', message: 'a bearer token is required' } });
    try {
      const answer = await castellan.accessible({ company: company(req), principal: { token }, action: 'view', resourceType: 'Project' });
      const visible = answer.kind === 'all' ? store.projects : answer.kind === 'some' ? store.projects.filter((p) => answer.ids!.includes(p.id)) : [];
      res.json({ projects: visible, version: answer.version });
    } catch (error) {
      onError(error, req);
      res.status(503).json({ error: { code: 'unavailable', message: 'authorization is unavailable' } });
    }
  });

  return app;
}
