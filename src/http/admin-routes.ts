/**
 * Admin-only routes under `/control` for the operator console (and any script an operator
 * writes): what the console shows comes from here, never from anything the console alone can do.
 * Mounted after the app server's routes; each route asks for the `admin` role itself, so a
 * `service` token gets `403` here and an unknown path stays a `404`.
 */
import { Router, type RequestHandler } from 'express';
import type { SigningKeys } from '../auth/signing-keys.js';
import { send, serialize } from './jsonapi.js';

interface AdminRouteDeps {
  keys: SigningKeys;
  /** The `admin` role check of the app's authentication. */
  requireAdmin: RequestHandler;
}

const iso = (time: number | null) => (time === null ? null : new Date(time).toISOString());

export function adminRoutes({ keys, requireAdmin }: AdminRouteDeps): Router {
  const router = Router();

  router.get('/keys', requireAdmin, (_req, res) => {
    const ring = keys.describe().map((key) => ({ id: key.id, createdAt: iso(key.createdAt), expiresAt: iso(key.expiresAt), current: key.current }));
    send(res, 200, serialize.keyRing(ring));
  });

  return router;
}
