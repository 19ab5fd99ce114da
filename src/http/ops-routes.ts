/** Health, readiness and metrics (contract §7). */
import { Router } from 'express';
import { ChattyError, toJsonApiError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { send } from './jsonapi.js';

/** Each check throws when its dependency cannot answer. */
export type ReadinessCheck = { name: string; check: () => Promise<void> };

export function opsRoutes(metrics: Metrics, checks: readonly ReadinessCheck[], isDraining: () => boolean): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => send(res, 200, { meta: { status: 'ok' } }));

  router.get('/readyz', async (_req, res) => {
    const results: Record<string, string> = {};
    let ready = !isDraining();
    for (const { name, check } of checks) {
      try {
        await check();
        results[name] = 'ok';
      } catch {
        results[name] = 'unreachable';
        ready = false;
      }
    }
    if (ready) return send(res, 200, { meta: { status: 'ready', checks: results } });
    const error = new ChattyError('unavailable', isDraining() ? 'The server is shutting down' : 'A dependency is unreachable');
    send(res, error.status, { errors: [toJsonApiError(error)], meta: { checks: results } });
  });

  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  return router;
}
