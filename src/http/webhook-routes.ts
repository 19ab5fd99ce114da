/**
 * Webhook endpoints (contract §10), admin only, under `/control/webhooks`. Every change is an
 * audit line (never the secret).
 */
import { Router, type RequestHandler } from 'express';
import { audit, type Logger } from '../logger.js';
import type { WebhookView, Webhooks } from '../webhooks/webhooks.js';
import { send, serialize } from './jsonapi.js';

export function webhookRoutes({ webhooks, logger, requireAdmin }: { webhooks: Webhooks; logger: Logger; requireAdmin: RequestHandler }): Router {
  const router = Router();
  const changed = (by: string, view: Pick<WebhookView, 'id'> & Partial<WebhookView>, action: string) =>
    audit(logger, 'webhook_changed', { by, webhookId: view.id, action, ...(view.url !== undefined ? { url: view.url } : {}) }, `webhook endpoint ${action} by an operator`);

  router.get('/webhooks', requireAdmin, async (_req, res) => {
    send(res, 200, serialize.webhooks(await webhooks.list()));
  });

  router.post('/webhooks', requireAdmin, async (req, res) => {
    const created = await webhooks.create(req.body);
    changed(req.principal!.sub, created, 'created');
    res.setHeader('Location', `/control/webhooks/${created.id}`);
    send(res, 201, serialize.webhooks(created));
  });

  router.get('/webhooks/:id', requireAdmin, async (req, res) => {
    send(res, 200, serialize.webhooks(await webhooks.get(String(req.params.id))));
  });

  router.patch('/webhooks/:id', requireAdmin, async (req, res) => {
    const updated = await webhooks.update(String(req.params.id), req.body);
    changed(req.principal!.sub, updated, 'changed');
    send(res, 200, serialize.webhooks(updated));
  });

  router.delete('/webhooks/:id', requireAdmin, async (req, res) => {
    const id = String(req.params.id);
    await webhooks.remove(id);
    changed(req.principal!.sub, { id }, 'deleted');
    res.status(204).end();
  });

  router.post('/webhooks/:id/rotate-secret', requireAdmin, async (req, res) => {
    const rotated = await webhooks.rotateSecret(String(req.params.id));
    changed(req.principal!.sub, { id: rotated.id }, 'secret_rotated');
    send(res, 200, serialize.webhooks(rotated));
  });

  return router;
}
