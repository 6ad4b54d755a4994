import { Router } from 'express';
import type { Auth } from './auth.js';

/** `POST /v1/auth/token` (local users) and `GET /.well-known/jwks.json`. */
export function createAuthRouter(_auth: Auth): Router {
  return Router();
}
