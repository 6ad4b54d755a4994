import { Router } from 'express';
import { UnauthenticatedError } from '../errors.js';
import type { CheckService } from './service.js';

/** The check API routes that are not on the hot path, served by express. */
export function createCheckRouter(service: CheckService, isAuthorised: (header: string | undefined) => boolean): Router {
  const router = Router();
  router.use(['/v1/companies/:company/principals', '/v1/accessible'], (req, _res, next) => {
    next(isAuthorised(req.headers.authorization) ? undefined : new UnauthenticatedError('a valid check token is required (Authorization: Bearer <CHECK_TOKEN>)'));
  });
  router.get('/v1/companies/:company/principals/:userId/rules', async (req, res) => {
    res.json(await service.rules(req.params.company, req.params.userId, req.query.format, req.query.minVersion));
  });
  router.post('/v1/accessible', async (req, res) => {
    res.json(await service.accessible(req.body));
  });
  return router;
}
