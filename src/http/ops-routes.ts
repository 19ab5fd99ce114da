/** Health, readiness and metrics (contract §7). */
import crypto from 'node:crypto';
import { Router } from 'express';
import { bearerToken } from '../auth/token-sources.js';
import { ChattyError, toJsonApiError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { send } from './jsonapi.js';
import { OPENAPI } from './openapi.js';

/**
 * Each check throws when its dependency cannot answer. A dependency the node works without for a
 * while (Redis, on many nodes: only typing and presence announcements pause) is `required: false`:
 * named in the body, never a 503 (contract §9).
 */
export type ReadinessCheck = { name: string; check: () => Promise<void>; required?: boolean };

/**
 * Whether `header` is `Bearer <token>`: compared as digests in constant time, so the answer's
 * timing says nothing about how much of a guess was right.
 */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = bearerToken(header);
  if (given === undefined) return false;
  const digest = (text: string) => crypto.createHash('sha256').update(text).digest();
  return crypto.timingSafeEqual(digest(given), digest(token));
}

export function opsRoutes(metrics: Metrics, checks: readonly ReadinessCheck[], isDraining: () => boolean, nodeId: string, metricsToken?: string): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => send(res, 200, { meta: { status: 'ok' } }));

  router.get('/readyz', async (_req, res) => {
    const results: Record<string, string> = {};
    let ready = !isDraining();
    await Promise.all(
      checks.map(async ({ name, check, required = true }) => {
        try {
          await check();
          results[name] = 'ok';
        } catch {
          results[name] = 'unreachable';
          if (required) ready = false;
        }
      }),
    );
    if (ready) return send(res, 200, { meta: { status: 'ready', nodeId, checks: results } });
    const error = new ChattyError('unavailable', isDraining() ? 'The server is shutting down' : 'A dependency is unreachable');
    send(res, error.status, { errors: [toJsonApiError(error)], meta: { nodeId, checks: results } });
  });

  router.get('/openapi.json', (_req, res) => {
    res.json(OPENAPI);
  });

  router.get('/metrics', async (req, res) => {
    if (metricsToken !== undefined && !bearerMatches(req.get('authorization'), metricsToken)) {
      const missing = req.get('authorization') === undefined;
      throw new ChattyError(missing ? 'token_missing' : 'token_invalid', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>', undefined, { 'WWW-Authenticate': 'Bearer' });
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  return router;
}
